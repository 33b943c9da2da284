"""Periodic jobs on rq-scheduler: `python -m shopsync.scheduler`.

Each periodic job (shopsync.periodic) has a fixed id, so registering replaces its schedule
instead of adding a copy; rq-scheduler's Redis lock lets only one running scheduler act.
At every poll the scheduler holding the lock checks that every periodic job is still
registered and registers again what Redis lost (a restart without persistence, a failover,
an eviction), due an interval after its last run as the database knows it, and queues again
each job whose latest attempt failed or died once its backoff is over (`attempts`). Redis outages
are logged and retried every poll: the scheduler never exits on its own.
"""

import datetime as dt
import logging
import signal
import time

from redis.exceptions import RedisError
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from rq_scheduler import Scheduler

from shopsync import attempts, liveness, periodic, queue
from shopsync.db import INFRASTRUCTURE_ERRORS, db, utcnow

log = logging.getLogger(__name__)

# How often the scheduler looks for due jobs and lost registrations, and tries again while Redis
# is unreachable (seconds, times SHOPSYNC_SCHEDULE_SCALE).
POLL_INTERVAL = 5


def _last_runs():
    """Return the periodic jobs' last runs, or none when the database cannot say."""
    try:
        with db.connection_context():
            return periodic.last_runs()
    except INFRASTRUCTURE_ERRORS as exc:
        log.warning("last runs unknown, database unreachable (%s): lost jobs are due now", exc)
        return {}


def _schedule(scheduler, jobs):
    """Schedule `jobs`, each due an interval after its last run (now when unknown), on the
    scheduler's queue or, for a long job, the long queue beside it."""
    runs, now = _last_runs(), utcnow()
    for job in jobs:
        queue_name = scheduler.queue_name + (queue.LONG_SUFFIX if job.long else "")
        scheduler.schedule(scheduled_time=periodic.next_run(job, runs.get(job.name), now),
                           func=attempts.run, args=[job.name], interval=job.every(), repeat=None,
                           id=job.id, queue_name=queue_name,
                           timeout=max(job.seconds * 5, 300))


def register(scheduler):
    """Schedule every periodic job, replacing earlier schedules; drop ones no longer listed."""
    wanted = {job.id for job in periodic.JOBS}
    for job in scheduler.get_jobs():
        if job.id.startswith("periodic-") and job.id not in wanted:
            scheduler.cancel(job)
    _schedule(scheduler, periodic.JOBS)
    return sorted(wanted)


def missing(scheduler):
    """Return the periodic jobs Redis has lost: out of the schedule, or their job gone."""
    with scheduler.connection.pipeline(transaction=False) as pipe:
        for job in periodic.JOBS:
            pipe.zscore(scheduler.scheduled_jobs_key, job.id)
            pipe.exists(Job.key_for(job.id))
        answers = pipe.execute()
    return [job for job, score, exists in zip(periodic.JOBS, answers[::2], answers[1::2], strict=True)
            if score is None or not exists]


def heal(scheduler):
    """Register again the periodic jobs Redis has lost; return their names."""
    lost = missing(scheduler)
    if lost:
        _schedule(scheduler, lost)
        log.warning("periodic jobs lost from Redis registered again: %s",
                    ", ".join(job.name for job in lost))
    return [job.name for job in lost]


def _latest_attempts():
    """Return the periodic jobs' latest attempts, or None when the database cannot say."""
    try:
        with db.connection_context():
            return attempts.latest()
    except INFRASTRUCTURE_ERRORS as exc:
        log.warning("periodic attempts unknown, database unreachable (%s): no retry this poll", exc)
        return None


def _lost(rq_job, row, every):
    """Return the Retry of a job queued, then failed or taken by a worker, without an attempt.

    That is a run lost before it began: the database was unreachable when it started, or its
    worker died between taking it and claiming it. None otherwise (waiting, or done).
    """
    queued = rq_job.enqueued_at
    if queued is None or rq_job.get_status() not in (JobStatus.FAILED, JobStatus.STARTED) \
            or (row is not None and row.started_at >= queued):
        return None
    failures = (row.failures if row else 0) + 1
    wait = attempts.backoff(failures, every)
    return attempts.Retry(queued + dt.timedelta(seconds=wait), wait, failures, attempts.LOST)


