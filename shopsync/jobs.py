"""Applying stored webhooks to the ERP, a batch per transaction, each exactly once."""

import logging
import traceback

from shopsync import dlq
from shopsync.db import db, is_sqlite, utcnow, write_transaction
from shopsync.ingest import INFRASTRUCTURE_ERRORS, InvalidPayload, apply_document, describe, parse
from shopsync.models import WebhookLog, WebhookStatus
from shopsync.topics import TOPICS

log = logging.getLogger(__name__)
# Webhooks claimed per transaction: enough to spread its cost, few enough to commit often.
BATCH_SIZE = 50


def _claim(limit):
    """Lock and return up to `limit` pending webhooks, oldest first, skipping ones being applied."""
    query = (WebhookLog.select()
             .where(WebhookLog.status == WebhookStatus.PENDING)
             .order_by(WebhookLog.received_at, WebhookLog.id)
             .limit(limit))
    if not is_sqlite():  # SQLite's IMMEDIATE transaction already holds the write lock
        query = query.for_update(skip_locked=True)
    return list(query)


def apply_pending(limit=BATCH_SIZE):
    """Apply up to `limit` pending webhooks in one transaction; return how many were claimed.

    Each webhook's effect and its `processed` mark commit together, so none is applied twice;
    each is applied in a savepoint, so a bad one fails alone. Infrastructure errors propagate
    and roll the whole batch back: it stays pending for the next drain.
    """
    with db.connection_context(), write_transaction():
        hooks = _claim(limit)
        for hook in hooks:
            _apply(hook)
    return len(hooks)


def _apply(hook):
    """Apply one claimed webhook, or mark it failed with a failed item."""
    try:
        with db.atomic():
            apply_document(TOPICS[hook.topic], parse(bytes(hook.raw_body)))
            _finish(hook.id, WebhookStatus.PROCESSED)
    except INFRASTRUCTURE_ERRORS:
        raise
    except Exception as exc:
        if not isinstance(exc, InvalidPayload):
            log.exception("webhook %s raised", hook.id)
        _fail(hook, describe(exc), retryable=not isinstance(exc, InvalidPayload))


def _finish(webhook_id, status, error=None):
    """Close a claimed webhook row."""
    WebhookLog.update(status=status, error=error, processed_at=utcnow(),
                      attempts=WebhookLog.attempts + 1).where(WebhookLog.id == webhook_id).execute()


def _fail(hook, reason, *, retryable):
    """Mark a claimed webhook failed and open a failed item for its record."""
    reason = dlq.readable(reason)
    raw = bytes(hook.raw_body).decode("utf-8", errors="replace")
    try:
        updated_at = dlq.payload_updated_at(parse(raw))
    except InvalidPayload:
        updated_at = None
    dlq.add_to_dead_letter(TOPICS[hook.topic].entity_type, hook.shopify_id, raw, reason,
                           error_stack=traceback.format_exc(), retryable=retryable,
                           topic=hook.topic, webhook_id=hook.id, data_updated_at=updated_at)
    _finish(hook.id, WebhookStatus.FAILED, reason)
    log.warning("webhook %s failed: %s", hook.id, reason)
