"""Periodic jobs on rq-scheduler: `python -m shopsync.scheduler`.

Each periodic job has a fixed id, so registering at every start replaces the schedule
instead of adding a copy; rq-scheduler's Redis lock lets only one running scheduler act.
"""

import logging

from rq_scheduler import Scheduler

from shopsync import queue
from shopsync.db import utcnow

log = logging.getLogger(__name__)

# (job id, seconds between runs, dotted path of the job function)
PERIODIC_JOBS = [
    ("periodic-sweep-outbox", 60, "shopsync.outbox.sweep"),
    ("periodic-process-dlq", 300, "shopsync.dlq.process_dead_letter_queue"),
    ("periodic-compute-health", 60, "shopsync.health.compute_health"),
    ("periodic-reconcile-catchup", 300, "shopsync.reconciliation.run_catchup"),
    ("periodic-reconcile-full", 24 * 3600, "shopsync.reconciliation.run_full"),
    # Counts cannot see a missing and an extra record in one window; a weekly id listing can.
    ("periodic-reconcile-deep", 7 * 24 * 3600, "shopsync.reconciliation.run_deep"),
    ("periodic-drop-expired-bodies", 3600, "shopsync.privacy.drop_expired_bodies"),
]
# How often the scheduler looks for due jobs, in seconds.
POLL_INTERVAL = 5


def make_scheduler(rq_queue, scheduler_class=Scheduler):
    """Return an rq-scheduler Scheduler feeding `rq_queue`."""
    return scheduler_class(queue=rq_queue, connection=rq_queue.connection, interval=POLL_INTERVAL)


def register(scheduler):
    """Schedule every periodic job, replacing earlier schedules; drop ones no longer listed."""
    wanted = {job_id for job_id, _, _ in PERIODIC_JOBS}
    for job in scheduler.get_jobs():
        if job.id.startswith("periodic-") and job.id not in wanted:
            scheduler.cancel(job)
    for job_id, seconds, func in PERIODIC_JOBS:
        scheduler.schedule(scheduled_time=utcnow(), func=func, interval=seconds, repeat=None,
                           id=job_id, queue_name=scheduler.queue_name, timeout=max(seconds * 5, 300))
    return sorted(wanted)


class ThreadScheduler(Scheduler):
    """A Scheduler that can run outside the main thread (embedded mode)."""

    def _install_signal_handlers(self):
        """Leave signals to the host process."""


def main():
    """Register the periodic jobs and run the scheduler until stopped."""
    from shopsync import create_app

    app = create_app()
    with app.app_context():
        scheduler = make_scheduler(queue.get_queue())
        log.info("registered %s", ", ".join(register(scheduler)))
        scheduler.run()


if __name__ == "__main__":
    main()
