"""Backfills whose worker died are resumed by the sweep, once per run, a few times at most."""

import datetime as dt
import os
import signal

import pytest
from peewee import fn
from rq import Worker

from shopsync import backfill, bulk_backfill, periodic, resume, single
from shopsync.db import db, utcnow
from shopsync.models import Alert, BackfillRun, Order, RunStatus, Severity
from shopsync.queue import get_long_queue, get_queue
from shopsync.shopify import ShopifyClient
from shopsync.simulator import Store
from shopsync.testing.processes import wait_until
from tests.test_dashboard import post, text


def _jobs(run_id):
    return [(job.func_name.rsplit(".", 1)[-1], job.args) for job in get_long_queue().get_jobs()
            if job.args[:1] == (run_id,)]


def _quiet_for(run_id, minutes):
    """Make a run's last progress `minutes` old, as if its worker died that long ago."""
    BackfillRun.update(updated_at=utcnow() - dt.timedelta(minutes=minutes)).where(
        BackfillRun.id == run_id).execute()


def _taken():
    """Take the queued jobs off the long queue, as a worker would."""
    get_long_queue().connection.delete(get_long_queue().key)


def _lost_run(bulk=False, minutes=6):
    """Return a running backfill whose worker died `minutes` ago, its job gone from the queue."""
    run = (bulk_backfill if bulk else backfill).prepare_run("orders")
    _quiet_for(run.id, minutes)
    return run


def test_the_sweep_job_resumes_lost_backfills():
    assert periodic.JOBS_BY_NAME["sweep-outbox"].func == "shopsync.resume.sweep"


@pytest.mark.parametrize("bulk, function", [(False, "run_backfill"), (True, "run_bulk_backfill")])
def test_a_stale_run_is_queued_again_once(app, bulk, function):
    run = _lost_run(bulk)
    assert resume.resume_lost() == [run.id]
    assert resume.resume_lost() == []  # a second sweep: the run is fresh again, its job queued
    assert _jobs(run.id) == [(function, (run.id,))]
    resumed = BackfillRun.get_by_id(run.id)
    assert resumed.status is RunStatus.RUNNING and resumed.resumes == 1 and resumed.resumed_at
    assert backfill.running("orders") == resumed  # a person's start is refused meanwhile


def test_fresh_cancelled_and_finished_runs_are_left_alone(app):
    fresh = backfill.prepare_run("orders")
    ended = []
    for resource, status, error in [("products", RunStatus.INTERRUPTED, "cancelled by admin"),
                                    ("customers", RunStatus.COMPLETED, None),
                                    ("customers", RunStatus.FAILED, "ShopifyError: 500")]:
        run = backfill.prepare_run(resource)
        backfill.close(run, status, error)
        _quiet_for(run.id, 60)
        ended.append(run)
    assert resume.resume_lost() == []
    assert get_long_queue().count == 0
    assert BackfillRun.get_by_id(fresh.id).resumes == 0
    assert [BackfillRun.get_by_id(run.id).status for run in ended] == [run.status for run in ended]


def test_a_run_whose_job_waits_in_the_long_queue_is_left_alone(app):
    run = backfill.start_backfill("orders")  # queued behind, say, a full reconciliation
    _quiet_for(run.id, 60)
    assert resume.resume_lost() == []
    assert len(_jobs(run.id)) == 1


def test_a_run_a_person_is_starting_is_left_to_them(app):
    run = _lost_run()
    with single.claim(get_queue(), "backfill-orders") as held:
        assert held and resume.resume_lost() == []
    assert get_long_queue().count == 0 and BackfillRun.get_by_id(run.id).resumes == 0


def test_a_person_cannot_start_a_run_the_sweep_resumed(app, admin_client):
    run = _lost_run()
    assert resume.resume_lost() == [run.id]
    response = post(admin_client, "/backfills", entity="orders")
    assert "already queued or running" in text(admin_client.get(response.headers["Location"]))
    assert len(_jobs(run.id)) == 1


