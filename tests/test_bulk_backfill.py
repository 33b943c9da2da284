"""Backfills through bulk operations against the simulator over real HTTP."""

import datetime as dt
import threading
import time

import pytest

from shopsync import backfill, bulk_backfill
from shopsync.bulk_run import BulkRun, BulkStatus
from shopsync.db import db
from shopsync.ledger import Fulfillment, FulfillmentLineItem, OrderTransaction, Refund, RefundLineItem
from shopsync.models import (
    BackfillRun,
    Customer,
    FailedSyncItem,
    Order,
    OrderLineItem,
    Product,
    ProductVariant,
    RunStatus,
)
from shopsync.shopify import AdminClient
from shopsync.shopify.bulk import PARTS
from shopsync.simulator import SimulatorServer, Store
from tests.helpers import SECRET

FAST = {"graphql_restore_rate": 100_000.0, "bucket_size": 1000, "leak_rate": 1000.0}


@pytest.fixture
def store():
    return Store.generate(seed=3, orders=300, products=20, customers=60)


@pytest.fixture
def shop(store):
    with SimulatorServer(store, webhook_secret=SECRET, **FAST) as server:
        yield server


def run(shop, resource="orders", poll=0.05, client=None, **options):
    started = bulk_backfill.prepare_run(resource)
    return bulk_backfill.run_bulk_backfill(
        started.id, client=client or AdminClient(shop.base_url, "shpat_test"), poll=poll, step=0.02,
        **options)


def operations(shop):
    return len(shop.bulk._operations)


def interrupt_after_one_page(shop):
    """Run an orders backfill that is interrupted once its first page is stored; return its size."""
    pages = []

    def stop(current, size):
        pages.append(size)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run(shop, on_progress=stop)
    return pages[0]


@pytest.mark.usefixtures("app")
def test_a_bulk_backfill_copies_orders_with_their_lines_and_books(shop, store):
    paid = [i for i in store.ids("orders", status="any")
            if store.get_order(i)["financial_status"] == "paid"]
    for order_id in paid[:20]:
        store.fulfill_order(order_id)
    for order_id in paid[20:30]:
        store.refund_order(order_id, shipping=True)
    done = run(shop)
    truth = store.ids("orders", status="any")
    assert done.status is RunStatus.COMPLETED, done.error
    assert done.fetched == done.stored == done.expected == len(truth) and done.failed == 0
    assert sorted(o.shopify_id for o in Order.select()) == sorted(truth)
    records = [store.get_order(i) for i in truth]
    assert OrderLineItem.select().count() == sum(len(r["line_items"]) for r in records)
    assert Refund.select().count() == sum(len(r["refunds"]) for r in records) > 0
    assert Fulfillment.select().count() == sum(len(r["fulfillments"]) for r in records) > 0
    assert FailedSyncItem.select().count() == 0  # every order's money checks out with its books
    rows = list(BulkRun.select().order_by(BulkRun.id))
    assert [(r.part, r.status) for r in rows] == [("orders", BulkStatus.APPLIED)]
    assert rows[0].lines_applied == rows[0].object_count > len(truth)


def _books(store):
    """Return the refunds, refund lines, transactions and fulfillments of the store's orders."""
    records = [{**store.get_order(i), "transactions": store.order_transactions(i)}
               for i in store.ids("orders", status="any")]
    refunds = [r for record in records for r in record["refunds"]]
    fulfillments = [f for record in records for f in record["fulfillments"]]
    return {"refunds": sorted((r["id"], r["order_id"]) for r in refunds),
            "refund lines": sorted((line["id"], r["id"], line["line_item_id"], line["quantity"])
                                   for r in refunds for line in r["refund_line_items"]),
            "transactions": sorted(t["id"] for record in records for t in record["transactions"]),
            "fulfillments": sorted((f["id"], f["order_id"]) for f in fulfillments),
            "fulfilled lines": sorted((f["id"], line["id"], line["quantity"])
                                      for f in fulfillments for line in f["line_items"])}


