"""What the workers are doing: the queues, the drains, each worker's heartbeat and job, the schedule.

Redis tells the length of both queues (short and long), the drain jobs queued and running, the
long jobs running, each RQ worker's queue, last heartbeat and current job, and rq-scheduler's
next run of each periodic job. The database
tells the processes' own heartbeats and each periodic job's last run, so the view still
says what it knows when Redis cannot be reached.
"""

import datetime as dt
from dataclasses import dataclass, field

from redis.exceptions import RedisError
from rq import Worker
from rq.registry import StartedJobRegistry
from rq_scheduler import Scheduler

from shopsync import liveness, periodic, queue
from shopsync.db import utcnow
from shopsync.outbox import JOB_PREFIX


@dataclass(frozen=True)
class RQWorker:
    """One RQ worker as Redis knows it."""

    name: str
    queues: list  # the names of the queues it takes jobs from
    host: str | None
    pid: int | None
    state: str
    last_heartbeat: dt.datetime | None
    current_job: str | None  # the job's id, or None when idle

    def json(self):
        """Serialise the worker for the API."""
        return {"name": self.name, "queues": self.queues, "host": self.host, "pid": self.pid,
                "state": self.state,
                "last_heartbeat": self.last_heartbeat.isoformat() if self.last_heartbeat else None,
                "current_job": self.current_job}


@dataclass(frozen=True)
class Scheduled:
    """A periodic job: its interval, last run (database) and next run (rq-scheduler, Redis)."""

    name: str
    every: int  # seconds
    last_run: dt.datetime | None
    next_run: dt.datetime | None  # None: not in the schedule, or Redis unreachable

    def json(self):
        """Serialise the job for the API."""
        return {"name": self.name, "every_seconds": self.every,
                "last_run": self.last_run.isoformat() if self.last_run else None,
                "next_run": self.next_run.isoformat() if self.next_run else None}


@dataclass(frozen=True)
class View:
    """The queues, the workers and the schedule, as read at `now`."""

    now: dt.datetime
    processes: list  # liveness.Process, from the database
    jobs: list  # Scheduled
    redis_error: str | None = None  # why Redis could not be read; then the fields below are unknown
    queued: int | None = None
    drains_queued: int | None = None
    drains_running: int | None = None
    long_queued: int | None = None
    long_running: int | None = None
    workers: list = field(default_factory=list)  # RQWorker

    def json(self):
        """Serialise the view for GET /api/admin/workers."""
        return {
            "redis": {"reachable": self.redis_error is None, "error": self.redis_error},
            "queue": {"queued": self.queued, "drains_queued": self.drains_queued,
                      "drains_running": self.drains_running, "long_queued": self.long_queued,
                      "long_running": self.long_running},
            "workers": [w.json() for w in self.workers],
            "processes": {role: [p.json() for p in self.processes if p.role == role]
                          for role in liveness.PROCESS_ROLES},
            "periodic_jobs": [job.json() for job in self.jobs],
        }


def _rq_workers(rq_queues):
    """Return the RQ workers serving any of `rq_queues`, newest heartbeat first."""
    found = {w.name: w for rq_queue in rq_queues for w in Worker.all(queue=rq_queue)}
    workers = [RQWorker(w.name, w.queue_names(), w.hostname, w.pid, str(w.get_state()),
                        w.last_heartbeat, w.get_current_job_id())
               for w in found.values()]
    oldest = dt.datetime.min.replace(tzinfo=dt.UTC)
    return sorted(workers, key=lambda w: w.last_heartbeat or oldest, reverse=True)


def _next_runs(connection):
    """Return {periodic job name: its next run} from rq-scheduler's schedule."""
    with connection.pipeline(transaction=False) as pipe:
        for job in periodic.JOBS:
            pipe.zscore(Scheduler.scheduled_jobs_key, job.id)
        scores = pipe.execute()
    return {job.name: dt.datetime.fromtimestamp(score, dt.UTC)
            for job, score in zip(periodic.JOBS, scores, strict=True) if score is not None}


def view(now=None):
    """Read the queues, the workers and the schedule; what Redis cannot say is left unknown."""
    now = now or utcnow()
    report = liveness.report(now)
    runs = {name: sign.seen_at for name, sign in report.jobs.items()}
    rq_queue, long_queue = queue.get_queue(), queue.get_long_queue()
    try:
        queued_ids = rq_queue.get_job_ids()
        running_ids = StartedJobRegistry(queue=rq_queue).get_job_ids()
        long_queued, long_running = long_queue.count, StartedJobRegistry(queue=long_queue).count
        workers = _rq_workers([rq_queue, long_queue])
        next_runs = _next_runs(rq_queue.connection)
    except RedisError as exc:
        jobs = [Scheduled(job.name, job.every(), runs.get(job.name), None) for job in periodic.JOBS]
        return View(now, report.processes, jobs, redis_error=str(exc) or type(exc).__name__)
    jobs = [Scheduled(job.name, job.every(), runs.get(job.name), next_runs.get(job.name))
            for job in periodic.JOBS]
    return View(now, report.processes, jobs, queued=len(queued_ids),
                drains_queued=sum(job_id.startswith(JOB_PREFIX) for job_id in queued_ids),
                drains_running=sum(job_id.startswith(JOB_PREFIX) for job_id in running_ids),
                long_queued=long_queued, long_running=long_running, workers=workers)
