"""The pull path brings every transaction of an order, and reconciliation compares totals."""

import datetime as dt
from decimal import Decimal

import pytest
import requests

from shopsync import backfill, bulk_backfill
from shopsync.db import utcnow
from shopsync.ingest import apply_records
from shopsync.ledger import OrderTransaction
from shopsync.models import Order, RunStatus
from shopsync.reconciliation import ENTITIES, runs
from shopsync.reconciliation.runs import reconcile
from shopsync.shopify import AdminClient, ShopifyClient
from shopsync.simulator import SimulatorServer, Store

FAST = {"bucket_size": 1000, "leak_rate": 10_000.0, "graphql_restore_rate": 100_000.0}
APIS = ("graphql", "rest")


@pytest.fixture
def shop():
    """A store with a paid and refunded order among pending ones, served fast."""
    store = Store.generate(seed=3, orders=40, products=8, customers=10)
    with SimulatorServer(store, **FAST) as server:
        yield server


def client_of(server, api):
    if api == "rest":
        return ShopifyClient(server.base_url, server.access_token, leak_rate=0)
    return AdminClient(server.base_url, server.access_token)


def soon():
    """Return a moment a few seconds ahead: the store ticks updated_at forward within a second."""
    return utcnow() + dt.timedelta(seconds=5)


def pending_order(store):
    return next(i for i in store.ids("orders", status="any")
                if store.get_order(i)["financial_status"] == "pending")


def transaction_ids(order_id=None):
    query = OrderTransaction.select(OrderTransaction.shopify_id)
    if order_id is not None:
        query = query.where(OrderTransaction.order_shopify_id == order_id)
    return sorted(i for (i,) in query.tuples())


def test_the_simulator_serves_every_transaction_of_an_order_through_both_apis(shop):
    store = shop.store
    order_id = pending_order(store)
    store.pay_order(order_id)
    store.refund_order(order_id)
    made = store.order_transactions(order_id)
    assert [t["kind"] for t in made] == ["sale", "refund"]
    url = f"{shop.base_url}/orders/{order_id}/transactions.json"
    auth = {"X-Shopify-Access-Token": shop.access_token}
    assert requests.get(url, headers=auth, timeout=5).json() == {"transactions": made}
    brief = requests.get(url, params={"fields": "id,status"}, headers=auth, timeout=5).json()
    assert brief == {"transactions": [{"id": t["id"], "status": "success"} for t in made]}
    assert requests.get(f"{shop.base_url}/orders/1/transactions.json", headers=auth,
                        timeout=5).status_code == 404
    graphql = AdminClient(shop.base_url, shop.access_token).execute(
        "query($id: ID!) { order(id: $id) { transactions { id kind amountSet { shopMoney "
        "{ amount } } } } }", {"id": f"gid://shopify/Order/{order_id}"})
    assert [(t["id"], t["kind"], t["amountSet"]["shopMoney"]["amount"])
            for t in graphql["order"]["transactions"]] == [
        (f"gid://shopify/OrderTransaction/{t['id']}", t["kind"].upper(),
         t["amount_set"]["shop_money"]["amount"]) for t in made]


@pytest.mark.parametrize("api", APIS)
def test_a_backfill_brings_every_transaction(app, shop, api):
    store = shop.store
    paid = pending_order(store)
    store.pay_order(paid)
    app.config.update(SHOPIFY_API_BASE_URL=shop.base_url, SHOPIFY_ADMIN_API=api,
                      SHOPIFY_ACCESS_TOKEN=shop.access_token)
    run = backfill.run_backfill(backfill.prepare_run("orders").id)
    assert run.status is RunStatus.COMPLETED and run.failed == 0
    made = sorted(t["id"] for i in store.ids("orders", status="any")
                  for t in store.order_transactions(i))
    assert transaction_ids() == made and store.order_transactions(paid)[0]["id"] in made


def ledger(transactions):
    """Return {order id: {transaction id: what the ERP keeps of it}} of store transactions,
    amounts as Decimals (to the cent)."""
    out = {}
    for t in transactions:
        out.setdefault(t["order_id"], {})[t["id"]] = (
            t["kind"], t["status"], t["parent_id"], t.get("refund_id"), Decimal(t["amount"]),
            t["currency"], Decimal(t["amount_set"]["shop_money"]["amount"]))
    return out