def _erp_books():
    return {"refunds": sorted(Refund.select(Refund.shopify_id, Refund.order_shopify_id).tuples()),
            "refund lines": sorted((line.shopify_id, line.refund.shopify_id,
                                    line.line_item_shopify_id, line.quantity)
                                   for line in RefundLineItem.select(RefundLineItem, Refund).join(Refund)),
            "transactions": sorted(t for (t,) in OrderTransaction.select(
                OrderTransaction.shopify_id).tuples()),
            "fulfillments": sorted(Fulfillment.select(Fulfillment.shopify_id,
                                                      Fulfillment.order_shopify_id).tuples()),
            "fulfilled lines": sorted((line.fulfillment.shopify_id, line.line_item_shopify_id,
                                       line.quantity) for line in
                                      FulfillmentLineItem.select(FulfillmentLineItem, Fulfillment)
                                      .join(Fulfillment))}


def _give_books(store):
    """Refund and ship 40 paid orders of several lines in three ways; return their ids."""
    paid = [i for i in store.ids("orders", status="any")
            if store.get_order(i)["financial_status"] == "paid"]
    many = [i for i in paid if len(store.get_order(i)["line_items"]) > 1]
    for order_id in many[:15]:  # a partial refund of one line, then the rest with shipping
        line = store.get_order(order_id)["line_items"][0]
        store.refund_order(order_id, {line["id"]: 1})
        store.refund_order(order_id, shipping=True)
    for order_id in many[15:30]:  # shipped in two fulfillments
        line = store.get_order(order_id)["line_items"][0]
        store.fulfill_order(order_id, {line["id"]: line["quantity"]})
        store.fulfill_order(order_id)
    for order_id in many[30:40]:  # shipped, then a line refunded
        store.fulfill_order(order_id)
        store.refund_order(order_id, {store.get_order(order_id)["line_items"][1]["id"]: 1})
    return many[:40]


@pytest.mark.usefixtures("app")
def test_a_bulk_backfill_of_orders_with_refunds_and_fulfillments_brings_their_books_whole(shop,
                                                                                         store):
    many = _give_books(store)
    done = run(shop)
    assert done.status is RunStatus.COMPLETED, done.error
    assert done.fetched == done.stored == Order.select().count() == 300 and done.failed == 0
    expected = _books(store)
    assert len(expected["refund lines"]) >= 40 and len(expected["fulfillments"]) >= 40
    assert _erp_books() == expected
    assert FailedSyncItem.select().count() == 0  # every order's money checks out with its books
    refunded = Order.get(Order.shopify_id == many[0])
    assert refunded.financial_status == "refunded" and refunded.total_refunded > 0


@pytest.mark.usefixtures("app")
def test_a_bulk_backfill_applies_the_records_the_cursor_paged_queries_give(shop, store,
                                                                          monkeypatch):
    _give_books(store)
    template = store.get_order(store.ids("orders", status="any")[0])["line_items"][0]
    large = store.create_order(line_items=[{**template, "id": 900 + i} for i in range(12)],
                               financial_status="paid")  # lines beyond a nested first page
    store.fulfill_order(large["id"])
    store.refund_order(large["id"])
    applied, apply_page = {}, backfill.apply_page
    monkeypatch.setattr(backfill, "apply_page", lambda run, resource, records, **options: (
        applied.update((r["id"], r) for r in records), apply_page(run, resource, records,
                                                                  **options))[1])
    done = run(shop)
    assert done.status is RunStatus.COMPLETED, done.error
    paged = {r["id"]: r for r in AdminClient(shop.base_url, "shpat_test").iter_records(
        "orders", status="any")}
    assert len(applied) == len(paged) == 301
    assert sum(bool(r["refunds"] or r["fulfillments"]) for r in paged.values()) >= 41
    assert len(applied[large["id"]]["refunds"][0]["refund_line_items"]) == 12
    assert len(applied[large["id"]]["fulfillments"][0]["line_items"]) == 12
    for order_id, record in paged.items():
        assert applied[order_id] == record, order_id


