"""A long job whose worker is asked to stop hands its work over to the next worker at once."""

import os
import signal
import threading
import time
from types import SimpleNamespace

import pytest
from peewee import fn
from redis.exceptions import ConnectionError as RedisConnectionError
from rq import Queue, Worker
from rq.exceptions import StopRequested

from shopsync import backfill, bulk_backfill, queue, resume
from shopsync.bulk_run import BulkRun, BulkStatus
from shopsync.db import db
from shopsync.models import BackfillRun, Customer, Order, ReconciliationReport, RunStatus
from shopsync.reconciliation import entities, runs
from shopsync.shopify import AdminClient
from shopsync.simulator import SimulatorServer, Store
from shopsync.testing.processes import wait_until
from tests.helpers import SECRET
from tests.test_bulk_backfill import FAST, operations
from tests.test_dashboard import text
from tests.test_resume import _jobs, _quiet_for


@pytest.fixture
def store():
    return Store.generate(seed=3, orders=600, products=10, customers=20)


@pytest.fixture
def shop(app, store):
    """A fast simulated store, which the app's jobs reach through GraphQL."""
    with SimulatorServer(store, webhook_secret=SECRET, **FAST) as server:
        app.config.update(SHOPIFY_API_BASE_URL=server.base_url, SHOPIFY_ACCESS_TOKEN="shpat_test",
                          SHOPIFY_ADMIN_API="graphql", BULK_POLL_SECONDS=0.05)
        yield server


@pytest.fixture
def stopping():
    """Return the flag a worker asked to stop sets, cleared again after the test."""
    yield queue.stopping
    queue.stopping.clear()


def _client(shop):
    return AdminClient(shop.base_url, "shpat_test")


def _handed_over(run_id, function):
    """Check that the run stopped as handed over: running, not resumed, its job queued again."""
    run = BackfillRun.get_by_id(run_id)
    assert run.status is RunStatus.RUNNING and run.error is None
    assert run.handed_over_at is not None and run.resumes == 0 and run.resumed_at is None
    assert _jobs(run_id) == [(function, (run_id,))]
    _quiet_for(run_id, 6)  # the next worker is late: the sweep still leaves the queued job alone
    assert resume.resume_lost() == []
    return run


def _completed_by_the_next_worker(run_id, run_jobs, stopping, store):
    """Run the queued job as the next worker does; check the run completes, each order once."""
    stopping.clear()
    run_jobs()
    done = BackfillRun.get_by_id(run_id)
    truth = len(store.ids("orders", status="any"))
    assert done.status is RunStatus.COMPLETED, done.error
    assert done.fetched == done.stored == done.expected == truth and done.resumes == 0
    assert Order.select().count() == truth
    assert Order.select(fn.COUNT(fn.DISTINCT(Order.shopify_id))).scalar() == truth
    assert _jobs(run_id) == []


def test_a_worker_asked_to_stop_tells_the_job_it_runs(app, stopping):
    handlers = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    long_queue = queue.get_long_queue()
    try:
        with pytest.raises(StopRequested):  # idle: it stops at once
            queue.Worker([long_queue], connection=long_queue.connection).request_stop(
                signal.SIGTERM, None)
    finally:
        for signum, handler in handlers.items():
            signal.signal(signum, handler)
    assert stopping.is_set()


def test_a_backfill_hands_over_after_its_page_and_the_next_worker_completes_it(
        app, run_jobs, shop, store, stopping, viewer_client):
    run = backfill.prepare_run("orders")
    pages = []

    def stop_during_the_first_page(current, size):
        pages.append(size)
        stopping.set()  # as SIGTERM does to the worker running the job

    backfill.run_backfill(run.id, client=_client(shop), on_page=stop_during_the_first_page)
    assert len(pages) == 1
    stopped = _handed_over(run.id, "run_backfill")
    first = sorted(store.ids("orders", status="any"))[:pages[0]]
    assert stopped.fetched == stopped.stored == pages[0] < 600 and stopped.position == first[-1]
    assert sorted(o.shopify_id for o in Order.select()) == first
    assert "its worker was stopping" in text(viewer_client.get("/backfills"))
    _completed_by_the_next_worker(run.id, run_jobs, stopping, store)


