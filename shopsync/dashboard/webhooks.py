"""Webhooks page: recent deliveries with status, latency and duplicates; search by Shopify id."""

import datetime as dt

from flask import request

from shopsync.auth import login_required
from shopsync.dashboard import PAGE_SIZE, bp, int_arg, render
from shopsync.models import WebhookLog, WebhookStatus

# The columns a listing shows: never the raw bodies.
COLUMNS = (WebhookLog.id, WebhookLog.topic, WebhookLog.shopify_id, WebhookLog.status,
           WebhookLog.received_at, WebhookLog.processed_at, WebhookLog.attempts,
           WebhookLog.duplicates, WebhookLog.error)


def encode_cursor(hook):
    """Return the keyset cursor that lists what came before `hook`."""
    return f"{hook.received_at.isoformat()}|{hook.id}"


def decode_cursor(value):
    """Return (received_at, id) from a cursor, or None when it is missing or malformed."""
    when, _, webhook_id = (value or "").partition("|")
    try:
        received_at = dt.datetime.fromisoformat(when)
    except ValueError:
        return None
    if received_at.tzinfo is None or not webhook_id:
        return None
    return received_at, webhook_id


def deliveries(status=None, shopify_id=None, cursor=None, limit=PAGE_SIZE):
    """Return up to `limit` deliveries, newest first, before `cursor` (received_at, id).

    `received_at <= t` keeps the range on the received_at (or status, received_at) index; the
    id breaks ties between deliveries received in the same microsecond.
    """
    query = WebhookLog.select(*COLUMNS)
    if status:
        query = query.where(WebhookLog.status == status)
    if shopify_id:
        query = query.where(WebhookLog.shopify_id == shopify_id)
    if cursor:
        received_at, webhook_id = cursor
        query = query.where((WebhookLog.received_at <= received_at)
                            & ((WebhookLog.received_at < received_at) | (WebhookLog.id < webhook_id)))
    return list(query.order_by(WebhookLog.received_at.desc(), WebhookLog.id.desc()).limit(limit))


@bp.get("/webhooks")
@login_required
def webhooks():
    """List recent webhook deliveries, optionally of one status or one Shopify id."""
    status = request.args.get("status", "")
    status = status if status in {s.value for s in WebhookStatus} else ""
    query_text = request.args.get("shopify_id", "").strip()
    shopify_id = int_arg("shopify_id")
    hooks = deliveries(status or None, shopify_id,
                       decode_cursor(request.args.get("before")), PAGE_SIZE + 1)
    older = encode_cursor(hooks[PAGE_SIZE - 1]) if len(hooks) > PAGE_SIZE else None
    return render("dashboard/webhooks.html", "dashboard/_webhook_table.html",
                  hooks=hooks[:PAGE_SIZE], status=status, statuses=[s.value for s in WebhookStatus],
                  query_text=query_text, shopify_id=shopify_id, older=older,
                  first_page=not request.args.get("before"),
                  bad_query=bool(query_text) and shopify_id is None)
