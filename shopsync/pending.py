"""Pending webhooks applied to the ERP, a batch per transaction, each exactly once."""

import logging
import traceback

from shopsync import failed_items
from shopsync.db import INFRASTRUCTURE_ERRORS, db, is_sqlite, utcnow, write_transaction
from shopsync.ingest import (
    InvalidPayload,
    apply_together,
    describe,
    is_retryable,
    load,
    parse,
)
from shopsync.models import WebhookLog, WebhookStatus
from shopsync.topics import TOPICS

log = logging.getLogger(__name__)
# Webhooks claimed per transaction: enough to spread its cost, few enough to commit often.
BATCH_SIZE = 50


def _claim(limit):
    """Lock and return up to `limit` pending webhooks, oldest first, skipping ones being applied."""
    query = (WebhookLog.select()
             .where(WebhookLog.status == WebhookStatus.PENDING)
             .order_by(WebhookLog.status, WebhookLog.received_at)  # the index, never a sort
             .limit(limit))
    if not is_sqlite():  # SQLite's IMMEDIATE transaction already holds the write lock
        query = query.for_update(skip_locked=True)
    return list(query)


def apply_pending(limit: int = BATCH_SIZE) -> int:
    """Apply up to `limit` pending webhooks in one transaction; return how many were claimed.

    Each webhook's effect and its `processed` mark commit together, so none is applied twice.
    Consecutive upserts of one entity are written together (one statement per table), in
    delivery order with the rest; a bad webhook fails alone, with a failed item, whatever it
    raises. Infrastructure errors propagate and roll the whole batch back: it stays pending.
    """
    with db.connection_context(), write_transaction():
        hooks = _claim(limit)
        for topic, run in _runs(hooks):
            applied = apply_together(topic, run, _failed_to_apply)
            _finish([hook.id for hook in applied], WebhookStatus.PROCESSED)
    return len(hooks)


def _runs(hooks):
    """Yield (topic, [(hook, data)]) in delivery order: consecutive upserts of one entity
    together, every other webhook alone; webhooks whose payload does not load are failed."""
    run_topic, run = None, []
    for hook in hooks:
        topic = TOPICS[hook.topic]
        try:
            data = load(topic, parse(bytes(hook.raw_body)))
        except Exception as exc:  # the same bytes would fail again: it waits for a person
            if not isinstance(exc, InvalidPayload):
                log.exception("webhook %s could not be loaded", hook.id)
            _fail(hook, exc, retryable=False)
            continue
        if run and (topic is not run_topic or topic.apply_many is None):
            yield run_topic, run
            run = []
        run_topic = topic
        run.append((hook, data))
    if run:
        yield run_topic, run


def _failed_to_apply(hook, exc):
    """Fail a webhook whose valid payload the database refused."""
    log.exception("webhook %s raised", hook.id)
    _fail(hook, exc, retryable=is_retryable(exc))


def _finish(webhook_ids, status, error=None):
    """Close claimed webhook rows."""
    if webhook_ids:
        WebhookLog.update(status=status, error=error, processed_at=utcnow(),
                          attempts=WebhookLog.attempts + 1).where(
            WebhookLog.id.in_(webhook_ids)).execute()


def _fail(hook, exc, *, retryable):
    """Mark a claimed webhook failed and open a failed item for its record.

    Every value recorded is one the database takes, whatever the payload holds; should the
    failed item still be refused, the webhook is failed without one and the batch goes on.
    """
    reason = failed_items.readable(describe(exc))
    try:
        with db.atomic():
            _open_item(hook, reason, retryable)
    except INFRASTRUCTURE_ERRORS:
        raise
    except Exception:
        log.exception("could not open a failed item for webhook %s", hook.id)
    _finish([hook.id], WebhookStatus.FAILED, reason)
    log.warning("webhook %s failed: %s", hook.id, reason)


def _open_item(hook, reason, retryable):
    """Open (or update) the failed item of a claimed webhook's record, with its raw body."""
    raw = bytes(hook.raw_body).decode("utf-8", errors="replace")
    try:
        updated_at = failed_items.payload_updated_at(parse(raw))
    except InvalidPayload:
        updated_at = None
    failed_items.add_to_dead_letter(TOPICS[hook.topic].entity_type, hook.shopify_id, raw, reason,
                           error_stack=traceback.format_exc(), retryable=retryable,
                           topic=hook.topic, webhook_id=hook.id, data_updated_at=updated_at)
