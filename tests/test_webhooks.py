"""The receiver: HMAC, storage before answering, deduplication, and every bad input."""

import base64
import json
from types import SimpleNamespace

import pytest
from playhouse.pool import PooledPostgresqlDatabase
from redis.exceptions import ConnectionError as RedisConnectionError

from shopsync import webhooks
from shopsync.db import PostgresPool, db
from shopsync.models import FailedSyncItem, Order, WebhookLog, WebhookStatus
from shopsync.signing import is_authentic, sign
from tests.helpers import SECRET, deliver, encode, headers, hmac_vectors, order


@pytest.mark.parametrize("vector", hmac_vectors(), ids=lambda v: v["source"][:40])
def test_sign_matches_shopify_known_answers(vector):
    body = vector["body"].encode()
    assert sign(body, vector["secret"]) == vector["hmac_sha256_base64"]
    assert is_authentic(body, vector["hmac_sha256_base64"], [vector["secret"]])
    assert not is_authentic(body + b" ", vector["hmac_sha256_base64"], [vector["secret"]])


def test_the_id_a_payload_opens_with_is_read_without_parsing_the_body(client, monkeypatch):
    def refuse(body):
        raise AssertionError("the whole body was parsed")

    monkeypatch.setattr(webhooks, "json", SimpleNamespace(loads=refuse))
    opening = {"id": 450789469, **order()}  # as in Shopify's webhook reference
    assert deliver(client, "orders/create", opening, webhook_id="wh-1").status_code == 200
    assert WebhookLog.get_by_id("wh-1").shopify_id == 450789469


def test_the_id_is_read_wherever_the_payload_puts_it(client):
    deliver(client, "orders/create", {"note": "id later", **order()}, webhook_id="wh-1")
    assert WebhookLog.get_by_id("wh-1").shopify_id == 450789469


def test_order_webhook_is_stored_queued_and_applied(client, api, run_jobs):
    response = deliver(client, "orders/create", order(), webhook_id="wh-1")
    assert response.status_code == 200
    assert response.json == {"status": "accepted", "id": "wh-1"}
    hook = WebhookLog.get_by_id("wh-1")
    assert hook.status is WebhookStatus.PENDING
    assert json.loads(bytes(hook.raw_body)) == order()
    assert hook.shopify_id == 450789469 and hook.topic == "orders/create"
    assert hook.shop_domain == "sim-shop.myshopify.com" and hook.api_version == "2025-10"
    assert hook.triggered_at.year == 2026

    run_jobs()
    hook = WebhookLog.get_by_id("wh-1")
    assert hook.status is WebhookStatus.PROCESSED and hook.processed_at >= hook.received_at
    erp = api("orders/450789469").json
    assert erp["id"] == 450789469 and erp["total_price"] == "409.94"
    assert erp["subtotal_price"] == "398.00" and erp["total_tax"] == "11.94"
    assert erp["customer_shopify_id"] == 207119551
    assert [item["price"] for item in erp["line_items"]] == ["199.00"] * 3
    assert erp["shipping_address"]["city"] == "Louisville"


@pytest.mark.parametrize("signature", [None, "", "not-base64", sign(b"other body", SECRET)])
def test_missing_or_wrong_hmac_is_refused_and_nothing_stored(client, signature):
    body = encode(order())
    hdrs = headers(body, "orders/create")
    if signature is None:
        del hdrs["X-Shopify-Hmac-Sha256"]
    else:
        hdrs["X-Shopify-Hmac-Sha256"] = signature
    response = client.post("/webhooks/shopify", data=body, headers=hdrs)
    assert response.status_code == 401
    assert WebhookLog.select().count() == 0


def test_wrong_secret_is_refused(client):
    body = encode(order())
    response = client.post("/webhooks/shopify", data=body,
                           headers=headers(body, "orders/create", secret="someone-else"))
    assert response.status_code == 401 and WebhookLog.select().count() == 0


def test_previous_secret_still_accepted_after_rotation(app, client):
    app.config["SHOPIFY_PREVIOUS_WEBHOOK_SECRET"] = "old-secret"
    body = encode(order())
    response = client.post("/webhooks/shopify", data=body,
                           headers=headers(body, "orders/create", secret="old-secret"))
    assert response.status_code == 200