def retry(scheduler):
    """Queue again the periodic jobs whose latest run did not complete, once their wait is over.

    A job queued within its wait is left alone: its retry (or its regular run) waits for a
    worker. Return the names queued.
    """
    rows, now = _latest_attempts(), utcnow()
    if rows is None:
        return []
    queued = []
    for job in periodic.JOBS:
        try:
            rq_job = scheduler.job_class.fetch(job.id, connection=scheduler.connection)
        except NoSuchJobError:
            continue  # lost from Redis: heal registers it again, due now
        row = rows.get(job.name)
        due = attempts.retry(row, job.every(), now) or _lost(rq_job, row, job.every())
        if due is None or due.at > now:
            continue
        if rq_job.enqueued_at and (now - rq_job.enqueued_at).total_seconds() < due.wait:
            continue
        scheduler.enqueue_job(rq_job)
        queued.append(job.name)
        log.warning("periodic job %s queued again; runs in a row that did not complete: %d, "
                    "the last because %s", job.name, due.failures, due.reason)
    return queued


class PeriodicScheduler(Scheduler):
    """A Scheduler that registers the periodic jobs, heals their schedule and outlives Redis."""

    _registered = False

    def run(self, burst=False):
        """Poll until stopped (with `burst`, until a poll held the lock), through Redis outages."""
        self._install_signal_handlers()
        down_since = None
        try:
            while True:
                began = time.monotonic()
                try:
                    acted = self.poll()
                except RedisError as exc:  # retried every poll: registrations come back a poll after Redis
                    acted = False
                    if down_since is None:
                        down_since = began
                        log.warning("scheduler cannot reach Redis, trying every %.1f s: %s",
                                    self._interval, exc)
                except Exception:  # a bug must not stop the schedule: it shows in the log and as late jobs
                    acted = False
                    log.exception("scheduler poll failed, trying again in %.1f s", self._interval)
                else:
                    if down_since is not None:
                        log.warning("scheduler reached Redis again after %.0f s", began - down_since)
                        down_since = None
                if burst and acted:
                    return
                time.sleep(max(0.0, self._interval - (time.monotonic() - began)))
        finally:
            self.leave()

    def poll(self):
        """Renew this scheduler's key; under the lock, heal the schedule and queue what is due.

        Return whether this scheduler held the lock.
        """
        if not self.connection.expire(self.key, int(self._interval) + 10):
            self.register_birth()  # first poll, or Redis lost the key
        if not self.acquire_lock():
            log.debug("another scheduler holds the lock")
            return False
        try:
            if self._registered:
                heal(self)
            else:
                log.info("registered %s", ", ".join(register(self)))
                self._registered = True
            retry(self)
            self.enqueue_jobs()
        finally:
            self.remove_lock()
        return True

    def leave(self):
        """Release the lock and register death, if Redis can be reached."""
        try:
            self.remove_lock()
            self.register_death()
        except RedisError as exc:
            log.warning("scheduler left without telling Redis: %s", exc)

    def _install_signal_handlers(self):
        """Stop on SIGINT and SIGTERM (`run` lets go of Redis on the way out)."""

        def stop(signum, frame):
            raise SystemExit()

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)


class ThreadScheduler(PeriodicScheduler):
    """A PeriodicScheduler that can run outside the main thread (embedded mode)."""

    def _install_signal_handlers(self):
        """Leave signals to the host process."""


def make_scheduler(rq_queue, scheduler_class=PeriodicScheduler):
    """Return a scheduler feeding `rq_queue`."""
    return scheduler_class(queue=rq_queue, connection=rq_queue.connection,
                           interval=periodic.scaled(POLL_INTERVAL))


def main():
    """Run the scheduler until stopped, its heartbeat recorded meanwhile."""
    from shopsync import create_app_or_exit

    app = create_app_or_exit()
    with app.app_context(), liveness.beating("scheduler"):
        make_scheduler(queue.get_queue()).run()


if __name__ == "__main__":
    main()