def test_a_bulk_backfill_brings_every_transaction_of_every_order(app, shop):
    store = shop.store
    unpaid = [i for i in store.ids("orders", status="any")
              if store.get_order(i)["financial_status"] in ("pending", "authorized")]
    for order_id in unpaid[:8]:  # sales, and captures of authorized orders
        store.pay_order(order_id)
    for order_id in unpaid[:3]:  # paid here, then refunded
        store.refund_order(order_id)
    store.refund_order(next(i for i in store.ids("orders", status="any")
                            if store.get_order(i)["financial_status"] == "paid"), shipping=True)
    truth = {}
    for order_id in store.ids("orders", status="any"):
        refunds = {t["id"]: r["id"] for r in store.get_order(order_id)["refunds"]
                   for t in r["transactions"]}
        truth.update(ledger({**t, "refund_id": refunds.get(t["id"])}
                            for t in store.order_transactions(order_id)))
    kinds = {kind for books in truth.values() for kind, *_ in books.values()}
    assert kinds == {"sale", "capture", "refund"}
    started = bulk_backfill.prepare_run("orders")
    run = bulk_backfill.run_bulk_backfill(started.id, client=client_of(shop, "graphql"),
                                          poll=0.05, step=0.02)
    assert run.status is RunStatus.COMPLETED and run.failed == 0, run.error
    held = ledger({"id": t.shopify_id, "order_id": t.order_shopify_id, "kind": t.kind,
                   "status": t.status, "parent_id": t.parent_shopify_id,
                   "refund_id": t.refund_shopify_id, "amount": t.amount, "currency": t.currency,
                   "amount_set": {"shop_money": {"amount": t.amount_shop}}}
                  for t in OrderTransaction.select())
    assert held == truth


def lose_a_transaction_webhook(store):
    """Pay an order whose orders/updated reaches the ERP but whose transaction's webhook is
    lost; return (the order id, the transaction id)."""
    order_id = pending_order(store)
    assert apply_records("order", [store.get_order(order_id)]) == [True]
    store.pay_order(order_id)
    assert apply_records("order", [store.get_order(order_id)]) == [True]  # orders/updated
    [transaction] = store.order_transactions(order_id)
    assert transaction_ids(order_id) == []
    return order_id, transaction["id"]


@pytest.mark.parametrize("api", APIS)
def test_catchup_fetches_a_transaction_whose_webhook_was_lost(app, shop, api):
    app.config.update(CATCHUP_SETTLE_SECONDS=0)
    order_id, transaction_id = lose_a_transaction_webhook(shop.store)
    report = runs.catch_up(ENTITIES["orders"], client_of(shop, api), now=soon())
    assert report.details["lacking_transactions"] == [order_id]
    assert report.details["healed"] == [order_id] and report.details["failed"] == []
    assert transaction_ids(order_id) == [transaction_id]
    # Applied once: the next catch-up finds nothing to do.
    assert runs.catch_up(ENTITIES["orders"], client_of(shop, api), now=soon()) is None


def test_a_full_comparison_fetches_a_transaction_whose_webhook_was_lost(app, shop):
    app.config.update(RECONCILE_SETTLE_SECONDS=0)
    store = shop.store
    order_id, transaction_id = lose_a_transaction_webhook(store)
    others = [i for i in store.ids("orders", status="any") if i != order_id]
    assert None not in apply_records("order", [
        {**store.get_order(i), "transactions": store.order_transactions(i)} for i in others])
    report = reconcile(ENTITIES["orders"], client_of(shop, "graphql"), deep=True)
    assert report.details["lacking_transactions"] == [order_id]
    assert report.details["stale"] == [order_id] and report.details["healed"] == [order_id]
    assert transaction_ids(order_id) == [transaction_id]


@pytest.mark.parametrize("api", APIS)
def test_reconciliation_heals_and_reports_an_order_whose_totals_differ(app, shop, api):
    app.config.update(CATCHUP_SETTLE_SECONDS=0)
    store = shop.store
    order_id = pending_order(store)
    store.pay_order(order_id)
    store.refund_order(order_id)
    record = store.get_order(order_id)
    assert apply_records("order", [{**record, "transactions": store.order_transactions(order_id)}])
    right = Order.get(Order.shopify_id == order_id)
    assert right.total_refunded > 0
    # The same version of the order, with other totals in the ERP (an edit lost, a bad write).
    wrong = {"current_total_price": right.current_total_price + Decimal("1.00")}
    if api == "graphql":  # REST gives no refunded total: its transactions tell it
        wrong["total_refunded"] = Decimal("0.00")
    Order.update(**wrong).where(Order.shopify_id == order_id).execute()
    report = runs.catch_up(ENTITIES["orders"], client_of(shop, api), now=soon())
    assert report.details["totals_differ"] == [order_id] and report.details["healed"] == [order_id]
    healed = Order.get(Order.shopify_id == order_id)
    assert (healed.current_total_price, healed.total_refunded) == (
        right.current_total_price, right.total_refunded)
    assert healed.current_total_price == Decimal(record["current_total_price"])
