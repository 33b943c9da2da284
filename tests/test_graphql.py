"""The GraphQL Admin API client against the simulator over HTTP: records, cost, errors."""

import json
from collections import Counter

import pytest

from shopsync import ledger_schemas, schemas, subscriptions
from shopsync.shopify import AdminClient, ShopifyClient, ShopifyRequestError, ShopifyUnavailable
from shopsync.shopify.mapping import order as order_record
from shopsync.simulator import Store
from tests.helpers import FIXTURES, changed_store

TOKEN = "shpat_test"


@pytest.fixture
def simulator_defaults():
    """A smaller store, and a GraphQL cost budget that is not the subject either."""
    return {"orders": 120, "graphql_restore_rate": 100_000.0, "bucket_size": 1000, "leak_rate": 1000.0}


SCHEMAS = {"orders": schemas.OrderSchema, "products": schemas.ProductSchema,
           "customers": schemas.CustomerSchema}


def test_a_documented_response_maps_to_the_webhook_record():
    node = json.loads((FIXTURES / "graphql_order.json").read_text())["data"]["orders"]["nodes"][0]
    loaded = schemas.OrderSchema().load(order_record(node))
    rest = schemas.OrderSchema().load(json.loads((FIXTURES / "order.json").read_text())["order"])
    for name in ("id", "name", "order_number", "email", "currency", "total_price", "total_tax",
                 "subtotal_price", "total_discounts", "financial_status", "created_at"):
        assert loaded[name] == rest[name], name
    assert loaded["customer"] == {"id": 207119551}
    assert loaded["shipping_address"]["zip"] == rest["shipping_address"]["zip"]
    [line] = loaded["line_items"]
    assert line["id"] == 466157049 and str(line["price"]) == "199.0" and line["variant_id"] == 39072856


@pytest.mark.parametrize("resource", ["orders", "products", "customers"])
def test_graphql_and_rest_give_the_same_validated_records(serve, resource):
    server = serve()
    graphql = AdminClient(server.base_url, TOKEN)
    rest = ShopifyClient(server.base_url, TOKEN, leak_rate=0)
    schema = SCHEMAS[resource]()
    via_graphql = [schema.load(r) for r in graphql.iter_records(resource)]
    via_rest = [schema.load(r) for r in rest.iter_records(resource)]
    assert len(via_graphql) == len(via_rest) > 0
    for ours, theirs in zip(via_graphql, via_rest, strict=True):
        assert ours == theirs


def test_nested_lists_longer_than_a_page_are_completed(serve):
    store = Store.generate(seed=1, orders=10, products=10, customers=5)
    template = store.get_order(store.ids("orders", status="any")[0])["line_items"][0]
    lines = [{**template, "id": 900 + i} for i in range(12)]
    created = store.create_order(line_items=lines, financial_status="paid")
    store.fulfill_order(created["id"])
    store.refund_order(created["id"])
    server = serve(store)
    record = AdminClient(server.base_url, TOKEN).get("orders", created["id"])
    assert [line["id"] for line in record["line_items"]] == [900 + i for i in range(12)]
    assert record["total_price"] == created["total_price"]
    # A refund's and a fulfillment's lines beyond their first page too.
    [refund], [shipment] = record["refunds"], record["fulfillments"]
    assert [line["line_item_id"] for line in refund["refund_line_items"]] == [
        900 + i for i in range(12)]
    assert [line["id"] for line in shipment["line_items"]] == [900 + i for i in range(12)]
    rest = ShopifyClient(server.base_url, TOKEN, leak_rate=0).get("orders", created["id"])
    schema = ledger_schemas.OrderSchema()
    assert schema.load(record) == schema.load(rest)


def test_cost_is_paced_and_throttled_answers_waited_out(serve):
    server = serve(graphql_bucket=1000, graphql_restore_rate=1000.0)
    reckless = AdminClient(server.base_url, TOKEN, pace=False)
    # About 990 points requested a page, 600 spent, 250 restored meanwhile: the bucket runs dry.
    assert len(list(reckless.iter_records("orders"))) == 120
    assert reckless.throttled_count >= 1  # THROTTLED inside HTTP 200, waited out
    assert reckless.actual_cost < reckless.requested_cost
    paced = AdminClient(server.base_url, TOKEN)
    server.graphql_bucket.reset()
    assert len(list(paced.iter_records("orders"))) == 120
    assert paced.throttled_count == 0  # it waited for room by the reported restore rate


def test_errors_are_reported_not_retried_and_queries_retried_after_5xx(serve):
    server = serve()
    client = AdminClient(server.base_url, TOKEN, backoff=0.01)
    with pytest.raises(ShopifyRequestError, match="exceeds the single query max cost"):
        client.execute("{ orders(first: 250) { nodes { lineItems(first: 250) { nodes { id } } } } }")
    with pytest.raises(ShopifyRequestError, match="Invalid search field"):
        client.execute('{ ordersCount(query: "colour:red") { count } }')
    server.faults.fail_next_requests(2, status=503)
    assert client.count("orders") == 120 and client.retry_count == 2
    server.faults.fail_next_requests(1, status=503)
    with pytest.raises(ShopifyUnavailable):  # a mutation may have run: never sent twice
        client.create_webhook("orders/create", "https://erp.example.com/webhooks/shopify")


