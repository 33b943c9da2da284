"""Extra records of a reconciliation report: checked in Shopify, and marked deleted if gone."""

from flask import flash, redirect, render_template, request, url_for
from redis.exceptions import RedisError

from shopsync import audit, extras, queue, single
from shopsync.auth import admin_required, current_user
from shopsync.config import TUNING
from shopsync.dashboard import bp, get_or_404
from shopsync.models import ReconciliationReport


@bp.post("/reconciliation/<int:report_id>/extras")
@admin_required
def settle_extras(report_id):
    """Check a report's extra ids in Shopify and mark deleted those it lacks, after a confirmation."""
    report = get_or_404(ReconciliationReport, report_id, "report")
    ids = (report.details or {}).get("extra") or []
    back = url_for("dashboard.reconciliation_report", report_id=report_id)
    if request.form.get("confirm") != "yes":
        audit.skip()
        return render_template("dashboard/extras_confirm.html", report=report, count=len(ids),
                               back=back)
    rq_queue = queue.get_queue()
    try:
        with single.claim(rq_queue, f"extras-{report_id}") as free:
            if not free or single.in_flight(rq_queue, extras.settle_report, report_id):
                flash("These ids are being checked already.", "error")
                return redirect(back)
            queued = queue.enqueue(rq_queue, extras.settle_report, report_id,
                                   current_user().username, job_timeout=TUNING["RECONCILE_JOB_TIMEOUT"])
    except RedisError:
        queued = False
    if queued:
        flash(f"Checking {len(ids)} id{'s' if len(ids) != 1 else ''} in Shopify; the outcome "
              "appears in the audit log.", "info")
    else:
        flash("Could not queue the check: the queue (Redis) is unreachable. Try again later.",
              "error")
    return redirect(back)
