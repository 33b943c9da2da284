"""Reconciliation against the simulator over HTTP: names the ids that differ, heals, reports."""

import datetime as dt
import math
import random
from decimal import Decimal

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError
from rq import Queue

from shopsync import reconciliation
from shopsync.db import db, utcnow
from shopsync.ingest import apply_records
from shopsync.ledger import OrderTransaction
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
from shopsync.reconciliation import ENTITIES, runs
from shopsync.reconciliation.runs import reconcile
from shopsync.reconciliation.windows import instant, shopify_time
from shopsync.shopify import AdminClient, ShopifyClient
from shopsync.shopify.admin import CHECK_PAGE, RESOURCES
from shopsync.simulator import SimulatorServer, Store
from tests.helpers import ADMIN_TOKEN

# Calls are the subject, not waiting.
FAST = {"bucket_size": 1000, "leak_rate": 10_000.0, "graphql_restore_rate": 100_000.0}


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


def client_of(server, api="graphql"):
    if api == "rest":
        return ShopifyClient(server.base_url, server.access_token, leak_rate=0)
    return AdminClient(server.base_url, server.access_token)


def load_erp(store, kind="orders", skip=()):
    """Insert the live records of a kind into the ERP in bulk: ids and times, and what a
    comparison reads of orders' books (current total, refunded amount, transactions)."""
    model = {"orders": Order, "products": Product, "customers": Customer}[kind]
    skip, collection, transactions = set(skip), store.collection(kind), []
    rows = [{"shopify_id": row.id, "created_at": instant(row.created),
             "updated_at": instant(row.updated)}
            for row in collection.rows() if row.id not in skip]
    if kind == "orders":
        for row in rows:
            record = collection.get(row["shopify_id"])
            made = store.order_transactions(row["shopify_id"])
            row.update(current_total_price=Decimal(record["current_total_price"]),
                       total_refunded=sum((Decimal(t["amount_set"]["shop_money"]["amount"])
                                           for t in made if t["kind"] == "refund"), Decimal(0)))
            transactions += [{"shopify_id": t["id"], "order_shopify_id": t["order_id"],
                              "kind": t["kind"], "status": t["status"],
                              "amount": Decimal(t["amount"])} for t in made]
    with db.atomic():
        for table, items in ((model, rows), (OrderTransaction, transactions)):
            for start in range(0, len(items), 1000):
                table.insert_many(items[start:start + 1000]).execute()


def pulled(store, order_id):
    """Return an order as the pull path brings it: with every transaction of it."""
    return {**store.get_order(order_id), "transactions": store.order_transactions(order_id)}


def load_erp_through_sync(store, kind, skip=()):
    """Apply every live record of a kind (orders with their transactions) through the sync
    path, as webhooks would."""
    for record in store.collection(kind):
        if record["id"] not in skip:
            if kind == "orders":
                record = pulled(store, record["id"])
            assert apply_records(ENTITIES[kind].topic.entity_type, [record]) == [True]


def live_order_ids():
    return {o.shopify_id for o in Order.select(Order.shopify_id).where(Order.deleted_at.is_null())}


def day_of(store, order_id):
    """Return the UTC day an order of `store` was created on."""
    return instant(store.orders.row(order_id).created).date()


def spread_over_days(store, ids, count, rng, avoid=()):
    """Pick `count` ids created on different days, none on a day of `avoid`."""
    days, picked = {day_of(store, i) for i in avoid}, []
    for order_id in rng.sample(ids, len(ids)):
        if day_of(store, order_id) not in days:
            days.add(day_of(store, order_id))
            picked.append(order_id)
        if len(picked) == count:
            return sorted(picked)
    raise AssertionError("not enough days")


@pytest.mark.usefixtures("app")
def test_a_store_in_step_costs_only_the_counting_queries(serve):
    store = Store.generate(seed=3, orders=2000, products=20, customers=50)
    load_erp(store)
    server = serve(store)
    client = client_of(server, "graphql")
    report = reconcile(ENTITIES["orders"], client)
    assert report.status is Severity.OK and report.discrepancy == 0
    assert report.shopify_count == report.erp_count == 2000
    days = report.details["windows_counted"]
    assert days > 730  # a window per day since the oldest order, and one before it
    # One question for the static token's scopes, then 200 days counted per query.
    assert report.api_calls == 1 + math.ceil(days / 200)
    assert report.details["windows_listed"] == 0
    assert report.details["cost_points"] == client.actual_cost
    assert report.details["missing"] == report.details["extra"] == report.details["stale"] == []


