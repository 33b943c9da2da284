"""A periodic run that fails or dies is retried after a backoff, one run at a time, and shown."""

import datetime as dt

import pytest
from rq.job import Job, JobStatus

from shopsync import attempts, liveness, periodic, scheduler
from shopsync.db import utcnow
from shopsync.models import Heartbeat
from shopsync.queue import get_queue

CALLS = []  # one entry per run of `flaky`
OUTCOMES = []  # what `flaky`'s coming runs do: an exception to raise, or None to succeed
HOUR = 3600


def flaky():
    """Run as the only periodic job: fail or succeed as OUTCOMES says."""
    CALLS.append(utcnow())
    outcome = OUTCOMES.pop(0) if OUTCOMES else None
    if outcome is not None:
        raise outcome


@pytest.fixture(autouse=True)
def only_flaky(app, monkeypatch):
    """Make `flaky`, run hourly, the only periodic job, with no schedule left by another test."""
    job = periodic.PeriodicJob("flaky", HOUR, f"{__name__}.flaky")
    monkeypatch.setattr(periodic, "JOBS", [job])
    monkeypatch.setattr(periodic, "JOBS_BY_NAME", {job.name: job})
    CALLS.clear()
    OUTCOMES.clear()
    yield
    sched = scheduler.make_scheduler(get_queue())
    sched.connection.zrem(sched.scheduled_jobs_key, job.id)
    sched.connection.delete(Job.key_for(job.id))


def take_queued():
    """Take every queued job off the queue, as a worker taking it would."""
    queue = get_queue()
    queue.connection.delete(queue.key)


def poll_at(monkeypatch, moment):
    """Run one scheduler poll as if it were `moment` (healing, so as to leave others' schedules alone)."""
    monkeypatch.setattr("shopsync.scheduler.utcnow", lambda: moment)
    sched = scheduler.make_scheduler(get_queue(), scheduler.ThreadScheduler)
    sched._registered = True
    sched.run(burst=True)


def test_a_failed_run_is_retried_after_a_minute_not_an_interval_later(app, run_jobs, monkeypatch):
    OUTCOMES.append(RuntimeError("shop unreachable"))
    start = utcnow()
    poll_at(monkeypatch, start)  # registers the job, due now
    run_jobs()
    assert len(CALLS) == 1 and periodic.last_runs() == {}
    ended = Heartbeat.get(Heartbeat.role == attempts.ROLE).stopped_at
    report = liveness.report(ended + dt.timedelta(seconds=20))
    assert report.late()[-1] == (
        "flaky did not complete (RuntimeError: shop unreachable): 1 attempt, retrying in 40 s")
    assert report.json()["periodic_jobs"]["flaky"]["retry"]["failures"] == 1

    poll_at(monkeypatch, ended + dt.timedelta(seconds=30))
    run_jobs()
    assert len(CALLS) == 1  # the backoff is not over

    poll_at(monkeypatch, ended + dt.timedelta(seconds=61))
    run_jobs()
    assert len(CALLS) == 2  # retried a minute later, not an hour later
    assert "flaky" in periodic.last_runs()
    assert liveness.report().retries == {}


def test_each_failure_in_a_row_doubles_the_wait_up_to_a_cap(app):
    assert [attempts.backoff(n, 7 * 24 * HOUR) for n in (1, 2, 3, 7, 50)] == [60, 120, 240, 3600, 3600]
    assert attempts.backoff(6, HOUR) == HOUR / 2  # always well before the next regular run
    assert attempts.backoff(1, 60) == 30


def test_a_retry_that_fails_again_waits_longer(app, run_jobs, monkeypatch):
    OUTCOMES.extend([RuntimeError("first"), RuntimeError("second")])
    poll_at(monkeypatch, utcnow())
    run_jobs()
    ended = Heartbeat.get(Heartbeat.role == attempts.ROLE).stopped_at
    poll_at(monkeypatch, ended + dt.timedelta(seconds=61))
    run_jobs()
    assert len(CALLS) == 2
    ended = Heartbeat.get(Heartbeat.role == attempts.ROLE).stopped_at
    poll_at(monkeypatch, ended + dt.timedelta(seconds=100))
    run_jobs()
    assert len(CALLS) == 2  # two minutes after a second failure
    poll_at(monkeypatch, ended + dt.timedelta(seconds=121))
    run_jobs()
    assert len(CALLS) == 3


