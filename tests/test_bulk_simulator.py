"""The simulator's bulk operations over HTTP: lifecycle, JSONL, limits, cancel, failures, webhook."""

import json
import time

import pytest
import requests
from graphql import execute

from shopsync.shopify.bulk import PARTS
from shopsync.simulator import SimulatorServer, Store
from shopsync.simulator.graphql.bulk_execute import execute_query
from shopsync.simulator.graphql.bulk_query import items, lines, plan
from shopsync.simulator.graphql.endpoint import _resolve_type
from shopsync.simulator.graphql.resolvers import Root
from shopsync.simulator.graphql.schema import SCHEMA
from tests.test_simulator import Receiver

TOKEN = {"X-Shopify-Access-Token": "shpat_test"}
RUN = ("mutation($q: String!) { bulkOperationRunQuery(query: $q) { bulkOperation { id status } "
       "userErrors { code field message } } }")
STATE = ("query($id: ID!) { bulkOperation(id: $id) { id status errorCode objectCount "
         "rootObjectCount fileSize url partialDataUrl } }")
ORDERS = ("{ orders { edges { node { id name lineItems { edges { node { __typename id quantity } } } "
          "refunds { id } } } } }")


@pytest.fixture
def sim():
    hook = Receiver()
    server = SimulatorServer(Store.generate(seed=1, orders=300, products=10, customers=40),
                             graphql_restore_rate=100_000.0, webhook_url=hook.url).start()
    server.hook = hook
    yield server
    server.stop()
    hook.server.shutdown()
    hook.server.server_close()


def gql(sim, query, **variables):
    response = requests.post(f"{sim.base_url}/graphql.json", headers=TOKEN, timeout=10,
                             json={"query": query, "variables": variables})
    assert response.status_code == 200
    return response.json()["data"]


def start(sim, query=ORDERS):
    return gql(sim, RUN, q=query)["bulkOperationRunQuery"]


