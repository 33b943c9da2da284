"""Reconciliation against the simulator over HTTP: names the ids that differ, heals, reports."""

import datetime as dt
import math
import random
from decimal import Decimal

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from shopsync import reconciliation
from shopsync.db import db, utcnow
from shopsync.ingest import apply_records
from shopsync.models import (
    Customer,
    FailedSyncItem,
    Order,
    OrderLineItem,
    Product,
    ReconciliationReport,
    Severity,
    SyncState,
)
from shopsync.queue import get_queue
from shopsync.reconciliation import ENTITIES, reconcile
from shopsync.reconciliation.windows import instant, shopify_time
from shopsync.shopify import ShopifyClient
from shopsync.simulator import SimulatorServer, Store
from tests.helpers import ADMIN_TOKEN

FAST = {"bucket_size": 1000, "leak_rate": 10_000.0}  # calls are the subject, not waiting


@pytest.fixture
def serve():
    """Return a function that serves a store with a fast leak; servers stop after the test."""
    servers = []

    def start(store):
        server = SimulatorServer(store, **FAST).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def client_of(server):
    return ShopifyClient(server.base_url, server.access_token, leak_rate=0)


def load_erp(store, kind="orders", skip=()):
    """Insert the live records of a kind into the ERP in bulk (ids and times only)."""
    model = {"orders": Order, "products": Product, "customers": Customer}[kind]
    skip = set(skip)
    rows = [{"shopify_id": row.id, "created_at": instant(row.created),
             "updated_at": instant(row.updated)}
            for row in store.collection(kind).rows() if row.id not in skip]
    with db.atomic():
        for start in range(0, len(rows), 1000):
            model.insert_many(rows[start:start + 1000]).execute()


def load_erp_through_sync(store, kind, skip=()):
    """Apply every live record of a kind through the sync path, as webhooks would."""
    for record in store.collection(kind):
        if record["id"] not in skip:
            assert apply_records(ENTITIES[kind].topic.entity_type, [record]) == [True]


def live_order_ids():
    return {o.shopify_id for o in Order.select(Order.shopify_id).where(Order.deleted_at.is_null())}


@pytest.mark.usefixtures("app")
def test_a_store_in_step_costs_exactly_one_count_call(serve):
    store = Store.generate(seed=3, orders=2000, products=20, customers=50)
    load_erp(store)
    server = serve(store)
    report = reconcile(ENTITIES["orders"], client_of(server))
    assert report.status is Severity.OK and report.discrepancy == 0
    assert report.shopify_count == report.erp_count == 2000
    assert report.api_calls == 1 and server.requests_by_kind == {"orders.count": 1}
    assert server.request_log[0].args["status"] == "any"  # closed and cancelled orders count
    assert report.details["missing"] == report.details["extra"] == []


