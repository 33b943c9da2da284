"""The Shopify client pages by Shopify's rules, paces itself, and retries what can be retried."""

import time

import pytest
import requests

from shopsync.shopify import (
    AdminClient,
    ShopifyClient,
    ShopifyError,
    ShopifyRequestError,
    ShopifyUnavailable,
    connect,
    next_page_info,
)
from shopsync.simulator import Store

TOKEN = "shpat_test"


def client_for(server, **options):
    """Return a client of a simulator with quick backoff."""
    options = {"leak_rate": server.bucket.leak_rate, "backoff": 0.01, **options}
    return ShopifyClient(server.base_url, TOKEN, **options)


def test_thousands_of_orders_page_without_gap_or_duplicate(serve):
    store = Store.generate(seed=5, orders=3000, products=20, customers=100)
    server = serve(store)
    client = client_for(server)
    ids = [order["id"] for order in client.iter_records("orders", fields="id")]
    assert ids == store.ids("orders", status="any") and len(set(ids)) == 3000
    assert client.request_count == server.request_count == 12
    customers = [c["id"] for c in client.iter_records("customers", limit=7, fields="id")]
    assert customers == store.customers.ids()


def test_changes_during_a_walk_lose_nothing(serve):
    store = Store.generate(seed=5, orders=500, products=20, customers=100)
    server = serve(store)
    before = store.ids("orders", status="any")
    seen = []
    for page_number, page in enumerate(client_for(server).iter_pages("orders", limit=100)):
        seen += [order["id"] for order in page]
        if page_number == 1:
            store.update_order(before[0], note="changed behind the cursor")
            store.delete_order(before[-1])
            created = store.create_order()
    assert seen == before[:-1] + [created["id"]]


