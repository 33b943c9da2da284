"""Liveness: is the scheduler alive, is every worker, has every periodic job run lately?

Scheduler and worker processes beat into the database from a thread while they live (one
Heartbeat row each); periodic jobs record their last successful run (`attempts.run`), and
the latest attempt that did not complete, retried soon (`attempts`). The
database keeps them where a Redis loss cannot erase them, and they are judged whenever the
Health page, GET /api/admin/health or /metrics is read, so a dead worker or a lost schedule
shows even when no job runs at all.
"""

import contextlib
import datetime as dt
import logging
import os
import socket
import threading
from dataclasses import dataclass

from shopsync import attempts, periodic
from shopsync.db import INFRASTRUCTURE_ERRORS, db, utcnow
from shopsync.models import Heartbeat

log = logging.getLogger(__name__)

PROCESS_ROLES = ("scheduler", "worker")
# A process beats this often (seconds, times SHOPSYNC_SCHEDULE_SCALE)...
HEARTBEAT_SECONDS = 15
# ...and is late when not seen for longer than this: four beats missed.
PROCESS_ALLOWANCE = 60
# A periodic job is late when its last run started longer ago than its interval plus half of it,
# and at least this many seconds more (room for a slow run or a busy worker).
JOB_SLACK = 120
# Processes not seen for this long are forgotten: their rows are dropped as others beat.
FORGET = dt.timedelta(days=1)
# What the banner says when no process of a role gave a sign lately, or ever.
NOT_SEEN = {"scheduler": "scheduler not seen for {}", "worker": "no worker seen for {}"}
NEVER_SEEN = {"scheduler": "scheduler never seen", "worker": "no worker ever seen"}


def process_name():
    """Name this process: Heroku's DYNO (the same across restarts), else host:pid."""
    return os.environ.get("DYNO") or f"{socket.gethostname()}:{os.getpid()}"


def beat(role, name, started_at):
    """Record that the process `name` is alive; forget processes gone for a long time."""
    now = utcnow()
    with db.connection_context():
        Heartbeat.touch(role, name, started_at=started_at, seen_at=now, stopped_at=None)
        Heartbeat.delete().where(Heartbeat.role.in_(PROCESS_ROLES)
                                 & (Heartbeat.seen_at < now - FORGET)).execute()


def _keep_beating(role, name, started_at, every, stop):
    while True:
        try:
            beat(role, name, started_at)
        except INFRASTRUCTURE_ERRORS as exc:
            log.warning("heartbeat of %s %s not recorded, database unreachable: %s", role, name, exc)
        if stop.wait(every):
            return


@contextlib.contextmanager
def beating(role, name=None):
    """Record this process's heartbeat from a thread while the block runs; note a clean stop."""
    name = name or process_name()
    started_at, stop = utcnow(), threading.Event()
    thread = threading.Thread(target=_keep_beating, name=f"{role}-heartbeat", daemon=True,
                              args=(role, name, started_at, periodic.scaled(HEARTBEAT_SECONDS), stop))
    thread.start()
    try:
        yield name
    finally:
        stop.set()
        thread.join()
        try:
            now = utcnow()
            with db.connection_context():
                Heartbeat.touch(role, name, seen_at=now, stopped_at=now)
        except INFRASTRUCTURE_ERRORS as exc:
            log.warning("stop of %s %s not recorded: %s", role, name, exc)


@dataclass(frozen=True)
class Sign:
    """The latest sign of life of something that must keep giving them, judged at `now`."""

    seen_at: dt.datetime | None  # the latest beat, or the start of the last successful run
    allowance: float  # seconds without a sign before it is late
    now: dt.datetime

    @property
    def age(self):
        """Return the seconds since the sign, or None if there never was one."""
        return None if self.seen_at is None else max(0.0, (self.now - self.seen_at).total_seconds())

    @property
    def late(self):
        """Tell whether the sign is missing or older than the allowance."""
        return self.seen_at is None or self.age > self.allowance

    def json(self, moment="last_seen"):
        """Serialise the sign for the API, its time under the key `moment`."""
        return {moment: self.seen_at.isoformat() if self.seen_at else None,
                "age_seconds": None if self.age is None else round(self.age, 1),
                "allowance_seconds": self.allowance, "late": self.late}


