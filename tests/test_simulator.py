"""The Shopify simulator enforces SHOPIFY.md: pagination, filters, auth, rate limit, webhooks."""

import base64
import hashlib
import hmac
import json
import random
import re
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import datetime
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from requests.structures import CaseInsensitiveDict

from shopsync.simulator import (
    Activity,
    LeakyBucket,
    Store,
    WebhookOptions,
    random_change,
)

TOKEN = "shpat_test"
ISO_WITH_OFFSET = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d$")
MONEY = re.compile(r"^\d+\.\d\d$")
FAST_RETRIES = (0.01,) * 7  # 8 tries in well under a second


def get(server, path, token=TOKEN, **params):
    """GET an API path of the simulator."""
    return requests.get(f"{server.base_url}/{path}", params=params, timeout=10,
                        headers={"X-Shopify-Access-Token": token} if token else {})


def walk(server, path, **params):
    """Follow rel="next" links from a first request; return (records, responses)."""
    response = get(server, path, **params)
    responses = [response]
    while "next" in response.links:
        response = requests.get(response.links["next"]["url"], timeout=10,
                                headers={"X-Shopify-Access-Token": TOKEN})
        responses.append(response)
    kind = path.split(".")[0]
    return [record for r in responses for record in r.json()[kind]], responses


