"""The Admin API through GraphQL, with the REST client's interface and REST-shaped records.

Backfills, catch-up, reconciliation, single fetches and webhook subscriptions call the same
methods whichever API is configured (SHOPIFY_ADMIN_API); records come back as webhooks carry
them (see `mapping`), orders with their books (see `books`). Page sizes keep each query under
Shopify's 1,000-point single-query limit; nested connections longer than one page (line items,
variants, a refund's lines and transactions, a fulfillment's lines) are completed by
follow-up queries. An order's refunds and fulfillments can be read alone by id (`iter_items`,
for the bulk backfill).
"""

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from shopsync.shopify import books, mapping
from shopsync.shopify.errors import ShopifyRequestError
from shopsync.shopify.graphql import GraphQLClient
from shopsync.shopify.scopes import SCOPES

BRIEF = {"id", "created_at", "updated_at"}  # fields a comparison lists: no record is built
BRIEF_PAGE = 250  # ids per listing query (cost 2 + 250)
CHECK_PAGE = 180  # orders per listing query with mapping.CHECKS (requested cost 2 + 180 × 5)
WINDOWS_PER_QUERY = 200  # aliased windows per counting query (4 points each)
LINE_ITEM = ("id title variantTitle sku quantity originalUnitPriceSet { shopMoney { amount } } "
             f"product {{ legacyResourceId }} variant {{ legacyResourceId }} {books.LINE_ITEM}")
VARIANT = "id legacyResourceId title sku price inventoryQuantity position updatedAt"
MONEY = books.MONEY_SET
ADDRESS = ("{ firstName lastName name company address1 address2 city province provinceCode "
           "country countryCodeV2 zip phone }")
WEBHOOK = "id legacyResourceId topic uri format"
PAGE_ORDERS = 11  # orders with their books per query (requested cost 959)


@dataclass(frozen=True)
class Resource:
    """How one resource is read: its type, fields, page size and nested list."""

    name: str
    typename: str
    fields: str
    page: int  # full records per query, within the cost limit
    # Connections completed by follow-up queries: (list fields leading to it and its name,
    # its fields, first page size).
    nested: tuple = ()


RESOURCES = {r.name: r for r in (
    Resource("orders", "Order", (
        "id legacyResourceId name email createdAt updatedAt cancelledAt cancelReason closedAt "
        "currencyCode displayFinancialStatus displayFulfillmentStatus "
        f"subtotalPriceSet {MONEY} totalTaxSet {MONEY} totalDiscountsSet {MONEY} "
        f"totalPriceSet {MONEY} customer {{ legacyResourceId }} shippingAddress {ADDRESS} "
        f"lineItems(first: 5) {{ pageInfo {{ hasNextPage endCursor }} nodes {{ {LINE_ITEM} }} }} "
        f"{books.ORDER}"),
        PAGE_ORDERS, ((("lineItems",), LINE_ITEM, 5), *books.NESTED)),
    Resource("products", "Product", (
        "id legacyResourceId title handle vendor productType status tags createdAt updatedAt "
        f"variants(first: 50) {{ pageInfo {{ hasNextPage endCursor }} nodes {{ {VARIANT} }} }}"),
        18, ((("variants",), VARIANT, 50),)),
    Resource("customers", "Customer", (
        "id legacyResourceId email firstName lastName phone state numberOfOrders createdAt "
        f"updatedAt amountSpent {{ amount currencyCode }} defaultAddress {ADDRESS[:-1]} id }}"),
        250),
)}

# An order's lists whose items hold connections, read alone by id (`AdminClient.iter_items`):
# items per query (requested cost 132 a refund, 25 a fulfillment), nested connections as the
# order query pages them.
ITEM_PAGES = {"refunds": 7, "fulfillments": 40}
ITEMS = {name: Resource(name, typename, fields, ITEM_PAGES[name], tuple(
    (path[1:], selection, first) for path, selection, first in books.NESTED if path[0] == name))
    for name, (typename, fields) in books.ITEMS.items()}