@pytest.mark.usefixtures("app")
@pytest.mark.parametrize("api", ["graphql", "rest"])
def test_offsetting_differences_on_different_days_are_named_and_healed(serve, api):
    """5 orders missing from the ERP and 5 extra in it: equal totals, found and healed."""
    n, k = 2004, 5
    store = Store.generate(seed=11, orders=n, products=40, customers=300)
    ids = sorted(store.ids("orders", status="any"))
    rng = random.Random(5)
    missing = spread_over_days(store, ids, k, rng)
    extra = spread_over_days(store, ids, k, rng, avoid=missing)
    load_erp(store, skip=missing)
    for shopify_id in extra:
        store.delete_order(shopify_id)  # deleted on Shopify, its orders/delete webhook lost
    server = serve(store)
    client = client_of(server, api)

    report = reconcile(ENTITIES["orders"], client)

    details = report.details
    assert (report.shopify_count, report.erp_count) == (n - k, n - k)  # the totals agree
    assert details["missing"] == missing and details["extra"] == extra
    assert details["healed"] == sorted(missing + extra) and details["deleted"] == extra
    assert details["failed"] == [] and report.discrepancy == 2 * k
    if api == "graphql":  # scopes, counting queries, a listing per differing day, the fetches
        assert details["windows_listed"] == 2 * k
        assert report.api_calls == (1 + math.ceil(details["windows_counted"] / 200) + 2 * k
                                    + math.ceil(2 * k / RESOURCES["orders"].page))
    else:  # REST counts a window a call: listing every id is cheaper; then the fetch, and the
        # transactions of each order found (a call each)
        assert details["windows_listed"] == 1
        assert report.api_calls == math.ceil((n - k) / 250) + 1 + k
    assert live_order_ids() == set(ids) - set(extra)
    for shopify_id in missing:  # healed through the sync path: complete and exact
        shopify = store.get_order(shopify_id)
        erp = Order.get(Order.shopify_id == shopify_id)
        assert erp.total_price == Decimal(shopify["total_price"])
        assert erp.line_items.count() == len(shopify["line_items"])
    again = reconcile(ENTITIES["orders"], client)
    assert again.status is Severity.OK and again.discrepancy == 0


@pytest.mark.usefixtures("app")
def test_a_stale_record_is_found_by_its_days_newest_change(serve):
    store = Store.generate(seed=4, orders=1200, products=20, customers=50)
    load_erp(store)
    ids = sorted(store.ids("orders", status="any"))
    store.update_order(ids[600], note="changed")  # its webhook lost: the ERP holds the old one
    server = serve(store)
    report = reconcile(ENTITIES["orders"], client_of(server, "graphql"))
    assert report.details["stale"] == [ids[600]] == report.details["healed"]
    assert report.details["windows_listed"] == 1 and report.discrepancy == 1
    assert Order.get(Order.shopify_id == ids[600]).updated_at == dt.datetime.fromisoformat(
        store.get_order(ids[600])["updated_at"])


@pytest.mark.usefixtures("app")
def test_a_pair_sharing_a_day_is_found_by_the_deep_run(serve):
    store = Store.generate(seed=4, orders=1200, products=20, customers=50)
    ids = sorted(store.ids("orders", status="any"))
    missing, extra = ids[100], ids[101]
    assert day_of(store, missing) == day_of(store, extra)
    load_erp(store, skip=[missing])
    store.delete_order(extra)
    server = serve(store)
    deep = reconcile(ENTITIES["orders"], client_of(server, "graphql"), deep=True)
    assert deep.kind == "deep"
    assert deep.details["missing"] == [missing] and deep.details["extra"] == [extra]
    assert deep.details["healed"] == sorted([missing, extra])
    # Listing every id (orders with their books checks), after asking once which
    # scopes the static token has.
    assert deep.details["search_calls"] == 1 + math.ceil(1199 / CHECK_PAGE)


