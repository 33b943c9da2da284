"""Bulk operations: a whole resource in one query run on Shopify's side, read back as JSONL.

Shopify refuses, in a bulk query, a connection inside a list field: an order's `refunds`
(with their lines, shipping and transactions) and `fulfillments` (with their lines) are
lists of objects holding connections. So the orders query reads the order, its lines,
shipping lines, discount applications and every transaction of the order (a list without
connections, inline in the order's line), and of its refunds and fulfillments only the ids
(`Part.whole`). Those are then fetched by id (`nodes(ids:)`) with the fields the order query
selects for them and put into the order (`Part.fill`): an order with books costs some 15
GraphQL points instead of the 80 of fetching it whole (`python -m bench.bulk_books`).
Each connection's objects come as lines of their own, naming the object holding them in
`__parentId`; asked with `groupObjects: true` (the default before 2026-01), they follow it at
once, so `nodes` joins them back one node at a time, in constant memory, into the nodes the
cursor-paged queries return, and the same mapping makes them webhook-shaped records.
"""

import json
import re
from dataclasses import dataclass

from shopsync.shopify import admin, mapping
from shopsync.shopify.errors import ShopifyRequestError

PAGED = re.compile(r"(\w+)\(first: \d+\) \{ pageInfo \{ hasNextPage endCursor \} nodes \{ ")
OPERATION = ("id status errorCode createdAt completedAt objectCount rootObjectCount fileSize url "
             "partialDataUrl")
IN_PROGRESS = "OPERATION_IN_PROGRESS"
GONE = (403, 404, 410)  # how storage answers a result URL past its expiry
DISCOUNTS = ("DiscountCodeApplication", "ManualDiscountApplication",
             "AutomaticDiscountApplication", "ScriptDiscountApplication")
# (type of the holding object, __typename of a child line) -> the connection it belongs to.
CONNECTIONS = {
    ("Order", "LineItem"): "lineItems", ("Order", "ShippingLine"): "shippingLines",
    **{("Order", kind): "discountApplications" for kind in DISCOUNTS},
    ("Product", "ProductVariant"): "variants",
}
# The lists of an order whose items hold connections: only their ids are read in bulk.
WHOLE = tuple(admin.ITEMS)


def _block(text, name, after=0):
    """Return (start, end) of the first `name { ... }` from `after` in a selection."""
    start = re.compile(rf"\b{name} \{{").search(text, after).start()
    depth = 0
    for end in range(text.index("{", start), len(text)):
        depth += {"{": 1, "}": -1}.get(text[end], 0)
        if depth == 0:
            return start, end + 1
    raise ValueError(f"unbalanced selection of {name}")


def _bulk_selection(fields):
    """Turn cursor-paged nested connections into whole ones with typed nodes (bulk form)."""
    while match := PAGED.search(fields):
        start, end = _block(fields, "nodes", match.start())
        inner = fields[fields.index("{", start) + 1:end - 1]
        fields = (f"{fields[:match.start()]}{match[1]} {{ edges {{ node {{ __typename{inner}}} }} "
                  f"}}{fields[end + 2:]}")
    return fields


def _ids_of(fields, *names):
    """Replace the `name { ... }` selections of `fields` by `name { id }`."""
    for name in names:
        start, end = _block(fields, name)
        fields = f"{fields[:start]}{name} {{ id }}{fields[end:]}"
    return fields


def _query(resource, fields):
    return f"{{ {resource} {{ edges {{ node {{ {_bulk_selection(fields)} }} }} }} }}"


class ResultGone(ShopifyRequestError):
    """The result URL no longer serves the file (expired or withdrawn)."""


@dataclass(frozen=True)
class Part:
    """One bulk query of a backfill: the resource read and how its nodes become records."""

    name: str
    resource: str
    query: str
    whole: tuple = ()  # lists read as ids only: their items are fetched by id (`fill`)

    def lacks_items(self, node):
        """Tell whether a joined node lacks the items of a list read as ids."""
        return any(node.get(name) for name in self.whole)

    def fill(self, client, nodes):
        """Put into joined nodes the items of their lists read as ids, fetched by id; return
        (the nodes filled, the REST ids of those of which Shopify no longer knows every item)."""
        found = {item["id"]: item for name in self.whole for item in client.iter_items(
            name, [mapping.gid_number(item["id"]) for node in nodes for item in node[name]])}
        filled, missing = [], []
        for node in nodes:
            if all(item["id"] in found for name in self.whole for item in node[name]):
                node.update({name: [found[item["id"]] for item in node[name]]
                             for name in self.whole})
                filled.append(node)
            else:
                missing.append(mapping.legacy_id(node))
        return filled, missing

    def text(self, since=None):
        """Return the query, of records created on or after `since` when given."""
        if since is None:
            return self.query
        condition = json.dumps(admin.search(created_at_min=since))
        return self.query.replace(f"{{ {self.resource} {{", f"{{ {self.resource}(query: {condition}) {{", 1)