def test_a_run_whose_worker_died_is_retried(app, run_jobs, monkeypatch):
    now = utcnow()
    ten_minutes_ago = now - dt.timedelta(minutes=10)
    Heartbeat.touch(periodic.ROLE, "flaky", started_at=ten_minutes_ago, seen_at=ten_minutes_ago)
    killed = now - dt.timedelta(seconds=61)
    assert attempts.claim("flaky", killed)  # a run began, then its worker was killed: no beats since
    assert liveness.report(killed + dt.timedelta(seconds=50)).retries == {}  # it may still be running
    assert liveness.report(now).late()[-1] == (
        f"flaky did not complete ({attempts.DIED}): 1 attempt, retrying now")

    poll_at(monkeypatch, now)  # four beats missed: it died
    run_jobs()
    assert len(CALLS) == 1  # not 50 minutes later, when the hourly job is due
    assert periodic.last_runs()["flaky"] > now and liveness.report().retries == {}


def test_a_run_lost_before_it_began_is_retried(app, run_jobs, monkeypatch):
    ten_minutes_ago = utcnow() - dt.timedelta(minutes=10)
    Heartbeat.touch(periodic.ROLE, "flaky", started_at=ten_minutes_ago, seen_at=ten_minutes_ago)
    poll_at(monkeypatch, utcnow())  # registered, due in 50 minutes
    queue = get_queue()
    queue.enqueue_job(Job.fetch("periodic-flaky", connection=queue.connection))  # its run was queued...
    take_queued()
    rq_job = Job.fetch("periodic-flaky", connection=queue.connection)
    rq_job.set_status(JobStatus.STARTED)  # ...and taken by a worker killed before the run began

    poll_at(monkeypatch, rq_job.enqueued_at + dt.timedelta(seconds=30))
    run_jobs()
    assert CALLS == []
    poll_at(monkeypatch, rq_job.enqueued_at + dt.timedelta(seconds=61))
    run_jobs()
    assert len(CALLS) == 1  # a minute later, not when the hourly job is next due


def test_no_second_run_starts_while_one_is_alive(app):
    with attempts.attempt("flaky") as held:
        assert held
        assert attempts.run("flaky") is None
        assert CALLS == []
    assert attempts.run("flaky") is None and len(CALLS) == 1  # after it ended, a run starts


def test_a_retry_waiting_for_a_worker_is_not_queued_twice(app, monkeypatch):
    now = utcnow()
    ten_minutes_ago, failed = now - dt.timedelta(minutes=10), now - dt.timedelta(seconds=61)
    Heartbeat.touch(periodic.ROLE, "flaky", started_at=ten_minutes_ago, seen_at=ten_minutes_ago)
    Heartbeat.touch(attempts.ROLE, "flaky", started_at=failed, seen_at=failed, stopped_at=failed,
                    failures=1, reason="RuntimeError: boom")
    poll_at(monkeypatch, now)
    assert get_queue().count == 1
    poll_at(monkeypatch, utcnow())  # no worker took it yet
    assert get_queue().count == 1


def test_the_health_page_shows_a_retrying_job_and_why(app, viewer_client):
    now = utcnow()
    Heartbeat.touch(periodic.ROLE, "flaky", started_at=now, seen_at=now)
    Heartbeat.touch(attempts.ROLE, "flaky", started_at=now, seen_at=now, stopped_at=now, failures=2,
                    reason="RuntimeError: boom")
    page = viewer_client.get("/").get_data(as_text=True)
    assert "<li>flaky did not complete (RuntimeError: boom): 2 attempts in a row, retrying in " in page
    row = page[page.index('data-job="flaky"'):]
    assert '<span class="badge warning">retrying</span>' in row[:row.index("</tr>")]
