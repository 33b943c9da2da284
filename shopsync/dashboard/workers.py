"""Workers page: the queue, the drains, each worker's heartbeat and current job, the schedule."""

from shopsync import workers
from shopsync.auth import login_required
from shopsync.dashboard import bp, render
from shopsync.htmx import is_htmx


@bp.get("/workers")
@login_required
def workers_view():
    """Show the queue, workers and schedule (htmx: all of them, for the 10 s refresh)."""
    return render("dashboard/workers.html", "dashboard/_workers_live.html", view=workers.view(),
                  oob=is_htmx())