PARTS = {
    "orders": (Part("orders", "orders", _query("orders", _ids_of(admin.RESOURCES["orders"].fields,
                                                                 *WHOLE)), WHOLE),),
    "products": (Part("products", "products", _query("products", admin.RESOURCES["products"].fields)),),
    "customers": (Part("customers", "customers",
                       _query("customers", admin.RESOURCES["customers"].fields)),),
}


def _typename(gid):
    return gid.split("/")[3]


def _open(node):
    """Give a root object empty connections; return it."""
    kind = _typename(node["id"])
    for (parent, _), connection in CONNECTIONS.items():
        if parent == kind:
            node.setdefault(connection, {"nodes": []})
    return node


def nodes(lines):
    """Join JSONL lines (bytes) back into nodes; yield (node, lines used so far, bytes used).

    A node is whole once the next root line (or the end) arrives, as children follow their
    parent; the counts then stand just before that next root line.
    """
    node = None
    count = size = 0
    for raw in lines:
        item = json.loads(raw)
        parent = item.pop("__parentId", None)
        if parent is None:
            if node is not None:
                yield node, count, size
            node = _open(item)
        else:
            connection = CONNECTIONS[(_typename(parent), item["__typename"])]
            node[connection]["nodes"].append(item)
        count += 1
        size += len(raw) + 1
    if node is not None:
        yield node, count, size


def record(part, node):
    """Return the webhook-shaped record of one joined node of `part`."""
    return mapping.RECORDS[part.resource](node)


class BulkClient:
    """The bulk operation calls of a GraphQL Admin API client."""

    def __init__(self, client):
        self.client = client

    def run_query(self, part, since=None):
        """Start `part`'s bulk query; return the operation, or None when one is in progress."""
        self.client.require_scope(f"read_{part.resource}")
        data = self.client.execute(
            f"mutation($q: String!) {{ r: bulkOperationRunQuery(query: $q, groupObjects: true) "
            f"{{ bulkOperation "
            f"{{ {OPERATION} }} userErrors {{ code field message }} }} }}",
            {"q": part.text(since)}, mutation=True)["r"]
        errors = data["userErrors"]
        if errors and all(error.get("code") == IN_PROGRESS for error in errors):
            return None
        if errors:
            raise ShopifyRequestError("bulkOperationRunQuery: " + "; ".join(
                e["message"] for e in errors), 422, errors)
        return data["bulkOperation"]

    def operation(self, operation_id):
        """Return a bulk operation by id, or None."""
        return self.client.execute(f"query($id: ID!) {{ bulkOperation(id: $id) {{ {OPERATION} }} }}",
                                   {"id": operation_id})["bulkOperation"]

    def cancel(self, operation_id):
        """Ask Shopify to cancel a bulk operation; return it (CANCELING) or None if it had ended."""
        data = self.client.execute(
            f"mutation($id: ID!) {{ r: bulkOperationCancel(id: $id) {{ bulkOperation "
            f"{{ {OPERATION} }} userErrors {{ field message }} }} }}", {"id": operation_id},
            mutation=True)["r"]
        return None if data["userErrors"] else data["bulkOperation"]

    def lines(self, url, offset=0, skip=0):
        """Yield the lines (bytes) of a result file from byte `offset`, streamed.

        A server that ignores the Range header sends the whole file: then `skip` lines are
        passed over instead.
        """
        headers = {"Range": f"bytes={offset}-"} if offset else {}
        with self.client.session.get(url, headers=headers, stream=True,
                                     timeout=self.client.timeout) as response:
            if response.status_code == 416:  # nothing after the offset
                return
            if response.status_code in GONE:
                raise ResultGone(f"GET bulk result: HTTP {response.status_code}: the URL has "
                                 f"expired", response.status_code)
            if response.status_code >= 400:
                raise ShopifyRequestError(f"GET bulk result: HTTP {response.status_code}",
                                          response.status_code)
            ranged = response.status_code == 206
            for number, line in enumerate(response.iter_lines(chunk_size=1 << 16)):
                if line and (ranged or number >= skip):
                    yield line
