"""Processing: a burst of order webhooks through gunicorn, RQ and worker.py, against direct upserts.

The burst: ORDERS orders created, a third of them updated once (the newer version), and
for REORDERED of those the update delivered before the create; then 20% of the deliveries
sent twice. The baseline upserts the same unique deliveries, in the same order, with
`sync.upsert_order` in one `write_transaction()` each, in this process; a second one writes
them a drain's batch to a transaction with `sync.upsert_orders`. The workers' rate is
measured once the burst is stored: with 1 worker (per-worker rate), then with 2.
"""

import datetime as dt
import json
import random
import time

from peewee import fn
from rq import Queue, Worker

from bench.common import (
    Clients,
    Deliveries,
    Row,
    close_database,
    fresh_schema,
    make_app,
)
from shopsync.db import db, write_transaction
from shopsync.ledger_schemas import OrderSchema
from shopsync.models import Order, OrderLineItem, WebhookLog, WebhookStatus
from shopsync.pending import BATCH_SIZE
from shopsync.queue import connect
from shopsync.simulator import Store
from shopsync.sync import upsert_order, upsert_orders
from shopsync.testing.processes import Processes, wait_until

WEB_WORKERS = 4
DUPLICATE_SHARE = 0.20  # of all deliveries
REORDERED_SHARE = 0.05  # of all deliveries: an update that arrives before the create it follows
UPDATE_DELAY = dt.timedelta(hours=1)  # between an order's creation and its update


def burst(total, seed=5):
    """Return (unique deliveries in order, deliveries with resends, newest version by order id)."""
    unique = round(total * (1 - DUPLICATE_SHARE))
    orders = unique * 3 // 4
    reordered = round(total * REORDERED_SHARE)
    store = Store.generate(seed=seed, orders=orders, products=50, customers=500)
    rng = random.Random(seed)
    created = list(store.orders)
    updated = [_newer(order, rng) for order in rng.sample(created, unique - orders)]
    late = {order["id"] for order in updated[:reordered]}
    sequence = [("orders/updated", order) for order in updated if order["id"] in late]
    sequence += [("orders/create", order) for order in created]
    sequence += [("orders/updated", order) for order in updated if order["id"] not in late]
    bodies = tuple(json.dumps(order, ensure_ascii=False).encode() for _, order in sequence)
    items = [(i, topic, f"burst-{i}") for i, (topic, _) in enumerate(sequence)]
    # A resend goes anywhere after its first delivery.
    keyed = [(i, item) for i, item in enumerate(items)]
    keyed += [(rng.uniform(i, len(items)), items[i]) for i in rng.sample(range(unique), total - unique)]
    resent = [item for _, item in sorted(keyed, key=lambda pair: pair[0])]
    newest = {order["id"]: order for order in created}
    newest.update({order["id"]: order for order in updated})
    return sequence, Deliveries(bodies, tuple(resent)), newest


def _newer(order, rng):
    """Return `order` changed an hour later: another email and a later updated_at."""
    later = dt.datetime.fromisoformat(order["updated_at"]) + UPDATE_DELAY
    return {**order, "email": f"changed-{rng.randrange(10**9)}@example.com",
            "updated_at": later.isoformat()}


def direct_rate(sequence):
    """Upsert the unique deliveries directly, one transaction each; return orders per second."""
    loaded = [OrderSchema().load(order) for _, order in sequence]
    started = time.perf_counter()
    for data in loaded:
        with write_transaction():
            upsert_order(data)
    return len(loaded) / (time.perf_counter() - started)


def bulk_rate(sequence):
    """Upsert the unique deliveries directly, a drain's batch to a transaction with one statement
    per table (an order seen twice in a batch in its newest version); return orders per second."""
    loaded = [OrderSchema().load(order) for _, order in sequence]
    started = time.perf_counter()
    for first in range(0, len(loaded), BATCH_SIZE):
        newest = {}
        for data in loaded[first:first + BATCH_SIZE]:
            if data["id"] not in newest or newest[data["id"]]["updated_at"] <= data["updated_at"]:
                newest[data["id"]] = data
        with write_transaction():
            upsert_orders(list(newest.values()))
    return len(loaded) / (time.perf_counter() - started)


