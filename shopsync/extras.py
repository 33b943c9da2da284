"""Extra records: ids the ERP holds that Shopify does not list (a reconciliation names them).

Each id is asked of Shopify one by one; only those Shopify answers 404 for are marked deleted,
through the entity's deletion topic, as a `*/delete` webhook would have. The others are kept.
"""

import logging

from shopsync import audit
from shopsync.db import db, write_transaction
from shopsync.ingest import apply_document
from shopsync.models import ReconciliationReport
from shopsync.shopify import ShopifyError, app_client
from shopsync.topics import TOPICS

log = logging.getLogger(__name__)


def settle(resource, ids, client):
    """Mark deleted the ids Shopify does not have; return (deleted ids, ids still in Shopify)."""
    deletion = TOPICS[f"{resource}/delete"]
    deleted, present = [], []
    for shopify_id in ids:
        if client.get(resource, shopify_id, fields="id") is not None:
            present.append(shopify_id)
            continue
        with write_transaction():
            apply_document(deletion, {"id": shopify_id})
        deleted.append(shopify_id)
    return deleted, present


def settle_report(report_id, username):
    """Settle the extra ids a report names (a job); the outcome goes to the audit log."""
    with db.connection_context():
        report = ReconciliationReport.get_by_id(report_id)
        ids = (report.details or {}).get("extra") or []
        target = f"report #{report_id} ({report.entity_type})"
        try:
            with app_client() as client:
                deleted, present = settle(report.entity_type, ids, client)
        except ShopifyError as exc:
            log.warning("checking the extra ids of report %s stopped: %s", report_id, exc)
            audit.record(username, "settle extra records", target,
                         f"stopped: Shopify answered {exc}; run it again later", "background job")
            return None
        audit.record(username, "settle extra records", target,
                     f"{len(deleted)} not in Shopify, marked deleted"
                     + (f" ({', '.join(map(str, deleted[:20]))})" if deleted else "")
                     + f"; {len(present)} still in Shopify, kept", "background job")
        return {"deleted": deleted, "present": present}