def test_webhook_subscriptions_are_registered_and_repaired_through_graphql(app, serve):
    server = serve()
    client = AdminClient(server.base_url, TOKEN)
    address = "https://erp.example.com/webhooks/shopify"
    result = subscriptions.register_webhooks(client, address)
    assert result["failed"] == {} and len(result["created"]) == len(subscriptions.REQUIRED_TOPICS)
    assert {item["topic"] for item in client.list_webhooks(address=address)} == set(
        subscriptions.REQUIRED_TOPICS)
    assert subscriptions.register_webhooks(client, address)["created"] == []
    with pytest.raises(ShopifyRequestError, match="already been taken") as caught:
        client.create_webhook("orders/create", address)
    assert caught.value.status == 422
    item = client.list_webhooks(topic="orders/create")[0]
    moved = client.update_webhook(item["id"], "https://erp2.example.com/webhooks/shopify")
    assert moved["address"] == "https://erp2.example.com/webhooks/shopify"
    assert client.delete_webhook(item["id"]) is True and client.delete_webhook(item["id"]) is False
    assert set(server.requests_by_kind) == {"graphql.query"}  # every call to graphql.json


def test_graphql_orders_carry_the_same_books_as_rest(serve):
    store, changes = changed_store(8, 600, created=40)
    assert changes["refund_order"] and changes["cancel_order"] and changes["pay_order"]
    server = serve(store)
    schema = ledger_schemas.OrderSchema()
    via_graphql = [schema.load(r) for r in AdminClient(server.base_url, TOKEN).iter_records("orders")]
    via_rest = [schema.load(r) for r in ShopifyClient(server.base_url, TOKEN,
                                                      leak_rate=0).iter_records("orders")]
    assert len(via_graphql) == len(via_rest) == len(store.orders)
    for ours, theirs in zip(via_graphql, via_rest, strict=True):
        assert ours == theirs, ours["id"]
    books = Counter()
    for order in via_rest:
        books.update(refunds=bool(order["refunds"]), fulfillments=bool(order["fulfillments"]),
                     foreign=order["presentment_currency"] != "USD",
                     discounted=bool(order["discount_codes"]),
                     shipping_refunded=any(r["shipping_refunded"] for r in order["refunds"]))
    assert all(books[name] for name in ("refunds", "fulfillments", "foreign", "discounted",
                                        "shipping_refunded")), books


def test_refunds_and_fulfillments_are_nodes_costed_by_their_fragment(serve):
    store = Store.generate(seed=4, orders=40, products=10, customers=10)
    ids = store.ids("orders", status="any")
    generated = next(store.get_order(i)["refunds"][0] for i in ids if store.get_order(i)["refunds"])
    paid = next(i for i in ids if store.get_order(i)["financial_status"] == "paid")
    shipment = store.fulfill_order(paid)["fulfillments"][0]
    made = store.refund_order(paid)["refunds"][0]
    client = AdminClient(serve(store).base_url, TOKEN)
    query = ("query($ids: [ID!]!) { nodes(ids: $ids) { ... on Refund { id note "
             "refundLineItems(first: 10) { nodes { quantity } } } ... on Fulfillment { id name } } }")
    gids = [f"gid://shopify/Refund/{generated['id']}", f"gid://shopify/Refund/{made['id']}",
            f"gid://shopify/Fulfillment/{shipment['id']}", "gid://shopify/Refund/1"]
    found = client.execute(query, {"ids": gids})["nodes"]
    assert [node and node["id"] for node in found] == [*gids[:3], None]
    assert [found[0]["note"], found[2]["name"]] == [generated["note"], shipment["name"]]
    assert len(found[1]["refundLineItems"]["nodes"]) == len(made["refund_line_items"])
    # Requested: each id as the dearest fragment (a refund: 1 + 2 + 10); actual: what came back.
    assert client.requested_cost == 4 * 13
    assert client.actual_cost == sum(3 + len(r["refund_line_items"]) for r in (generated, made)) + 1


@pytest.mark.parametrize("name", ["refunds", "fulfillments"])
def test_a_query_of_refunds_or_fulfillments_by_id_holds_as_many_as_the_cost_limit_allows(serve,
                                                                                       name):
    from shopsync.shopify.admin import ITEMS
    from shopsync.simulator.graphql.cost import MAX_COST

    client = AdminClient(serve().base_url, TOKEN)
    client.granted_scopes()
    page, before = ITEMS[name].page, client.requested_cost
    assert list(client.iter_items(name, range(1, page + 1))) == []  # one query, none known
    requested = client.requested_cost - before
    assert requested <= MAX_COST < requested * (page + 1) / page