def run(ctx):
    """Measure the burst's processing against direct upserts; return rows."""
    total = 200 if ctx.quick else 20_000
    sequence, deliveries, newest = burst(total)
    app = make_app(ctx)
    with app.app_context(), db.connection_context():
        fresh_schema()
        baseline = direct_rate(sequence)
        fresh_schema()
        bulk = bulk_rate(sequence)
        fresh_schema()
    close_database()
    procs = Processes(ctx.env(), ctx.workdir)
    try:
        url = procs.web("wsgi:app", WEB_WORKERS)
        with Clients() as clients:
            posted = clients.post(url, deliveries)
        with app.app_context():
            rates = _drain(ctx, procs, len(sequence), timeout=60 if ctx.quick else 900)
    finally:
        procs.stop()
    with app.app_context(), db.connection_context():
        lost = _check(newest, len(sequence), len(deliveries.items) - len(sequence))
    close_database()
    return _rows(posted, rates, (baseline, bulk), lost, len(sequence), len(deliveries.items))


def _done():
    """Return (time, webhooks no longer pending)."""
    with db.connection_context():
        return time.monotonic(), WebhookLog.select().where(
            WebhookLog.status != WebhookStatus.PENDING).count()


def _reach(count, timeout):
    """Wait until `count` webhooks are done; return (time, done)."""
    def reached():
        moment, done = _done()
        return (moment, done) if done >= count else None

    return wait_until(reached, timeout, interval=0.1, message=f"{count} webhooks done")


def _rate(first, last):
    """Return webhooks done per second between two (time, done) readings."""
    return (last[1] - first[1]) / (last[0] - first[0]) if last[0] > first[0] else None


def _drain(ctx, procs, unique, timeout):
    """Run 1 worker over half the backlog, then 2 over the rest; return their rates."""
    queue = Queue(ctx.queue, connection=connect(ctx.redis_url))
    procs.worker()
    start = _reach(1, 30)
    one = _reach(start[1] + (unique - start[1]) // 2, timeout)
    procs.worker()
    wait_until(lambda: Worker.count(queue=queue) >= 2, 30, message="the second worker")
    two = _done()
    end = _reach(unique, timeout)
    return {"one": _rate(start, one), "two": _rate(two, end)}


def _check(newest, unique, duplicates):
    """Return how many orders are missing or not at their newest version, and webhook counts."""
    orders = {o.shopify_id: o for o in Order.select(Order.shopify_id, Order.email, Order.updated_at)}
    wrong = sum(1 for order_id, order in newest.items()
                if order_id not in orders or orders[order_id].email != order["email"])
    lines = sum(len(order["line_items"]) for order in newest.values())
    counted = {
        "orders wrong or missing": wrong,
        "line items missing": lines - OrderLineItem.select().count(),
        "webhooks not processed": unique - WebhookLog.select().where(
            WebhookLog.status == WebhookStatus.PROCESSED).count(),
        "duplicates not counted": duplicates - (WebhookLog.select(
            fn.SUM(WebhookLog.duplicates)).scalar() or 0),
    }
    return counted


def _rows(posted, rates, baselines, lost, unique, total):
    """Turn the measurements into result rows."""
    baseline, bulk = baselines
    rows = [Row("processing", f"burst posted: {total:,} deliveries, {unique:,} unique", posted.rate,
                "req/s", target="all 200", met=posted.statuses.get(200) == total)]
    rows += [Row("processing", name, count, "", target="0", met=count == 0)
             for name, count in lost.items()]
    if rates["one"]:
        rows.append(Row("processing", "orders/s, 1 worker (per-worker rate)", rates["one"],
                        "orders/s", baseline, "direct Peewee upserts, 1 process", "≥ 0.5× direct",
                        rates["one"] >= 0.5 * baseline))
        rows.append(Row("processing", "orders/s, 1 worker, against bulk upserts", rates["one"],
                        "orders/s", bulk, f"direct, {BATCH_SIZE} a transaction, 1 process"))
    if rates["two"]:
        rows.append(Row("processing", "orders/s, 2 workers", rates["two"], "orders/s", baseline,
                        "direct Peewee upserts, 1 process"))
    return rows
