"""The money check: what adds up passes, what does not is a `money` failed item until it does."""

import copy
import datetime as dt
import threading
from decimal import Decimal

import pytest

from shopsync import moneycheck
from shopsync.db import db, write_transaction
from shopsync.ledger import OrderTransaction
from shopsync.models import FailedSyncItem, Order
from shopsync.simulator import Store
from shopsync.topics import ORDER, TRANSACTION
from tests.helpers import deliver


@pytest.fixture
def store():
    return Store.generate(seed=4, orders=1, products=10, customers=5)


def money_items(open_only=True):
    query = FailedSyncItem.select().where(FailedSyncItem.entity_type == "money")
    return list(query.where(FailedSyncItem.is_open()) if open_only else query)


def later(order, **changes):
    """Return a copy of `order` updated a minute later with `changes`."""
    newer = copy.deepcopy(order)
    moved = dt.datetime.fromisoformat(order["updated_at"]) + dt.timedelta(minutes=1)
    newer.update(updated_at=moved.isoformat(), **changes)
    return newer


def test_a_minute_later_crosses_the_hour():
    assert later({"updated_at": "2026-12-02T08:59:47-05:00"})["updated_at"] == "2026-12-02T09:00:47-05:00"


def test_an_order_in_yen_that_adds_up_passes_and_one_off_by_a_yen_fails(client, run_jobs, store):
    order = store.create_order(presentment_currency="JPY", financial_status="paid")
    total = order["total_price_set"]["presentment_money"]["amount"]
    assert "." not in total  # yen have no minor unit
    deliver(client, "orders/create", order)
    run_jobs()
    assert money_items() == []
    off = later(order)
    off["total_price_set"]["presentment_money"]["amount"] = str(int(total) + 1)
    deliver(client, "orders/updated", off)
    run_jobs()
    [item] = money_items()
    assert item.error_message == (f"money does not add up: in JPY, subtotal + shipping + tax = "
                                  f"{total}, not the total {int(total) + 1}")


def test_a_mismatch_resolves_itself_when_a_newer_version_adds_up(client, api, run_jobs, store):
    order = store.create_order(financial_status="paid")
    wrong = Decimal(order["total_price"]) + Decimal("0.01")
    deliver(client, "orders/create", {**order, "total_price": str(wrong)})
    run_jobs()
    [item] = money_items()
    assert item.error_message.startswith("money does not add up: subtotal ")
    assert item.error_message.endswith(f", not the total {wrong}")
    retried = client.post(f"/api/admin/failed-items/{item.id}/retry",
                          headers={"Authorization": "Bearer test-admin-token"}).json
    assert retried["status"] == "open" and retried["error_message"] == item.error_message
    deliver(client, "orders/updated", later(order))
    run_jobs()
    assert money_items() == [] and len(money_items(open_only=False)) == 1


def test_refunds_must_fit_the_financial_status(client, run_jobs, store):
    order = store.create_order(financial_status="paid")
    refunded = store.refund_order(order["id"], shipping=True)  # all: status refunded
    deliver(client, "orders/updated", {**refunded, "financial_status": "partially_refunded"})
    run_jobs()
    [item] = money_items()
    assert item.error_message == (
        f"money does not add up: financial status partially_refunded, but refunds add up to "
        f"{order['total_price']} of the total {order['total_price']}")


def test_a_refund_before_its_order_and_twice_counts_once(client, api, run_jobs, store):
    order = store.create_order(financial_status="paid")
    line = order["line_items"][0]
    refunded = store.refund_order(order["id"], {line["id"]: 1}, shipping=True)
    refund = refunded["refunds"][-1]
    deliver(client, "refunds/create", refund)
    deliver(client, "refunds/create", refund)  # a second delivery of the same refund
    run_jobs()
    deliver(client, "orders/updated", refunded)
    run_jobs()
    erp = api(f"orders/{order['id']}").json
    back = refund["transactions"][0]["amount"]
    assert erp["total_refunded"] == back
    assert erp["financial_status"] == refunded["financial_status"]
    assert erp["current_total_price"] == refunded["current_total_price"]
    assert erp["refunds"][0]["shipping_refunded"] == refunded["shipping_lines"][0]["price"]
    assert money_items(open_only=False) == []


