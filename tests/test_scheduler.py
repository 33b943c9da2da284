"""Periodic jobs: registered idempotently, healed when Redis loses them, run by one scheduler."""

import datetime as dt

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError
from rq.job import Job

from shopsync import periodic, scheduler
from shopsync.models import Heartbeat, Order, WebhookLog
from shopsync.queue import get_queue
from tests.helpers import deliver, order


def _scheduler():
    return scheduler.make_scheduler(get_queue(), scheduler.ThreadScheduler)


def test_registering_twice_keeps_one_schedule_per_job(app):
    sched = _scheduler()
    scheduler.register(sched)
    scheduler.register(_scheduler())
    ids = sorted(job.id for job in sched.get_jobs())
    assert ids == sorted(job.id for job in periodic.JOBS)


def test_retired_periodic_jobs_are_dropped(app):
    sched = _scheduler()
    sched.schedule(scheduled_time=dt.datetime.now(dt.UTC), func="shopsync.outbox.sweep",
                   interval=60, id="periodic-retired")
    scheduler.register(sched)
    assert "periodic-retired" not in {job.id for job in sched.get_jobs()}


def test_only_one_scheduler_holds_the_lock(app):
    first, second = _scheduler(), _scheduler()
    assert first.acquire_lock()
    assert not second.acquire_lock()
    first.remove_lock()
    assert second.acquire_lock()
    second.remove_lock()


def test_scheduled_sweep_runs_through_the_worker(client, run_jobs, monkeypatch):
    monkeypatch.setattr("shopsync.outbox.GRACE", dt.timedelta(0))
    with monkeypatch.context() as patch:
        patch.setattr("rq.Queue.enqueue", lambda *a, **k: None)  # the delivery's enqueue is lost
        deliver(client, "orders/create", order())
    sched = _scheduler()
    scheduler.register(sched)
    sched.run(burst=True)  # enqueues the due periodic jobs
    run_jobs()  # the sweep queues the webhook...
    run_jobs()  # ...and the worker applies it
    assert WebhookLog.get().status.value == "processed"
    assert Order.select().count() == 1


def test_lost_registrations_come_back_at_the_next_poll(app):
    sched = _scheduler()
    sched.run(burst=True)  # the first poll registers every job
    an_hour_ago = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    Heartbeat.touch(periodic.ROLE, "reconcile-full", started_at=an_hour_ago)
    connection = sched.connection
    connection.zrem(sched.scheduled_jobs_key, "periodic-reconcile-full", "periodic-compute-health")
    connection.delete(Job.key_for("periodic-sweep-outbox"))  # an evicted job, still scheduled
    assert {job.name for job in scheduler.missing(sched)} == {
        "reconcile-full", "compute-health", "sweep-outbox"}

    sched.run(burst=True)
    assert scheduler.missing(sched) == []
    due = dict(connection.zrange(sched.scheduled_jobs_key, 0, -1, withscores=True))
    in_23_hours = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=23)).timestamp()
    assert due[b"periodic-reconcile-full"] == pytest.approx(in_23_hours, abs=60)  # not run again at once


def test_scheduler_tries_again_every_poll_while_redis_is_down(app, monkeypatch):
    sched = _scheduler()
    answers = iter([RedisConnectionError("gone"), RedisConnectionError("still gone"), True])

    def poll():
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    sleeps = []
    monkeypatch.setattr(sched, "poll", poll)
    monkeypatch.setattr("shopsync.scheduler.time.sleep", sleeps.append)
    sched.run(burst=True)
    assert sleeps == [pytest.approx(scheduler.POLL_INTERVAL, abs=1)] * 2
