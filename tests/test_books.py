"""Shopify's sample refund, transaction and fulfillment on top of its sample order, to the cent."""

from collections import Counter
from decimal import Decimal

import pytest
import requests

from shopsync import backfill, ingest
from shopsync.db import db
from shopsync.ledger import Fulfillment, OrderTaxLine, Refund
from shopsync.models import FailedSyncItem, Order, RunStatus
from shopsync.reconciliation import runs
from shopsync.simulator import SimulatorServer
from shopsync.testing.processes import wait_until
from tests.helpers import ADMIN_TOKEN, changed_store, deliver, encode, fixture, headers, order

# The sample order's three lines of 199.00 add up to 597.00, but Shopify's sample says 398.00.
SAMPLE_LINES = "line items 597.00 - discounts 0.00 = 597.00, not the subtotal 398.00"


def sample_deliveries():
    """Return (topic, body) of the sample order, refund, transaction and fulfillment."""
    return [("orders/create", order()), ("refunds/create", fixture("refund")),
            ("order_transactions/create", fixture("transaction")),
            ("fulfillments/create", fixture("fulfillment"))]


def sample_books(client, run_jobs):
    """Deliver the sample order, refund, transaction and fulfillment, and apply them."""
    for topic, payload in sample_deliveries():
        assert deliver(client, topic, payload).status_code == 200
    run_jobs()


def test_sample_books_land_to_the_cent(client, api, run_jobs):
    sample_books(client, run_jobs)
    assert_sample_books(api("orders/450789469").json)


@pytest.mark.services
def test_sample_books_land_to_the_cent_through_real_processes(processes):
    url = processes.web()
    processes.worker()
    for topic, payload in sample_deliveries():
        body = encode(payload)
        response = requests.post(f"{url}/webhooks/shopify", data=body,
                                 headers=headers(body, topic), timeout=10)
        assert response.status_code == 200
    auth = {"Authorization": f"Bearer {ADMIN_TOKEN}"}

    def applied():
        stats = requests.get(f"{url}/api/admin/stats", headers=auth, timeout=5).json()
        return stats["webhooks"]["processed"] == 4

    wait_until(applied, message="the four sample webhooks applied")
    erp = requests.get(f"{url}/api/admin/orders/450789469", headers=auth, timeout=5).json()
    assert_sample_books(erp)


def assert_sample_books(erp):
    """Compare every amount of the sample books, as the admin API serves them, to the cent."""
    assert [(line["id"], line["price"], line["quantity"]) for line in erp["line_items"]] == [
        (466157049, "199.00", 1), (518995019, "199.00", 1), (703073504, "199.00", 1)]
    assert {name: erp[name] for name in (
        "total_price", "subtotal_price", "total_tax", "total_discounts", "total_line_items_price",
        "current_total_price", "total_refunded", "total_outstanding")} == {
        "total_price": "409.94", "subtotal_price": "398.00", "total_tax": "11.94",
        "total_discounts": "0.00", "total_line_items_price": "398.00",
        "current_total_price": None, "total_refunded": "209.00", "total_outstanding": None}
    assert erp["tax_lines"] == [{"title": "State Tax", "rate": "0.06", "price": "11.94",
                                 "price_presentment": None}]
    assert erp["shipping_lines"] == [{
        "title": "Free Shipping", "code": "Free Shipping", "source": "shopify", "price": "0.00",
        "price_presentment": None, "discounted_price": None,
        "discounted_price_presentment": None}]
    assert erp["discount_codes"] == [{"code": "TENOFF", "type": None, "amount": "10.00"}]
    [refund] = erp["refunds"]
    assert (refund["id"], refund["note"], refund["restock"]) == (
        509562969, "it broke during shipping", True)
    assert [(line["id"], line["line_item_shopify_id"], line["quantity"])
            for line in refund["refund_line_items"]] == [(104689539, 703073504, 1),
                                                         (709875399, 466157049, 1)]
    assert [(t["id"], t["kind"], t["status"], t["amount"], t["currency"])
            for t in refund["transactions"]] == [(179259969, "refund", "success", "209.00", "USD")]
    assert [(t["id"], t["kind"], t["status"], t["gateway"], t["amount"], t["refund_shopify_id"])
            for t in erp["transactions"]] == [
        (179259969, "refund", "success", "bogus", "209.00", 509562969),
        (389404469, "authorization", "success", "bogus", "409.94", None)]
    [fulfillment] = erp["fulfillments"]
    # The order carries this fulfillment updated in 2014; the sample's 2013 copy is older.
    assert (fulfillment["id"], fulfillment["status"], fulfillment["tracking_number"],
            fulfillment["line_items"]) == (255858046, "failure", "1Z2345",
                                           [{"line_item_shopify_id": 466157049, "quantity": 1}])


def test_sample_books_that_do_not_add_up_are_a_money_failed_item(client, api, run_jobs):
    sample_books(client, run_jobs)
    [item] = FailedSyncItem.select().where(FailedSyncItem.entity_type == "money")
    assert item.shopify_id == 450789469 and not item.retryable
    assert item.error_message == ("money does not add up: " + SAMPLE_LINES +
                                  "; financial status authorized, but 209.00 was refunded")


