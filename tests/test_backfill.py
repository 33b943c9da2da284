"""Backfills against the simulator over real HTTP: complete, resumable, convergent."""

import datetime as dt

import pytest

from shopsync import backfill
from shopsync.models import BackfillRun, Customer, FailedSyncItem, Order, Product, RunStatus
from shopsync.shopify import ShopifyClient
from shopsync.simulator import SimulatorServer, Store
from tests.helpers import SECRET, deliver


@pytest.fixture
def store():
    return Store.generate(seed=7, orders=700, products=30, customers=120)


@pytest.fixture
def shop(store):
    with SimulatorServer(store, bucket_size=40, leak_rate=200.0, webhook_secret=SECRET) as server:
        yield server


def _client(shop):
    return ShopifyClient(shop.base_url, shop.access_token, leak_rate=200.0)


@pytest.mark.usefixtures("app")
@pytest.mark.parametrize("resource, model", [("orders", Order), ("products", Product),
                                             ("customers", Customer)])
def test_backfill_copies_every_record(shop, store, resource, model):
    run = backfill.prepare_run(resource)
    run = backfill.run_backfill(run.id, client=_client(shop))
    truth = sorted(store.ids(resource, status="any") if resource == "orders" else store.ids(resource))
    assert run.status is RunStatus.COMPLETED, run.error
    assert run.fetched == run.stored == len(truth) == run.expected and run.failed == 0
    assert sorted(r.shopify_id for r in model.select()) == truth
    assert run.position == truth[-1]


@pytest.mark.usefixtures("app")
def test_interrupted_backfill_resumes_where_it_stopped(shop, store):
    run = backfill.prepare_run("orders")
    pages = []

    def stop_after_two(current, size):
        pages.append(size)
        if len(pages) == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        backfill.run_backfill(run.id, client=_client(shop), on_page=stop_after_two)
    stopped = BackfillRun.get_by_id(run.id)
    assert stopped.status is RunStatus.INTERRUPTED and stopped.fetched == 500
    shop.reset_counters()

    resumed = backfill.prepare_run("orders")
    assert resumed.id == run.id and resumed.status is RunStatus.RUNNING
    done = backfill.run_backfill(resumed.id, client=_client(shop))
    assert done.status is RunStatus.COMPLETED and done.fetched == 700
    assert Order.select().count() == 700
    # One page of the remaining 200, nothing fetched twice, and each of their transactions.
    assert sorted({r.kind for r in shop.request_log}) == ["orders.list", "transactions.list"]
    assert [r.kind for r in shop.request_log].count("orders.list") == 1
    assert shop.request_count == 1 + 200


@pytest.mark.usefixtures("app")
def test_invalid_records_go_to_failed_items_and_the_run_says_so(shop, store):
    bad_id = sorted(store.ids("orders", status="any"))[3]
    store.update_order(bad_id, total_price="twelve")
    run = backfill.run_backfill(backfill.prepare_run("orders").id, client=_client(shop))
    assert run.status is RunStatus.COMPLETED and run.failed == 1 and run.stored == 699
    item = FailedSyncItem.get()
    assert item.shopify_id == bad_id and "total_price" in item.error_message


@pytest.mark.usefixtures("app")
def test_api_outage_fails_the_run_resumably(shop):
    shop.faults.fail_next_requests(1000, status=503)
    client = ShopifyClient(shop.base_url, shop.access_token, leak_rate=200.0, max_retries=1,
                           backoff=0.01)
    run = backfill.run_backfill(backfill.prepare_run("orders").id, client=client)
    assert run.status is RunStatus.FAILED and "503" in run.error
    shop.faults.reset()
    assert backfill.prepare_run("orders").id == run.id


def test_backfill_racing_webhooks_converges_to_the_store(app, client, run_jobs, shop, store):
    order_ids = sorted(store.ids("orders", status="any"))[:50]
    stale_copies = [store.get_order(i) for i in order_ids]
    for order_id in order_ids:
        store.update_order(order_id, email=f"new-{order_id}@example.com")
    deliver(client, "orders/updated", stale_copies[0])  # one stale webhook before the pull
    run_jobs()
    run = backfill.run_backfill(backfill.prepare_run("orders").id, client=_client(shop))
    for copy in stale_copies:  # late webhooks carrying the older versions
        deliver(client, "orders/updated", copy)
    run_jobs()
    assert run.status is RunStatus.COMPLETED
    for order_id in order_ids:
        stored = Order.get(Order.shopify_id == order_id)
        truth = store.get_order(order_id)
        assert stored.email == truth["email"] == f"new-{order_id}@example.com"
        assert stored.updated_at == dt.datetime.fromisoformat(truth["updated_at"])


@pytest.mark.usefixtures("app")
def test_a_cancelled_backfill_stops_after_its_page_and_resumes_later(shop, store):
    run = backfill.prepare_run("orders")

    def cancel_during_the_first_page(current, size):
        assert backfill.cancel(current.id, "alice")

    stopped = backfill.run_backfill(run.id, client=_client(shop), on_page=cancel_during_the_first_page)
    assert stopped.status is RunStatus.INTERRUPTED and stopped.error == "cancelled by alice"
    assert stopped.fetched == 250 and Order.select().count() == 250
    assert not backfill.cancel(run.id, "alice")  # no longer running
    resumed = backfill.prepare_run("orders")
    assert resumed.id == run.id
    assert backfill.run_backfill(resumed.id, client=_client(shop)).status is RunStatus.COMPLETED
    assert Order.select().count() == 700


@pytest.mark.usefixtures("app")
def test_a_run_cancelled_while_queued_never_starts(shop):
    run = backfill.prepare_run("products")
    backfill.cancel(run.id, "alice")
    assert backfill.run_backfill(run.id, client=_client(shop)).fetched == 0
    assert shop.request_count == 0
