"""The root fields the simulator answers: resources, counts, nodes, webhook subscriptions."""

import re
from functools import partial

from graphql import GraphQLError

from shopsync.simulator.graphql import search
from shopsync.simulator.graphql.bulk import BulkRoot
from shopsync.simulator.graphql.nodes import KINDS, NODE_TYPES, gid, utc
from shopsync.simulator.graphql.paging import build, connection, decode_cursor, stream
from shopsync.simulator.graphql.schema import topic_enum
from shopsync.simulator.webhooks import TOPICS, SubscriptionError

GID = re.compile(r"gid://shopify/(\w+)/(\d+)")
SORT_FIELDS = {"CREATED_AT": "created", "UPDATED_AT": "updated", "PROCESSED_AT": "created"}
ITEMS = {"Refund": "refunds", "Fulfillment": "fulfillments"}  # objects read from their order


def rest_topic(value):
    """Return the REST topic of a GraphQL enum value."""
    return {topic_enum(topic): topic for topic in TOPICS}[value]


def parse_gid(value, typename=None):
    """Return (typename, id) of a global id, or raise a GraphQLError."""
    match = GID.fullmatch(value or "")
    if match is None or (typename and match[1] != typename):
        raise GraphQLError(f"Invalid global id '{value}'")
    return match[1], int(match[2])