def search_value(value: object) -> str:
    """Render a filter value for the search syntax (times in UTC)."""
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        return f"'{moment.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%SZ')}'"
    return f"'{value}'"


def search(since_id: int | None = None, status: str | None = None, created_at_min: object = None,
           created_at_max: object = None, updated_at_min: object = None,
           updated_at_max: object = None) -> str | None:
    """Return the `query:` search string for REST-style list filters (both bounds inclusive)."""
    terms = [f"id:>{int(since_id)}" if since_id else None,
             f"status:{status}" if status and status != "any" else None]
    for name, op, value in (("created_at", ">=", created_at_min), ("created_at", "<=", created_at_max),
                            ("updated_at", ">=", updated_at_min), ("updated_at", "<=", updated_at_max)):
        if value is not None:
            terms.append(f"{name}:{op}{search_value(value)}")
    return " ".join(term for term in terms if term) or None


def window_search(lo: datetime, hi: datetime) -> str:
    """Return the search string of records created in [lo, hi) (UTC datetimes)."""
    return f"created_at:>={search_value(lo)} created_at:<{search_value(hi)}"


class AdminClient(GraphQLClient):
    """Orders, products, customers and webhook subscriptions through the GraphQL Admin API."""

    windows_per_call = WINDOWS_PER_QUERY

    def __init__(self, base_url, access_token, **options):
        super().__init__(base_url, access_token, **options)
        self._scopes = None

    def granted_scopes(self) -> set[str] | None:
        """Return the granted scopes; a static token's are asked once of Shopify."""
        granted = self.tokens.scopes()
        if granted is None and self._scopes is None:
            data = self.execute("{ currentAppInstallation { accessScopes { handle } } }")
            self._scopes = {s["handle"] for s in data["currentAppInstallation"]["accessScopes"]}
        return granted if granted is not None else self._scopes

    def _resource(self, name):
        if name not in RESOURCES:
            raise ValueError(f"unknown resource {name!r}")
        self.require_scope(SCOPES[name])
        return RESOURCES[name]

    def iter_pages(self, resource: str, limit: int = 250, fields: Sequence[str] | str | None = None,
                   ids: Iterable[int] | None = None, **filters: Any) -> Iterator[list[dict[str, Any]]]:
        """Yield each page of records (REST-shaped), in id order, as it arrives.

        Filters as in REST (since_id, created_at_min/max, updated_at_min/max, status, ids);
        `fields` of only id, times and mapping.CHECKS lists without building records.
        """
        spec = self._resource(resource)
        names = fields.split(",") if isinstance(fields, str) else fields
        checks = [mapping.CHECKS[name] for name in names or () if name in mapping.CHECKS]
        brief = names is not None and set(names) <= BRIEF | set(mapping.CHECKS)
        selection = (" ".join(["legacyResourceId createdAt updatedAt", *checks]) if brief
                     else spec.fields)
        record = mapping.brief if brief else mapping.RECORDS[resource]
        size = min(limit, (CHECK_PAGE if checks else BRIEF_PAGE) if brief else spec.page)
        if ids is not None:
            yield from self._by_ids(spec, sorted(ids), size, selection, record, brief)
            return
        query = (f"query($first: Int!, $after: String, $query: String) {{ {resource}("
                 f"first: $first, after: $after, query: $query, sortKey: ID) {{ "
                 f"pageInfo {{ hasNextPage endCursor }} nodes {{ {selection} }} }} }}")
        for nodes in self.paginate(query, resource, {"first": size, "query": search(**filters)}):
            yield [record(node) for node in self._completed(spec, nodes, brief)]

    def iter_records(self, resource: str, limit: int = 250, fields: Sequence[str] | str | None = None,
                     **filters: Any) -> Iterator[dict[str, Any]]:
        """Yield every matching record in id order, one page in memory at a time."""
        for page in self.iter_pages(resource, limit, fields, **filters):
            yield from page

    def iter_items(self, name: str, ids: Iterable[int]) -> Iterator[dict[str, Any]]:
        """Yield the refunds or fulfillments (`name`) of these ids that Shopify knows, as GraphQL
        nodes, as the order query selects them (nested connections complete)."""
        self.require_scope(SCOPES["orders"])
        spec = ITEMS[name]
        for nodes in self._by_ids(spec, sorted(ids), spec.page, spec.fields, dict, False):
            yield from nodes

    def _by_ids(self, spec, ids, size, selection, record, brief):
        query = (f"query($ids: [ID!]!) {{ nodes(ids: $ids) {{ ... on {spec.typename} "
                 f"{{ {selection} }} }} }}")
        for start in range(0, len(ids), size):
            gids = [f"gid://shopify/{spec.typename}/{i}" for i in ids[start:start + size]]
            nodes = [node for node in self.execute(query, {"ids": gids})["nodes"] if node]
            yield [record(node) for node in self._completed(spec, nodes, brief)]

    def _completed(self, spec, nodes, brief):
        """Return nodes whose nested connections are complete, fetching the pages they lacked."""
        if brief:
            return nodes
        for node in nodes:
            for path, fields, _ in spec.nested:
                owners = [node]
                for name in path[:-1]:  # a connection inside a list (refunds, fulfillments)
                    owners = [item for owner in owners for item in owner[name]]
                for owner in owners:
                    self._complete(spec.typename, node["id"], path, fields, owner)
        return nodes

    def _complete(self, typename, node_id, path, fields, owner):
        """Fetch the rest of the connection at `path` of `owner`, inside the node `node_id`."""
        *lists, name = path
        children = owner[name]
        selection = (f"{name}(first: 100, after: $after) {{ pageInfo {{ hasNextPage endCursor }} "
                     f"nodes {{ {fields} }} }}")
        for field in reversed(lists):
            selection = f"{field} {{ id {selection} }}"
        query = (f"query($id: ID!, $after: String) {{ node(id: $id) {{ ... on {typename} {{ "
                 f"{selection} }} }} }}")
        while children["pageInfo"]["hasNextPage"]:
            found = self.execute(query, {"id": node_id,
                                         "after": children["pageInfo"]["endCursor"]})["node"]
            for field in lists:  # the owner, by id, in the one list above it
                found = next(item for item in found[field] if item["id"] == owner["id"])
            children["nodes"].extend(found[name]["nodes"])
            children["pageInfo"] = found[name]["pageInfo"]

    def count(self, resource: str, **filters: Any) -> int:
        """Count matching records exactly."""
        self._resource(resource)
        data = self.execute(f"query($query: String) {{ c: {resource}Count(query: $query, "
                            f"limit: null) {{ count precision }} }}", {"query": search(**filters)})
        return data["c"]["count"]

    def count_windows(self, resource: str, windows: Sequence[tuple[datetime, datetime]]
                      ) -> list[tuple[int, str | None]]:
        """Return (count, newest updated_at or None) of records created in each [lo, hi)
        window, many windows per query."""
        self._resource(resource)
        out = []
        for start in range(0, len(windows), WINDOWS_PER_QUERY):
            chunk = windows[start:start + WINDOWS_PER_QUERY]
            # The searches go in variables: one query text for every full chunk.
            parts = [f"c{i}: {resource}Count(query: $q{i}, limit: null) {{ count }} "
                     f"u{i}: {resource}(first: 1, sortKey: UPDATED_AT, reverse: true, "
                     f"query: $q{i}) {{ nodes {{ updatedAt }} }}" for i in range(len(chunk))]
            declared = ", ".join(f"$q{i}: String!" for i in range(len(chunk)))
            data = self.execute(f"query({declared}) {{ {' '.join(parts)} }}",
                                {f"q{i}": window_search(lo, hi) for i, (lo, hi) in enumerate(chunk)})
            for i in range(len(parts)):
                newest = data[f"u{i}"]["nodes"]
                out.append((data[f"c{i}"]["count"], newest[0]["updatedAt"] if newest else None))
        return out

    def get(self, resource: str, record_id: int,
            fields: Sequence[str] | str | None = None) -> dict[str, Any] | None:
        """Return one record, or None when Shopify does not know it."""
        pages = list(self.iter_pages(resource, fields=fields, ids=[int(record_id)]))
        return pages[0][0] if pages and pages[0] else None

    # Webhook subscriptions, REST-shaped: {"id", "topic", "address", "format"}.

    @staticmethod
    def _webhook(node):
        from shopsync.topics import TOPICS

        known = {name.upper().replace("/", "_"): name for name in TOPICS}
        topic = known.get(node["topic"]) or node["topic"].lower().replace("_", "/", 1)
        return {"id": int(node["legacyResourceId"]), "admin_graphql_api_id": node["id"],
                "topic": topic, "address": node["uri"], "format": node["format"].lower()}

    def list_webhooks(self, topic: str | None = None, address: str | None = None) -> list[dict[str, Any]]:
        """Return every webhook subscription (filters: topic, address)."""
        query = (f"query($after: String) {{ webhookSubscriptions(first: 100, after: $after) {{ "
                 f"pageInfo {{ hasNextPage endCursor }} nodes {{ {WEBHOOK} }} }} }}")
        items = [self._webhook(node) for nodes in self.paginate(query, "webhookSubscriptions")
                 for node in nodes]
        return [item for item in items if topic in (None, item["topic"])
                and address in (None, item["address"])]

    def _mutate(self, name, arguments, variables, selection):
        """Run a mutation taking `variables` ({"$name": value}); raise on its userErrors."""
        passed = ", ".join(f"{key[1:]}: {key}" for key in variables)
        data = self.execute(f"mutation({arguments}) {{ r: {name}({passed}) {{ {selection} "
                            f"userErrors {{ field message }} }} }}",
                            {key[1:]: value for key, value in variables.items()},
                            mutation=True)["r"]
        if data["userErrors"]:
            raise ShopifyRequestError(f"{name}: " + "; ".join(
                f"{'.'.join(e.get('field') or [])}: {e['message']}" for e in data["userErrors"]),
                422, data["userErrors"])
        return data

    def create_webhook(self, topic: str, address: str, format: str = "json") -> dict[str, Any]:
        """Subscribe `address` to `topic` and return the subscription."""
        data = self._mutate("webhookSubscriptionCreate",
                            "$topic: WebhookSubscriptionTopic!, $webhookSubscription: "
                            "WebhookSubscriptionInput!",
                            {"$topic": topic.upper().replace("/", "_"),
                             "$webhookSubscription": {"uri": address, "format": format.upper()}},
                            f"webhookSubscription {{ {WEBHOOK} }}")
        return self._webhook(data["webhookSubscription"])

    def update_webhook(self, webhook_id: int, address: str) -> dict[str, Any]:
        """Point a subscription at another address and return it."""
        data = self._mutate("webhookSubscriptionUpdate",
                            "$id: ID!, $webhookSubscription: WebhookSubscriptionInput!",
                            {"$id": f"gid://shopify/WebhookSubscription/{int(webhook_id)}",
                             "$webhookSubscription": {"uri": address}},
                            f"webhookSubscription {{ {WEBHOOK} }}")
        return self._webhook(data["webhookSubscription"])

    def delete_webhook(self, webhook_id: int) -> bool:
        """Delete a subscription; tell whether it existed."""
        try:
            self._mutate("webhookSubscriptionDelete", "$id: ID!",
                         {"$id": f"gid://shopify/WebhookSubscription/{int(webhook_id)}"},
                         "deletedWebhookSubscriptionId")
        except ShopifyRequestError as exc:
            if exc.status == 422:
                return False
            raise
        return True
