"""Failed items page: the dead-letter queue, filtered and paged, with Retry and Abandon."""

import json

from flask import flash, make_response, redirect, render_template, request, url_for
from redis.exceptions import RedisError

from shopsync import audit, dlq, moneycheck, single
from shopsync.auth import admin_required, login_required, safe_next
from shopsync.dashboard import bp, get_or_404, newest_first, render
from shopsync.dashboard.health import COUNT_CAP, capped_count
from shopsync.db import utcnow
from shopsync.htmx import is_htmx
from shopsync.models import FailedSyncItem
from shopsync.queue import get_queue
from shopsync.topics import ENTITIES

# The status filter: its choices, each a FailedSyncItem filter or every item.
STATUSES = (*FailedSyncItem.FILTERS, "all")
# A listing leaves out the payloads and stack traces; an item's own page shows them.
LIST_COLUMNS = [f for f in FailedSyncItem._meta.sorted_fields if f.name not in ("raw_data", "error_stack")]
# The record page a failed item's Shopify id opens, by its entity: a money check's is its order's.
RECORD_PAGES = {"order": "order", "product": "product", "customer": "customer",
                moneycheck.ENTITY: "order"}


def filters():
    """Return the status, entity and error text asked for (default: open items of every entity)."""
    status = request.args.get("status", "open")
    entity = request.args.get("entity", "")
    return ((status if status in STATUSES else "open"), (entity if entity in ENTITIES else ""),
            request.args.get("q", "").strip()[:200])


def open_count():
    """Count the open items, up to the cap."""
    return capped_count(FailedSyncItem.open())


@bp.get("/failed-items")
@login_required
def failed_items():
    """List failed items by status, entity and error text, newest first, a keyset page at a time."""
    status, entity, text = filters()
    items, before, older = newest_first(dlq.listing(status, entity, text, LIST_COLUMNS), FailedSyncItem)
    return render("dashboard/failed_items.html", "dashboard/_failed_table.html",
                  items=items, status=status, entity=entity, text=text, before=before, older=older,
                  statuses=STATUSES, entities=list(ENTITIES), cap=COUNT_CAP,
                  back=request.full_path.rstrip("?"), open_count=open_count(), oob=is_htmx())


@bp.get("/failed-items/counts")
@login_required
def failed_counts(message=None, kind=None):
    """Show the open count and "Retry all open" (htmx fetches them after each row action)."""
    return render_template("dashboard/_failed_counts.html", open_count=open_count(),
                           cap=COUNT_CAP, message=message, kind=kind,
                           back=safe_next(request.values.get("next")))


@bp.get("/failed-items/<int:item_id>")
@login_required
def failed_item(item_id):
    """Show one failed item with its raw payload and stack trace."""
    item = get_or_404(FailedSyncItem, item_id, "failed item")
    try:
        payload = json.dumps(json.loads(item.raw_data), indent=2, ensure_ascii=False)
    except (ValueError, RecursionError):  # not JSON, or nested too deeply: shown as it came
        payload = item.raw_data
    return render_template("dashboard/failed_item.html", item=item, payload=payload,
                           record_page=item.shopify_id and RECORD_PAGES.get(item.entity_type),
                           back=request.full_path.rstrip("?"))


def _answer(item, message):
    """Return the re-rendered row to htmx, or go back to the page the form came from."""
    audit.outcome(message)
    if is_htmx():
        response = make_response(render_template("dashboard/_failed_row.html", item=item,
                                                 message=message,
                                                 back=safe_next(request.form.get("next"))))
        response.headers["HX-Trigger"] = "failed-items-changed"  # the counts follow
        return response
    flash(message, "info")
    return redirect(safe_next(request.form.get("next")))


def _take(item):
    """Take an item for one manual retry; False if a concurrent request changed it first."""
    return FailedSyncItem.update(updated_at=utcnow()).where(
        (FailedSyncItem.id == item.id) & (FailedSyncItem.updated_at == item.updated_at)).execute() == 1


@bp.post("/failed-items/<int:item_id>/retry")
@admin_required
def retry_item(item_id):
    """Retry one failed item now and show how it went."""
    item = get_or_404(FailedSyncItem, item_id, "failed item")
    if not _take(item):
        return _answer(FailedSyncItem.get_by_id(item_id),
                       f"Item {item_id} was being retried already; this click did nothing.")
    item = dlq.retry_item(item_id)
    if item.state == "resolved":
        message = f"Item {item_id} retried: synced."
    else:
        message = f"Item {item_id} retried: failed again."
    return _answer(item, message)


@bp.post("/failed-items/<int:item_id>/abandon")
@admin_required
def abandon_item(item_id):
    """Give up on one failed item."""
    get_or_404(FailedSyncItem, item_id, "failed item")
    return _answer(dlq.abandon_item(item_id), f"Item {item_id} abandoned.")


@bp.post("/failed-items/retry-all")
@admin_required
def retry_all():
    """Queue a retry of every open failed item, unless one is queued or running already."""
    message, kind = _queue_retry_all()
    if is_htmx():
        audit.outcome(message)
        return failed_counts(message, kind)
    flash(message, kind)
    return redirect(safe_next(request.form.get("next")) if request.form.get("next")
                    else url_for("dashboard.failed_items"))


def _queue_retry_all():
    """Queue the retry of every open item; return what to tell the person, and its kind."""
    rq_queue = get_queue()
    try:
        with single.claim(rq_queue, "retry-all") as free:
            if not free or single.in_flight(rq_queue, dlq.retry_open_items):
                return "A retry of all open items is already queued or running.", "error"
            count, queued = dlq.retry_all_open()
    except RedisError:
        queued = False
    if not queued:
        return "Could not queue the retry: the queue (Redis) is unreachable. Try again later.", "error"
    return (f"Queued a retry of {count} open item{'s' if count != 1 else ''}; the list updates "
            "by itself as they are retried.", "info")
