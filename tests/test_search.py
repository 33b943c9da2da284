"""One search box, record pages, and webhooks and failed items searched by what a person knows."""

import datetime as dt

from shopsync import dlq, failed_items
from shopsync.db import utcnow
from shopsync.models import WebhookLog, WebhookStatus
from tests.helpers import deliver, fixture, order


def text(response):
    return response.get_data(as_text=True)


def _store(client, run_jobs):
    """Apply the sample order, product and customer through webhooks."""
    for topic, name in (("orders/create", "order"), ("products/create", "product"),
                        ("customers/create", "customer")):
        assert deliver(client, topic, fixture(name)).status_code == 200
    run_jobs()


def test_an_order_name_leads_to_the_order_page(client, viewer_client, run_jobs):
    _store(client, run_jobs)
    for query in ("#1001", "1001", " #1001 "):
        response = viewer_client.get("/search", query_string={"q": query})
        assert response.status_code == 302, query
        assert response.headers["Location"] == "/records/order/450789469"
    page = text(viewer_client.get("/records/order/450789469"))
    assert "#1001" in page and "409.94" in page and "IPOD2008GREEN" in page
    # The sample order's lines do not add up to its subtotal: its money check is listed.
    assert "orders/create" in page and "money does not add up" in page
    assert 'href="/records/customer/207119551"' in page


def test_an_email_finds_the_customer_and_their_orders(client, viewer_client, run_jobs):
    _store(client, run_jobs)
    html = text(viewer_client.get("/search?q=Bob.Norman@HostMail.com"))
    assert 'href="/records/customer/207119551"' in html and 'href="/records/order/450789469"' in html
    customer = text(viewer_client.get("/records/customer/207119551"))
    assert "bob.norman@hostmail.com" in customer and "#1001" in customer


def test_a_sku_finds_its_product_and_the_orders_with_it(client, viewer_client, run_jobs):
    _store(client, run_jobs)
    html = text(viewer_client.get("/search?q=IPOD2008GREEN"))
    assert 'href="/records/product/632910392"' in html and 'href="/records/order/450789469"' in html
    product = text(viewer_client.get("/records/product/632910392"))
    assert "IPOD2008PINK" in product and "products/create" in product


def test_a_shopify_id_or_a_variant_id_finds_the_record(client, viewer_client, run_jobs):
    _store(client, run_jobs)
    assert viewer_client.get("/search?q=632910392").headers["Location"] == "/records/product/632910392"
    assert viewer_client.get("/search?q=808950810").headers["Location"] == "/records/product/632910392"


def test_a_webhook_id_leads_to_its_delivery(client, viewer_client):
    deliver(client, "orders/create", order(), webhook_id="hook-by-id")
    assert viewer_client.get("/search?q=hook-by-id").headers["Location"] == "/webhooks/hook-by-id"


def test_nothing_found_says_so_and_offers_the_error_searches(viewer_client):
    html = text(viewer_client.get("/search?q=no-such-thing"))
    assert "Nothing matches “no-such-thing”" in html
    assert "/webhooks?error=no-such-thing" in html and "q=no-such-thing" in html
    assert viewer_client.get("/search?q=99999999999999999999").status_code == 200  # past BIGINT


def test_a_record_known_only_from_its_failure_has_a_page(client, viewer_client, run_jobs):
    deliver(client, "orders/create", order(id=77, line_items=[{"id": 1, "quantity": "x"}]))
    run_jobs()
    html = text(viewer_client.get("/records/order/77"))
    assert "Not in the ERP" in html and "failed</span>" in html and 'id="item-' in html
    assert viewer_client.get("/records/order/78").status_code == 404
    assert viewer_client.get("/records/invoice/77").status_code == 404


def test_the_search_box_is_on_every_page(viewer_client):
    assert 'action="/search"' in text(viewer_client.get("/webhooks"))


def test_search_needs_a_login(client):
    assert client.get("/search?q=1001").status_code == 302
    assert client.get("/records/order/1").status_code == 302


def _hooks():
    now = utcnow()
    WebhookLog.insert_many([
        {"id": "a", "topic": "orders/create", "shopify_id": 1, "raw_body": b"{}",
         "received_at": now - dt.timedelta(days=2), "status": WebhookStatus.PROCESSED, "error": None},
        {"id": "b", "topic": "products/update", "shopify_id": 2, "raw_body": b"{}",
         "received_at": now - dt.timedelta(hours=1), "status": WebhookStatus.FAILED,
         "error": "invalid product payload: price must be a number"},
        {"id": "c", "topic": "orders/create", "shopify_id": 3, "raw_body": b"{}",
         "received_at": now, "status": WebhookStatus.FAILED, "error": "quantity: not a number"},
    ]).execute()
    return now


def _listed(client, url):
    import re

    return re.findall(r'data-webhook="([^"]+)"', text(client.get(url)))


def test_webhooks_are_searched_by_topic_status_time_and_error(viewer_client):
    now = _hooks()
    assert _listed(viewer_client, "/webhooks?topic=orders/create") == ["c", "a"]
    assert _listed(viewer_client, "/webhooks?status=failed&topic=orders/create") == ["c"]
    since = (now - dt.timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M")
    until = (now - dt.timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M")
    assert _listed(viewer_client, f"/webhooks?since={since}") == ["c", "b"]
    assert _listed(viewer_client, f"/webhooks?since={since}&until={until}") == ["b"]
    assert _listed(viewer_client, "/webhooks?error=PRICE") == ["b"]
    html = text(viewer_client.get("/webhooks?since=yesterday"))
    assert "“yesterday” is not a time" in html


def test_failed_webhook_rows_link_to_their_failed_item(client, viewer_client, run_jobs):
    deliver(client, "orders/create", order(id=77, line_items=[{"id": 1, "quantity": "x"}]),
            webhook_id="broken")
    run_jobs()
    item = dlq.find_items()[0]
    html = text(viewer_client.get("/webhooks"))
    assert f'href="/failed-items/{item.id}">failed item #{item.id}</a>' in html
    assert 'href="/webhooks/broken"' in html


def test_failed_items_are_searched_by_error_text(viewer_client):
    failed_items.add_to_dead_letter("order", 1, "{}", "line item 1: quantity must be a number")
    failed_items.add_to_dead_letter("order", 2, "{}", "OperationalError: database is locked")
    html = text(viewer_client.get("/failed-items?q=Quantity"))
    assert "quantity must be a number" in html and "database is locked" not in html
    assert "No open failed items with “nothing” in the error" in text(
        viewer_client.get("/failed-items?q=nothing"))
