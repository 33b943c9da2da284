"""Upserts converge to the newest state whatever the order, duplication or replay."""

import copy
from decimal import Decimal

from shopsync.models import Order, OrderLineItem, Product, ProductVariant, WebhookLog, WebhookStatus
from tests.helpers import deliver, fixture, order


def _product(**changes):
    payload = copy.deepcopy(fixture("product"))
    payload.update(changes)
    return payload


def test_older_update_leaves_the_newer_state(client, api, run_jobs):
    deliver(client, "orders/create", order(updated_at="2024-05-01T10:00:00-04:00",
                                           financial_status="paid"))
    run_jobs()
    stale = deliver(client, "orders/updated", order(updated_at="2024-05-01T09:59:59-04:00",
                                                    financial_status="pending",
                                                    total_price="1.00"), webhook_id="stale")
    run_jobs()
    assert stale.status_code == 200
    assert WebhookLog.get_by_id("stale").status is WebhookStatus.PROCESSED
    erp = api("orders/450789469").json
    assert erp["financial_status"] == "paid" and erp["total_price"] == "409.94"
    assert erp["updated_at"] == "2024-05-01T14:00:00+00:00"


def test_updates_applied_in_any_order_end_equal(client, api, run_jobs):
    versions = [order(updated_at=f"2024-05-01T10:00:0{i}Z", total_price=f"{100 + i}.10")
                for i in range(5)]
    for payload in (versions[3], versions[0], versions[4], versions[1], versions[2]):
        deliver(client, "orders/updated", payload)
    run_jobs()
    assert api("orders/450789469").json["total_price"] == "104.10"
    assert Order.select().count() == 1


def test_same_offset_times_compare_in_utc(client, api, run_jobs):
    deliver(client, "orders/updated", order(updated_at="2024-05-01T12:00:00+02:00",
                                            total_price="2.00"))  # 10:00 UTC
    deliver(client, "orders/updated", order(updated_at="2024-05-01T06:30:00-04:00",
                                            total_price="3.00"))  # 10:30 UTC: newer
    run_jobs()
    assert api("orders/450789469").json["total_price"] == "3.00"


def test_product_update_before_create_converges(client, api, run_jobs):
    newer = _product(updated_at="2024-01-02T00:00:00Z", title="New title")
    newer["variants"] = newer["variants"][:2]
    deliver(client, "products/update", newer)
    deliver(client, "products/create", _product(updated_at="2024-01-01T00:00:00Z"))
    run_jobs()
    erp = api("products/632910392").json
    assert erp["title"] == "New title"
    assert [v["shopify_id"] for v in erp["variants"]] == [v["id"] for v in newer["variants"]]
    assert ProductVariant.select().count() == 2


def test_replayed_order_keeps_one_set_of_line_items(client, run_jobs):
    for _ in range(3):
        deliver(client, "orders/create", order())
    run_jobs()
    deliver(client, "orders/updated", order(updated_at="2030-01-01T00:00:00Z",
                                            line_items=order()["line_items"][:1]))
    run_jobs()
    assert Order.select().count() == 1
    assert OrderLineItem.select().count() == 1


def test_money_round_trips_exactly(client, api, run_jobs):
    payload = order(total_price="2.20", subtotal_price="0.10", total_tax="1234567890123.45",
                    total_discounts="0.00")
    payload["line_items"][0]["price"] = "0.30"
    deliver(client, "orders/create", payload)
    run_jobs()
    erp = api("orders/450789469").json
    assert (erp["total_price"], erp["subtotal_price"], erp["total_tax"], erp["total_discounts"]) == (
        "2.20", "0.10", "1234567890123.45", "0.00")
    assert erp["line_items"][0]["price"] == "0.30"
    stored = Order.get()
    assert stored.total_price == Decimal("2.20") and isinstance(stored.total_price, Decimal)
    assert sum(item.price for item in stored.line_items) == Decimal("398.30")


def test_delete_tombstones_and_later_updates_do_not_revive(client, api, run_jobs):
    deliver(client, "orders/create", order())
    run_jobs()
    deliver(client, "orders/delete", {"id": 450789469})
    run_jobs()
    deliver(client, "orders/updated", order(updated_at="2030-01-01T00:00:00Z"))
    run_jobs()
    erp = api("orders/450789469").json
    assert erp["deleted_at"] is not None and erp["updated_at"] != "2030-01-01T00:00:00+00:00"
    assert api("stats").json["orders"] == 0