def brief(seconds):
    """Format a duration the way people say it: 45 s, 3 min, 5 h, 2 d."""
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= 2 * size:
            return f"{seconds / size:.0f} {unit}"
    return f"{seconds:.0f} s"


@dataclass(frozen=True)
class Process:
    """One scheduler or worker process and its latest beat."""

    role: str
    name: str
    started_at: dt.datetime
    stopped_at: dt.datetime | None
    sign: Sign

    @property
    def late(self):
        """Tell whether a process that was not stopped has stopped beating (killed or hung)."""
        return self.stopped_at is None and self.sign.late

    def json(self):
        """Serialise the process for the API."""
        return {"name": self.name, "started_at": self.started_at.isoformat(),
                "stopped_at": self.stopped_at.isoformat() if self.stopped_at else None,
                **self.sign.json(), "late": self.late}


@dataclass(frozen=True)
class Report:
    """Every sign of life, judged at one moment."""

    roles: dict  # role -> Sign of the newest process of that role
    processes: list  # Process, schedulers first
    jobs: dict  # job name -> Sign of its last run
    retries: dict  # job name -> attempts.Retry, for jobs whose latest attempt did not complete
    now: dt.datetime

    def late(self):
        """Return a sentence for everything late, causes first, e.g. "scheduler not seen for 3 min"."""
        messages = []
        for role, sign in self.roles.items():
            if sign.seen_at is None:
                messages.append(NEVER_SEEN[role])
            elif sign.late:
                messages.append(NOT_SEEN[role].format(brief(sign.age)))
            else:  # one of several died, or a standby scheduler
                messages += [f"{p.role} {p.name} not seen for {brief(p.sign.age)}"
                             for p in self.processes if p.role == role and p.late]
        for name, sign in self.jobs.items():
            every = brief(periodic.JOBS_BY_NAME[name].every())
            if sign.seen_at is None:
                messages.append(f"{name} never run (every {every})")
            elif sign.late:
                messages.append(f"{name} not run for {brief(sign.age)} (every {every})")
            if name in self.retries:
                messages.append(self.retrying(name))
        return messages

    def retrying(self, name):
        """Say why job `name` is retrying and when, e.g. "reconcile-deep did not complete (...)"."""
        retry = self.retries[name]
        wait = (retry.at - self.now).total_seconds()
        when = f"in {brief(wait)}" if wait > 0 else "now"
        count = "1 attempt" if retry.failures == 1 else f"{retry.failures} attempts in a row"
        return f"{name} did not complete ({retry.reason}): {count}, retrying {when}"

    def json(self):
        """Serialise the report for GET /api/admin/health."""
        late = self.late()
        return {
            "status": "late" if late else "ok", "late": late,
            **{role: {**sign.json(), "processes": [p.json() for p in self.processes if p.role == role]}
               for role, sign in self.roles.items()},
            "periodic_jobs": {name: {**sign.json("last_run"),
                                     "every_seconds": periodic.JOBS_BY_NAME[name].every(),
                                     "retry": self.retries[name].json() if name in self.retries else None}
                              for name, sign in self.jobs.items()},
        }


def job_allowance(seconds):
    """Return how long after its last run a job of this interval is late."""
    return seconds + max(seconds / 2, periodic.scaled(JOB_SLACK))


def report(now=None):
    """Read every heartbeat and judge it at `now`."""
    now = now or utcnow()
    rows = list(Heartbeat.select().where(Heartbeat.role.in_(PROCESS_ROLES))
                .order_by(Heartbeat.role, Heartbeat.name))
    allowance = periodic.scaled(PROCESS_ALLOWANCE)
    processes = [Process(row.role, row.name, row.started_at, row.stopped_at,
                         Sign(row.seen_at, allowance, now)) for row in rows]
    roles = {role: Sign(max((p.sign.seen_at for p in processes if p.role == role), default=None),
                        allowance, now) for role in PROCESS_ROLES}
    runs = periodic.last_runs()
    jobs = {job.name: Sign(runs.get(job.name), job_allowance(job.every()), now)
            for job in periodic.JOBS}
    tried = attempts.latest()
    retries = {job.name: retry for job in periodic.JOBS
               if (retry := attempts.retry(tried.get(job.name), job.every(), now))}
    return Report(roles, processes, jobs, retries, now)