class Receiver:
    """A local webhook endpoint recording deliveries; `statuses` scripts its first answers."""

    def __init__(self, statuses=(), delay=0.0):
        self.deliveries, self.statuses, self.delay = [], list(statuses), delay
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.deliveries.append((CaseInsensitiveDict(self.headers.items()), body))
                time.sleep(receiver.delay)
                self.send_response(receiver.statuses.pop(0) if receiver.statuses else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/webhooks/shopify"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def topics(self):
        return [headers["X-Shopify-Topic"] for headers, _ in self.deliveries]


@pytest.fixture
def receiver():
    receivers = []

    def start(statuses=(), delay=0.0):
        receivers.append(Receiver(statuses, delay))
        return receivers[-1]

    yield start
    for item in receivers:
        item.server.shutdown()
        item.server.server_close()


# --- generated data ------------------------------------------------------------------------


def test_generation_is_deterministic_from_the_seed():
    one, same, other = (Store.generate(seed=s, orders=50, products=5, customers=10)
                        for s in (7, 7, 8))
    assert list(one.orders) == list(same.orders)
    assert list(one.customers) == list(same.customers)
    assert list(one.orders) != list(other.orders)


def test_generated_orders_look_like_shopify_and_add_up():
    store = Store.generate(seed=3, orders=600, products=20, customers=80)
    orders = list(store.orders)
    assert len(orders) == 600 and [o["id"] for o in orders] == sorted(o["id"] for o in orders)
    assert any(o["id"] > 2**53 for o in orders) and any(o["id"] < 2**53 for o in orders)
    assert any(o["customer"] is None for o in orders)
    assert any(o["cancelled_at"] and o["cancel_reason"] for o in orders)
    assert any(o["closed_at"] and not o["cancelled_at"] for o in orders)
    assert any(not o["closed_at"] for o in orders)
    assert any(len(o["line_items"]) > 1 for o in orders)
    names = " ".join(f'{c["first_name"]} {c["last_name"]}' for c in store.customers)
    assert re.search(r"[éøöü]", names) and re.search(r"[\u4e00-\u9fff]", names)
    assert re.search("[\U0001F300-\U0001FAFF]", names)
    for order in orders:
        money = ("total_price", "subtotal_price", "total_tax", "total_discounts")
        assert all(MONEY.match(order[field]) for field in money)
        assert all(ISO_WITH_OFFSET.match(order[f]) for f in ("created_at", "updated_at"))
        items = sum(Decimal(li["price"]) * li["quantity"] for li in order["line_items"])
        shipping = sum(Decimal(line["price"]) for line in order["shipping_lines"])
        assert Decimal(order["subtotal_price"]) == items - Decimal(order["total_discounts"])
        assert Decimal(order["total_price"]) == (Decimal(order["subtotal_price"]) + shipping
                                                 + Decimal(order["total_tax"]))
        for line in order["line_items"]:
            variant_ids = {v["id"] for v in store.get_product(line["product_id"])["variants"]}
            assert line["variant_id"] in variant_ids


def test_a_store_of_100k_orders_is_lazy_and_cheap(serve):
    store = Store.generate(seed=1, orders=100_000, products=50, customers=200)
    server = serve(store)
    last_ids = store.orders.factory.ids
    response = get(server, "orders.json", status="any", since_id=last_ids[99_990], fields="id")
    assert [o["id"] for o in response.json()["orders"]] == [last_ids[i] for i in
                                                            range(99_991, 100_000)]
    assert get(server, "orders/count.json", status="any").json() == {"count": 100_000}
    assert store.orders._records == {}  # nothing was materialised


# --- REST: pagination, filters, auth -------------------------------------------------------


def test_link_headers_have_shopify_format(serve):
    server = serve(Store.generate(seed=1, orders=0, products=7, customers=0))
    link = r'<http://127\.0\.0\.1:\d+/admin/api/2025-10/products\.json\?limit=3&page_info=[\w-]+>'
    first = get(server, "products.json", limit=3)
    assert re.fullmatch(f'{link}; rel="next"', first.headers["Link"])
    second = requests.get(first.links["next"]["url"], headers={"X-Shopify-Access-Token": TOKEN})
    assert re.fullmatch(f'{link}; rel="previous", {link}; rel="next"', second.headers["Link"])
    third = requests.get(second.links["next"]["url"], headers={"X-Shopify-Access-Token": TOKEN})
    assert re.fullmatch(f'{link}; rel="previous"', third.headers["Link"])
    back = requests.get(third.links["previous"]["url"],
                        headers={"X-Shopify-Access-Token": TOKEN})
    assert back.json() == second.json()
    assert [len(r.json()["products"]) for r in (first, second, third)] == [3, 3, 1]
    assert "Link" not in get(server, "products.json", limit=7).headers


def test_page_info_with_any_filter_is_400(serve):
    server = serve()
    token = get(server, "orders.json", limit=2).links["next"]["url"].split("page_info=")[1]
    for extra in ({"status": "any"}, {"created_at_min": "2024-01-01T00:00:00Z"},
                  {"since_id": "1"}, {"ids": "1,2"}):
        response = get(server, "orders.json", page_info=token, limit=2, **extra)
        assert response.status_code == 400
        name = next(iter(extra))
        assert response.json()["errors"][name].startswith(f"{name} cannot be passed when page_info")
    assert get(server, "orders.json", page_info=token, limit=5, fields="id").status_code == 200
    assert get(server, "orders.json", page_info="garbage").status_code == 400
    other = get(server, "products.json", limit=2).links["next"]["url"].split("page_info=")[1]
    assert get(server, "orders.json", page_info=other).status_code == 400


def test_limit_is_50_by_default_and_at_most_250(serve):
    server = serve()
    assert len(get(server, "orders.json", status="any").json()["orders"]) == 50
    assert len(get(server, "orders.json", status="any", limit=250).json()["orders"]) == 250
    for bad in (251, 0, "x"):
        response = get(server, "orders.json", limit=bad)
        assert response.status_code == 400 and "limit" in response.json()["errors"]


def test_access_token_is_required(serve):
    server = serve()
    for token in (None, "wrong"):
        response = get(server, "orders.json", token=token)
        assert response.status_code == 401
        assert "Invalid API key or access token" in response.json()["errors"]
        assert "X-Shopify-Shop-Api-Call-Limit" not in response.headers


def test_orders_default_to_open_on_lists_and_counts(serve):
    store = Store.generate(seed=2, orders=400, products=10, customers=40)
    server = serve(store)
    everything = list(store.orders)
    truth = {
        "open": [o["id"] for o in everything if not o["closed_at"] and not o["cancelled_at"]],
        "closed": [o["id"] for o in everything if o["closed_at"]],
        "cancelled": [o["id"] for o in everything if o["cancelled_at"]],
        "any": [o["id"] for o in everything],
    }
    assert all(truth.values()) and len(truth["open"]) < len(truth["any"])
    assert get(server, "orders/count.json").json()["count"] == len(truth["open"])
    default, _ = walk(server, "orders.json", limit=250)
    assert [o["id"] for o in default] == truth["open"]
    for status, ids in truth.items():
        assert get(server, "orders/count.json", status=status).json()["count"] == len(ids)
        records, _ = walk(server, "orders.json", status=status, limit=100, fields="id")
        assert [o["id"] for o in records] == ids


def test_created_and_updated_filters_match_the_store(serve):
    store = Store.generate(seed=4, orders=300, products=10, customers=40)
    server = serve(store)
    orders = list(store.orders)
    low, high = orders[100]["created_at"], orders[200]["created_at"]
    since = sorted(o["updated_at"] for o in orders)[150]

    epoch = datetime.fromisoformat
    created = [o["id"] for o in orders if epoch(low) <= epoch(o["created_at"]) <= epoch(high)]
    updated = [o["id"] for o in orders if epoch(o["updated_at"]) >= epoch(since)]
    assert 100 <= len(created) < 300 and 0 < len(updated) < 300
    params = {"status": "any", "created_at_min": low, "created_at_max": high}
    records, responses = walk(server, "orders.json", limit=40, **params)
    assert [o["id"] for o in records] == created and len(responses) > 1
    assert get(server, "orders/count.json", **params).json()["count"] == len(created)
    records, _ = walk(server, "orders.json", status="any", updated_at_min=since, limit=250)
    assert [o["id"] for o in records] == updated
    count = get(server, "orders/count.json", status="any", updated_at_min=since).json()
    assert count["count"] == len(updated)


def test_since_id_and_ids(serve):
    store = Store.generate(seed=1, orders=0, products=30, customers=0)
    server = serve(store)
    ids = store.products.ids()
    records, _ = walk(server, "products.json", since_id=ids[9], limit=7)
    assert [p["id"] for p in records] == ids[10:]
    chosen = [ids[25], ids[3], ids[17]]
    response = get(server, "products.json", ids=",".join(map(str, chosen)))
    assert [p["id"] for p in response.json()["products"]] == sorted(chosen)


def test_fields_id_is_cheap(serve, monkeypatch):
    store = Store.generate(seed=1, orders=500, products=10, customers=40)
    server = serve(store)

    def forbidden(*args):
        raise AssertionError("fields=id built a whole record")

    monkeypatch.setattr(store.orders.factory, "build", forbidden)
    records, _ = walk(server, "orders.json", status="any", fields="id", limit=250)
    assert [o for o in records] == [{"id": i} for i in store.ids("orders", status="any")]
    assert get(server, "orders.json", limit=1, fields="id,email").status_code == 500


def test_single_records_and_404(serve):
    store = Store.generate(seed=1, orders=20, products=5, customers=10)
    server = serve(store)
    order_id = store.ids("orders", status="closed")[0]
    assert get(server, f"orders/{order_id}.json").json()["order"] == store.get_order(order_id)
    fields = get(server, f"orders/{order_id}.json", fields="id,name").json()["order"]
    assert set(fields) == {"id", "name"}
    assert get(server, "orders/12345.json").json() == {"errors": "Not Found"}
    store.delete_order(order_id)
    assert get(server, f"orders/{order_id}.json").status_code == 404
    assert get(server, "nothing.json").status_code == 404


def test_big_ids_are_exact_integers_in_json(serve):
    store = Store.generate(seed=1, orders=60, products=5, customers=10)
    server = serve(store)
    top = store.create_order(id=2**63 - 1)
    big = [i for i in store.ids("orders", status="any") if i > 2**53]
    assert big  # beyond 2**53, where a float would lose them
    response = get(server, "orders.json", status="any", since_id=2**53, fields="id")
    assert [o["id"] for o in json.loads(response.text)["orders"]] == big
    assert str(2**53 + 1) in response.text and "e+" not in response.text
    single = get(server, f"orders/{top['id']}.json").text
    assert f'"id":{2**63 - 1},' in single


# --- rate limit and faults -----------------------------------------------------------------


def test_call_limit_header_and_429_with_retry_after(serve):
    server = serve(bucket_size=3, leak_rate=0.1)
    used = [get(server, "customers/count.json").headers["X-Shopify-Shop-Api-Call-Limit"]
            for _ in range(3)]
    assert used == ["1/3", "2/3", "3/3"]
    refused = get(server, "customers/count.json")
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "2.0"
    assert refused.headers["X-Shopify-Shop-Api-Call-Limit"] == "3/3"
    assert "Exceeded 2 calls per second" in refused.json()["errors"]
    assert server.throttled_count == 1 and server.request_count == 4


def test_bucket_admits_exactly_the_leak_rate_after_the_burst():
    now = [0.0]
    bucket = LeakyBucket(size=5, leak_rate=2.0, clock=lambda: now[0])
    assert [bucket.take() for _ in range(6)] == [True] * 5 + [False]
    for _ in range(100):  # a client pacing at exactly the leak rate is never refused
        now[0] += 0.5
        assert bucket.take() and bucket.used == 5
    now[0] += 0.49
    assert not bucket.take()
    now[0] += 2.0
    assert bucket.used == 1 and bucket.take() and bucket.take()


def test_faults_fail_and_slow_requests(serve):
    server = serve()
    server.faults.fail_next_requests(2, status=503)
    assert [get(server, "orders/count.json").status_code for _ in range(3)] == [503, 503, 200]
    server.faults.error_rate = 1.0
    assert get(server, "orders/count.json").status_code == 500
    server.faults.reset()
    server.faults.slow_next_requests(1, 0.3)
    started = time.monotonic()
    assert get(server, "orders/count.json").status_code == 200
    assert time.monotonic() - started >= 0.3


def test_counters_by_kind_and_path(serve):
    server = serve()
    get(server, "orders.json")
    get(server, "orders/count.json")
    get(server, "products.json", token="bad")
    assert server.request_count == 3
    assert server.requests_by_kind == {"orders.list": 1, "orders.count": 1, "products.list": 1}
    assert server.requests_by_path["/admin/api/2025-10/orders.json"] == 1
    assert [entry.status for entry in server.request_log] == [200, 200, 401]
    server.reset_counters()
    assert server.request_count == 0 and server.request_log == []


# --- store changes -------------------------------------------------------------------------


def test_changes_bump_updated_at_and_move_between_statuses(serve):
    store = Store.generate(seed=1, orders=30, products=5, customers=10)
    server = serve(store)
    order = store.create_order(financial_status="pending")
    first = store.update_order(order["id"], note="one")
    second = store.update_order(order["id"], note="two")
    assert order["updated_at"] < first["updated_at"] < second["updated_at"]
    assert order["id"] > max(store.orders.factory.ids[i] for i in range(30))
    assert order["id"] in store.ids("orders")
    store.cancel_order(order["id"], reason="fraud")
    cancelled = get(server, f"orders/{order['id']}.json").json()["order"]
    assert cancelled["cancel_reason"] == "fraud" and cancelled["cancelled_at"]
    assert order["id"] in store.ids("orders", status="cancelled")
    assert order["id"] not in store.ids("orders")
    count = store.count("orders", status="any")
    store.delete_order(order["id"])
    assert store.count("orders", status="any") == count - 1
    with pytest.raises(KeyError):
        store.update_order(order["id"], note="gone")


def test_random_activity_changes_the_store_and_emits_events():
    store = Store.generate(seed=1, orders=50, products=5, customers=10)
    events = []
    store.add_listener(events.append)
    rng = random.Random(2)
    changes = Counter(random_change(store, rng) for _ in range(200))
    assert {"create_order", "pay_order", "update_customer"} <= set(changes)
    assert len(events) >= 200 and changes["create_order"] == len(store.orders.created_ids)
    activity = Activity(store, rate=200.0).start()
    deadline = time.monotonic() + 5
    while len(events) < 250 and time.monotonic() < deadline:
        time.sleep(0.01)
    activity.stop()
    assert len(events) >= 250


def test_changed_line_items_recompute_totals():
    store = Store.generate(seed=1, orders=5, products=5, customers=5)
    order_id = store.orders.ids()[0]
    lines = store.get_order(order_id)["line_items"][:1]
    lines[0].update(price="10.00", quantity=3)
    order = store.update_order(order_id, line_items=lines, discount_codes=[])
    assert order["total_line_items_price"] == "30.00" and order["subtotal_price"] == "30.00"
    assert Decimal(order["total_price"]) == (Decimal("30.00") + Decimal(order["total_tax"])
                                             + Decimal(order["shipping_lines"][0]["price"]))


# --- webhooks ------------------------------------------------------------------------------


def test_webhooks_are_signed_and_carry_every_header(serve, receiver):
    hook = receiver()
    store = Store.generate(seed=1, orders=10, products=5, customers=5)
    server = serve(store, webhook_url=hook.url, webhook_secret="s3cret")
    order = store.create_order(financial_status="pending")
    store.update_order(order["id"], financial_status="paid")
    assert server.wait_for_webhooks(5)
    assert sorted(hook.topics()) == ["orders/create", "orders/paid", "orders/updated"]
    for headers, body in hook.deliveries:
        expected = base64.b64encode(hmac.new(b"s3cret", body, hashlib.sha256).digest()).decode()
        assert headers["X-Shopify-Hmac-Sha256"] == expected
        assert headers["X-Shopify-Shop-Domain"] == "sim-shop.myshopify.com"
        assert headers["X-Shopify-API-Version"] == "2025-10"
        assert headers["Content-Type"] == "application/json"
        assert re.match(r"^\d{4}-\d\d-\d\dT[\d:.]+Z$", headers["X-Shopify-Triggered-At"])
        assert json.loads(body)["id"] == order["id"]
    by_topic = {h["X-Shopify-Topic"]: (h, json.loads(b)) for h, b in hook.deliveries}
    assert len({h["X-Shopify-Webhook-Id"] for h, _ in hook.deliveries}) == 3
    updated, paid = by_topic["orders/updated"][0], by_topic["orders/paid"][0]
    assert updated["X-Shopify-Event-Id"] == paid["X-Shopify-Event-Id"]
    assert by_topic["orders/create"][0]["X-Shopify-Event-Id"] != paid["X-Shopify-Event-Id"]
    assert by_topic["orders/paid"][1]["updated_at"] > order["updated_at"]
    assert all(d.state == "delivered" for d in server.deliveries)


def test_delete_webhooks_carry_only_the_id(serve, receiver):
    hook = receiver()
    store = Store.generate(seed=1, orders=10, products=5, customers=5)
    server = serve(store, webhook_url=hook.url)
    for kind, delete in (("orders", store.delete_order), ("products", store.delete_product),
                         ("customers", store.delete_customer)):
        delete(store.collection(kind).ids()[-1])
    assert server.wait_for_webhooks(5)
    assert sorted(hook.topics()) == ["customers/delete", "orders/delete", "products/delete"]
    assert [set(json.loads(body)) for _, body in hook.deliveries] == [{"id"}] * 3
    secret = server.webhook_secret.encode()
    assert all(h["X-Shopify-Hmac-Sha256"] == base64.b64encode(
        hmac.new(secret, b, hashlib.sha256).digest()).decode() for h, b in hook.deliveries)


def test_duplicates_share_the_webhook_id(serve, receiver):
    hook = receiver()
    store = Store.generate(seed=1, orders=10, products=5, customers=5)
    server = serve(store, webhook_url=hook.url,
                   webhook_options=WebhookOptions(duplicate_rate=1.0, reorder_window=0.05))
    store.create_customer()
    store.create_product()
    assert server.wait_for_webhooks(5)
    assert len(hook.deliveries) == 4
    by_id = {}
    for headers, body in hook.deliveries:
        by_id.setdefault(headers["X-Shopify-Webhook-Id"], set()).add(body)
    assert len(by_id) == 2 and all(len(bodies) == 1 for bodies in by_id.values())


def test_failed_deliveries_are_retried_with_the_same_webhook_id(serve, receiver):
    hook = receiver(statuses=[500, 302])
    store = Store.generate(seed=1, orders=10, products=5, customers=5)
    server = serve(store, webhook_url=hook.url,
                   webhook_options=WebhookOptions(retry_delays=FAST_RETRIES))
    store.create_customer()
    assert server.wait_for_webhooks(5)
    assert len(hook.deliveries) == 3
    assert len({h["X-Shopify-Webhook-Id"] for h, _ in hook.deliveries}) == 1
    assert server.deliveries[0].attempts == [500, 302, 200]


def test_a_subscription_failing_every_retry_is_deleted(serve, receiver):
    hook = receiver(statuses=[503] * 8)
    store = Store.generate(seed=1, orders=10, products=5, customers=5)
    server = serve(store, webhook_options=WebhookOptions(retry_delays=FAST_RETRIES))
    response = requests.post(f"{server.base_url}/webhooks.json", timeout=5,
                             headers={"X-Shopify-Access-Token": TOKEN},
                             json={"webhook": {"topic": "customers/create",
                                               "address": hook.url, "format": "json"}})
    assert response.status_code == 201
    store.create_customer()
    store.create_product()  # no subscription to products/create: nothing sent
    assert server.wait_for_webhooks(5)
    (delivery,) = server.deliveries
    assert delivery.state == "failed" and delivery.attempts == [503] * 8
    assert len(hook.deliveries) == 8
    assert get(server, "webhooks.json").json() == {"webhooks": []}


def test_unreachable_and_dropped_deliveries(serve):
    store = Store.generate(seed=1, orders=10, products=5, customers=5)
    server = serve(store, webhook_url="http://127.0.0.1:9/unreachable",
                   webhook_options=WebhookOptions(retry_delays=(0.01,), drop_rate=0.5, seed=3))
    for _ in range(10):
        store.create_customer()
    assert server.wait_for_webhooks(10)
    states = [d.state for d in server.deliveries]
    assert states.count("dropped") and states.count("failed")
    assert set(states) == {"dropped", "failed"}
    assert all(d.attempts == ["ConnectionError"] * 2 for d in server.deliveries
               if d.state == "failed")


def test_slow_receivers_time_out_and_are_retried(serve, receiver):
    hook = receiver(delay=0.3)
    store = Store.generate(seed=1, orders=10, products=5, customers=5)
    server = serve(store, webhook_url=hook.url,
                   webhook_options=WebhookOptions(timeout=0.1, retry_delays=(0.01,)))
    store.create_customer()
    assert server.wait_for_webhooks(5)
    assert server.deliveries[0].attempts == ["ReadTimeout"] * 2
    assert len(hook.deliveries) == 2


def test_subscriptions_add_addresses_without_doubling_the_webhook_url(serve, receiver):
    main, extra = receiver(), receiver()
    store = Store.generate(seed=1, orders=10, products=5, customers=5)
    server = serve(store, webhook_url=main.url)
    for address in (main.url, extra.url):
        server.subscriptions.create("products/create", address)
    store.create_product()
    store.create_customer()
    assert server.wait_for_webhooks(5)
    assert sorted(main.topics()) == ["customers/create", "products/create"]
    assert extra.topics() == ["products/create"]


def test_webhook_subscription_api(serve):
    server = serve()
    url = f"{server.base_url}/webhooks.json"
    headers = {"X-Shopify-Access-Token": TOKEN}
    spec = {"topic": "orders/create", "address": "https://erp.example.com/hooks"}
    created = requests.post(url, json={"webhook": spec}, headers=headers)
    assert created.status_code == 201
    item = created.json()["webhook"]
    assert item["topic"] == "orders/create" and item["format"] == "json" and item["id"]
    duplicate = requests.post(url, json={"webhook": spec}, headers=headers)
    assert duplicate.status_code == 422
    assert duplicate.json() == {"errors": {"address": ["for this topic has already been taken"]}}
    bad = requests.post(url, json={"webhook": {**spec, "topic": "orders/nope"}}, headers=headers)
    assert bad.status_code == 422 and "topic" in bad.json()["errors"]
    assert get(server, "webhooks.json").json()["webhooks"] == [item]
    assert get(server, "webhooks/count.json").json() == {"count": 1}
    gone = requests.delete(f"{server.base_url}/webhooks/{item['id']}.json", headers=headers)
    assert gone.status_code == 200
    again = requests.delete(f"{server.base_url}/webhooks/{item['id']}.json", headers=headers)
    assert again.status_code == 404


def test_command_line_serves_a_store():
    process = subprocess.Popen(
        [sys.executable, "-m", "shopsync.simulator", "--port", "0", "--orders", "25",
         "--access-token", "cli-token"], stdout=subprocess.PIPE, text=True)
    try:
        base_url = process.stdout.readline().strip()
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/admin/api/2025-10", base_url)
        response = requests.get(f"{base_url}/orders/count.json?status=any", timeout=5,
                                headers={"X-Shopify-Access-Token": "cli-token"})
        assert response.json() == {"count": 25}
    finally:
        process.terminate()
        assert process.wait(10) == 0


def graphql(server, query, variables=None, token=TOKEN):
    """POST a GraphQL query to the simulator; return the response."""
    return requests.post(f"{server.base_url}/graphql.json", timeout=10,
                         json={"query": query, "variables": variables or {}},
                         headers={"X-Shopify-Access-Token": token})


def test_client_credentials_grant_expiring_tokens(serve):
    server = serve(access_token="", token_lifetime=1)
    url = f"{server.url}/admin/oauth/access_token"
    form = {"client_id": server.tokens.client_id, "client_secret": server.webhook_secret,
            "grant_type": "client_credentials"}
    assert requests.post(url, data={**form, "client_secret": "x"}, timeout=5).status_code == 401
    assert requests.post(url, data={**form, "grant_type": "password"}, timeout=5).status_code == 400
    grant = requests.post(url, data=form, timeout=5).json()
    assert grant["expires_in"] == 1 and "read_orders" in grant["scope"].split(",")
    token = grant["access_token"]
    assert get(server, "orders/count.json", token=token).status_code == 200
    assert graphql(server, "{ shop { name } }", token=token).status_code == 200
    time.sleep(1.1)
    assert get(server, "orders/count.json", token=token).status_code == 401
    assert graphql(server, "{ shop { name } }", token=token).status_code == 401
    assert get(server, "orders/count.json", token="shpat_test").status_code == 401  # none static


def test_graphql_counts_searches_and_pages_like_shopify(serve):
    server = serve()
    store = server.store
    rows = sorted(store.orders.rows(), key=lambda row: row.created)
    lo, hi = rows[100].created, rows[150].created
    window = (f"created_at:>='{datetime.fromtimestamp(lo).astimezone().isoformat()}' "
              f"created_at:<'{datetime.fromtimestamp(hi).astimezone().isoformat()}'")
    body = graphql(server, "query($q: String) { a: ordersCount(query: $q) { count precision } "
                           "b: ordersCount(limit: 10) { count precision } "
                           "c: ordersCount(limit: null) { count precision } }", {"q": window}).json()
    assert body["data"]["a"] == {"count": sum(lo <= r.created < hi for r in rows),
                                 "precision": "EXACT"}
    assert body["data"]["b"] == {"count": 10, "precision": "AT_LEAST"}
    assert body["data"]["c"] == {"count": 300, "precision": "EXACT"}
    seen, after = [], None
    while True:  # cursors walk every order in id order, as REST's pages do
        page = graphql(server, "query($after: String) { orders(first: 70, after: $after) { "
                               "pageInfo { hasNextPage endCursor } nodes { legacyResourceId } } }",
                       {"after": after}).json()["data"]["orders"]
        seen += [int(node["legacyResourceId"]) for node in page["nodes"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == sorted(store.ids("orders", status="any"))
    two = " OR ".join(f"id:{i}" for i in seen[5:7])
    listed = graphql(server, f'{{ orders(first: 5, query: "{two}") {{ nodes {{ id }} }} }}').json()
    assert [n["id"] for n in listed["data"]["orders"]["nodes"]] == [
        f"gid://shopify/Order/{i}" for i in seen[5:7]]
    warned = graphql(server, '{ orders(first: 1, query: "colour:red") { nodes { id } } }').json()
    assert warned["extensions"]["search"][0]["warnings"][0]["field"] == "colour"
    for query in ("{ orders { nodes { id } } }", "{ orders(first: 251) { nodes { id } } }",
                  '{ orders(first: 1, after: "nonsense") { nodes { id } } }',
                  "{ orders(first: 1) { nodes { colour } } }"):
        answer = graphql(server, query)
        assert answer.status_code == 200 and answer.json()["errors"], query


def test_graphql_cost_and_throttling(serve):
    server = serve(graphql_bucket=1000, graphql_restore_rate=1.0)
    query = ("{ orders(first: 10) { nodes { id totalPriceSet { shopMoney { amount } } "
             "lineItems(first: 5) { nodes { id } } } } }")
    cost = graphql(server, query).json()["extensions"]["cost"]
    # 2 + 10 × (order 1 + MoneyBag 1 + MoneyV2 1 + line items (2 + 5 × 1)) = 102
    assert cost["requestedQueryCost"] == 102
    assert cost["actualQueryCost"] < 102  # orders have fewer than 5 lines
    assert cost["throttleStatus"]["maximumAvailable"] == 1000.0
    assert cost["throttleStatus"]["restoreRate"] == 1.0
    too_dear = graphql(server, "{ orders(first: 250) { nodes { lineItems(first: 10) { nodes { id } } } } }")
    assert too_dear.json()["errors"][0]["extensions"]["code"] == "MAX_COST_EXCEEDED"
    answers = [graphql(server, query) for _ in range(15)]
    throttled = [a for a in answers if a.json().get("errors")]
    assert throttled and all(a.status_code == 200 for a in throttled)  # HTTP 200, not 429
    assert throttled[0].json()["errors"][0]["extensions"]["code"] == "THROTTLED"
    assert throttled[0].json()["extensions"]["cost"]["actualQueryCost"] is None


def test_money_with_integers_gives_decimals_digits():
    from decimal import ROUND_HALF_UP

    from shopsync.simulator.books import RATES, convert
    from shopsync.simulator.data import money, to_cents

    def by_decimal(cents, currency):
        rate, digits = RATES[currency]
        return format((Decimal(cents) / 100 * rate).quantize(Decimal(1).scaleb(-digits),
                                                              ROUND_HALF_UP), "f")

    amounts = [*range(-3000, 3000), *random.Random(5).sample(range(-10**12, 10**12), 3000)]
    assert all(convert(c, cur) == by_decimal(c, cur) for cur in RATES for c in amounts)
    texts = [money(c) for c in amounts] + ["5", "5.9", "12.345", "-0.00", ".50", "1e3", "+1.00",
                                           " 1.00", "١.٠٠", "1_0.00", 7, 2.5]
    assert [to_cents(t) for t in texts] == [int(Decimal(t) * 100) for t in texts]
    with pytest.raises(ArithmeticError):
        to_cents("-")