@pytest.mark.usefixtures("app")
def test_names_and_heals_the_missing_orders_and_names_the_extra_within_the_bound(serve):
    n, k = 10_000, 5
    store = Store.generate(seed=11, orders=n, products=40, customers=300)
    ids = sorted(store.ids("orders", status="any"))
    rng = random.Random(5)
    # The missing orders are among the older 45%, the extra among the newer 45%: a missing and
    # an extra order in the same count window cancel out (see the next test).
    missing = sorted(rng.sample(ids[:n * 45 // 100], k))
    extra = rng.choice(ids[n * 55 // 100:])
    load_erp(store, skip=missing)
    store.delete_order(extra)  # deleted on Shopify, its orders/delete webhook lost
    server = serve(store)

    report = reconcile(ENTITIES["orders"], client_of(server))

    details = report.details
    assert details["missing"] == missing and details["extra"] == [extra]
    assert details["healed"] == missing and details["failed"] == []
    assert report.discrepancy == k + 1 and report.status is Severity.WARNING
    assert (report.shopify_count, report.erp_count) == (n - 1, n - k)
    # The search's calls stay within k·log2(N/250) (+1 for the first count), where listing
    # every id would take N/250 = 40; healing fetches the k records in one call (ids=).
    differences = k + 1
    assert details["search_calls"] <= 1 + differences * math.log2(n / 250)
    assert details["search_calls"] < n / 250
    assert report.api_calls == details["search_calls"] + 1
    kinds = server.requests_by_kind
    assert set(kinds) == {"orders.count", "orders.list"}
    assert all(entry.args.get("status") == "any" for entry in server.request_log
               if "page_info" not in entry.args)  # closed and cancelled orders count too
    # Healed through the sync path: complete orders, line items and money exact.
    assert live_order_ids() == set(ids)  # the missing are back; the extra is reported, not deleted
    for shopify_id in missing:
        shopify = store.get_order(shopify_id)
        erp = Order.get(Order.shopify_id == shopify_id)
        assert erp.total_price == Decimal(shopify["total_price"])
        assert erp.line_items.count() == len(shopify["line_items"])
    # A second run finds only the extra, which is still there.
    again = reconcile(ENTITIES["orders"], client_of(server))
    assert again.details["missing"] == [] and again.details["extra"] == [extra]


@pytest.mark.usefixtures("app")
def test_equal_counts_hide_a_balanced_pair_that_a_deep_run_finds(serve):
    store = Store.generate(seed=4, orders=1200, products=20, customers=50)
    ids = sorted(store.ids("orders", status="any"))
    missing, extra = ids[100], ids[900]
    load_erp(store, skip=[missing])
    store.delete_order(extra)
    server = serve(store)

    counted = reconcile(ENTITIES["orders"], client_of(server))
    assert counted.status is Severity.OK and counted.api_calls == 1  # the documented limit
    deep = reconcile(ENTITIES["orders"], client_of(server), deep=True)
    assert deep.kind == "deep"
    assert deep.details["missing"] == [missing] and deep.details["extra"] == [extra]
    assert deep.details["healed"] == [missing]
    assert deep.details["search_calls"] == math.ceil(1199 / 250)


@pytest.mark.usefixtures("app")
def test_window_bounds_are_exact_to_the_second_whatever_the_offset(serve):
    """Hundreds of orders in one second (a window of one second, both bounds inclusive)."""
    burst_at = int(dt.datetime(2026, 3, 8, 6, 59, 59, tzinfo=dt.UTC).timestamp())
    moment = [burst_at]
    store = Store(seed=8, orders=4000, products=10, customers=30, clock=lambda: moment[0])
    load_erp(store)
    burst = [store.create_order()["id"] for _ in range(600)]  # all at 06:59:59 UTC
    moment[0] += 1
    after = [store.create_order()["id"] for _ in range(300)]  # all at 07:00:00 UTC
    skip = {burst[599], after[150]}
    for shopify_id in set(burst + after) - skip:  # times arrive as 01:59:59-05:00
        assert apply_records("order", [store.get_order(shopify_id)]) == [True]
    server = serve(store)

    report = reconcile(ENTITIES["orders"], client_of(server), until=instant(moment[0]))
    assert report.details["missing"] == sorted(skip) and report.details["extra"] == []
    assert report.details["healed"] == sorted(skip)
    assert live_order_ids() == set(store.ids("orders", status="any"))
    one_second = [entry for entry in server.request_log if "created_at_min" in entry.args
                  and entry.args["created_at_min"] == entry.args["created_at_max"]]
    assert {entry.args["created_at_min"] for entry in one_second} == {
        "2026-03-08T06:59:59Z", "2026-03-08T07:00:00Z"}
    # Orders created after `until` are not compared yet: they are left to their webhooks.
    moment[0] += 600
    late = store.create_order()["id"]
    report = reconcile(ENTITIES["orders"], client_of(server), until=instant(moment[0] - 300))
    assert report.status is Severity.OK and late not in live_order_ids()


@pytest.mark.usefixtures("app")
def test_a_missing_record_that_fails_to_apply_goes_to_the_dead_letter_queue(serve):
    store = Store.generate(seed=9, orders=600, products=10, customers=30)
    ids = sorted(store.ids("orders", status="any"))
    broken, fine = ids[10], ids[500]
    store.update_order(broken, total_price="twelve")
    load_erp(store, skip=[broken, fine])
    server = serve(store)

    report = reconcile(ENTITIES["orders"], client_of(server))
    assert report.details["missing"] == sorted([broken, fine])
    assert report.details["healed"] == [fine] and report.details["failed"] == [broken]
    item = FailedSyncItem.get()
    assert item.entity_type == "order" and item.shopify_id == broken
    assert "total_price" in item.error_message and item.topic is None and not item.retryable


@pytest.mark.usefixtures("app")
def test_every_entity_gets_a_report_with_its_own_threshold(app, serve):
    store = Store.generate(seed=2, orders=300, products=40, customers=80)
    products = sorted(store.ids("products"))
    customers = sorted(store.ids("customers"))
    load_erp(store, "orders")
    load_erp(store, "products", skip=products[:11])
    load_erp(store, "customers", skip=customers[:11])
    server = serve(store)

    report_ids = reconciliation.run_full(client=client_of(server), until=utcnow())
    reports = {r.entity_type: r for r in ReconciliationReport.select().where(
        ReconciliationReport.id.in_(report_ids))}
    assert set(reports) == {"orders", "products", "customers"}
    assert reports["orders"].status is Severity.OK
    assert reports["products"].status is Severity.CRITICAL  # 11 > 10
    assert reports["customers"].status is Severity.WARNING  # 11 <= 100
    assert reports["products"].details["healed"] == products[:11]
    assert Product.select().count() == 40 and Customer.select().count() == 80


def test_severity_follows_the_configured_thresholds(app):
    orders, products = ENTITIES["orders"], ENTITIES["products"]
    assert reconciliation.severity(orders, 0) is Severity.OK
    assert reconciliation.severity(orders, 100) is Severity.WARNING
    assert reconciliation.severity(orders, 101) is Severity.CRITICAL
    assert reconciliation.severity(products, 10) is Severity.WARNING
    assert reconciliation.severity(products, 11) is Severity.CRITICAL
    app.config["RECONCILE_THRESHOLD_ORDERS"] = 5
    assert reconciliation.severity(orders, 6) is Severity.CRITICAL


@pytest.mark.usefixtures("app")
def test_catchup_applies_what_changed_since_the_watermark(app, serve):
    app.config.update(CATCHUP_SETTLE_SECONDS=0, CATCHUP_OVERLAP_SECONDS=120)
    store = Store.generate(seed=5, orders=500, products=10, customers=30)
    load_erp_through_sync(store, "orders")
    server = serve(store)
    client = client_of(server)
    entity = ENTITIES["orders"]
    # Changes whose webhooks were lost (the simulator delivers to nobody here).
    ids = sorted(store.ids("orders", status="any"))
    store.update_order(ids[3], note="changed")
    store.cancel_order(ids[7])
    created = store.create_order()["id"]

    first = reconciliation.catch_up(entity, client)
    assert first.kind == "catchup"
    assert sorted(first.details["healed"]) == sorted([ids[3], ids[7], created])
    assert first.status is Severity.WARNING and first.discrepancy == 3
    assert Order.get(Order.shopify_id == ids[7]).cancelled_at is not None
    assert Order.get(Order.shopify_id == created).total_price is not None
    request = server.request_log[-1]
    assert request.args["status"] == "any" and "updated_at_min" in request.args
    watermark = SyncState.get_by_id("catchup:orders").value
    assert dt.datetime.fromisoformat(watermark) == dt.datetime.fromisoformat(first.details["until"])

    # The next run reads from the watermark minus the overlap: the same three, unchanged, so
    # nothing is applied and no report written; the watermark moves on.
    server.reset_counters()
    assert reconciliation.catch_up(entity, client) is None
    [request] = server.request_log
    assert request.args["updated_at_min"] == shopify_time(
        (dt.datetime.fromisoformat(watermark) - dt.timedelta(seconds=120)).timestamp())
    assert SyncState.get_by_id("catchup:orders").value > watermark
    assert ReconciliationReport.select().count() == 1


@pytest.mark.usefixtures("app")
def test_catchup_job_covers_every_entity_and_survives_an_outage(app, serve):
    app.config.update(CATCHUP_SETTLE_SECONDS=0)
    store = Store.generate(seed=6, orders=50, products=5, customers=10)
    server = serve(store)
    app.config.update(SHOPIFY_API_BASE_URL=server.base_url,
                      SHOPIFY_ACCESS_TOKEN=server.access_token)
    store.create_product()
    report_ids = reconciliation.run_catchup()
    reports = list(ReconciliationReport.select().where(ReconciliationReport.id.in_(report_ids)))
    assert [(r.entity_type, r.details["healed"]) for r in reports] == [
        ("products", store.products.created_ids)]  # orders and customers: nothing missed
    assert {s.key for s in SyncState.select()} == {"catchup:orders", "catchup:products",
                                                   "catchup:customers"}
    assert Product.select().count() == 1

    server.faults.fail_next_requests(1000, status=503)
    client = ShopifyClient(server.base_url, server.access_token, leak_rate=0, max_retries=0)
    [failed] = reconciliation.run_catchup("products", client=client)
    report = ReconciliationReport.get_by_id(failed)
    assert "503" in report.details["error"] and report.status is Severity.WARNING
    # The watermark did not move past what was never read.
    assert SyncState.get_by_id("catchup:products").updated_at < report.created_at


def test_api_starts_a_run_and_lists_the_reports(app, client, serve, run_jobs):
    store = Store.generate(seed=12, orders=300, products=5, customers=10)
    ids = sorted(store.ids("orders", status="any"))
    load_erp(store, skip=ids[:2])
    server = serve(store)
    app.config.update(SHOPIFY_API_BASE_URL=server.base_url,
                      SHOPIFY_ACCESS_TOKEN=server.access_token, RECONCILE_SETTLE_SECONDS=0)
    auth = {"Authorization": f"Bearer {ADMIN_TOKEN}"}

    response = client.post("/api/admin/reconciliation", json={"entity": "orders"}, headers=auth)
    assert response.status_code == 202
    assert response.json["entities"] == ["orders"] and len(response.json["jobs"]) == 1
    assert client.post("/api/admin/reconciliation?entity=widgets", headers=auth).status_code == 400
    assert client.post("/api/admin/reconciliation").status_code == 401
    run_jobs()

    listing = client.get("/api/admin/reconciliation?entity=orders", headers=auth)
    assert listing.status_code == 200
    [report] = listing.json["reports"]
    assert report["entity_type"] == "orders" and report["kind"] == "full"
    assert report["details"]["missing"] == ids[:2] == report["details"]["healed"]
    assert report["status"] == "warning" and report["discrepancy"] == 2
    assert client.get("/api/admin/reconciliation?entity=widgets", headers=auth).status_code == 400

    everything = client.post("/api/admin/reconciliation", headers=auth)
    assert everything.status_code == 202 and len(everything.json["jobs"]) == 3


def test_api_answers_503_when_the_queue_is_down(app, client, monkeypatch):
    def refuse(*args, **kwargs):
        raise RedisConnectionError("down")

    monkeypatch.setattr(get_queue(), "enqueue", refuse)
    response = client.post("/api/admin/reconciliation",
                           headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    assert response.status_code == 503


def test_cli_reconcile_prints_each_report(app, serve):
    store = Store.generate(seed=13, orders=400, products=5, customers=10)
    ids = sorted(store.ids("orders", status="any"))
    load_erp(store, skip=ids[-3:])
    server = serve(store)
    app.config.update(SHOPIFY_API_BASE_URL=server.base_url,
                      SHOPIFY_ACCESS_TOKEN=server.access_token, RECONCILE_SETTLE_SECONDS=0)
    result = app.test_cli_runner().invoke(args=["reconcile", "orders"])
    assert result.exit_code == 0, result.output
    assert "orders (full): warning, Shopify 400, ERP 397, missing 3, extra 0, healed 3" in result.output
    assert OrderLineItem.select().count() > 0
    result = app.test_cli_runner().invoke(args=["reconcile", "orders", "--catchup"])
    assert result.exit_code == 0, result.output
    assert result.output == "orders (catchup): nothing missed since the last catch-up\n"
    result = app.test_cli_runner().invoke(args=["reconcile", "products", "--deep"])
    assert result.exit_code == 0
    assert result.output == ("products (deep): warning, Shopify 5, ERP 0, missing 5, extra 0, "
                             "healed 5, failed 0, 2 API calls\n")
    assert app.test_cli_runner().invoke(args=["reconcile", "widgets"]).exit_code != 0
