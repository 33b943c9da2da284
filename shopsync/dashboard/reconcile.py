"""Reconciliation page: report history, the missing and extra ids, and a Run now button."""

import datetime as dt
import re

from flask import abort, flash, make_response, redirect, render_template, request, url_for
from redis.exceptions import RedisError
from rq.job import Job

from shopsync import reconciliation as reconciliation_service
from shopsync import single
from shopsync.auth import admin_required, login_required
from shopsync.dashboard import bp, get_or_404, newest_first, render
from shopsync.db import utcnow
from shopsync.htmx import is_htmx
from shopsync.models import ReconciliationReport
from shopsync.queue import get_long_queue, get_queue
from shopsync.reconciliation import reports as reconciliation_reports
from shopsync.reconciliation import runs as reconciliation_runs
from shopsync.topics import RESOURCES

# Ids listed per kind on a report's page; the rest are counted.
MAX_IDS_SHOWN = 1000
ID_KINDS = ("missing", "extra", "healed", "failed", "vanished")
# Progress is read from the RQ jobs of a run, named in the URL (at most MAX_JOBS of them).
JOB_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
MAX_JOBS = 10
ENDED = {"finished", "failed", "stopped", "canceled", "expired"}
FAILED = {"failed", "stopped", "canceled"}
# The list leaves out `details` (it can hold thousands of ids); reports' pages load it.
LIST_COLUMNS = [f for f in ReconciliationReport._meta.sorted_fields if f.name != "details"]


def id_lists(report, limit=MAX_IDS_SHOWN):
    """Return [(kind, ids shown, how many in all)] for the id lists of a report's details."""
    details = report.details or {}
    lists = []
    for kind in ID_KINDS:
        ids = details.get(kind) or []
        if isinstance(ids, list):
            lists.append((kind, ids[:limit], reconciliation_reports.id_count(details, kind)))
    return lists


def latest_per_entity(reports):
    """Return the newest report of each entity among `reports`, with its details loaded."""
    newest = {}
    for report in reports:
        newest.setdefault(report.entity_type, report.id)
    rows = ReconciliationReport.select().where(ReconciliationReport.id.in_(list(newest.values())))
    return sorted(rows, key=lambda r: r.entity_type) if newest else []


@bp.get("/reconciliation")
@login_required
def reconciliation():
    """Show reconciliation reports, newest first, and the latest ids per entity."""
    reports, before, older = newest_first(ReconciliationReport.select(*LIST_COLUMNS),
                                          ReconciliationReport)
    latest = [] if before else latest_per_entity(reports)
    return render("dashboard/reconciliation.html", "dashboard/_reports.html",
                  reports=reports, older=older, before=before, latest=latest,
                  id_lists=lambda r: id_lists(r, 20), problem=reconciliation_reports.problem,
                  progress=job_progress(*args) if (args := _progress_args()) else None,
                  resources=list(RESOURCES))


@bp.get("/reconciliation/<int:report_id>")
@login_required
def reconciliation_report(report_id):
    """Show one reconciliation report with every missing, extra and healed id."""
    report = get_or_404(ReconciliationReport, report_id, "report")
    return render_template("dashboard/report.html", report=report, lists=id_lists(report),
                           problem=reconciliation_reports.problem(report))


def job_progress(job_ids, since):
    """Return how far the queued runs `job_ids` have got, from their RQ jobs."""
    jobs = Job.fetch_many(job_ids, connection=get_queue().connection) if job_ids else []
    runs = []
    for job_id, job in zip(job_ids, jobs, strict=True):
        state = job.get_status(refresh=False).value if job is not None else "expired"
        entity = job.args[0] if job is not None and job.args else "?"
        runs.append({"id": job_id, "entity": entity, "state": state})
    ended = [r for r in runs if r["state"] in ENDED]
    return {"job_ids": job_ids, "since": since, "runs": runs, "expected": len(runs),
            "done": len(ended), "finished": len(ended) == len(runs),
            "failed": sum(r["state"] in FAILED for r in runs)}


def _progress_args():
    """Return the job ids and start time named by the query string, or None."""
    job_ids = [j for j in request.args.get("jobs", "").split(",") if JOB_ID.fullmatch(j)][:MAX_JOBS]
    if not job_ids:
        return None
    try:
        since = dt.datetime.fromisoformat(request.args.get("since", ""))
    except ValueError:
        since = None
    return job_ids, since if since is not None and since.tzinfo is not None else None


@bp.app_template_global()
def progress_url(progress):
    """Return the URL that shows `progress` again."""
    return url_for("dashboard.reconciliation_progress", jobs=",".join(progress["job_ids"]),
                   since=progress["since"].isoformat() if progress["since"] else None)


def _start_once(entity):
    """Queue a reconciliation of `entity` (None: all) unless one of the same is queued or
    running; return (job ids, refusal, status)."""
    rq_queue = get_long_queue()
    unreachable = "Could not queue the reconciliation: the queue (Redis) is unreachable."
    names = [e.name for e in reconciliation_service.entities(entity)]
    try:
        with single.claim(rq_queue, "reconciliation") as free:
            if not free or any(single.in_flight(rq_queue, reconciliation_runs.run_full, name)
                               for name in names):
                return None, "A reconciliation of these is already queued or running.", 409
            return reconciliation_runs.start_reconciliation(entity) or None, unreachable, 503
    except RedisError:
        return None, unreachable, 503


@bp.post("/reconciliation/run")
@admin_required
def start_reconciliation():
    """Start a reconciliation of one entity, or of every one, now and show its progress."""
    since = utcnow()
    entity = request.form.get("entity") or None
    if entity not in (None, *RESOURCES):
        abort(400, f"Choose what to reconcile: {', '.join(RESOURCES)}, or all.")
    job_ids, message, status = _start_once(entity)
    if not job_ids:
        if is_htmx():
            return render_template("dashboard/_reconcile_progress.html", progress=None,
                                   message=message), status
        flash(message, "error")
        return redirect(url_for("dashboard.reconciliation"))
    progress = job_progress(job_ids, since)
    if is_htmx():
        return render_template("dashboard/_reconcile_progress.html", progress=progress)
    flash(f"Reconciliation started: {len(job_ids)} runs queued.", "info")
    return redirect(url_for("dashboard.reconciliation", jobs=",".join(job_ids), since=since.isoformat()))


@bp.get("/reconciliation/progress")
@login_required
def reconciliation_progress():
    """Show how far a started reconciliation has got (htmx polls this until it ends)."""
    args = _progress_args()
    if args is None:
        abort(404, "no reconciliation run named")
    progress = job_progress(*args)
    response = make_response(render_template("dashboard/_reconcile_progress.html", progress=progress))
    if progress["finished"]:
        response.headers["HX-Trigger"] = "reconciliation-finished"
    return response
