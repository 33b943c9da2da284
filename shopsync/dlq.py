"""The dead-letter queue: failed items listed, retried with backoff, and abandoned.

Recording and resolving them is `failed_items`, below ingest.
"""

import datetime as dt
import logging
import traceback
from collections.abc import Sequence

import peewee as pw

from shopsync import alerts, ingest, queue
from shopsync.db import INFRASTRUCTURE_ERRORS, db, utcnow, write_transaction
from shopsync.failed_items import backoff, readable
from shopsync.models import FailedSyncItem, Resolution, Severity, WebhookLog, WebhookStatus
from shopsync.topics import ENTITIES, TOPICS

log = logging.getLogger(__name__)
# What an attempt returns when it used the item's last retry.
ABANDONED = "abandoned"
# A claimed item is not due again for this long, should its runner die mid-attempt.
CLAIM_LEASE = dt.timedelta(minutes=10)


def listing(status: str = "open", entity_type: str | None = None, text: str = "",
            fields: Sequence[pw.Field] = ()) -> pw.ModelSelect:
    """Select the failed items a listing shows (API, page, CSV): by status ("all": any), entity, error."""
    query = FailedSyncItem.select(*fields)
    if status != "all":
        query = query.where(FailedSyncItem.matching(status))
    if entity_type:
        query = query.where(FailedSyncItem.entity_type == entity_type)
    if text:
        query = query.where(FailedSyncItem.error_message.contains(text))
    return query


def find_items(status: str = "open", entity_type: str | None = None, before_id: int | None = None,
               limit: int = 50) -> list[FailedSyncItem]:
    """Return one page of failed items, newest first (keyset pagination on id)."""
    query = listing(status, entity_type)
    if before_id:
        query = query.where(FailedSyncItem.id < before_id)
    return list(query.order_by(FailedSyncItem.id.desc()).limit(limit))


def _topic_of(item):
    """Return how a failed item's data is applied: its webhook topic, else its entity's."""
    return TOPICS[item.topic] if item.topic else ENTITIES[item.entity_type]


def _attempt(item, resolution):
    """Apply a failed item's data once; close it on success, record the failure otherwise."""
    now = utcnow()
    try:
        with write_transaction():
            ingest.apply_document(_topic_of(item), ingest.parse(item.raw_data))
            FailedSyncItem.update(resolved_at=now, resolution=resolution, updated_at=now,
                                  retry_count=FailedSyncItem.retry_count + 1).where(
                FailedSyncItem.id == item.id).execute()
            if item.webhook_id:
                WebhookLog.update(status=WebhookStatus.PROCESSED, processed_at=now, error=None).where(
                    WebhookLog.id == item.webhook_id).execute()
        return True
    except INFRASTRUCTURE_ERRORS:
        raise
    except Exception as exc:
        retries = item.retry_count + 1
        retryable = ingest.is_retryable(exc)
        exhausted = resolution is Resolution.SUCCESS and retries >= item.max_retries
        FailedSyncItem.update(
            retry_count=retries, error_message=readable(ingest.describe(exc)), updated_at=now,
            error_stack=readable(traceback.format_exc()), retryable=retryable,
            next_retry_at=backoff(retries, now) if retryable and not exhausted else None,
            resolved_at=now if exhausted else None,
            resolution=Resolution.ABANDONED if exhausted else None,
        ).where(FailedSyncItem.id == item.id).execute()
        if exhausted:
            log.error("failed item %s (%s %s) abandoned after %d retries: %s",
                      item.id, item.entity_type, item.shopify_id, retries, ingest.describe(exc))
            return ABANDONED
        return False


def _claim(item, lease):
    """Take an item for one attempt; False if another runner changed it since it was read."""
    now = utcnow()
    return FailedSyncItem.update(next_retry_at=now + lease, updated_at=now).where(
        (FailedSyncItem.id == item.id) & (FailedSyncItem.updated_at == item.updated_at)
        & FailedSyncItem.is_open()).execute() == 1


def process_dead_letter_queue(batch_size: int = 500) -> dict[str, int]:
    """Retry every due, retryable failed item once; return counts of what happened."""
    counts = {"retried": 0, "succeeded": 0, "failed": 0, "abandoned": 0, "skipped": 0}
    abandoned = []
    with db.connection_context():
        due = list(FailedSyncItem.open().where(
            FailedSyncItem.retryable & (FailedSyncItem.next_retry_at <= utcnow())
        ).order_by(FailedSyncItem.next_retry_at).limit(batch_size))
        for item in due:
            if not _claim(item, CLAIM_LEASE):
                counts["skipped"] += 1
                continue
            counts["retried"] += 1
            outcome = _attempt(item, Resolution.SUCCESS)
            counts["succeeded" if outcome is True else "failed"] += 1
            if outcome is ABANDONED:
                abandoned.append(item)
        if abandoned:
            _alert_abandoned(abandoned)
    counts["abandoned"] = len(abandoned)
    return counts


def _alert_abandoned(items):
    """Alert the team that retries gave up on some records: they need a person now."""
    names = ", ".join(f"{item.entity_type} {item.shopify_id}" for item in items[:20])
    more = f" and {len(items) - 20} more" if len(items) > 20 else ""
    alerts.send("failed_items_abandoned", None, Severity.CRITICAL,
                f"[shopsync] {len(items)} failed item(s) abandoned after their last retry: "
                f"{names}{more}. Open Failed items on the dashboard to retry or inspect them.")


def retry_item(item_id: int) -> FailedSyncItem:
    """Retry one failed item now, whatever its state but resolved; return it reloaded."""
    item = FailedSyncItem.get_by_id(item_id)
    if item.state != "resolved":
        _attempt(item, Resolution.MANUAL)
    return FailedSyncItem.get_by_id(item_id)


def abandon_item(item_id: int) -> FailedSyncItem:
    """Give up on one failed item; return it reloaded."""
    now = utcnow()
    FailedSyncItem.update(resolved_at=now, resolution=Resolution.ABANDONED, next_retry_at=None,
                          updated_at=now).where(
        (FailedSyncItem.id == item_id) & FailedSyncItem.is_open()).execute()
    return FailedSyncItem.get_by_id(item_id)


def retry_open_items(before: dt.datetime) -> dict[str, int]:
    """Retry once every item open since before `before` (a job behind "Retry all open")."""
    counts = {"succeeded": 0, "failed": 0}
    with db.connection_context():
        open_items = FailedSyncItem.open().where(FailedSyncItem.updated_at <= before).order_by(
            FailedSyncItem.id)
        for item in open_items.iterator():
            if _claim(item, CLAIM_LEASE):
                counts["succeeded" if _attempt(item, Resolution.MANUAL) else "failed"] += 1
    return counts


def retry_all_open() -> tuple[int, bool]:
    """Queue a retry of every open failed item; return (how many are open, whether it was queued)."""
    open_count = FailedSyncItem.open().count()
    return open_count, queue.enqueue(queue.get_queue(), retry_open_items, utcnow())
