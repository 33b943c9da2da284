"""Two web and two worker processes under duplicated, reordered webhooks end equal to the store."""

import datetime as dt
import random
from collections import Counter
from decimal import Decimal

import pytest

from shopsync.ledger import Fulfillment, OrderTransaction, Refund, RefundLineItem
from shopsync.models import FailedSyncItem, Order, WebhookLog, WebhookStatus
from shopsync.simulator import SimulatorServer, Store, WebhookOptions, random_change
from shopsync.testing.processes import wait_until
from tests.helpers import SECRET

pytestmark = pytest.mark.services


def test_erp_converges_to_the_store_under_duplicates_and_reordering(processes):
    url = processes.web(workers=2)
    processes.web(workers=2)  # a second web process, as a second dyno would be
    processes.worker()
    processes.worker()
    store = Store.generate(seed=3, orders=5, products=20, customers=40)
    options = WebhookOptions(duplicate_rate=0.2, reorder_window=0.5, seed=3)
    with SimulatorServer(store, webhook_url=f"{url}/webhooks/shopify", webhook_secret=SECRET,
                         webhook_options=options) as shop:
        rng = random.Random(3)
        for _ in range(40):
            store.create_order()
        changes = Counter(random_change(store, rng) for _ in range(260))
        for order_id in store.orders.created_ids[:3]:
            store.delete_order(order_id)
        assert shop.wait_for_webhooks(timeout=120)
        delivered = [d for d in shop.deliveries if d.topic.startswith("orders/")]

    def all_done():
        return not WebhookLog.select().where(WebhookLog.status == WebhookStatus.PENDING).exists()

    wait_until(all_done, timeout=120, message="every delivery processed")
    assert WebhookLog.select().where(WebhookLog.status == WebhookStatus.FAILED).count() == 0
    assert WebhookLog.select().where(WebhookLog.duplicates > 0).exists()
    assert changes["refund_order"] and changes["cancel_order"] and changes["fulfill_order"]
    money_items = FailedSyncItem.open().where(FailedSyncItem.entity_type == "money")
    assert [item.error_message for item in money_items] == []
    created = store.orders.created_ids
    assert len(delivered) > len(created)
    for order_id in created:
        stored = Order.get(Order.shopify_id == order_id)
        truth = store.get_order(order_id)
        if truth is None:
            assert stored.deleted_at is not None, order_id
            continue
        assert stored.deleted_at is None
        assert stored.updated_at == dt.datetime.fromisoformat(truth["updated_at"])
        assert stored.total_price == Decimal(truth["total_price"])
        assert (stored.financial_status, stored.fulfillment_status) == (
            truth["financial_status"], truth["fulfillment_status"])
        assert (stored.cancelled_at is None) == (truth["cancelled_at"] is None)
        assert sorted(i.shopify_id for i in stored.line_items) == sorted(
            i["id"] for i in truth["line_items"])
        assert_same_books(stored, truth, store.transactions.get(order_id, []))


def assert_same_books(stored, truth, transactions):
    """Check an ERP order's current totals, refunds, transactions and fulfillments to the cent."""
    for name in ("current_total_price", "current_subtotal_price", "current_total_tax",
                 "total_outstanding", "total_tax"):
        assert getattr(stored, name) == Decimal(truth[name]), (stored.shopify_id, name)
    assert stored.total_refunded == sum(Decimal(t["amount_set"]["shop_money"]["amount"])
                                        for r in truth["refunds"] for t in r["transactions"])
    refunds = Refund.select().where(Refund.order_shopify_id == stored.shopify_id)
    assert sorted(r.shopify_id for r in refunds) == sorted(r["id"] for r in truth["refunds"])
    lines = RefundLineItem.select().join(Refund).where(Refund.order_shopify_id == stored.shopify_id)
    assert sorted((line.shopify_id, line.quantity, line.restock_type, line.subtotal, line.total_tax)
                  for line in lines) == sorted(
        (line["id"], line["quantity"], line["restock_type"], Decimal(line["subtotal"]),
         Decimal(line["total_tax"])) for r in truth["refunds"] for line in r["refund_line_items"])
    kept = OrderTransaction.select().where(OrderTransaction.order_shopify_id == stored.shopify_id)
    assert sorted((t.shopify_id, t.kind, t.amount, t.currency) for t in kept) == sorted(
        (t["id"], t["kind"], Decimal(t["amount"]), t["currency"]) for t in transactions)
    shipments = Fulfillment.select().where(Fulfillment.order_shopify_id == stored.shopify_id)
    assert {f.shopify_id: (f.status, f.shipment_status) for f in shipments} == {
        f["id"]: (f["status"], f["shipment_status"]) for f in truth["fulfillments"]}
