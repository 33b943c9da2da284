"""Counts of what shopsync holds, for the admin API, the dashboard and /metrics."""

import json

from peewee import fn

from shopsync.db import utcnow
from shopsync.dlq import STATUS_FILTERS
from shopsync.models import (
    Customer,
    FailedSyncItem,
    Order,
    Product,
    SyncState,
    WebhookLog,
    WebhookStatus,
)

# The SyncState row holding the counts last taken, which /metrics serves.
SNAPSHOT_KEY = "stats-snapshot"


def _live(model):
    return model.select().where(model.deleted_at.is_null()).count()


def webhook_counts():
    """Return received, duplicate and per-status counts of webhook deliveries."""
    by_status = dict(WebhookLog.select(WebhookLog.status, fn.COUNT(WebhookLog.id))
                     .group_by(WebhookLog.status).tuples())
    by_status = {WebhookStatus(k).value: v for k, v in by_status.items()}
    counts = {"received": sum(by_status.values()),
              "duplicates": WebhookLog.select(fn.SUM(WebhookLog.duplicates)).scalar() or 0}
    counts.update({status.value: by_status.get(status.value, 0) for status in WebhookStatus})
    return counts


def failed_item_counts():
    """Return open (of which needs_person: not retried automatically), resolved and abandoned items."""
    return {name: FailedSyncItem.select().where(condition).count()
            for name, condition in STATUS_FILTERS.items()}


def summary():
    """Return the counts of GET /api/admin/stats."""
    return {
        "orders": _live(Order),
        "products": _live(Product),
        "customers": _live(Customer),
        "webhooks": webhook_counts(),
        "failed_items": failed_item_counts(),
    }


def take_snapshot(now=None):
    """Count everything once and keep the counts for /metrics (the health job does, each minute)."""
    now = now or utcnow()
    value = json.dumps(summary())
    SyncState.insert(key=SNAPSHOT_KEY, value=value, updated_at=now).on_conflict(
        conflict_target=[SyncState.key],
        update={SyncState.value: value, SyncState.updated_at: now}).execute()


def snapshot():
    """Return (counts, when they were taken) as the last snapshot left them, or (None, None)."""
    state = SyncState.get_or_none(SyncState.key == SNAPSHOT_KEY)
    return (json.loads(state.value), state.updated_at) if state else (None, None)
