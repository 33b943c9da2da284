"""The periodic jobs: what runs how often, and when each last ran.

The scheduler queues each job as `attempts.run(name)`, which runs it one attempt at a time,
retried soon when it does not complete, and records a successful run in the job's Heartbeat
row. The record lives in the database, so that after Redis forgets the schedule it can be
rebuilt (each job due an interval after its last run) and judged by `liveness`.
"""

import datetime as dt
from dataclasses import dataclass

from flask import current_app

from shopsync.models import Heartbeat

ROLE = "job"  # the Heartbeat role of periodic jobs


@dataclass(frozen=True)
class PeriodicJob:
    """A job queued every `seconds` (times SHOPSYNC_SCHEDULE_SCALE), on the long queue if `long`."""

    name: str
    seconds: int
    func: str  # dotted path of the function to call
    long: bool = False  # may run for hours: queued on the long queue, away from the drains

    @property
    def id(self):
        """Return the job's fixed RQ id: registering again replaces it instead of adding a copy."""
        return f"periodic-{self.name}"

    def every(self):
        """Return the interval in whole seconds, scaled (rq-scheduler counts whole seconds)."""
        return max(1, round(scaled(self.seconds)))


JOBS = [
    # Queues a drain for webhooks left pending and resumes backfills whose worker died.
    PeriodicJob("sweep-outbox", 60, "shopsync.resume.sweep"),
    PeriodicJob("process-dlq", 300, "shopsync.dlq.process_dead_letter_queue"),
    PeriodicJob("compute-health", 60, "shopsync.health.compute_health"),
    PeriodicJob("reconcile-catchup", 300, "shopsync.reconciliation.runs.run_catchup"),
    PeriodicJob("reconcile-full", 24 * 3600, "shopsync.reconciliation.runs.run_full", long=True),
    # Counts cannot see a missing and an extra record in one window; a weekly id listing can.
    PeriodicJob("reconcile-deep", 7 * 24 * 3600, "shopsync.reconciliation.runs.run_deep", long=True),
    PeriodicJob("drop-expired-bodies", 3600, "shopsync.privacy.drop_expired_bodies"),
]
JOBS_BY_NAME = {job.name: job for job in JOBS}


def scaled(seconds):
    """Return `seconds` (a number or a timedelta) times SHOPSYNC_SCHEDULE_SCALE."""
    return seconds * current_app.config["SCHEDULE_SCALE"]


def last_runs():
    """Return {job name: when its last successful run started}."""
    query = Heartbeat.select(Heartbeat.name, Heartbeat.started_at).where(Heartbeat.role == ROLE)
    return dict(query.tuples())


def next_run(job, last_run, now):
    """Return when `job` is due: an interval after its last run, or now if that is past or unknown."""
    if last_run is None:
        return now
    return max(now, last_run + dt.timedelta(seconds=job.every()))