@pytest.mark.usefixtures("app")
@pytest.mark.parametrize("api", ["graphql", "rest"])
def test_window_bounds_are_exact_to_the_second_whatever_the_offset(serve, api):
    """Hundreds of orders in the last second of a day and the first of the next."""
    burst_at = int(dt.datetime(2026, 3, 8, 23, 59, 59, tzinfo=dt.UTC).timestamp())
    moment = [burst_at]
    store = Store(seed=8, orders=4000, products=10, customers=30, clock=lambda: moment[0])
    load_erp(store)
    burst = [store.create_order()["id"] for _ in range(300)]  # all at 23:59:59 UTC
    moment[0] += 1
    after = [store.create_order()["id"] for _ in range(260)]  # all at 00:00:00 UTC
    skip = {burst[299], after[150]}
    for shopify_id in set(burst + after) - skip:  # times arrive as 18:59:59-05:00
        assert apply_records("order", [pulled(store, shopify_id)]) == [True]
    server = serve(store)

    report = reconcile(ENTITIES["orders"], client_of(server, api), until=instant(moment[0]))
    assert report.details["missing"] == sorted(skip) and report.details["extra"] == []
    assert report.details["healed"] == sorted(skip)
    assert live_order_ids() == set(store.ids("orders", status="any"))
    # Orders created after `until` are not compared yet: they are left to their webhooks.
    moment[0] += 600
    late = store.create_order()["id"]
    report = reconcile(ENTITIES["orders"], client_of(server, api), until=instant(moment[0] - 300))
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

    report_ids = runs.run_full(client=client_of(server), until=utcnow())
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
    client = client_of(server, "rest")
    entity = ENTITIES["orders"]
    # Changes whose webhooks were lost (the simulator delivers to nobody here).
    ids = sorted(store.ids("orders", status="any"))
    store.update_order(ids[3], note="changed")
    store.cancel_order(ids[7])
    created = store.create_order()["id"]

    first = runs.catch_up(entity, client)
    assert first.kind == "catchup"
    assert sorted(first.details["healed"]) == sorted([ids[3], ids[7], created])
    assert first.status is Severity.WARNING and first.discrepancy == 3
    assert Order.get(Order.shopify_id == ids[7]).cancelled_at is not None
    assert Order.get(Order.shopify_id == created).total_price is not None
    [request] = [r for r in server.request_log if "updated_at_min" in r.args]
    assert request.args["status"] == "any" and request.args["fields"] == "id,updated_at,current_total_price"
    watermark = SyncState.get_by_id("catchup:orders").value
    assert dt.datetime.fromisoformat(watermark) == dt.datetime.fromisoformat(first.details["until"])

    # The next run reads from the watermark minus the overlap: the same three (and their
    # transactions, a call each on REST), unchanged, so nothing is applied and no report
    # written; the watermark moves on.
    server.reset_counters()
    assert runs.catch_up(entity, client) is None
    request, *others = server.request_log
    assert sorted(r.kind for r in others) == ["transactions.list"] * 3
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
    report_ids = runs.run_catchup()
    reports = list(ReconciliationReport.select().where(ReconciliationReport.id.in_(report_ids)))
    assert [(r.entity_type, r.details["healed"]) for r in reports] == [
        ("products", store.products.created_ids)]  # orders and customers: nothing missed
    assert {s.key for s in SyncState.select()} == {"catchup:orders", "catchup:products",
                                                   "catchup:customers"}
    assert Product.select().count() == 1

    server.faults.fail_next_requests(1000, status=503)
    client = ShopifyClient(server.base_url, server.access_token, leak_rate=0, max_retries=0)
    [failed] = runs.run_catchup("products", client=client)
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

    monkeypatch.setattr(Queue, "enqueue", refuse)
    response = client.post("/api/admin/reconciliation",
                           headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    assert response.status_code == 503


def test_cli_reconcile_prints_each_report(app, serve):
    store = Store.generate(seed=13, orders=400, products=5, customers=10)
    ids = sorted(store.ids("orders", status="any"))
    load_erp(store, skip=ids[-3:])
    server = serve(store)
    app.config.update(SHOPIFY_API_BASE_URL=server.base_url, SHOPIFY_ADMIN_API="graphql",
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
    # Through GraphQL: the static token's scopes, the listing, the fetch of the 5.
    assert result.output == ("products (deep): warning, Shopify 5, ERP 0, missing 5, extra 0, "
                             "healed 5, failed 0, 3 API calls\n")
    assert app.test_cli_runner().invoke(args=["reconcile", "widgets"]).exit_code != 0