def test_no_secret_configured_refuses_everything(app, client):
    app.config["SHOPIFY_WEBHOOK_SECRET"] = ""
    body = encode(order())
    response = client.post("/webhooks/shopify", data=body,
                           headers=headers(body, "orders/create", secret=""))
    assert response.status_code == 401


def test_duplicate_delivery_is_stored_once_and_processed_once(client, run_jobs):
    first = deliver(client, "orders/create", order(), webhook_id="dup")
    second = deliver(client, "orders/create", order(), webhook_id="dup")
    assert first.json["status"] == "accepted" and second.json["status"] == "duplicate"
    assert second.status_code == 200
    run_jobs()
    hook = WebhookLog.get_by_id("dup")
    assert WebhookLog.select().count() == 1
    assert hook.duplicates == 1 and hook.attempts == 1


def test_a_second_delivery_of_one_event_and_topic_is_a_duplicate(client, run_jobs):
    """Two subscriptions to one topic: one event, two webhook ids, the same event id."""
    event = {"X-Shopify-Event-Id": "event-1"}
    first = deliver(client, "orders/create", order(), webhook_id="via-a", **event)
    second = deliver(client, "orders/create", order(), webhook_id="via-b", **event)
    other_topic = deliver(client, "orders/paid", order(), webhook_id="via-c", **event)
    assert first.json["status"] == "accepted" and second.json["status"] == "duplicate"
    assert second.json["id"] == "via-a"  # the delivery that was stored
    assert other_topic.json["status"] == "accepted"  # the same event under another topic
    run_jobs()
    assert WebhookLog.select().count() == 2 and WebhookLog.get_by_id("via-a").duplicates == 1
    # Deliveries without an event id are told apart by their webhook id alone.
    no_event = {"X-Shopify-Event-Id": ""}
    for webhook_id in ("plain-1", "plain-2", "plain-1"):
        deliver(client, "orders/updated", order(), webhook_id=webhook_id, **no_event)
    assert [WebhookLog.get_by_id(i).duplicates for i in ("plain-1", "plain-2")] == [1, 0]


def test_header_names_are_case_insensitive(client, run_jobs):
    body = encode(order())
    lower = {k.lower(): v for k, v in headers(body, "orders/create", "lower-1").items()}
    response = client.post("/webhooks/shopify", data=body, headers=lower)
    assert response.status_code == 200 and response.json["status"] == "accepted"
    run_jobs()
    assert Order.get(Order.shopify_id == 450789469).total_price is not None


def test_unknown_topic_is_stored_and_acknowledged_as_ignored(client, run_jobs):
    response = deliver(client, "themes/publish", {"id": 1}, webhook_id="ign")
    assert response.status_code == 200 and response.json["status"] == "ignored"
    hook = WebhookLog.get_by_id("ign")
    assert hook.status is WebhookStatus.IGNORED and hook.processed_at is not None


def test_oversized_body_gets_413_and_nothing_stored(app, client):
    app.config["MAX_CONTENT_LENGTH"] = 1024
    body = encode(order(note="x" * 2000))
    response = client.post("/webhooks/shopify", data=body, headers=headers(body, "orders/create"))
    assert response.status_code == 413
    assert WebhookLog.select().count() == 0


@pytest.mark.parametrize("body, reason", [
    (b"", "not JSON"),
    (b"this is not json", "not JSON"),
    (b"\xff\xfe\x00garbage", "not JSON"),
    (b"[1, 2, 3]", "not an object"),
    (encode({"id": 450789469, "total_price": "lots", "updated_at": "yesterday"}), "invalid"),
    (encode(order(id=1.5)), "invalid"),
    (encode(order(id="450789469")), "invalid"),
    (encode(order(id=2**63)), "invalid"),
])
def test_authentic_but_broken_payload_is_kept_as_failed_item(client, run_jobs, body, reason):
    response = deliver(client, "orders/updated", body, webhook_id="broken")
    assert response.status_code == 200
    run_jobs()
    hook = WebhookLog.get_by_id("broken")
    assert hook.status is WebhookStatus.FAILED and reason in hook.error
    assert bytes(hook.raw_body) == body
    item = FailedSyncItem.get(FailedSyncItem.webhook == "broken")
    assert item.entity_type == "order" and reason in item.error_message
    assert item.retryable is False and item.resolved_at is None
    assert Order.select().count() == 0