def test_a_backfill_waiting_for_a_slow_page_hands_over_without_it(
        app, run_jobs, shop, store, stopping):
    shop.faults.slow_rate, shop.faults.slow_seconds = 1.0, 2.0  # every call takes 2 s
    run = backfill.prepare_run("orders")
    pages, asked = [], []

    def stop_while_the_next_page_comes(current, size):
        pages.append(size)
        if len(pages) == 1:
            threading.Timer(0.3, lambda: (asked.append(time.monotonic()), stopping.set())).start()

    backfill.run_backfill(run.id, client=_client(shop), on_page=stop_while_the_next_page_comes)
    assert time.monotonic() - asked[0] < 1  # not after the page, which was still coming
    assert len(pages) == 1
    stopped = _handed_over(run.id, "run_backfill")
    assert stopped.fetched == stopped.stored == pages[0] == Order.select().count()
    shop.faults.reset()
    _completed_by_the_next_worker(run.id, run_jobs, stopping, store)


def test_a_backfill_stopping_while_redis_refuses_is_left_to_the_sweep(
        app, shop, stopping, monkeypatch):
    run = backfill.prepare_run("orders")

    def refused(*args, **options):
        raise RedisConnectionError("Redis is down")

    monkeypatch.setattr(Queue, "enqueue", refused)
    stopped = backfill.run_backfill(run.id, client=_client(shop), on_page=lambda *_: stopping.set())
    assert stopped.status is RunStatus.RUNNING and stopped.fetched == Order.select().count() < 600
    assert stopped.handed_over_at is None
    monkeypatch.undo()
    assert _jobs(run.id) == []
    _quiet_for(run.id, 6)
    assert resume.resume_lost() == [run.id]  # resumed as if its worker had died
    assert _jobs(run.id) == [("run_backfill", (run.id,))]


def test_a_bulk_backfill_hands_over_after_its_page_and_the_next_worker_completes_it(
        app, run_jobs, shop, store, stopping):
    run = bulk_backfill.prepare_run("orders")
    pages = []

    def stop_during_the_first_page(current, size):
        pages.append(size)
        stopping.set()

    bulk_backfill.run_bulk_backfill(run.id, client=_client(shop), on_progress=stop_during_the_first_page,
                                    poll=0.05, step=0.02)
    assert len(pages) == 1
    stopped = _handed_over(run.id, "run_bulk_backfill")
    assert stopped.fetched == stopped.stored == pages[0] == Order.select().count() < 600
    row = BulkRun.get()
    assert row.status is BulkStatus.COMPLETED and 0 < row.lines_applied < row.object_count
    _completed_by_the_next_worker(run.id, run_jobs, stopping, store)
    assert operations(shop) == 1  # the next worker read the same result on from its line


def test_a_bulk_backfill_waiting_for_its_operation_hands_over_at_once(
        app, run_jobs, shop, store, stopping):
    shop.bulk.page_delay = 1.0  # the operation runs for seconds
    run = bulk_backfill.prepare_run("orders")
    asked = []

    def stop_once_shopify_runs_it():
        while shop.bulk.current() is None:
            time.sleep(0.01)
        time.sleep(0.2)
        asked.append(time.monotonic())
        stopping.set()

    threading.Thread(target=stop_once_shopify_runs_it, daemon=True).start()
    bulk_backfill.run_bulk_backfill(run.id, client=_client(shop), poll=60, step=5)
    assert time.monotonic() - asked[0] < 1  # without waiting out its step
    _handed_over(run.id, "run_bulk_backfill")
    row = BulkRun.get()
    assert row.operation_id and row.lines_applied == 0 and Order.select().count() == 0
    assert shop.bulk.current().status in ("CREATED", "RUNNING")  # left going for the next worker
    _completed_by_the_next_worker(run.id, run_jobs, stopping, store)
    assert operations(shop) == 1



def _long_jobs():
    return [(job.func_name.rsplit(".", 1)[-1], job.args) for job in queue.get_long_queue().get_jobs()]


