"""Bulk books: the GraphQL cost points an order with books takes beyond the bulk file.

A bulk query reads of an order's refunds and fulfillments only their ids (Shopify refuses
their connections in bulk). The store: the simulator's generated orders (the cancelled ones
refunded), every paid one then shipped (one fulfillment), and one line of every fifth of those
refunded. Its orders bulk query runs in an in-process simulator; the orders with books in the
file are then completed twice, each time by a fresh client: by parts as the bulk backfill does
(`Part.fill`: `nodes(ids:)` of their refunds and fulfillments) and whole by the cursor-paged
order query (by id, as before). Both must give the same records.

    python -m bench.bulk_books [ORDERS]   # default 1,000; prints JSON
"""

import json
import sys
import time

from shopsync.shopify import AdminClient, mapping
from shopsync.shopify.bulk import PARTS, BulkClient, nodes
from shopsync.simulator import SimulatorServer, Store

FAST = {"graphql_restore_rate": 100_000.0, "bucket_size": 1000, "leak_rate": 1000.0}
REFUNDED_SHARE = 5  # one shipped order in this many also has a line refunded


def store_with_books(orders):
    """Return a generated store whose paid orders are shipped and some of those refunded."""
    store = Store.generate(seed=1, orders=orders, products=50, customers=200)
    paid = [i for i in store.ids("orders", status="any")
            if store.get_order(i)["financial_status"] == "paid"]
    for n, order_id in enumerate(paid):
        shipped = store.fulfill_order(order_id)
        if n % REFUNDED_SHARE == 0:
            store.refund_order(order_id, {shipped["line_items"][0]["id"]: 1})
    return store


def points(orders):
    """Complete the orders with books of a store's bulk file by parts and whole; return the
    points each way took."""
    part = PARTS["orders"][0]
    with SimulatorServer(store_with_books(orders), **FAST) as sim:
        operation, _ = sim.bulk.run_query(part.query)
        while operation.status in ("CREATED", "RUNNING"):
            time.sleep(0.05)
        by_parts, whole = (AdminClient(sim.base_url, "shpat_test") for _ in range(2))
        url = by_parts.execute("query($id: ID!) { bulkOperation(id: $id) { url } }",
                               {"id": operation.gid})["bulkOperation"]["url"]
        with_books = [node for node, _, _ in nodes(BulkClient(by_parts).lines(url))
                      if part.lacks_items(node)]
        spent = by_parts.actual_cost
        filled, missing = part.fill(by_parts, with_books)
        fetched = {r["id"]: r for r in whole.iter_records("orders", ids=[
            mapping.legacy_id(node) for node in with_books])}
    same = not missing and all(mapping.RECORDS["orders"](node) == fetched[mapping.legacy_id(node)]
                               for node in filled)
    n = len(with_books)
    return {"orders": orders, "orders_with_books": n, "same_records": same,
            "refunds": sum(len(node["refunds"]) for node in filled),
            "fulfillments": sum(len(node["fulfillments"]) for node in filled),
            "points_by_parts": by_parts.actual_cost - spent, "points_whole": whole.actual_cost,
            "per_order_by_parts": (by_parts.actual_cost - spent) / n,
            "per_order_whole": whole.actual_cost / n}


if __name__ == "__main__":
    print(json.dumps(points(int(sys.argv[1]) if len(sys.argv) > 1 else 1000)))
