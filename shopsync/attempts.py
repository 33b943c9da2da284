"""A periodic job's latest attempt: claimed by one runner, beaten while it runs, retried if it fails.

Each job has one Heartbeat row of role "run": `started_at` is when the latest attempt began,
`seen_at` its latest beat (or its end), `stopped_at` its end, `failures` the attempts in a row
that did not complete and `reason` why the last one did not. An attempt that stopped beating
without an end died with its worker (killed, or its database or Redis lost). The scheduler runs
a job whose latest attempt did not complete again after a backoff (`retry`), well before its
next interval; an attempt is claimed in the database, so no second run starts while one lives.
The scheduler queues every periodic job as `run(name)`.
"""

import contextlib
import datetime as dt
import logging
import threading
from dataclasses import dataclass

from peewee import Case
from rq.utils import import_attribute

from shopsync import periodic
from shopsync.db import INFRASTRUCTURE_ERRORS, db, utcnow
from shopsync.models import Heartbeat

log = logging.getLogger(__name__)

ROLE = "run"  # the Heartbeat role of periodic jobs' attempts
# A running attempt beats this often (seconds, times SHOPSYNC_SCHEDULE_SCALE)...
BEAT_SECONDS = 15
# ...and died when not beaten for longer than this: four beats missed.
ALLOWANCE = 60
# The first retry comes this long after an attempt that did not complete; each retry that
# fails doubles the wait, up to RETRY_MAX and never more than half the job's interval.
RETRY_FIRST = 60
RETRY_MAX = 3600
DIED = "the run stopped without an end (worker killed, or database or Redis lost)"
LOST = "the run was lost before it began (database unreachable, or its worker died)"
REASON_LENGTH = 500


@dataclass(frozen=True)
class Retry:
    """The coming retry of a job whose latest attempt did not complete."""

    at: dt.datetime  # when it is due
    wait: float  # seconds between the failed attempt's last sign and `at`
    failures: int  # attempts in a row that did not complete
    reason: str

    def json(self):
        """Serialise the retry for the API."""
        return {"at": self.at.isoformat(), "failures": self.failures, "reason": self.reason}


def backoff(failures, every):
    """Return the seconds to wait after `failures` attempts in a row that did not complete."""
    return min(periodic.scaled(RETRY_FIRST) * 2 ** min(failures - 1, 30), periodic.scaled(RETRY_MAX),
               every / 2)


def died_before(now):
    """Return the moment before which a running attempt's last beat means it died."""
    return now - dt.timedelta(seconds=periodic.scaled(ALLOWANCE))


def retry(row, every, now):
    """Return the Retry due for the attempt `row` of a job run every `every` seconds, or None.

    None when the latest attempt completed, or still runs.
    """
    if row is None:
        return None
    if row.stopped_at is None:
        if row.seen_at >= died_before(now):
            return None
        failures, ended, reason = row.failures + 1, row.seen_at, DIED
    elif row.failures:
        failures, ended, reason = row.failures, row.stopped_at, row.reason
    else:
        return None
    wait = backoff(failures, every)
    return Retry(ended + dt.timedelta(seconds=wait), wait, failures, reason)


def latest():
    """Return {job name: its latest attempt's row}."""
    return {row.name: row for row in Heartbeat.select().where(Heartbeat.role == ROLE)}


def claim(name, now):
    """Start an attempt at job `name` at `now`; return False if a live attempt holds the job."""
    died = Heartbeat.stopped_at.is_null()
    taken = (Heartbeat.update(started_at=now, seen_at=now, stopped_at=None,
                              failures=Case(None, [(died, Heartbeat.failures + 1)], Heartbeat.failures),
                              reason=Case(None, [(died, DIED)], Heartbeat.reason))
             .where((Heartbeat.role == ROLE) & (Heartbeat.name == name)
                    & (Heartbeat.stopped_at.is_null(False) | (Heartbeat.seen_at < died_before(now))))
             .execute())
    if taken:
        return True
    return bool(Heartbeat.insert(role=ROLE, name=name, started_at=now, seen_at=now)
                .on_conflict_ignore().as_rowcount().execute())


def _mine(name, started):
    return (Heartbeat.role == ROLE) & (Heartbeat.name == name) & (Heartbeat.started_at == started)


def end(name, started, error=None):
    """Record the end of the attempt at `name` begun at `started`: success, or `error`."""
    now = utcnow()
    outcome = ({"failures": 0, "reason": None} if error is None else
               {"failures": Heartbeat.failures + 1,
                "reason": f"{type(error).__name__}: {error}"[:REASON_LENGTH]})
    Heartbeat.update(seen_at=now, stopped_at=now, **outcome).where(_mine(name, started)).execute()


def _keep_beating(name, started, every, stop):
    while not stop.wait(every):
        try:
            with db.connection_context():
                Heartbeat.update(seen_at=utcnow()).where(_mine(name, started)).execute()
        except INFRASTRUCTURE_ERRORS as exc:
            log.warning("beat of periodic run %s not recorded, database unreachable: %s", name, exc)


@contextlib.contextmanager
def attempt(name):
    """Yield whether this caller holds a new attempt at job `name`; beat it and record its end."""
    started = utcnow()
    with db.connection_context():
        held = claim(name, started)
    if not held:
        yield False
        return
    stop, error = threading.Event(), None
    thread = threading.Thread(target=_keep_beating, name=f"{name}-beat", daemon=True,
                              args=(name, started, periodic.scaled(BEAT_SECONDS), stop))
    thread.start()
    try:
        yield True
    except BaseException as exc:
        error = exc
        raise
    finally:
        stop.set()
        thread.join()
        with db.connection_context():
            end(name, started, error)


def run(name):
    """Run the periodic job `name` unless a run of it is alive; record when a successful run started."""
    started = utcnow()
    with attempt(name) as held:
        if not held:
            log.info("periodic job %s not started: a run of it is still alive", name)
            return None
        result = import_attribute(periodic.JOBS_BY_NAME[name].func)()
        with db.connection_context():
            Heartbeat.touch(periodic.ROLE, name, started_at=started, seen_at=utcnow())
    return result
