"""Periodic jobs: registered idempotently, run by one scheduler, executed by the worker."""

import datetime as dt

from shopsync import periodic, scheduler
from shopsync.models import Order, WebhookLog
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