def test_a_full_reconciliation_hands_the_entities_left_over_to_the_next_worker(
        app, run_jobs, shop, stopping, monkeypatch):
    reconciled, names = runs.reconcile, [entity.name for entity in entities()]

    def stop_after_the_first(entity, client, until=None, deep=False):
        report = reconciled(entity, client, until, deep)
        stopping.set()
        return report

    monkeypatch.setattr(runs, "reconcile", stop_after_the_first)
    [first] = runs.run_full(client=_client(shop))
    assert ReconciliationReport.get_by_id(first).entity_type == names[0]
    assert _long_jobs() == [("run_full", (name,)) for name in names[1:]]
    monkeypatch.undo()
    stopping.clear()
    run_jobs()  # the next worker
    assert sorted(r.entity_type for r in ReconciliationReport.select()) == sorted(names)
    assert Order.select().count() == 600


def test_a_deep_reconciliation_stopping_mid_listing_is_queued_again_whole(
        app, run_jobs, shop, stopping):
    client = _client(shop)
    listed = client.iter_pages

    def stop_at_the_first_page(*args, **options):
        for page in listed(*args, **options):
            stopping.set()
            yield page

    client.iter_pages = stop_at_the_first_page
    assert runs.run_deep("orders", client=client) == []
    assert ReconciliationReport.select().count() == 0 and Order.select().count() == 0
    assert _long_jobs() == [("run_deep", ("orders",))]
    stopping.clear()
    run_jobs()
    [report] = ReconciliationReport.select()
    assert report.kind == "deep" and report.details["missing_count"] == 600
    assert Order.select().count() == 600


def test_a_catch_up_asked_to_stop_is_not_queued_as_anything_else(app, stopping, monkeypatch):
    def stopped(entity, client, now=None):
        stopping.set()
        queue.hand_over_point()

    monkeypatch.setattr(runs, "catch_up", stopped)
    with pytest.raises(queue.Stopping):
        runs.run_catchup(client=SimpleNamespace(request_count=0))
    assert _long_jobs() == [] and queue.get_queue().get_jobs() == []


@pytest.mark.services
def test_a_worker_stopped_mid_backfill_exits_at_once_and_the_next_completes_it(processes, serve):
    shop = serve(Store.generate(seed=1, orders=0, products=0, customers=1000))
    shop.faults.slow_rate, shop.faults.slow_seconds = 1.0, 8.0  # every call (a page) takes 8 s
    env = {"SHOPIFY_SHOP": shop.shop, "SHOPIFY_API_BASE_URL": shop.base_url,
           "SHOPIFY_ACCESS_TOKEN": shop.access_token, "SHOPIFY_ADMIN_API": "rest"}
    worker = processes.worker(**env)
    [child] = wait_until(lambda: Worker.all(queue=queue.get_long_queue()), message="the long worker")
    with db.connection_context():
        run = backfill.start_backfill("customers")

    def current():
        with db.connection_context():
            return BackfillRun.get_by_id(run.id)

    wait_until(lambda: current().fetched > 0, timeout=60, message="a first page stored")
    for pid in (worker.pid, child.pid):  # a deploy: SIGTERM to every process of the dyno
        os.kill(pid, signal.SIGTERM)
    signalled = time.monotonic()
    assert worker.wait(timeout=30) == 0
    assert time.monotonic() - signalled < 5  # neither after the page coming nor the backfill
    stopped = current()
    assert stopped.status is RunStatus.RUNNING and stopped.handed_over_at is not None
    assert stopped.fetched == 250 and stopped.resumes == 0
    assert _jobs(run.id) == [("run_backfill", (run.id,))]

    shop.faults.reset()
    processes.worker(**env)  # the new dyno's
    wait_until(lambda: current().status is not RunStatus.RUNNING, timeout=90,
               message="the handed-over backfill to end")
    done = current()
    assert done.status is RunStatus.COMPLETED, done.error
    assert done.fetched == done.stored == done.expected == 1000 and done.resumes == 0
    with db.connection_context():
        assert Customer.select().count() == 1000
        assert Customer.select(fn.COUNT(fn.DISTINCT(Customer.shopify_id))).scalar() == 1000