def test_missing_webhook_id_falls_back_to_a_body_digest(client):
    body = encode(order())
    hdrs = headers(body, "orders/create")
    del hdrs["X-Shopify-Webhook-Id"]
    first = client.post("/webhooks/shopify", data=body, headers=hdrs)
    second = client.post("/webhooks/shopify", data=body, headers=hdrs)
    assert first.json["status"] == "accepted" and second.json["status"] == "duplicate"
    assert first.json["id"].startswith("sha256-")


def test_largest_ids_and_unicode_round_trip(client, api, run_jobs):
    big = 2**63 - 1
    payload = order(id=big, name="#Ünïcødé-注文-🛒", email="zoë@例え.jp",
                    customer={"id": big - 1, "first_name": "Zoë"})
    payload["line_items"][0]["id"] = big - 2
    payload["line_items"][0]["title"] = "Café ☕ 東京"
    payload["shipping_address"]["city"] = "Zürich"
    assert deliver(client, "orders/create", payload).status_code == 200
    run_jobs()
    erp = api(f"orders/{big}").json
    assert erp["id"] == big and erp["customer_shopify_id"] == big - 1
    assert erp["name"] == "#Ünïcødé-注文-🛒" and erp["email"] == "zoë@例え.jp"
    assert erp["line_items"][0]["shopify_id"] == big - 2
    assert erp["line_items"][0]["title"] == "Café ☕ 東京"
    assert erp["shipping_address"]["city"] == "Zürich"


def test_enqueue_failure_still_answers_200_and_leaves_row_pending(app, client, monkeypatch):
    def refuse(*args, **kwargs):
        raise RedisConnectionError("redis is down")

    monkeypatch.setattr("rq.Queue.enqueue", refuse)
    response = deliver(client, "orders/create", order(), webhook_id="no-redis")
    assert response.status_code == 200
    assert WebhookLog.get_by_id("no-redis").status is WebhookStatus.PENDING


def test_database_failure_answers_503(client, monkeypatch):
    import peewee as pw

    def broken(*args, **kwargs):
        raise pw.OperationalError("could not connect to server")

    monkeypatch.setattr("shopsync.webhooks._store", broken)
    response = deliver(client, "orders/create", order())
    assert response.status_code == 503


def test_signature_is_checked_over_raw_bytes_not_reparsed_json(client):
    body = b'{"id": 450789469,   "updated_at": "2020-01-01T00:00:00Z"}'
    digest = base64.b64encode(__import__("hmac").new(
        SECRET.encode(), body, "sha256").digest()).decode()
    hdrs = headers(body, "orders/updated")
    assert hdrs["X-Shopify-Hmac-Sha256"] == digest
    reformatted = json.dumps(json.loads(body)).encode()
    assert client.post("/webhooks/shopify", data=reformatted, headers=hdrs).status_code == 401
    assert client.post("/webhooks/shopify", data=body, headers=hdrs).status_code == 200


def test_overlong_headers_are_cut_not_refused(client, run_jobs):
    long_id = "x" * 300
    extra = {"X-Shopify-API-Version": "2025-10-" + "9" * 40, "X-Shopify-Event-Id": "e" * 500}
    first = deliver(client, "orders/create", order(), webhook_id=long_id, **extra)
    again = deliver(client, "orders/create", order(), webhook_id=long_id, **extra)
    assert first.status_code == 200 and again.json["status"] == "duplicate"
    run_jobs()
    hook = WebhookLog.get_by_id(first.json["id"])
    assert hook.status is WebhookStatus.PROCESSED and len(hook.api_version) == 16


def test_a_delivery_keeps_its_pooled_connection_for_the_next(client, services):
    deliver(client, "orders/create", order(id=1))
    assert not db.is_closed()  # not handed back to the pool
    kept = db.connection()
    deliver(client, "orders/create", order(id=2))
    assert db.connection() is kept and WebhookLog.select().count() == 2


def test_a_connection_kept_past_the_idle_time_is_tested_before_reuse(client, services, monkeypatch):
    deliver(client, "orders/create", order(id=1))
    monkeypatch.setattr(PostgresPool, "IDLE_PING_SECONDS", -1)
    tested = []
    test = PooledPostgresqlDatabase._is_closed
    monkeypatch.setattr(PooledPostgresqlDatabase, "_is_closed",
                        lambda pool, conn: tested.append(conn) or test(pool, conn))
    deliver(client, "orders/create", order(id=2))
    assert tested and WebhookLog.select().count() == 2