class Root(BulkRoot):
    """The QueryRoot and Mutation objects of one request (`context` collects search warnings)."""

    def __init__(self, sim, context):
        self.sim, self.store, self.context = sim, sim.store, context
        for kind, node in NODE_TYPES.items():
            singular = kind[:-1]
            setattr(self, kind, partial(self._connection, kind))
            setattr(self, f"{kind}Count", partial(self._count, kind))
            setattr(self, singular, partial(self._one, node.typename))

    # Resources.

    def _search(self, kind, text):
        parsed = search.parse(text, kind)
        if parsed.warnings:
            self.context.setdefault("search", []).append(parsed.report())
        return parsed

    def _rows(self, collection, parsed, after=None, before=None, reverse=False):
        """Iterate over Rows matching a parsed search, in id order."""
        low = parsed.bound("id", (">", ">="))
        if low is not None:
            low = low if parsed.bound("id", (">",)) == low else low - 1
            after = low if after is None else max(after, low)
        lo = parsed.bound("created_at", (">", ">="))
        hi = parsed.bound("created_at", ("<", "<="))
        created = None if lo is None and hi is None else (
            float("-inf") if lo is None else lo, float("inf") if hi is None else hi)
        rows = collection.rows(after, before, reverse, ids=parsed.ids(), created=created)
        return (row for row in rows if parsed.match(row))

    def _node(self, collection, row):
        """Return the GraphQL object of a Row (a changed record is captured now)."""
        record = collection.record(row) if row.index < 0 else None
        return NODE_TYPES[collection.kind](collection, row, record, self.store)

    def _connection(self, kind, info, **args):
        parsed = self._search(kind, args.get("query"))
        collection = self.store.collection(kind)
        sort = args.get("sortKey", "ID")
        with self.store.lock:
            if sort == "ID" and args.get("last") is None and args.get("before") is None:
                after = decode_cursor(args["after"])[0] if args.get("after") else None
                reverse = bool(args.get("reverse"))
                rows = self._rows(collection, parsed, None if reverse else after,
                                  after if reverse else None, reverse)
                taken, keys, previous, more = stream(rows, args, lambda row: [row.id])
                return build([self._node(collection, row) for row in taken], keys, previous, more)
            field = SORT_FIELDS.get(sort)

            def key(row):
                return [getattr(row, field), row.id] if field else [row.id]

            nodes = [self._node(collection, row)
                     for row in sorted(self._rows(collection, parsed), key=key)]
        return connection(nodes, args, lambda node: key(node.row))

    def _count(self, kind, info, query=None, limit=10000):
        parsed = self._search(kind, query)
        collection = self.store.collection(kind)
        with self.store.lock:
            total = sum(1 for _ in self._rows(collection, parsed))
        if limit is not None and total > limit:
            return {"count": limit, "precision": "AT_LEAST"}
        return {"count": total, "precision": "EXACT"}

    def _one(self, typename, info, id):
        return self.node(info, id, typename)

    def node(self, info, id, typename=None):
        """Return the object of a global id, or None when there is none."""
        found, record_id = parse_gid(id, typename)
        if found == "WebhookSubscription":
            item = self.sim.subscriptions.get(record_id)
            return subscription(item) if item else None
        if found in ITEMS:
            return self._item(found, record_id)
        if found not in KINDS:
            return None
        collection = self.store.collection(KINDS[found])
        with self.store.lock:
            row = collection.row(record_id)
            return None if row is None else self._node(collection, row)

    def _item(self, typename, record_id):
        """Return a refund or fulfillment, as its order lists it, or None."""
        name = ITEMS[typename]
        with self.store.lock:
            order_id = self.store.owner(name, record_id)
            row = None if order_id is None else self.store.orders.row(order_id)
            if row is None:
                return None
            items = getattr(self._node(self.store.orders, row), name)(None)
        return next((item for item in items if item["id"] == gid(typename, record_id)), None)

    def nodes(self, info, ids):
        """Return the object of each global id, None where there is none."""
        return [self.node(info, value) for value in ids]

    def shop(self, info):
        return {"typename": "Shop", "id": gid("Shop", 1), "name": "Simulated shop",
                "myshopifyDomain": self.sim.shop}

    def currentAppInstallation(self, info):  # noqa: N802 (GraphQL's name)
        return {"typename": "AppInstallation", "id": gid("AppInstallation", 1),
                "accessScopes": [{"handle": scope} for scope in self.sim.tokens.scopes]}

    # Webhook subscriptions.

    def webhookSubscription(self, info, id):  # noqa: N802
        return self.node(info, id, "WebhookSubscription")

    def webhookSubscriptions(self, info, topics=None, uri=None, **args):  # noqa: N802
        items = [subscription(item) for item in self.sim.subscriptions.list()
                 if (topics is None or topic_enum(item["topic"]) in topics)
                 and uri in (None, item["address"])]
        return connection(items, args, lambda item: [int(item["legacyResourceId"])])

    def webhookSubscriptionCreate(self, info, topic, webhookSubscription):  # noqa: N802, N803
        try:
            item = self.sim.subscriptions.create(rest_topic(topic), _uri(webhookSubscription))
        except SubscriptionError as exc:
            return {"webhookSubscription": None, "userErrors": user_errors(exc.errors)}
        return {"webhookSubscription": subscription(item), "userErrors": []}

    def webhookSubscriptionUpdate(self, info, id, webhookSubscription):  # noqa: N802, N803
        _, record_id = parse_gid(id, "WebhookSubscription")
        try:
            item = self.sim.subscriptions.update(record_id, _uri(webhookSubscription))
        except SubscriptionError as exc:
            return {"webhookSubscription": None, "userErrors": user_errors(exc.errors)}
        return {"webhookSubscription": subscription(item), "userErrors": []}

    def webhookSubscriptionDelete(self, info, id):  # noqa: N802
        _, record_id = parse_gid(id, "WebhookSubscription")
        if self.sim.subscriptions.delete(record_id):
            return {"deletedWebhookSubscriptionId": id, "userErrors": []}
        return {"deletedWebhookSubscriptionId": None,
                "userErrors": [{"field": ["id"], "message": "Webhook subscription does not exist"}]}


def _uri(spec):
    return spec.get("uri") or spec.get("callbackUrl")


def user_errors(errors):
    """Return REST-style {field: [messages]} errors as GraphQL userErrors."""
    fields = {"address": ["webhookSubscription", "callbackUrl"], "topic": ["topic"]}
    return [{"field": fields.get(name, [name]), "message": f"Address {message}"
             if name == "address" else message}
            for name, messages in errors.items() for message in messages]


def subscription(item):
    """Return a REST webhook subscription as a WebhookSubscription object."""
    return {"typename": "WebhookSubscription", "id": gid("WebhookSubscription", item["id"]),
            "legacyResourceId": str(item["id"]), "topic": topic_enum(item["topic"]),
            "format": "JSON", "uri": item["address"], "createdAt": utc(item["created_at"]),
            "updatedAt": utc(item["updated_at"]), "apiVersion": item["api_version"]}

