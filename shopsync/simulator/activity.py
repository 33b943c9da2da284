"""Random store activity, so a running simulator shows live orders and webhooks."""

import random
import threading

from shopsync.simulator import books
from shopsync.simulator.store import Store

CHANGES = {"create_order": 40, "pay_order": 15, "fulfill_order": 15, "cancel_order": 5,
           "refund_order": 8, "track_shipment": 4, "update_product": 10, "update_customer": 10,
           "create_customer": 5}


def _pick(collection, rng):
    """Return a random live id of a collection, or None."""
    for _ in range(5):
        if collection.factory.n:
            record_id = collection.factory.ids[rng.randrange(collection.factory.n)]
            if record_id in collection:
                return record_id
    return None


def random_change(store: Store, rng: random.Random):
    """Make one plausible change to the store and return its name."""
    with store.lock:
        change = rng.choices(list(CHANGES), weights=list(CHANGES.values()))[0]
        recent = [store.orders.get(i) for i in store.orders.created_ids[-20:]]
        open_orders = [order for order in recent if not order["closed_at"]]
        order = rng.choice(open_orders) if open_orders else None
        if change == "pay_order" and order and order["financial_status"] in ("pending",
                                                                               "authorized"):
            store.pay_order(order["id"])
        elif change == "fulfill_order" and order and order["financial_status"] == "paid":
            _fulfill(store, order, rng)
        elif change == "refund_order" and order and order["financial_status"] in (
                "paid", "partially_refunded"):
            _refund(store, order, rng)
        elif change == "track_shipment" and (shipped := [o for o in recent if o["fulfillments"]]):
            shipment = rng.choice(shipped)
            store.update_fulfillment(shipment["id"], shipment["fulfillments"][-1]["id"],
                                     shipment_status=rng.choice(["in_transit", "delivered"]))
        elif change == "cancel_order" and order:
            store.cancel_order(order["id"], reason=rng.choice(["customer", "inventory"]))
        elif change == "update_product" and (product_id := _pick(store.products, rng)):
            variants = store.get_product(product_id)["variants"]
            variants[0]["inventory_quantity"] = rng.randrange(0, 100)
            store.update_product(product_id, variants=variants)
        elif change == "update_customer" and (customer_id := _pick(store.customers, rng)):
            store.update_customer(customer_id, tags=rng.choice(["", "vip", "wholesale"]))
        elif change == "create_customer":
            store.create_customer()
        else:
            store.create_order()
            change = "create_order"
        return change


def _fulfill(store, order, rng):
    """Ship an order: all of it, then close it, or its first line alone."""
    lines = order["line_items"]
    if len(lines) > 1 and not order["fulfillments"] and rng.random() < 0.3:
        store.fulfill_order(order["id"], {lines[0]["id"]: lines[0]["quantity"]})
        return
    store.fulfill_order(order["id"])
    store.close_order(order["id"])


def _refund(store, order, rng):
    """Refund one unit of a line not yet refunded in full, with the shipping now and then."""
    done = books.refunded_quantities(order)
    left = [line for line in order["line_items"] if line["quantity"] > done.get(line["id"], 0)]
    if left:
        line = rng.choice(left)
        store.refund_order(order["id"], {line["id"]: 1}, shipping=rng.random() < 0.3,
                           restock_type=rng.choice(["return", "no_restock"]))


class Activity:
    """A background thread making about `rate` random changes per second to a store."""

    def __init__(self, store, rate=1.0, seed=0):
        self.store, self.rate = store, rate
        self.rng = random.Random(seed)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="store-activity")

    def start(self):
        """Start changing the store; return self."""
        self._thread.start()
        return self

    def stop(self):
        """Stop changing the store."""
        self._stop.set()
        self._thread.join()

    def _run(self):
        while not self._stop.wait(self.rng.expovariate(self.rate)):
            random_change(self.store, self.rng)
