"""The dashboard: one module per page, each page made of partials that htmx can fetch alone."""

import datetime as dt

from flask import Blueprint, abort, render_template, request

from shopsync.htmx import is_htmx
from shopsync.schemas import MAX_BIGINT
from shopsync.wording import duration_words

bp = Blueprint("dashboard", __name__)

# Rows per page of every list; pages are keyset-paginated, so any page costs the same.
PAGE_SIZE = 50


def render(page, partial, **context):
    """Render the whole page, or only its widget when htmx asks for it."""
    return render_template(partial if is_htmx() else page, **context)


def int_arg(name):
    """Return a positive integer query argument, or None when absent or malformed."""
    value = request.args.get(name, "")
    return int(value) if value.isascii() and value.isdigit() and 0 < int(value) <= MAX_BIGINT else None


def newest_first(query, model):
    """Return one page of `query` by descending id from `?before=`: (rows, before, older).

    `older` is the `before` of the next page, or None on the last one (keyset pagination:
    a deep page costs what the first does).
    """
    before = int_arg("before")
    if before:
        query = query.where(model.id < before)
    rows = list(query.order_by(model.id.desc()).limit(PAGE_SIZE + 1))
    older = rows[PAGE_SIZE - 1].id if len(rows) > PAGE_SIZE else None
    return rows[:PAGE_SIZE], before, older


def get_or_404(model, row_id, what):
    """Return the `model` row with id `row_id`, or answer 404 naming `what` that was not found."""
    fits = isinstance(row_id, str) or row_id <= MAX_BIGINT  # webhook ids are text
    row = model.get_or_none(model.id == row_id) if fits else None
    if row is None:
        abort(404, f"{what} {row_id} not found")
    return row


@bp.app_template_filter("utc")
def utc(value, seconds=True):
    """Format an aware datetime (or its ISO 8601 text) in UTC, e.g. 2026-11-30 10:00:05 UTC."""
    if value is None:
        return "—"
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC" if seconds else "%Y-%m-%d %H:%M UTC")


@bp.app_template_filter("duration")
def duration(delta):
    """Format a timedelta briefly: 850 ms, 12.3 s, 4 min, 2.5 h."""
    return "—" if delta is None else duration_words(delta.total_seconds())


@bp.app_template_filter("number")
def number(value):
    """Format a metric value: integers plainly, others with up to two decimals."""
    if value is None:
        return "—"
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.2f}"


from shopsync.dashboard import (  # noqa: E402, F401
    audit_log,
    backfills,
    delivery,
    exports,
    extra_records,
    failed,
    health,
    processing,
    reconcile,
    records,
    search,
    webhooks,
    workers,
)