@pytest.mark.usefixtures("app")
def test_an_order_deleted_after_the_bulk_query_is_looked_for_whole_and_left_out(shop, store,
                                                                               monkeypatch):
    gone, kept = _give_books(store)[:2]
    lines = bulk_backfill.BulkClient.lines

    def deleted_meanwhile(bulk, *args):
        if gone in store.ids("orders", status="any"):
            store.delete_order(gone)
        yield from lines(bulk, *args)

    monkeypatch.setattr(bulk_backfill.BulkClient, "lines", deleted_meanwhile)
    fetched, iter_records = [], AdminClient.iter_records
    monkeypatch.setattr(AdminClient, "iter_records", lambda client, resource, **filters: (
        fetched.append(filters.get("ids")), iter_records(client, resource, **filters))[1])
    done = run(shop)
    assert fetched == [[gone]]  # its refunds gone with it: the order itself looked for
    assert done.status is RunStatus.COMPLETED, done.error
    assert Order.select().count() == 299 and Order.get_or_none(Order.shopify_id == gone) is None
    assert Refund.select().where(Refund.order_shopify_id == kept).count() == 2


@pytest.mark.usefixtures("app")
def test_orders_with_books_cost_a_third_of_their_whole_fetch_at_most(shop, store, monkeypatch):
    with_books = {i for i in store.ids("orders", status="any")
                  if store.get_order(i)["refunds"]} | set(_give_books(store))
    client, spent, complete = AdminClient(shop.base_url, "shpat_test"), [], bulk_backfill._with_whole

    def measured(client, part, page, whole):
        before = client.actual_cost
        made = complete(client, part, page, whole)
        spent.append(client.actual_cost - before)
        return made

    monkeypatch.setattr(bulk_backfill, "_with_whole", measured)
    started = bulk_backfill.prepare_run("orders")
    done = bulk_backfill.run_bulk_backfill(started.id, client=client, poll=0.05, step=0.02)
    assert done.status is RunStatus.COMPLETED, done.error
    whole = AdminClient(shop.base_url, "shpat_test")
    assert len(list(whole.iter_records("orders", ids=with_books))) == len(with_books)
    assert 0 < sum(spent) <= whole.actual_cost / 3


@pytest.mark.usefixtures("app")
@pytest.mark.parametrize("resource, model, children, child_model", [
    ("products", Product, "variants", ProductVariant), ("customers", Customer, None, None)])
def test_a_bulk_backfill_copies_products_and_customers(shop, store, resource, model, children,
                                                       child_model):
    done = run(shop, resource)
    assert done.status is RunStatus.COMPLETED, done.error
    assert sorted(r.shopify_id for r in model.select()) == sorted(store.ids(resource))
    if children:
        expected = sum(len(store.collection(resource).get(i)[children]) for i in store.ids(resource))
        assert child_model.select().count() == expected


@pytest.mark.usefixtures("app")
def test_an_interrupted_bulk_backfill_resumes_at_its_last_applied_line(shop):
    page = interrupt_after_one_page(shop)
    stopped = BackfillRun.get()
    row = BulkRun.get(BulkRun.part == "orders")
    assert stopped.status is RunStatus.INTERRUPTED and stopped.stored == page == 250
    assert 0 < row.lines_applied < row.object_count and row.byte_offset > 0

    resumed = run(shop)
    assert resumed.id == stopped.id and resumed.status is RunStatus.COMPLETED, resumed.error
    assert resumed.fetched == 300 and Order.select().count() == 300
    assert operations(shop) == 1  # the same operation: the result read on from its line


@pytest.mark.usefixtures("app")
def test_an_expired_result_url_starts_a_new_operation(shop):
    interrupt_after_one_page(shop)
    BulkRun.update(url_expires_at=dt.datetime.now(dt.UTC)).where(BulkRun.part == "orders").execute()
    done = run(shop)
    assert done.status is RunStatus.COMPLETED and Order.select().count() == 300
    assert operations(shop) == 2


@pytest.mark.usefixtures("app")
def test_an_operation_run_again_counts_each_record_once(shop):
    progress = [interrupt_after_one_page(shop)]
    BulkRun.update(url_expires_at=dt.datetime.now(dt.UTC)).where(BulkRun.part == "orders").execute()
    done = run(shop, on_progress=lambda current, size: progress.append(size))
    assert done.status is RunStatus.COMPLETED and operations(shop) == 2
    assert done.fetched == done.stored == done.expected == 300 and sum(progress) == 300
    assert BulkRun.get(BulkRun.part == "orders").lines_counted == BulkRun.get(
        BulkRun.part == "orders").lines_applied