def test_resumes_in_a_row_back_off_then_the_run_fails_and_alerts(app):
    run = _lost_run()
    for count, wait in [(1, 5), (2, 10), (3, 20)]:
        _quiet_for(run.id, wait - 1)
        assert resume.resume_lost() == [], count  # still waiting out its backoff
        _quiet_for(run.id, wait + 1)
        assert resume.resume_lost() == [run.id]
        assert BackfillRun.get_by_id(run.id).resumes == count
        _taken()  # its job taken by a worker that dies too
    _quiet_for(run.id, 41)
    assert resume.resume_lost() == [run.id]
    failed = BackfillRun.get_by_id(run.id)
    assert failed.status is RunStatus.FAILED and failed.finished_at
    assert "its worker died 4 times in a row without progress" in failed.error
    assert get_long_queue().count == 0
    [alert] = Alert.select().where(Alert.metric_name == f"backfill #{run.id}")
    assert alert.status is Severity.CRITICAL and failed.error in alert.message
    assert resume.resume_lost() == []
    # A person starting it again resumes it from its position, its automatic resumes afresh.
    reopened = backfill.prepare_run("orders")
    assert reopened.id == run.id and reopened.resumes == 0 and reopened.status is RunStatus.RUNNING


def test_progress_since_a_resume_starts_the_count_afresh(app):
    run = _lost_run()
    assert resume.resume_lost() == [run.id]
    _taken()
    # Resumed 7 minutes ago, a page applied a minute later, then its worker died too:
    # resumed after 5 minutes, not 10.
    BackfillRun.update(resumed_at=utcnow() - dt.timedelta(minutes=7),
                       updated_at=utcnow() - dt.timedelta(minutes=6)).where(
        BackfillRun.id == run.id).execute()
    assert resume.resume_lost() == [run.id]
    assert BackfillRun.get_by_id(run.id).resumes == 1


def test_a_job_whose_run_was_resumed_elsewhere_stops_after_its_page(app, serve):
    shop = serve(bucket_size=40, leak_rate=200.0)
    run = backfill.prepare_run("orders")

    def resumed_elsewhere(current, size):
        BackfillRun.update(resumed_at=utcnow()).where(BackfillRun.id == run.id).execute()

    client = ShopifyClient(shop.base_url, shop.access_token, leak_rate=200.0)
    stopped = backfill.run_backfill(run.id, client=client, on_page=resumed_elsewhere)
    assert stopped.status is RunStatus.RUNNING and stopped.fetched == 250


def test_the_backfills_page_says_a_run_was_resumed(app, viewer_client):
    run = _lost_run()
    resume.resume_lost()
    html = text(viewer_client.get("/backfills"))
    assert f'id="run-{run.id}"' in html and "resumed automatically" in html


@pytest.mark.services
def test_a_backfill_whose_worker_is_killed_completes_without_a_person(processes, serve):
    store = Store.generate(seed=3, orders=600, products=10, customers=40)
    shop = serve(store)
    shop.faults.slow_rate, shop.faults.slow_seconds = 1.0, 0.02  # a page of 250 takes seconds
    worker = processes.worker(SHOPIFY_SHOP=shop.shop, SHOPIFY_API_BASE_URL=shop.base_url,
                              SHOPIFY_ACCESS_TOKEN=shop.access_token, SHOPIFY_ADMIN_API="rest")
    with db.connection_context():
        run = backfill.start_backfill("orders")

    def fetched():
        with db.connection_context():
            return BackfillRun.get_by_id(run.id).fetched

    [child] = wait_until(lambda: Worker.all(queue=get_long_queue()), message="the long worker")
    wait_until(lambda: fetched() > 0, timeout=60, message="a first page stored")
    os.kill(child.pid, signal.SIGKILL)  # as Heroku does 30 s after SIGTERM
    worker.kill()
    worker.wait()
    with db.connection_context():
        assert BackfillRun.get_by_id(run.id).status is RunStatus.RUNNING
        assert 0 < fetched() < 600
        _quiet_for(run.id, 6)  # five minutes on
    shop.faults.reset()
    processes.worker(SHOPIFY_SHOP=shop.shop, SHOPIFY_API_BASE_URL=shop.base_url,
                     SHOPIFY_ACCESS_TOKEN=shop.access_token, SHOPIFY_ADMIN_API="rest")
    with db.connection_context():
        assert resume.resume_lost() == [run.id]

    def status():
        with db.connection_context():
            return BackfillRun.get_by_id(run.id).status is not RunStatus.RUNNING

    wait_until(status, timeout=120, message="the resumed backfill to end")
    with db.connection_context():
        done = BackfillRun.get_by_id(run.id)
        assert done.status is RunStatus.COMPLETED, done.error
        assert done.fetched == done.stored == done.expected == 600 and done.resumes == 1
        assert Order.select().count() == 600
        assert Order.select(fn.COUNT(fn.DISTINCT(Order.shopify_id))).scalar() == 600
