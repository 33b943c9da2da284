"""Counts of what shopsync holds, for the admin API, the dashboard and /metrics."""

from peewee import fn

from shopsync.dlq import STATUS_FILTERS
from shopsync.models import Customer, FailedSyncItem, Order, Product, WebhookLog, WebhookStatus


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