@pytest.mark.usefixtures("app")
def test_a_bulk_backfill_waits_its_turn_while_another_bulk_query_runs(shop):
    shop.bulk.hold.clear()  # the other query runs until the backfill has been seen waiting
    other, _ = shop.bulk.run_query("{ products { edges { node { id } } } }")
    seen = []

    def watch():
        while not seen or seen[-1] is not BulkStatus.APPLIED:
            with db.connection_context():
                row = BulkRun.select().where(BulkRun.part == "customers").first()
            if row:
                seen.append(row.status)
                if row.status is BulkStatus.QUEUED:
                    shop.bulk.hold.set()
            time.sleep(0.02)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    done = run(shop, "customers")
    watcher.join(5)
    assert done.status is RunStatus.COMPLETED, done.error
    assert BulkStatus.QUEUED in seen and other.status == "COMPLETED"
    assert Customer.select().count() == 60


@pytest.mark.usefixtures("app")
def test_a_failed_operation_applies_its_partial_data_and_says_why(shop):
    shop.bulk.fail_after = ("INTERNAL_SERVER_ERROR", 25)
    failed = run(shop, "customers")
    assert failed.status is RunStatus.FAILED
    assert "failed (INTERNAL_SERVER_ERROR)" in failed.error and "partial data" in failed.error
    assert Customer.select().count() == 25
    done = run(shop, "customers")
    assert done.id == failed.id and done.status is RunStatus.COMPLETED
    assert Customer.select().count() == 60 and operations(shop) == 2
    assert done.fetched == done.stored == 60  # the 25 of the partial data counted once


@pytest.mark.usefixtures("app")
def test_access_denied_fails_the_run_with_the_reason(shop):
    client = AdminClient(shop.base_url, "shpat_test")
    client.granted_scopes()  # the scopes granted when it started
    shop.tokens.scopes = ("read_orders", "read_products")
    started = bulk_backfill.prepare_run("customers")
    failed = bulk_backfill.run_bulk_backfill(started.id, client=client, poll=0.05, step=0.02)
    assert failed.status is RunStatus.FAILED and "ACCESS_DENIED" in failed.error
    assert BulkRun.get().error_code == "ACCESS_DENIED"


@pytest.mark.usefixtures("app")
def test_the_finish_webhook_ends_the_wait_without_polling(store, live_server, run_jobs):
    with SimulatorServer(store, webhook_secret=SECRET, webhook_url=f"{live_server}/webhooks/shopify",
                         **FAST) as shop:
        result = {}
        worker = threading.Thread(target=lambda: result.update(run=run(shop, "customers", poll=3600)))
        worker.start()
        deadline = time.monotonic() + 30
        while worker.is_alive() and time.monotonic() < deadline:
            run_jobs()  # the drain applying the delivered bulk_operations/finish
            time.sleep(0.05)
        worker.join(1)
    assert result["run"].status is RunStatus.COMPLETED, result["run"].error
    assert BulkRun.get().finished_at is not None and Customer.select().count() == 60


@pytest.mark.usefixtures("app")
def test_cancelling_the_run_cancels_the_bulk_operation(shop):
    shop.bulk.page_delay = 2.0  # 300 orders: two pages, two seconds apart
    started = bulk_backfill.prepare_run("orders")

    def cancel_it():
        with db.connection_context():
            backfill.cancel(started.id, "admin")

    cancel = threading.Timer(0.3, cancel_it)
    cancel.start()
    done = bulk_backfill.run_bulk_backfill(started.id, client=AdminClient(shop.base_url, "shpat_test"),
                                           poll=0.05, step=0.02)
    assert done.status is RunStatus.INTERRUPTED and done.error == "cancelled by admin"
    operation = shop.bulk.current()
    deadline = time.monotonic() + 5
    while operation.status != "CANCELED" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert operation.status == "CANCELED"


@pytest.mark.usefixtures("app")
def test_a_run_cancelled_as_it_asks_shopify_stays_interrupted(shop, monkeypatch):
    shop.bulk.page_delay = 2.0
    started = bulk_backfill.prepare_run("orders")
    asked = bulk_backfill.BulkClient.operation

    def cancelled_meanwhile(bulk, operation_id):  # the Cancel button, between two looks
        backfill.cancel(started.id, "admin")
        bulk.cancel(operation_id)
        while shop.bulk.current().status != "CANCELED":
            time.sleep(0.02)
        return asked(bulk, operation_id)

    monkeypatch.setattr(bulk_backfill.BulkClient, "operation", cancelled_meanwhile)
    done = bulk_backfill.run_bulk_backfill(started.id, client=AdminClient(shop.base_url, "shpat_test"),
                                           poll=0.05, step=0.02)
    assert done.status is RunStatus.INTERRUPTED and done.error == "cancelled by admin"
    assert BulkRun.get().status is BulkStatus.CANCELED


