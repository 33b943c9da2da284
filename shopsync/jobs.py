"""RQ jobs. Each carries ids, never payloads: the database holds the data."""

import logging
import traceback

from shopsync import dlq
from shopsync.db import db, is_sqlite, utcnow, write_transaction
from shopsync.ingest import INFRASTRUCTURE_ERRORS, InvalidPayload, apply_document, describe, parse
from shopsync.models import WebhookLog, WebhookStatus
from shopsync.topics import TOPICS

log = logging.getLogger(__name__)


def _claim(webhook_id):
    """Lock and return the pending webhook row, or None if another run has handled it."""
    query = WebhookLog.select().where(
        (WebhookLog.id == webhook_id) & (WebhookLog.status == WebhookStatus.PENDING))
    if not is_sqlite():  # SQLite's IMMEDIATE transaction already holds the write lock
        query = query.for_update()
    return query.first()


def process_webhook(webhook_id):
    """Apply one stored webhook to the ERP exactly once; send what fails to the DLQ."""
    with db.connection_context():
        try:
            with write_transaction():
                hook = _claim(webhook_id)
                if hook is None:
                    return "skipped"
                changed = apply_document(TOPICS[hook.topic], parse(bytes(hook.raw_body)))
                _finish(hook.id, WebhookStatus.PROCESSED)
                return "applied" if changed else "stale"
        except INFRASTRUCTURE_ERRORS:
            raise  # the database is unreachable: the row stays pending for the sweeper
        except Exception as exc:
            if not isinstance(exc, InvalidPayload):
                log.exception("webhook %s raised", webhook_id)
            _fail(webhook_id, describe(exc), retryable=not isinstance(exc, InvalidPayload))
            return "failed"


def _finish(webhook_id, status, error=None):
    """Close a claimed webhook row."""
    WebhookLog.update(status=status, error=error, processed_at=utcnow(),
                      attempts=WebhookLog.attempts + 1).where(WebhookLog.id == webhook_id).execute()


def _fail(webhook_id, reason, *, retryable):
    """Mark a webhook failed and open a failed item for its record."""
    reason = dlq.readable(reason)
    with write_transaction():
        hook = _claim(webhook_id)
        if hook is None:
            return
        raw = bytes(hook.raw_body).decode("utf-8", errors="replace")
        try:
            updated_at = dlq.payload_updated_at(parse(raw))
        except InvalidPayload:
            updated_at = None
        dlq.add_to_dead_letter(TOPICS[hook.topic].entity_type, hook.shopify_id, raw, reason,
                               error_stack=traceback.format_exc(), retryable=retryable,
                               topic=hook.topic, webhook_id=hook.id, data_updated_at=updated_at)
        _finish(hook.id, WebhookStatus.FAILED, reason)
    log.warning("webhook %s failed: %s", webhook_id, reason)