@pytest.mark.parametrize("topic", ["orders/updated", "orders/paid", "orders/cancelled",
                                   "orders/fulfilled", "orders/partially_fulfilled"])
def test_order_topics_carry_refunds_and_fulfillments(client, api, run_jobs, topic):
    refund = fixture("refund")
    del refund["order_id"]  # inside its order a refund may leave it out
    deliver(client, topic, order(refunds=[refund], financial_status="partially_refunded"))
    run_jobs()
    erp = api("orders/450789469").json
    assert [r["id"] for r in erp["refunds"]] == [509562969]
    assert erp["total_refunded"] == "209.00" and len(erp["fulfillments"]) == 1


def test_the_simulators_orders_add_up_after_refunds_cancellations_and_payments(app):
    store, changes = changed_store(8, 600, created=40)
    assert changes["refund_order"] and changes["cancel_order"] and changes["pay_order"]
    orders = list(store.orders)
    transactions = [t for made in store.transactions.values() for t in made]
    with db.connection_context():
        assert None not in ingest.apply_records("order", orders)
        assert None not in ingest.apply_records("transaction", transactions)
        problems = [item.error_message for item in FailedSyncItem.select()]
        assert problems == [], "\n".join(problems)
        refunded = {o["id"]: sum(Decimal(t["amount_set"]["shop_money"]["amount"])
                                 for r in o["refunds"] for t in r["transactions"]) for o in orders}
        stored = dict(Order.select(Order.shopify_id, Order.total_refunded).tuples())
        assert stored == refunded
    currencies = Counter(o["presentment_currency"] for o in orders)
    assert currencies["JPY"] and currencies["EUR"] and currencies["USD"] > len(orders) // 2
    assert any(len(o["tax_lines"]) > 1 for o in orders)
    assert any(o["discount_codes"] for o in orders)
    statuses = Counter(o["financial_status"] for o in orders)
    assert statuses["partially_refunded"] and statuses["refunded"] and statuses["voided"]


def store_books(order):
    """Return what the ERP keeps of an order's books, from the store's REST record."""
    refunded = sum((Decimal(t["amount_set"]["shop_money"]["amount"]) for r in order["refunds"]
                    for t in r["transactions"]), Decimal(0))
    return (Decimal(order["current_total_price"]),
            Decimal(order["current_total_price_set"]["presentment_money"]["amount"]),
            Decimal(order["total_price_set"]["presentment_money"]["amount"]),
            order["presentment_currency"], refunded, len(order["refunds"]),
            len(order["fulfillments"]), len(order["tax_lines"]))


def erp_books():
    """Return {order id: what the ERP keeps of its books}, as store_books gives them."""
    refunds = Counter(r.order_shopify_id for r in Refund.select(Refund.order_shopify_id))
    shipped = Counter(f.order_shopify_id for f in Fulfillment.select(Fulfillment.order_shopify_id))
    taxes = Counter(t.order.shopify_id for t in OrderTaxLine.select(OrderTaxLine, Order)
                    .join(Order))
    return {o.shopify_id: (o.current_total_price, o.current_total_price_presentment,
                           o.total_price_presentment, o.presentment_currency,
                           o.total_refunded or Decimal(0), refunds[o.shopify_id],
                           shipped[o.shopify_id], taxes[o.shopify_id])
            for o in Order.select()}


@pytest.mark.parametrize("api", ["graphql", "rest"])
def test_a_backfill_and_reconciliation_bring_the_books_of_every_order(app, api):
    store, changes = changed_store(9, 300)
    assert changes["refund_order"] and changes["cancel_order"]
    with SimulatorServer(store, bucket_size=1000, leak_rate=10_000.0,
                         graphql_restore_rate=100_000.0) as shop:
        app.config.update(SHOPIFY_API_BASE_URL=shop.base_url, SHOPIFY_ADMIN_API=api,
                          SHOPIFY_ACCESS_TOKEN=shop.access_token, RECONCILE_SETTLE_SECONDS=0)
        run = backfill.run_backfill(backfill.prepare_run("orders").id)
        assert run.status is RunStatus.COMPLETED and run.failed == 0
        # Refunds and fulfillments whose webhooks were lost, and orders the ERP lost.
        paid = [o["id"] for o in store.orders if o["financial_status"] == "paid" and not o["refunds"]]
        unshipped = [o["id"] for o in store.orders
                     if not o["fulfillments"] and not o["cancelled_at"]]
        for order_id in paid[:6]:
            store.refund_order(order_id, shipping=True)
        for order_id in unshipped[-6:]:
            store.fulfill_order(order_id)
        ids = sorted(store.ids("orders", status="any"))
        Order.delete().where(Order.shopify_id.in_(ids[100:160:20])).execute()
        runs.run_full("orders")
    orders = list(store.orders)
    assert [r for o in orders for r in o["refunds"]] and Refund.select().count() == sum(
        len(o["refunds"]) for o in orders)
    assert erp_books() == {o["id"]: store_books(o) for o in orders}
    with db.connection_context():
        problems = [item.error_message for item in FailedSyncItem.select()]
        assert problems == [], "\n".join(problems)
