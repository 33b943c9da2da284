"""Backfills page: start one, watch its progress bar while it runs, and the history."""

import datetime as dt

from flask import flash, redirect, render_template, request, url_for
from redis.exceptions import RedisError

from shopsync import backfill, bulk_backfill, single
from shopsync.auth import admin_required, current_user, login_required
from shopsync.dashboard import bp, get_or_404, is_htmx, newest_first, render
from shopsync.models import BackfillRun, RunStatus
from shopsync.queue import get_queue
from shopsync.topics import RESOURCES


def parse_since(text):
    """Return the UTC midnight of a YYYY-MM-DD date, None when blank; raise ValueError if bad."""
    text = (text or "").strip()
    if not text:
        return None
    return dt.datetime.combine(dt.date.fromisoformat(text), dt.time(), tzinfo=dt.UTC)


@bp.get("/backfills")
@login_required
def backfills():
    """List backfill runs, newest first, with the form that starts one."""
    runs, before, older = newest_first(BackfillRun.select(), BackfillRun)
    return render("dashboard/backfills.html", "dashboard/_backfill_table.html",
                  runs=runs, older=older, before=before, entities=list(RESOURCES))


@bp.post("/backfills")
@admin_required
def start_backfill():
    """Start a backfill of one entity, optionally of records created since a date."""
    entity = request.form.get("entity", "")
    if entity not in RESOURCES:
        flash(f"Choose what to backfill: {', '.join(RESOURCES)}.", "error")
        return redirect(url_for("dashboard.backfills"))
    try:
        since = parse_since(request.form.get("since"))
    except ValueError:
        flash("The date must look like 2026-11-30.", "error")
        return redirect(url_for("dashboard.backfills"))
    try:
        with single.claim(get_queue(), f"backfill-{entity}") as free:
            busy = backfill.running(entity) if free else True
            start = bulk_backfill.start if request.form.get("bulk") else backfill.start_backfill
            run = None if busy else start(entity, since=since)
    except RedisError:
        busy, run = False, None
    if busy:
        flash(f"A backfill of {entity} is already queued or running"
              + (f" (#{busy.id})." if busy is not True else "."), "error")
    elif run is None or run.status is RunStatus.INTERRUPTED:
        flash("Could not queue the backfill: the queue (Redis) is unreachable. Try again later; "
              "it resumes where it stopped.", "error")
    else:
        flash(f"Backfill #{run.id} of {entity} started.", "info")
    return redirect(url_for("dashboard.backfills"))


@bp.post("/backfills/<int:run_id>/cancel")
@admin_required
def cancel_backfill(run_id):
    """Stop a running backfill after its current page (and its bulk operation); starting it
    again resumes it."""
    get_or_404(BackfillRun, run_id, "backfill run")
    if backfill.cancel(run_id, current_user().username):
        problem = bulk_backfill.cancel_operations(run_id)
        message = (f"Backfill #{run_id} cancelled: it stops after its current page, and starting "
                   "a backfill of the same records resumes it."
                   + (f" Shopify's bulk operation could not be cancelled: {problem}" if problem else ""))
        category = "error" if problem else "info"
    else:
        message, category = f"Backfill #{run_id} was not running.", "error"
    if is_htmx():
        return render_template("dashboard/_backfill_row.html", run=BackfillRun.get_by_id(run_id),
                               message=message)
    flash(message, category)
    return redirect(url_for("dashboard.backfills"))
