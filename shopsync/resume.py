"""Backfills whose worker died are resumed by the sweeper, each by one job, a few times at most.

A run stays running while its job waits or works, and records its progress at every page (a
bulk run at every step of its wait too). One without progress for backfill.STALE_AFTER whose
job is not waiting in the long queue has lost its worker: killed by a deploy or a dyno restart
(SIGKILL 30 s after SIGTERM) before it could hand the run over (backfill.hand_over), out of
memory, or its job lost with Redis. `resume_lost()` queues it again, and it goes on from its
position (a bulk run from its last applied line). The run is
taken with a conditional update under the claim a person's start takes, so two sweeps, or a
sweep and a person, queue it once; a job still alive on the run stops at its next page. Each
resume in a row without progress waits twice as long as the last; a run that would be resumed
a fourth time in a row (a page that kills its worker every time) is failed and alerted on.
"""

import logging

from shopsync import alerts, backfill, bulk_backfill, outbox, queue, single
from shopsync.db import db, utcnow
from shopsync.models import BackfillRun, RunStatus, Severity

log = logging.getLogger(__name__)
MAX_RESUMES = 3  # automatic resumes in a row without progress before the run is failed


def sweep():
    """The sweeper's job: queue a drain for webhooks left pending and resume lost backfills;
    return how many webhooks wait."""
    waiting = outbox.sweep()
    resume_lost()
    return waiting


def in_a_row(run):
    """Return the run's automatic resumes since it last made progress."""
    return run.resumes if run.resumed_at is None or run.updated_at <= run.resumed_at else 0


def _quiet_since(run, now):
    """Return when a lost run would have last made progress: STALE_AFTER ago, doubled per
    resume in a row."""
    return now - backfill.STALE_AFTER * 2 ** in_a_row(run)


def resume_lost():
    """Queue again each running backfill whose worker died, or fail it; return their ids."""
    now, long_queue = utcnow(), queue.get_long_queue()
    handled = []
    with db.connection_context():
        for run in backfill.lost_runs(now):
            func = bulk_backfill.run_bulk_backfill if run.bulk else backfill.run_backfill
            if run.updated_at >= _quiet_since(run, now) \
                    or single.in_flight(long_queue, func, run.id, started=False):
                continue  # waiting out its backoff, or for a worker behind another long job
            with single.claim(queue.get_queue(), f"backfill-{run.entity_type}") as free:
                if free and _take(run, now):
                    handled.append(run.id)
                    _resume(run, func)
    return handled


def _take(run, now):
    """Mark the run resumed (or failed, past MAX_RESUMES) unless someone else took it first."""
    count = in_a_row(run) + 1
    changes = {"resumes": count, "resumed_at": now, "updated_at": now}
    if count > MAX_RESUMES:
        changes = {"status": RunStatus.FAILED, "finished_at": now, "updated_at": now,
                   "error": f"its worker died {count} times in a row without progress (at id "
                            f"{run.position}, {run.fetched} records fetched); see the worker's "
                            "log, then start a backfill of the same records to resume it"}
    taken = BackfillRun.update(**changes).where(
        (BackfillRun.id == run.id) & (BackfillRun.status == RunStatus.RUNNING)
        & (BackfillRun.updated_at <= run.updated_at)).execute() == 1
    if taken:
        for name, value in changes.items():
            setattr(run, name, value)
    return taken


def _resume(run, func):
    """Queue the taken run, or alert that it failed."""
    if run.status is RunStatus.FAILED:
        log.error("backfill #%d of %s failed: %s", run.id, run.entity_type, run.error)
        alerts.send(f"backfill #{run.id}", Severity.OK, Severity.CRITICAL,
                    f"[shopsync] backfill #{run.id} of {run.entity_type} failed: {run.error}")
    elif backfill.enqueue(func, run.id):
        log.warning("backfill #%d of %s resumed: its worker died (automatic resume %d in a row)",
                    run.id, run.entity_type, run.resumes)