def test_a_late_pending_copy_does_not_undo_a_successful_transaction(client, run_jobs, store):
    order = store.create_order(financial_status="paid")
    [sale] = store.transactions[order["id"]]
    deliver(client, "order_transactions/create", sale)
    run_jobs()
    deliver(client, "order_transactions/create", {**sale, "status": "pending"})
    run_jobs()
    assert OrderTransaction.get(OrderTransaction.shopify_id == sale["id"]).status == "success"


@pytest.mark.parametrize("topic, payload, reason", [
    ("refunds/create", {"id": 1, "order_id": 2, "transactions": [
        {"id": 3, "kind": "refund", "amount": "NaN"}]}, "invalid refund payload"),
    ("refunds/create", {"id": 1, "order_id": 2, "refund_line_items": [
        {"id": 3, "line_item_id": 4, "quantity": -1}]}, "invalid refund payload"),
    ("order_transactions/create", {"id": 1, "order_id": 2, "amount": "1.00"},
     "invalid transaction payload"),
    ("fulfillments/create", {"id": 1, "order_id": 2}, "invalid fulfillment payload"),
    ("fulfillments/update", {"id": 1, "order_id": 2, "updated_at": "2026-01-01T00:00:00Z",
                             "status": "x" * 33}, "invalid fulfillment payload"),
])
def test_broken_books_payloads_are_failed_items_with_the_reason(client, run_jobs, topic, payload,
                                                                 reason):
    deliver(client, topic, payload)
    run_jobs()
    [item] = FailedSyncItem.select()
    assert item.error_message.startswith(reason) and not item.retryable
    assert Order.select().count() == 0


def test_a_sum_past_28_digits_is_checked_without_rounding(client, run_jobs, store):
    order = store.create_order(financial_status="paid")
    line = {**order["line_items"][0], "price": "999999999999999999.99", "quantity": 2**31 - 1}
    deliver(client, "orders/create", {**order, "line_items": [line]})
    run_jobs()
    [item] = money_items()  # 30 digits: Python rounds to 28 unless told otherwise
    assert item.error_message.startswith(
        "money does not add up: line items 2147483646999999999978525163.53 - discounts ")


def test_figures_an_order_does_not_carry_are_not_checked(client, run_jobs, store):
    order = store.create_order(financial_status="paid")
    bare = {key: value for key, value in order.items()
            if key not in ("line_items", "shipping_lines", "tax_lines", "total_shipping_price_set")}
    deliver(client, "orders/create", bare)
    run_jobs()
    assert [item.error_message for item in money_items()] == []


@pytest.mark.services
def test_a_check_waits_for_a_concurrent_apply_of_its_order(app, services, store, monkeypatch):
    """A payment applied while the paid order is being applied sees it once committed."""
    order = store.create_order(financial_status="pending")
    paid = store.pay_order(order["id"])
    [sale] = store.transactions[order["id"]]
    with db.connection_context(), write_transaction():
        ORDER.apply_many([ORDER.schema().load(order)])
    checked, check = threading.Event(), moneycheck.problems

    def check_then_tell(books):
        found = check(books)
        if threading.current_thread() is not threading.main_thread():
            checked.set()
        return found

    monkeypatch.setattr(moneycheck, "problems", check_then_tell)

    def apply_the_payment():
        with db.connection_context(), write_transaction():
            TRANSACTION.apply_many([TRANSACTION.schema().load(sale)])

    with db.connection_context():
        with write_transaction():
            ORDER.apply_many([ORDER.schema().load(paid)])
            payment = threading.Thread(target=apply_the_payment)
            payment.start()
            checked.wait(timeout=2)  # without the lock, the payment's check runs now
        payment.join()
        assert [item.error_message for item in money_items()] == []
