"""A delivery's page, Replay through the normal path, data requests and the uninstall alert."""

import re

from shopsync.models import (
    Alert,
    DataRequestAnswer,
    FailedSyncItem,
    Order,
    Severity,
    WebhookLog,
    WebhookStatus,
)
from tests.helpers import deliver, order
from tests.test_dashboard import post


def text(response):
    return response.get_data(as_text=True)


def test_a_delivery_shows_its_headers_body_and_failed_item(client, viewer_client, run_jobs):
    deliver(client, "orders/create", order(id=77, line_items=[{"id": 1, "quantity": "x"}]),
            webhook_id="broken-1")
    run_jobs()
    item = FailedSyncItem.get(FailedSyncItem.entity_type == "order")
    html = text(viewer_client.get("/webhooks/broken-1"))
    assert "X-Shopify-Shop-Domain" in html and "sim-shop.myshopify.com" in html
    assert "2025-10" in html and "verified on receipt" in html
    assert "&#34;quantity&#34;: &#34;x&#34;" in html or '"quantity": "x"' in html
    assert f'href="/failed-items/{item.id}"' in html and 'href="/records/order/77"' in html
    assert "Replay" not in html  # viewers read only
    assert viewer_client.get("/webhooks/nope").status_code == 404


def test_replay_applies_a_failed_delivery_after_a_fix(client, admin_client, run_jobs, monkeypatch):
    import dataclasses

    from shopsync.topics import TOPICS

    fixed = TOPICS["orders/create"]
    broken = dataclasses.replace(fixed, apply=lambda data: 1 / 0, apply_many=None)
    monkeypatch.setitem(TOPICS, "orders/create", broken)
    deliver(client, "orders/create", order(), webhook_id="was-broken")
    run_jobs()
    assert WebhookLog.get_by_id("was-broken").status is WebhookStatus.FAILED
    monkeypatch.setitem(TOPICS, "orders/create", fixed)  # the fix
    response = post(admin_client, "/webhooks/was-broken/replay")
    assert response.status_code == 302
    assert WebhookLog.get_by_id("was-broken").status is WebhookStatus.PENDING
    run_jobs()
    hook = WebhookLog.get_by_id("was-broken")
    assert hook.status is WebhookStatus.PROCESSED and hook.attempts == 2
    assert Order.get(Order.shopify_id == 450789469).total_price is not None
    assert FailedSyncItem.get(FailedSyncItem.entity_type == "order").resolved_at is not None
    assert "Replaying 1 delivery" in text(admin_client.get("/webhooks/was-broken"))


def test_replaying_an_older_delivery_never_overwrites_newer_data(client, admin_client, run_jobs):
    deliver(client, "orders/updated", order(note="old", updated_at="2026-11-30T09:00:00Z"),
            webhook_id="old")
    deliver(client, "orders/updated", order(note="new", updated_at="2026-11-30T10:00:00Z"),
            webhook_id="new")
    run_jobs()
    total = Order.get().total_price
    post(admin_client, "/webhooks/old/replay")
    run_jobs()
    assert WebhookLog.get_by_id("old").status is WebhookStatus.PROCESSED
    assert Order.get().updated_at.hour == 10 and Order.get().total_price == total


def test_replay_of_every_match_asks_first_then_replays_only_those(client, admin_client, run_jobs):
    deliver(client, "orders/create", order(id=1), webhook_id="o1")
    deliver(client, "products/create", {"id": 2}, webhook_id="p2")
    deliver(client, "themes/publish", {"id": 3}, webhook_id="ignored")
    run_jobs()
    confirm = post(admin_client, "/webhooks/replay", topic="orders/create", next="/webhooks")
    assert confirm.status_code == 200 and "Replay 1 delivery?" in text(confirm)
    assert WebhookLog.get_by_id("o1").status is WebhookStatus.PROCESSED  # nothing yet
    done = post(admin_client, "/webhooks/replay", topic="orders/create", next="/webhooks",
                confirm="yes")
    assert done.headers["Location"] == "/webhooks"
    statuses = {h.id: h.status for h in WebhookLog.select()}
    assert statuses["o1"] is WebhookStatus.PENDING
    assert statuses["p2"] is not WebhookStatus.PENDING and statuses["ignored"] is WebhookStatus.IGNORED
    everything = post(admin_client, "/webhooks/replay", next="/webhooks")
    assert "Replay 2 deliveries?" in text(everything)  # ignored topics are left alone


def test_replay_says_so_when_redis_is_down(client, admin_client, run_jobs, monkeypatch):
    from shopsync import outbox

    deliver(client, "orders/create", order(), webhook_id="r1")
    run_jobs()
    monkeypatch.setattr(outbox, "wake", lambda queue: False)
    post(admin_client, "/webhooks/r1/replay")
    html = text(admin_client.get("/webhooks/r1"))
    assert "Redis cannot be reached" in html and "Replaying" not in html


def test_viewers_cannot_replay(client, viewer_client, run_jobs):
    deliver(client, "orders/create", order(), webhook_id="v1")
    run_jobs()
    assert post(viewer_client, "/webhooks/v1/replay").status_code == 403
    assert post(viewer_client, "/webhooks/replay", confirm="yes").status_code == 403


def test_a_data_request_is_open_until_marked_answered(client, admin_client, run_jobs):
    deliver(client, "customers/data_request", {
        "shop_id": 1, "shop_domain": "sim-shop.myshopify.com", "orders_requested": [299938],
        "customer": {"id": 207119551, "email": "bob@example.com"},
        "data_request": {"id": 9999}}, webhook_id="dr-1")
    run_jobs()
    listing = text(admin_client.get("/webhooks"))
    assert "open request" in listing
    page = text(admin_client.get("/webhooks/dr-1"))
    assert '<span class="badge open">open</span>' in page and 'href="/records/customer/207119551"' in page
    post(admin_client, "/webhooks/dr-1/answered")
    assert DataRequestAnswer.get().answered_by == "admin"
    page = text(admin_client.get("/webhooks/dr-1"))
    assert re.search(r"answered</span> by admin", page) and "Mark answered" not in page
    assert "open request" not in text(admin_client.get("/webhooks"))


def test_app_uninstalled_raises_a_critical_alert(client, run_jobs):
    response = deliver(client, "app/uninstalled", {"id": 548380009, "name": "Super Toys",
                                                   "myshopify_domain": "super-toys.myshopify.com"})
    assert response.json["status"] == "accepted"
    run_jobs()
    alert = Alert.get(Alert.metric_name == "app_uninstalled")
    assert alert.status is Severity.CRITICAL and "super-toys.myshopify.com uninstalled" in alert.message
    assert WebhookLog.get().status is WebhookStatus.PROCESSED