def test_filters_go_on_the_first_request_only(serve):
    store = Store.generate(seed=5, orders=600, products=20, customers=100)
    server = serve(store)
    since = store.get_order(store.orders.ids()[200])["created_at"]
    records = list(client_for(server).iter_records(
        "orders", limit=50, fields=["id", "created_at"], created_at_min=since))
    assert [o["id"] for o in records] == store.ids("orders", status="any", created_at_min=since)
    assert set(records[0]) == {"id", "created_at"}
    first, *later = server.request_log
    assert first.args == {"limit": "50", "fields": "id,created_at", "created_at_min": since,
                          "status": "any"}
    assert len(later) == -(-len(records) // 50) - 1 > 0
    assert all(set(entry.args) == {"limit", "page_info", "fields"} for entry in later)
    assert all(entry.status == 200 for entry in server.request_log)


def test_orders_default_to_any_status_but_take_an_explicit_one(serve):
    store = Store.generate(seed=5, orders=200, products=20, customers=100)
    server = serve(store)
    client = client_for(server)
    assert client.count("orders") == 200
    assert client.count("orders", status="open") == len(store.ids("orders")) < 200
    open_ids = [o["id"] for o in client.iter_records("orders", status="open", fields="id")]
    assert open_ids == store.ids("orders")
    assert client.count("products") == 20


def test_page_info_is_taken_from_the_next_link_exactly():
    link = ('<https://shop.myshopify.com/admin/api/2025-10/orders.json?limit=2&page_info=a%2Bb>;'
            ' rel="previous", <https://shop.myshopify.com/admin/api/2025-10/orders.json?'
            'page_info=eyJ+x%3D&limit=250&fields=id%2Cname>; rel="next"')
    assert next_page_info(link) == "eyJ+x="
    assert next_page_info(link.split(", <")[0]) is None
    assert next_page_info(None) is None


def test_it_yields_before_fetching_the_next_page(serve):
    server = serve()
    records = client_for(server).iter_records("orders", limit=10, fields="id")
    next(records)
    assert server.request_count == 1
    for _ in range(9):
        next(records)
    assert server.request_count == 1
    next(records)
    assert server.request_count == 2


def test_it_paces_itself_to_the_ceiling_without_429s(serve):
    server = serve(bucket_size=4, leak_rate=20.0)
    slept = []

    def sleep(seconds):
        slept.append(seconds)
        time.sleep(seconds)

    client = client_for(server, sleep=sleep)
    started = time.monotonic()
    for _ in range(50):
        client.count("products")
    elapsed = time.monotonic() - started
    ceiling_time = (50 - 4) / 20.0  # after the burst, at most leak_rate requests a second
    assert server.throttled_count == 0 and elapsed >= ceiling_time * 0.95
    # It waits no longer than needed to use >= 90% of the ceiling (latency also waits).
    assert sum(slept) <= ceiling_time / 0.9, f"slept {sum(slept):.2f}s"


def test_429s_never_fail_an_iteration(serve):
    store = Store.generate(seed=5, orders=400, products=20, customers=100)
    server = serve(store, bucket_size=2, leak_rate=20.0)
    slept = []

    def short_sleep(seconds):
        slept.append(seconds)
        time.sleep(min(seconds, 0.05))

    # A client that believes the bucket leaks far faster than it does meets 429s.
    client = client_for(server, leak_rate=1000.0, sleep=short_sleep)
    ids = [order["id"] for order in client.iter_records("orders", limit=20, fields="id")]
    assert ids == store.ids("orders", status="any")
    assert client.throttled_count == server.throttled_count > 0
    assert slept.count(2.0) == client.throttled_count  # Retry-After is honoured


def test_server_errors_are_retried(serve):
    store = Store.generate(seed=5, orders=300, products=20, customers=100)
    server = serve(store)
    server.faults.fail_next_requests(2, status=503)
    client = client_for(server)
    assert client.count("orders") == 300
    assert client.retry_count == 2 and server.request_count == 3
    server.faults.error_rate, server.faults.error_status = 0.3, 502
    ids = [o["id"] for o in client.iter_records("orders", limit=25, fields="id")]
    assert ids == store.ids("orders", status="any")
    assert client.retry_count > 2


def test_timeouts_are_retried(serve):
    server = serve()
    server.faults.slow_next_requests(1, 1.0)
    client = client_for(server, timeout=(1.0, 0.2))
    assert client.count("customers") == 40
    assert client.retry_count == 1 and client.request_count == 2


def test_a_spent_retry_budget_raises(serve):
    server = serve()
    server.faults.error_rate = 1.0
    client = client_for(server, max_retries=2)
    with pytest.raises(ShopifyUnavailable, match="HTTP 500") as raised:
        client.count("orders")
    assert isinstance(raised.value, ShopifyError) and raised.value.status == 500
    assert client.request_count == server.request_count == 3
    nobody = ShopifyClient("http://127.0.0.1:9/admin/api/2025-10", TOKEN, max_retries=1,
                           backoff=0.01)
    with pytest.raises(ShopifyUnavailable, match="ConnectionError"):
        list(nobody.iter_records("orders"))
    assert nobody.request_count == 2


def test_client_errors_raise_at_once_with_shopify_message(serve):
    server = serve()
    client = ShopifyClient(server.base_url, "wrong-token", backoff=0.01)
    with pytest.raises(ShopifyRequestError, match="Invalid API key or access token") as raised:
        client.count("orders")
    assert raised.value.status == 401 and client.request_count == 1
    with pytest.raises(ShopifyRequestError, match="limit: must be between 1 and 250"):
        list(client_for(server).iter_records("orders", limit=251))


def test_a_post_is_not_resent_after_a_server_error(serve):
    server = serve()
    client = client_for(server)
    server.faults.fail_next_requests(1, status=500)
    with pytest.raises(ShopifyUnavailable):
        client.create_webhook("orders/create", "https://erp.example.com/webhooks/shopify")
    assert client.request_count == 1 and server.subscriptions.list() == []


def test_get_returns_a_record_or_none(serve):
    store = Store.generate(seed=5, orders=100, products=20, customers=100)
    server = serve(store)
    client = client_for(server)
    big = store.create_order(id=2**63 - 1)
    assert client.get("orders", big["id"]) == {  # a whole order comes with its transactions
        **store.get_order(big["id"]), "transactions": store.order_transactions(big["id"])}
    assert client.get("orders", 12345) is None
    assert client.get("products", store.products.ids()[0], fields="id,title").keys() == {
        "id", "title"}


def test_webhook_subscriptions(serve):
    server = serve()
    client = client_for(server)
    address = "https://erp.example.com/webhooks/shopify"
    created = client.create_webhook("orders/create", address)
    assert created["topic"] == "orders/create" and created["address"] == address
    assert client.list_webhooks() == [created]
    with pytest.raises(ShopifyRequestError, match="already been taken") as raised:
        client.create_webhook("orders/create", address)
    assert raised.value.status == 422
    assert client.delete_webhook(created["id"]) is True
    assert client.delete_webhook(created["id"]) is False
    assert client.list_webhooks() == []


def test_every_call_has_a_timeout(serve):
    server = serve()
    timeouts = []

    class RecordingSession(requests.Session):
        def request(self, *args, **kwargs):
            timeouts.append(kwargs.get("timeout"))
            return super().request(*args, **kwargs)

    client = client_for(server, session=RecordingSession(), timeout=(2.0, 7.0))
    client.count("orders")
    list(client.iter_records("products", limit=3))
    client.get("orders", 1)
    assert len(timeouts) == 6 and set(timeouts) == {(2.0, 7.0)}


def test_connect_builds_the_configured_client():
    client = connect({"SHOPIFY_API_BASE_URL": "http://127.0.0.1:1/admin/x/",
                      "SHOPIFY_SHOP": "ignored.myshopify.com", "SHOPIFY_ACCESS_TOKEN": "t",
                      "SHOPIFY_ADMIN_API": "rest"})
    assert isinstance(client, ShopifyClient) and client.base_url == "http://127.0.0.1:1/admin/x"
    assert client.tokens.get() == "t"
    client = connect({"SHOPIFY_SHOP": "acme.myshopify.com", "SHOPIFY_API_VERSION": "2025-07",
                      "SHOPIFY_ACCESS_TOKEN": "t", "SHOPIFY_ADMIN_API": "rest"}, leak_rate=20.0)
    assert client.base_url == "https://acme.myshopify.com/admin/api/2025-07"
    assert client.leak_rate == 20.0
    client = connect({"SHOPIFY_SHOP": "acme.myshopify.com", "SHOPIFY_CLIENT_ID": "id",
                      "SHOPIFY_CLIENT_SECRET": "shpss_x", "SHOPIFY_ADMIN_API": "graphql"})
    assert isinstance(client, AdminClient)
    assert client.tokens.token_url == "https://acme.myshopify.com/admin/oauth/access_token"
    with pytest.raises(ValueError):
        connect({})
    with pytest.raises(ValueError, match="graphql or rest"):
        connect({"SHOPIFY_SHOP": "acme.myshopify.com", "SHOPIFY_ADMIN_API": "soap"})
