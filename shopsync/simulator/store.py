"""A simulated Shopify store: lazily generated data plus the changes made since, with events."""

import copy
import itertools
import random
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from shopsync.simulator import books, data, query
from shopsync.simulator.books import apply_totals
from shopsync.simulator.collection import Collection
from shopsync.simulator.data import CustomerFactory, ProductFactory, Row, iso, parse_time, to_cents
from shopsync.simulator.orders import OrderFactory

# Ids of refunds, transactions and fulfillments made in the store (generated ones lie below).
CREATED_REFUNDS, CREATED_TRANSACTIONS, CREATED_FULFILLMENTS = (
    7_900_000_000_000, 8_900_000_000_000, 4_100_000_000_000)
# Order fields whose change recomputes the order's totals.
MONEY_FIELDS = {"line_items", "refunds", "financial_status"}
UPDATE_TOPIC = {"orders": "orders/updated", "products": "products/update",
                "customers": "customers/update"}


@dataclass(frozen=True)
class Event:
    """One change to the store: the topics it triggers and the payload they carry."""

    id: str  # X-Shopify-Event-Id, shared by every delivery of this change
    topics: tuple
    payload: dict  # the record as stored: read it, never change it
    triggered_at: str


class Store:
    """Customers, products and orders of one shop; changes notify listeners with Events."""

    def __init__(self, seed=1, orders=1000, products=50, customers=200, clock=time.time):
        if orders and not products:
            raise ValueError("orders need at least one product")
        self.seed = seed
        self.clock = clock
        self.lock = threading.RLock()
        self.rng = random.Random(seed)
        self.customers = Collection(CustomerFactory(seed, customers))
        self.products = Collection(ProductFactory(seed, products))
        self.orders = Collection(OrderFactory(seed, orders, self.customers.factory,
                                              self.products.factory))
        self._listeners = []
        self._made = itertools.count(1)  # refunds, transactions and fulfillments made here
        self.transactions = {}  # order id: transactions made here, in order
        self._owners = {}  # ("refunds" or "fulfillments", id): id of the created or changed order

    @classmethod
    def generate(cls, seed=1, orders=1000, products=50, customers=200):
        """Return a store whose data is a pure function of `seed` and the counts."""
        return cls(seed, orders, products, customers)

    def collection(self, kind):
        """Return the Collection of "orders", "products" or "customers"."""
        return {"orders": self.orders, "products": self.products,
                "customers": self.customers}[kind]

    def add_listener(self, listener):
        """Call `listener(event)` after every change."""
        self._listeners.append(listener)

    def remove_listener(self, listener):
        """Stop calling `listener`."""
        self._listeners.remove(listener)

    def ids(self, kind, **params):
        """Return the live ids matching REST list filters (orders default to status=open)."""
        filters = query.Filters.parse(kind, {k: str(v) for k, v in params.items()})
        with self.lock:
            return [row.id for row in filters.rows(self.collection(kind))]

    def count(self, kind, **params):
        """Count the live records matching REST list filters."""
        return len(self.ids(kind, **params))

    def get_order(self, order_id):
        """Return a copy of an order, or None."""
        with self.lock:
            return self.orders.get(order_id)

    def order_transactions(self, order_id):
        """Return every transaction of an order, oldest first, or None for an unknown order."""
        with self.lock:
            order = self.orders.get(order_id)
            return None if order is None else books.order_transactions(
                order, self.transactions.get(order_id, []))

    def owner(self, kind, item_id):
        """Return the id of the order listing a refund or fulfillment (`kind`: "refunds",
        "fulfillments") once, or None: the order may list it no more."""
        found = self._owners.get((kind, item_id))
        if found is None and kind == "refunds":
            found = self.orders.factory.refund_owner(item_id)
        return found

    def get_product(self, product_id):
        """Return a copy of a product, or None."""
        with self.lock:
            return self.products.get(product_id)

    def get_customer(self, customer_id):
        """Return a copy of a customer, or None."""
        with self.lock:
            return self.customers.get(customer_id)

    def create_order(self, **fields):
        """Create an open order (fields override the generated ones); emit orders/create."""
        return self._create("orders", fields)

    def update_order(self, order_id, **changes):
        """Change an order and bump updated_at; emit orders/updated (and paid/fulfilled/...)."""
        return self._update("orders", order_id, changes)

    def cancel_order(self, order_id, reason="customer"):
        """Cancel and close an order, refunding and restocking what is left of it; emit
        refunds/create (and its transaction) and orders/cancelled with orders/updated."""
        with self.lock:
            order = self._live("orders", order_id)
            now = iso(self._tick(order))
            refund = self._refund(order, now, None, True, "cancel")
            status = "refunded" if order["financial_status"] in books.PAID else "voided"
            return self._update("orders", order_id, {
                "cancelled_at": now, "cancel_reason": reason, "closed_at": now,
                "financial_status": status, "refunds": [*order["refunds"], refund],
                "updated_at": now})

    def pay_order(self, order_id):
        """Take a pending order's payment or capture an authorized one; emit
        order_transactions/create, orders/paid and orders/updated."""
        with self.lock:
            order = self._live("orders", order_id)
            if order["financial_status"] not in ("pending", "authorized"):
                raise ValueError(f"order {order_id} is {order['financial_status']}, not payable")
            now = iso(self._tick(order))
            kind = "capture" if order["financial_status"] == "authorized" else "sale"
            self._transact(order, kind, to_cents(order["total_price"]), now)
            return self._update("orders", order_id, {"financial_status": "paid", "updated_at": now})

    def refund_order(self, order_id, quantities=None, shipping=False, restock_type="return"):
        """Refund `quantities` ({line id: n}, default all that is left) of a paid order, and
        its shipping if asked; emit refunds/create, its transaction and orders/updated."""
        with self.lock:
            order = self._live("orders", order_id)
            if order["financial_status"] not in ("paid", "partially_refunded"):
                raise ValueError(f"order {order_id} is {order['financial_status']}, not refundable")
            now = iso(self._tick(order))
            refund = self._refund(order, now, quantities, shipping, restock_type)
            refunds = [*order["refunds"], refund]
            back = sum(to_cents(t["amount_set"]["shop_money"]["amount"])
                       for r in refunds for t in r["transactions"])
            status = "refunded" if back >= to_cents(order["total_price"]) else "partially_refunded"
            return self._update("orders", order_id, {"refunds": refunds, "financial_status": status,
                                                     "updated_at": now})

    def fulfill_order(self, order_id, quantities=None):
        """Ship `quantities` ({line id: n}, default all that is left) of an order; emit
        fulfillments/create and orders/fulfilled or orders/partially_fulfilled."""
        with self.lock:
            order = self._live("orders", order_id)
            now = iso(self._tick(order))
            done = books.fulfilled_quantities(order)
            left = {line["id"]: line["quantity"] - done.get(line["id"], 0)
                    for line in order["line_items"]}
            quantities = quantities or {k: n for k, n in left.items() if n > 0}
            shipment = books.fulfillment(order, CREATED_FULFILLMENTS + next(self._made), now,
                                         quantities)
            self._emit(("fulfillments/create",), shipment)
            complete = all(quantities.get(k, 0) >= n for k, n in left.items())
            return self._update("orders", order_id, {
                "fulfillments": [*order["fulfillments"], shipment], "updated_at": now,
                "fulfillment_status": "fulfilled" if complete else "partial"})

    def update_fulfillment(self, order_id, fulfillment_id, **changes):
        """Change a fulfillment (e.g. its shipment_status); emit fulfillments/update and
        orders/updated."""
        with self.lock:
            order = self._live("orders", order_id)
            now = iso(self._tick(order))
            shipments = [{**f, **changes, "updated_at": now} if f["id"] == fulfillment_id else f
                         for f in order["fulfillments"]]
            self._emit(("fulfillments/update",),
                       next(f for f in shipments if f["id"] == fulfillment_id))
            return self._update("orders", order_id, {"fulfillments": shipments, "updated_at": now})

    def _refund(self, order, now, quantities, shipping, restock_type):
        """Make a refund of an order and emit it and its transactions; return it."""
        made = next(self._made)
        refund = books.refund(order, CREATED_REFUNDS + made * 10,
                              CREATED_TRANSACTIONS + made * 10, now, quantities, shipping,
                              restock_type)
        self._emit(("refunds/create",), refund)
        for transaction in refund["transactions"]:
            self._record_transaction(transaction)
        return refund

    def _transact(self, order, kind, cents, now):
        """Make a successful transaction of an order and emit it."""
        made = next(self._made)
        self._record_transaction(books.transaction(order, CREATED_TRANSACTIONS + made * 10, kind,
                                                   cents, now))

    def _record_transaction(self, transaction):
        self.transactions.setdefault(transaction["order_id"], []).append(transaction)
        self._emit(("order_transactions/create",), transaction)

    def close_order(self, order_id):
        """Close (archive) an order; emit orders/updated."""
        with self.lock:
            now = iso(self._tick(self._live("orders", order_id)))
            return self._update("orders", order_id, {"closed_at": now, "updated_at": now})

    def delete_order(self, order_id):
        """Delete an order; emit orders/delete with only its id."""
        self._delete("orders", order_id)

    def create_product(self, **fields):
        """Create a product; emit products/create."""
        return self._create("products", fields)

    def update_product(self, product_id, **changes):
        """Change a product and bump updated_at; emit products/update."""
        return self._update("products", product_id, changes)

    def delete_product(self, product_id):
        """Delete a product; emit products/delete."""
        self._delete("products", product_id)

    def create_customer(self, **fields):
        """Create a customer; emit customers/create."""
        return self._create("customers", fields)

    def update_customer(self, customer_id, **changes):
        """Change a customer and bump updated_at; emit customers/update."""
        return self._update("customers", customer_id, changes)

    def delete_customer(self, customer_id):
        """Delete a customer; emit customers/delete."""
        self._delete("customers", customer_id)

    def _live(self, kind, record_id):
        """Return the current record of a live id (shared), or raise KeyError."""
        collection = self.collection(kind)
        row = collection.row(record_id)
        if row is None:
            raise KeyError(f"no {kind[:-1]} {record_id}")
        return collection.record(row)

    def _tick(self, record):
        """Return a time strictly after the record's updated_at: each change bumps it."""
        return max(int(self.clock()), int(parse_time(record["updated_at"])) + 1)

    def _create(self, kind, fields):
        with self.lock:
            collection = self.collection(kind)
            record_id = fields.get("id") or collection.max_id + self.rng.randrange(1, data.STRIDE)
            taken = record_id in collection or collection.factory.ids.index(record_id) is not None
            if taken or not 0 < record_id <= data.MAX_ID:
                raise ValueError(f"cannot create {kind[:-1]} with id {record_id}")
            now = int(self.clock())
            index, collection.next_index = collection.next_index, collection.next_index + 1
            record = collection.factory.build(index, Row(record_id, now, now))
            record.update(copy.deepcopy(fields))
            if kind == "orders" and "total_price" not in fields:
                apply_totals(record)
            self._put(kind, record)
            paid = kind == "orders" and record["financial_status"] == "paid"
            self._emit((f"{kind}/create", "orders/paid") if paid else (f"{kind}/create",), record)
            if kind == "orders" and record["financial_status"] in ("paid", "authorized"):
                self._transact(record, "sale" if paid else "authorization",
                               to_cents(record["total_price"]), record["created_at"])
            return copy.deepcopy(record)

    def _update(self, kind, record_id, changes):
        if changes.get("id", record_id) != record_id:
            raise ValueError("ids never change")
        with self.lock:
            old = self._live(kind, record_id)
            record = copy.deepcopy(old)
            record.update(copy.deepcopy(changes))
            if "updated_at" not in changes:
                record["updated_at"] = iso(self._tick(old))
            if kind == "orders" and MONEY_FIELDS & changes.keys() and "total_price" not in changes:
                apply_totals(record)
            self._put(kind, record)
            self._emit(self._update_topics(kind, old, record), record)
            return copy.deepcopy(record)

    def _put(self, kind, record):
        """Store a created or changed record; note the order of its refunds and fulfillments."""
        self.collection(kind).put(record)
        if kind == "orders":
            for name in ("refunds", "fulfillments"):
                for item in record.get(name) or []:
                    self._owners[(name, item["id"])] = record["id"]

    @staticmethod
    def _update_topics(kind, old, new):
        """Return the topics a change triggers: */update(d), plus order state topics."""
        topics = [UPDATE_TOPIC[kind]]
        if kind == "orders":
            for field, value, topic in (
                    ("financial_status", "paid", "orders/paid"),
                    ("fulfillment_status", "fulfilled", "orders/fulfilled"),
                    ("fulfillment_status", "partial", "orders/partially_fulfilled")):
                if new.get(field) == value != old.get(field):
                    topics.append(topic)
            if new.get("cancelled_at") and not old.get("cancelled_at"):
                topics.append("orders/cancelled")
        return tuple(topics)

    def _delete(self, kind, record_id):
        with self.lock:
            self._live(kind, record_id)
            self.collection(kind).delete(record_id)
            self._emit((f"{kind}/delete",), {"id": record_id})

    def _emit(self, topics, payload):
        """Tell every listener about a change (called with the lock held, in change order)."""
        if self._listeners:
            moment = datetime.fromtimestamp(self.clock(), UTC).isoformat().replace("+00:00", "Z")
            event = Event(str(uuid.uuid4()), topics, payload, moment)
            for listener in list(self._listeners):
                listener(event)