def test_every_bulk_query_stays_within_shopifys_limits():
    from shopsync.simulator.graphql.bulk_query import plan

    for parts in PARTS.values():
        for part in parts:
            assert plan(part.text(dt.datetime(2026, 1, 1, tzinfo=dt.UTC))).root == part.resource


def test_the_cli_runs_a_bulk_backfill_with_its_progress(app, shop):
    app.config.update({"SHOPIFY_API_BASE_URL": shop.base_url, "SHOPIFY_ACCESS_TOKEN": "shpat_test",
                       "BULK_POLL_SECONDS": 0.05})
    result = app.test_cli_runner().invoke(args=["backfill", "customers", "--bulk"])
    assert result.exit_code == 0, result.output
    assert "completed: fetched 60, stored 60, failed 0" in result.output
    assert Customer.select().count() == 60 and BulkRun.get().status is BulkStatus.APPLIED


@pytest.mark.usefixtures("app")
def test_from_2026_01_the_backfill_asks_for_children_grouped_under_their_parent(store):
    with SimulatorServer(store, api_version="2026-01", **FAST) as shop:
        client = AdminClient(shop.base_url.replace("2025-10", "2026-01"), "shpat_test")
        started = bulk_backfill.prepare_run("products")
        done = bulk_backfill.run_bulk_backfill(started.id, client=client, poll=0.05, step=0.02)
    assert done.status is RunStatus.COMPLETED, done.error
    expected = sum(len(store.get_product(i)["variants"]) for i in store.ids("products"))
    assert ProductVariant.select().count() == expected


@pytest.mark.usefixtures("app")
def test_a_result_url_refused_before_its_time_fails_the_run_and_the_next_start_reruns_it(shop):
    with pytest.raises(KeyboardInterrupt):
        run(shop, "products", on_progress=lambda current, size: (_ for _ in ()).throw(KeyboardInterrupt))
    shop.bulk.clock = lambda: time.time() + shop.bulk.url_lifetime + 1  # storage says expired
    failed = run(shop, "products")
    assert failed.status is RunStatus.FAILED and "the URL has expired" in failed.error
    assert BulkRun.get().status is BulkStatus.EXPIRED
    shop.bulk.clock = time.time
    done = run(shop, "products")
    assert done.status is RunStatus.COMPLETED and operations(shop) == 2


@pytest.mark.usefixtures("app")
def test_the_result_file_is_read_without_the_access_token(shop):
    """Shopify's result URL is signed storage off its own host: the token must not go there."""
    client, sent = AdminClient(shop.base_url, "shpat_test"), []
    send = client.session.send

    def recorded(request, **options):
        sent.append(request)
        return send(request, **options)

    client.session.send = recorded
    done = run(shop, client=client)
    assert done.status is RunStatus.COMPLETED and Order.select().count() == 300
    result = BulkRun.get(BulkRun.part == "orders").url.split("?")[0]
    to_storage = [r for r in sent if r.url.startswith(result)]
    assert to_storage and not any({"X-Shopify-Access-Token", "Authorization"} & set(r.headers)
                                  for r in to_storage)
    assert all("X-Shopify-Access-Token" in r.headers for r in sent if r not in to_storage)


@pytest.mark.usefixtures("app")
def test_an_invalid_record_in_the_file_goes_to_failed_items_and_the_run_goes_on(shop, store):
    bad_id = sorted(store.ids("orders", status="any"))[3]
    store.update_order(bad_id, total_price="twelve")
    done = run(shop)
    assert done.status is RunStatus.COMPLETED and (done.stored, done.failed) == (299, 1)
    item = FailedSyncItem.get()
    assert item.shopify_id == bad_id and "total_price" in item.error_message
    assert Order.select().count() == 299 and not Order.select().where(Order.shopify_id == bad_id)
