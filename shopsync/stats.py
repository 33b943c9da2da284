"""Counts of what shopsync holds, for the admin API, the dashboard and /metrics."""

import json

from peewee import Select, fn

from shopsync.db import db, utcnow
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


def _count(model, condition=None):
    """Return a scalar subquery counting the rows of `model` that meet `condition`."""
    query = model.select(fn.COUNT(model.id))
    return query if condition is None else query.where(condition)


def _columns():
    """Return {name: scalar subquery} of every count the summary gives, webhook ones prefixed."""
    columns = {entity: _count(model, model.deleted_at.is_null())
               for entity, model in (("orders", Order), ("products", Product),
                                     ("customers", Customer))}
    columns["webhooks.received"] = _count(WebhookLog)
    columns["webhooks.duplicates"] = WebhookLog.select(
        fn.COALESCE(fn.SUM(WebhookLog.duplicates), 0))
    columns.update({f"webhooks.{status.value}": _count(WebhookLog, WebhookLog.status == status)
                    for status in WebhookStatus})
    columns.update({f"failed_items.{name}": _count(FailedSyncItem, FailedSyncItem.matching(name))
                    for name in FailedSyncItem.FILTERS})
    return columns


def summary():
    """Return the counts of GET /api/admin/stats, taken in one statement so that they agree.

    One statement reads one snapshot on PostgreSQL and SQLite alike: a write committed while
    it runs is in every count or in none (separate counts could each see a different moment).
    """
    columns = _columns()
    row = Select(columns=[query.alias(f"c{i}") for i, query in enumerate(columns.values())])
    values = db.execute(row).fetchone()
    out = {"webhooks": {}, "failed_items": {}}
    for name, value in zip(columns, values, strict=True):
        group, _, key = name.rpartition(".")
        (out[group] if group else out)[key] = int(value)
    return {name: out[name] for name in ("orders", "products", "customers", "webhooks",
                                         "failed_items")}


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