def test_delete_before_create_leaves_a_tombstone(client, api, run_jobs):
    deliver(client, "products/delete", {"id": 632910392})
    deliver(client, "products/create", _product())
    run_jobs()
    assert Product.get().deleted_at is not None
    assert api("stats").json["products"] == 0


def test_paid_before_create_creates_the_order(client, api, run_jobs):
    deliver(client, "orders/paid", order(financial_status="paid",
                                         updated_at="2024-05-01T10:00:01Z"))
    run_jobs()
    deliver(client, "orders/create", order(financial_status="pending",
                                           updated_at="2024-05-01T10:00:00Z"))
    run_jobs()
    assert api("orders/450789469").json["financial_status"] == "paid"


def test_order_with_unknown_customer_lands_and_links_later(client, api, run_jobs):
    deliver(client, "orders/create", order())
    run_jobs()
    assert api("customers/207119551").status_code == 404
    deliver(client, "customers/create", fixture("customer"))
    run_jobs()
    erp_order = api("orders/450789469").json
    assert api(f"customers/{erp_order['customer_shopify_id']}").json["email"] == \
        "bob.norman@hostmail.com"


def test_guest_order_has_no_customer(client, api, run_jobs):
    deliver(client, "orders/create", order(customer=None))
    run_jobs()
    assert api("orders/450789469").json["customer_shopify_id"] is None


def test_stats_count_what_happened(client, api, run_jobs):
    deliver(client, "orders/create", order(), webhook_id="a")
    deliver(client, "orders/create", order(), webhook_id="a")
    deliver(client, "customers/create", fixture("customer"))
    deliver(client, "orders/updated", b"nope")
    deliver(client, "shop/update", {"id": 1})
    run_jobs()
    stats = api("stats").json
    assert stats["orders"] == 1 and stats["customers"] == 1 and stats["products"] == 0
    assert stats["webhooks"] == {"received": 4, "duplicates": 1, "processed": 2, "pending": 0,
                                 "failed": 1, "ignored": 1}
    # The broken body, and the sample order's money (its three lines of 199.00 are not its
    # subtotal of 398.00).
    assert stats["failed_items"] == {"open": 2, "needs_person": 2, "resolved": 0,
                                     "abandoned": 0}


def test_admin_api_requires_the_bearer_token(client):
    assert client.get("/api/admin/stats").status_code == 401
    wrong = client.get("/api/admin/stats", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    assert client.get("/healthz").json == {"status": "ok"}


def test_customer_redact_erases_personal_data(client, api, run_jobs):
    deliver(client, "customers/create", fixture("customer"))
    deliver(client, "orders/create", order())
    deliver(client, "orders/create", order(id=2, customer=None, email="other@example.com"))
    run_jobs()
    response = deliver(client, "customers/redact", {
        "shop_id": 954889, "shop_domain": "sim-shop.myshopify.com",
        "customer": {"id": 207119551, "email": "bob.norman@hostmail.com", "phone": None},
        "orders_to_redact": [450789469]})
    assert response.json["status"] == "accepted"
    run_jobs()
    customer = api("customers/207119551").json
    assert customer["email"] is None and customer["first_name"] is None
    redacted = api("orders/450789469").json
    assert redacted["email"] is None and redacted["shipping_address"] is None
    assert redacted["total_price"] == "409.94"  # the books keep the money
    assert api("orders/2").json["email"] == "other@example.com"


def test_shop_redact_erases_everyones_personal_data(client, api, run_jobs):
    deliver(client, "orders/create", order())
    deliver(client, "shop/redact", {"shop_id": 954889, "shop_domain": "sim-shop.myshopify.com"})
    run_jobs()
    assert api("orders/450789469").json["email"] is None
    assert WebhookLog.select().where(WebhookLog.status == WebhookStatus.PROCESSED).count() == 2


def test_data_request_is_acknowledged_and_kept(client, run_jobs):
    response = deliver(client, "customers/data_request", {
        "shop_id": 954889, "shop_domain": "sim-shop.myshopify.com",
        "customer": {"id": 207119551, "email": "bob.norman@hostmail.com", "phone": None},
        "orders_requested": [450789469], "data_request": {"id": 9999}}, webhook_id="dr")
    run_jobs()
    assert response.status_code == 200
    assert WebhookLog.get_by_id("dr").status is WebhookStatus.PROCESSED
