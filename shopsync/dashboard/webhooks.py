"""Webhooks page: recent deliveries with status, latency and duplicates, searched and filtered."""

import datetime as dt

from flask import request

from shopsync.auth import login_required
from shopsync.dashboard import PAGE_SIZE, bp, render
from shopsync.models import DataRequestAnswer, FailedSyncItem, WebhookLog, WebhookStatus
from shopsync.schemas import MAX_BIGINT
from shopsync.topics import TOPICS

# The columns a listing shows: never the raw bodies.
COLUMNS = (WebhookLog.id, WebhookLog.topic, WebhookLog.shopify_id, WebhookLog.status,
           WebhookLog.received_at, WebhookLog.processed_at, WebhookLog.attempts,
           WebhookLog.duplicates, WebhookLog.error)
# The query arguments of the search form, in the order they appear in links.
FILTERS = ("shopify_id", "topic", "status", "since", "until", "error")


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


def _utc(text):
    """Read a date or date-and-time typed as UTC; None when it is not one."""
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def read_filters(args):
    """Return (the filters as typed, the conditions they make, what could not be read)."""
    typed = {name: args.get(name, "").strip()[:200] for name in FILTERS}
    conditions, problems = [], []
    if typed["shopify_id"]:
        digits = typed["shopify_id"]
        if digits.isdigit() and 0 < int(digits) <= MAX_BIGINT:
            conditions.append(WebhookLog.shopify_id == int(digits))
        else:
            problems.append(f"“{digits}” is not a Shopify id: ids are whole numbers.")
    if typed["topic"]:
        conditions.append(WebhookLog.topic == typed["topic"])
    if typed["status"] in {s.value for s in WebhookStatus}:
        conditions.append(WebhookLog.status == typed["status"])
    else:
        typed["status"] = ""
    for name, compare in (("since", WebhookLog.received_at.__ge__),
                          ("until", WebhookLog.received_at.__le__)):
        if typed[name]:
            when = _utc(typed[name])
            if when is None:
                problems.append(f"“{typed[name]}” is not a time: write e.g. 2026-11-30 14:00.")
            else:
                conditions.append(compare(when))
    if typed["error"]:
        conditions.append(WebhookLog.error.contains(typed["error"]))
    return typed, conditions, problems


def matching(conditions):
    """Return a query of the deliveries meeting every condition (listing columns only)."""
    query = WebhookLog.select(*COLUMNS)
    for condition in conditions:
        query = query.where(condition)
    return query


def deliveries(conditions, cursor=None, limit=PAGE_SIZE):
    """Return up to `limit` matching deliveries, newest first, before `cursor` (received_at, id).

    `received_at <= t` keeps the range on the received_at (or status, received_at) index; the
    id breaks ties between deliveries received in the same microsecond.
    """
    query = matching(conditions)
    if cursor:
        received_at, webhook_id = cursor
        query = query.where((WebhookLog.received_at <= received_at)
                            & ((WebhookLog.received_at < received_at) | (WebhookLog.id < webhook_id)))
    return list(query.order_by(WebhookLog.received_at.desc(), WebhookLog.id.desc()).limit(limit))


def failed_items_of(hooks):
    """Return {webhook id: failed item id} for the failed deliveries among `hooks`."""
    failed = [hook for hook in hooks if hook.status is WebhookStatus.FAILED]
    if not failed:
        return {}
    items = FailedSyncItem.select(FailedSyncItem.id, FailedSyncItem.entity_type,
                                  FailedSyncItem.shopify_id, FailedSyncItem.webhook).where(
        FailedSyncItem.webhook.in_([hook.id for hook in failed])
        | FailedSyncItem.shopify_id.in_([hook.shopify_id for hook in failed if hook.shopify_id]))
    by_webhook = {item.webhook_id: item.id for item in items}
    by_record = {(item.entity_type, item.shopify_id): item.id for item in items}
    found = {}
    for hook in failed:
        topic = TOPICS.get(hook.topic)
        item_id = by_webhook.get(hook.id) or (topic and by_record.get((topic.entity_type,
                                                                      hook.shopify_id)))
        if item_id:
            found[hook.id] = item_id
    return found


def answered_of(hooks):
    """Return the ids of the customer data requests among `hooks` that the team has answered."""
    requests = [hook.id for hook in hooks if hook.topic == "customers/data_request"]
    return {answer.webhook_id for answer in DataRequestAnswer.select(DataRequestAnswer.webhook)
            .where(DataRequestAnswer.webhook.in_(requests))} if requests else set()


def row_context(hooks):
    """Return what the webhook rows show beside each delivery."""
    return {"failed_items": failed_items_of(hooks), "answered": answered_of(hooks)}


@bp.get("/webhooks")
@login_required
def webhooks():
    """List recent webhook deliveries by Shopify id, topic, status, time and error text."""
    typed, conditions, problems = read_filters(request.args)
    hooks = deliveries(conditions, decode_cursor(request.args.get("before")), PAGE_SIZE + 1)
    older = encode_cursor(hooks[PAGE_SIZE - 1]) if len(hooks) > PAGE_SIZE else None
    hooks = hooks[:PAGE_SIZE]
    return render("dashboard/webhooks.html", "dashboard/_webhook_table.html",
                  hooks=hooks, typed=typed, problems=problems, older=older,
                  links={k: v for k, v in typed.items() if v},
                  statuses=[s.value for s in WebhookStatus], topics=sorted(TOPICS),
                  **row_context(hooks), first_page=not request.args.get("before"),
                  back=request.full_path.rstrip("?"))
