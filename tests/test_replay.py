"""Shopify signs the body, not the topic or the shop: a signed body replayed under another
topic, or a delivery for another shop, must not delete or erase anything."""

import pytest

from shopsync.models import FailedSyncItem, Order, WebhookLog, WebhookStatus
from tests.helpers import deliver, order

SHOP = "sim-shop.myshopify.com"
REDACT = {"shop_id": 954889, "shop_domain": SHOP,
          "customer": {"id": 207119551, "email": "bob.norman@hostmail.com", "phone": None},
          "orders_to_redact": [450789469]}


@pytest.mark.parametrize("topic", ["orders/delete", "shop/redact", "customers/redact",
                                   "customers/data_request"])
def test_an_order_body_replayed_as_a_deletion_or_privacy_topic_changes_nothing(
        client, api, run_jobs, topic):
    deliver(client, "orders/create", order())
    run_jobs()
    assert deliver(client, topic, order(), webhook_id="replayed").status_code == 200
    run_jobs()
    kept = api("orders/450789469").json
    assert kept["deleted_at"] is None and kept["email"] == "bob.norman@hostmail.com"
    assert kept["shipping_address"] is not None
    assert WebhookLog.get_by_id("replayed").status is WebhookStatus.FAILED
    item = FailedSyncItem.get(FailedSyncItem.webhook == "replayed")
    assert not item.retryable and "invalid" in item.error_message


@pytest.mark.parametrize("topic, payload", [
    ("orders/delete", {"id": 450789469, "email": "x@example.com"}),
    ("shop/redact", {"shop_domain": SHOP}),
    ("shop/redact", {"shop_id": 954889, "shop_domain": SHOP, "id": 450789469}),
    ("customers/redact", {**REDACT, "orders_to_redact": None}),
    ("customers/redact", {k: v for k, v in REDACT.items() if k != "orders_to_redact"}),
    ("customers/redact", {**REDACT, "customer": {"id": 207119551, "name": "Bob"}}),
    ("customers/data_request", {**REDACT, "orders_requested": [450789469]}),
])
def test_deletion_and_privacy_bodies_must_have_exactly_their_documented_shape(
        client, api, run_jobs, topic, payload):
    deliver(client, "orders/create", order())
    run_jobs()
    deliver(client, topic, payload, webhook_id="odd")
    run_jobs()
    kept = api("orders/450789469").json
    assert kept["deleted_at"] is None and kept["email"] == "bob.norman@hostmail.com"
    assert WebhookLog.get_by_id("odd").status is WebhookStatus.FAILED


def test_documented_shapes_still_act(client, api, run_jobs):
    deliver(client, "orders/create", order())
    deliver(client, "orders/create", order(id=2))
    deliver(client, "orders/delete", {"id": 2})
    deliver(client, "customers/data_request", {
        "shop_id": 954889, "shop_domain": SHOP, "customer": REDACT["customer"],
        "orders_requested": [450789469], "data_request": {"id": 9999}}, webhook_id="dr")
    deliver(client, "customers/redact", REDACT)
    run_jobs()
    assert api("orders/2").json["deleted_at"] is not None
    assert api("orders/450789469").json["email"] is None
    assert WebhookLog.get_by_id("dr").status is WebhookStatus.PROCESSED
    assert not WebhookLog.select().where(WebhookLog.status == WebhookStatus.FAILED).exists()


@pytest.mark.parametrize("extra, payload", [
    ({"X-Shopify-Shop-Domain": "other-shop.myshopify.com"}, {"shop_id": 1, "shop_domain": SHOP}),
    ({}, {"shop_id": 1, "shop_domain": "other-shop.myshopify.com"}),
])
def test_a_delivery_for_another_shop_is_refused_and_not_stored(app, client, api, run_jobs,
                                                              extra, payload):
    deliver(client, "orders/create", order())
    run_jobs()
    app.config["SHOPIFY_SHOP"] = SHOP
    response = deliver(client, "shop/redact", payload, **extra)
    assert response.status_code == 401 and "another shop" in response.json["error"]
    assert WebhookLog.select().count() == 1
    run_jobs()
    assert api("orders/450789469").json["email"] == "bob.norman@hostmail.com"


def test_this_shops_deliveries_pass_in_any_case(app, client):
    app.config["SHOPIFY_SHOP"] = "Sim-Shop.myshopify.com"
    assert deliver(client, "shop/redact", {"shop_id": 1, "shop_domain": SHOP}).status_code == 200
    assert deliver(client, "orders/create", order(),
                   **{"X-Shopify-Shop-Domain": SHOP.upper()}).status_code == 200
    assert Order.select().count() == 0 and WebhookLog.select().count() == 2