def finished(sim, operation_id, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = gql(sim, STATE, id=operation_id)["bulkOperation"]
        if state["status"] not in ("CREATED", "RUNNING", "CANCELING"):
            return state
        time.sleep(0.05)
    raise AssertionError("the bulk operation did not finish")


def test_a_bulk_query_runs_in_the_background_and_serves_jsonl_with_parent_ids(sim):
    sim.bulk.page_delay = 0.2
    started = start(sim)
    assert started["userErrors"] == [] and started["bulkOperation"]["status"] in ("CREATED", "RUNNING")
    state = finished(sim, started["bulkOperation"]["id"])
    assert state["status"] == "COMPLETED" and state["errorCode"] is None
    lines = [json.loads(line) for line in requests.get(state["url"], timeout=10).text.splitlines()]
    orders = [line for line in lines if "__parentId" not in line]
    assert len(orders) == int(state["rootObjectCount"]) == 300
    assert len(lines) == int(state["objectCount"]) and int(state["fileSize"]) > 0
    seen = set()
    for line in lines:  # every child follows the object holding it
        if "__parentId" in line:
            assert line["__parentId"] in seen
            assert line["__parentId"].startswith("gid://shopify/Order/")
            assert line["__typename"] == "LineItem"
        seen.add(line["id"])
    assert all("lineItems" not in order for order in orders)
    assert any(order["refunds"] for order in orders)  # a list stays inline in its order's line


def test_the_url_is_signed_and_expires(sim):
    state = finished(sim, start(sim)["bulkOperation"]["id"])
    assert requests.get(state["url"].replace("signature=", "signature=0"), timeout=10).status_code == 403
    ranged = requests.get(state["url"], headers={"Range": "bytes=10-"}, timeout=10)
    assert ranged.status_code == 206 and len(ranged.content) == int(state["fileSize"]) - 10
    sim.bulk.clock = lambda: time.time() + sim.bulk.url_lifetime + 1
    assert requests.get(state["url"], timeout=10).status_code == 403
    assert gql(sim, STATE, id=state["id"])["bulkOperation"]["status"] == "EXPIRED"


def test_one_bulk_query_at_a_time_before_2026_01(sim):
    sim.bulk.hold.clear()
    first = start(sim)["bulkOperation"]
    refused = start(sim)
    sim.bulk.hold.set()
    assert refused["bulkOperation"] is None
    assert refused["userErrors"][0]["code"] == "OPERATION_IN_PROGRESS"
    assert first["id"] in refused["userErrors"][0]["message"]
    finished(sim, first["id"])
    assert start(sim)["userErrors"] == []


def test_cancel_moves_through_canceling_to_canceled_and_sends_the_finish_webhook(sim):
    sim.bulk.page_delay = 1.0
    operation = start(sim)["bulkOperation"]
    cancel = gql(sim, "mutation($id: ID!) { bulkOperationCancel(id: $id) { bulkOperation { status } "
                      "userErrors { message } } }", id=operation["id"])["bulkOperationCancel"]
    assert cancel == {"bulkOperation": {"status": "CANCELING"}, "userErrors": []}
    assert finished(sim, operation["id"])["status"] == "CANCELED"
    assert sim.wait_for_webhooks(5)
    [(headers, body)] = [d for d in sim.hook.deliveries
                         if d[0]["X-Shopify-Topic"] == "bulk_operations/finish"]
    assert json.loads(body) == {"admin_graphql_api_id": operation["id"], "completed_at": None,
                                "created_at": json.loads(body)["created_at"], "error_code": None,
                                "status": "canceled", "type": "query"}


def test_a_held_operation_runs_once_released_and_a_cancel_ends_it(sim):
    sim.bulk.hold.clear()
    held = start(sim)["bulkOperation"]
    gql(sim, "mutation($id: ID!) { bulkOperationCancel(id: $id) { userErrors { message } } }", id=held["id"])
    assert finished(sim, held["id"])["status"] == "CANCELED"
    sim.bulk.hold.clear()
    held = start(sim)["bulkOperation"]
    assert gql(sim, STATE, id=held["id"])["bulkOperation"]["status"] in ("CREATED", "RUNNING")
    sim.bulk.hold.set()
    assert finished(sim, held["id"])["status"] == "COMPLETED"


def test_a_failure_part_way_leaves_partial_data_with_its_error_code(sim):
    sim.bulk.fail_after = ("INTERNAL_SERVER_ERROR", 120)
    state = finished(sim, start(sim)["bulkOperation"]["id"])
    assert (state["status"], state["errorCode"], state["url"]) == ("FAILED", "INTERNAL_SERVER_ERROR",
                                                                   None)
    lines = requests.get(state["partialDataUrl"], timeout=10).text.splitlines()
    assert sum("__parentId" not in line for line in lines) == 120


def test_a_query_beyond_the_granted_scopes_fails_with_access_denied(sim):
    sim.tokens.scopes = ("read_products",)
    state = finished(sim, start(sim)["bulkOperation"]["id"])
    assert (state["status"], state["errorCode"], state["partialDataUrl"]) == (
        "FAILED", "ACCESS_DENIED", None)
    assert sim.wait_for_webhooks(5)
    finish = [json.loads(b) for h, b in sim.hook.deliveries
              if h["X-Shopify-Topic"] == "bulk_operations/finish"]
    assert finish[0]["status"] == "failed" and finish[0]["error_code"] == "access_denied"


@pytest.mark.parametrize("query, reason", [
    ("{ shop { name } }", "at least one connection"),
    ("{ orders { edges { node { id lineItems { edges { node { product { "
     "variants { edges { node { id } } } } } } } } } } }", "nesting depth"),
    ("{ orders { edges { node { nope } } } }", "Invalid bulk query"),
])
def test_invalid_bulk_queries_are_user_errors(sim, query, reason):
    refused = start(sim, query)
    assert refused["bulkOperation"] is None
    assert refused["userErrors"][0]["code"] == "INVALID" and reason in refused["userErrors"][0]["message"]


@pytest.mark.parametrize("query, message", [
    ("{ orders { edges { node { id refunds { id refundLineItems { edges { node { quantity } } } } "
     "} } } }", "Queries that contain a connection field within a list field are not currently "
                "supported."),
    ("{ orders { edges { node { id fulfillments { id fulfillmentLineItems { edges { node { id } } "
     "} } } } } }", "Queries that contain a connection field within a list field are not currently "
                    "supported."),
    ("{ orders { edges { node { id lineItems { nodes { id } } } } } }",
     "All connection fields in a bulk query must select their contents using 'edges' > 'node', "
     "e.g: 'lineItems { edges { node {'. Selecting via 'nodes' is not supported. Invalid "
     "connection fields: 'lineItems'."),
    ("{ orders { nodes { id } } }", "Selecting via 'nodes' is not supported. Invalid connection "
                                    "fields: 'orders'."),
])
def test_shopify_refuses_a_connection_inside_a_list_and_nodes_for_edges(sim, query, message):
    refused = start(sim, query)
    assert refused["bulkOperation"] is None and not sim.bulk._operations
    assert len(refused["userErrors"]) == 1
    error = refused["userErrors"][0]
    assert (error["code"], error["field"]) == ("INVALID", ["query"]) and message in error["message"]


@pytest.mark.parametrize("part", [p for parts in PARTS.values() for p in parts], ids=lambda p: p.name)
def test_the_bulk_executor_gives_what_graphql_core_gives(part):
    store = Store.generate(seed=2, orders=60, products=10, customers=20)
    paid = [i for i in store.ids("orders", status="any")
            if store.get_order(i)["financial_status"] == "paid"]
    store.fulfill_order(paid[0])
    store.refund_order(paid[1], shipping=True)
    checked = plan(part.query)
    variables = {"bulkAfter": None}
    with SimulatorServer(store) as sim:
        ours = execute_query(Root(sim, {}), checked.document.definitions[0], variables)
        theirs = execute(SCHEMA, checked.document, Root(sim, {}), {}, variables,
                         type_resolver=_resolve_type)
    assert theirs.errors is None and ours == theirs.data


@pytest.mark.parametrize("part", [p for parts in PARTS.values() for p in parts], ids=lambda p: p.name)
@pytest.mark.parametrize("group", [True, False])
def test_the_jsonl_is_graphql_cores_result_page_by_page_flattened(part, group):
    store = Store.generate(seed=3, orders=600, products=300, customers=520)
    paid = [i for i in store.ids("orders", status="any")
            if store.get_order(i)["financial_status"] == "paid"]
    store.fulfill_order(paid[0])
    store.refund_order(paid[1], shipping=True)
    store.update_order(paid[2], note="changed")
    store.create_order(email="late@example.com")
    checked = plan(part.query)
    with SimulatorServer(store) as sim:
        expected, after = [], None
        while True:  # graphql-core's pages, flattened as Shopify does, one JSON text a line
            page = execute(SCHEMA, checked.document, Root(sim, {}), {}, {"bulkAfter": after},
                           type_resolver=_resolve_type)
            assert page.errors is None
            connection, later = page.data[checked.root], []
            for node in items(connection):
                for line in lines(node, checked.shapes):
                    (expected if group or "__parentId" not in line else later).append(
                        json.dumps(line, separators=(",", ":")))
            expected += later
            if not connection["bulkPageInfo_"]["hasNextPage"]:
                break
            after = connection["bulkPageInfo_"]["endCursor"]
        operation, errors = sim.bulk.run_query(part.query, group)
        assert errors == []
        state = finished(sim, operation.gid)
        assert state["status"] == "COMPLETED" and int(state["rootObjectCount"]) > 250  # pages
        written = requests.get(state["url"], timeout=10).text
    assert written == "".join(f"{line}\n" for line in expected)


def test_from_2026_01_five_run_at_once_and_children_are_grouped_only_when_asked():
    store = Store.generate(seed=1, orders=300, products=10, customers=40)
    with SimulatorServer(store, api_version="2026-01", graphql_restore_rate=100_000.0) as sim:
        sim.bulk.hold.clear()  # all five stay RUNNING however slow the machine
        started = [start(sim)["bulkOperation"]["id"] for _ in range(5)]
        assert start(sim)["userErrors"][0]["code"] == "OPERATION_IN_PROGRESS"
        sim.bulk.hold.set()
        ungrouped = finished(sim, started[0])
        grouped = finished(sim, gql(sim, RUN.replace("query: $q", "query: $q, groupObjects: true"),
                                    q=ORDERS)["bulkOperationRunQuery"]["bulkOperation"]["id"])

        def first_child_follows_its_parent(state):
            lines = [json.loads(line) for line in
                     requests.get(state["url"], timeout=10).text.splitlines()]
            return lines[1].get("__parentId") == lines[0]["id"]

        assert first_child_follows_its_parent(grouped)
        assert not first_child_follows_its_parent(ungrouped)
