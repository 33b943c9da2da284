"""Ingest: the webhook endpoint against a no-op Flask endpoint on the same gunicorn setup.

The bare receiver (bench/bare_receiver.py) is measured beside them: the floor of any
endpoint that stores a delivery before answering. All three run under gunicorn with
WEB_WORKERS sync workers, fed by 2 client processes of 8 threads with signed order
deliveries (each a new webhook id). Throughput is measured in a closed loop, the three
taking turns (8 rounds of 1.25 s, 10 s each in all, the order rotating every round) so that
a neighbour's load on this shared machine falls on all three alike; each ratio row shows its
lowest and highest ratio within a round. Latency is measured in an open loop at half the
endpoint's throughput, first with the RQ workers stopped (pending webhooks only pile up),
then with 2 workers draining a backlog they cannot finish (saturated).
"""

import json

from rq import Queue, Worker

from bench.common import (
    ROUNDS,
    Clients,
    Deliveries,
    Row,
    backend_pids,
    close_database,
    cpu_by_process,
    fresh_schema,
    in_turns,
    make_app,
)
from shopsync.db import db
from shopsync.health import percentile
from shopsync.models import WebhookLog, WebhookStatus
from shopsync.queue import connect
from shopsync.simulator import Store
from shopsync.testing.processes import Processes, wait_until

WEB_WORKERS = 4  # gunicorn sync workers, for both endpoints: 2 per core
BODIES = 200  # distinct order bodies, reused under new webhook ids
MAX_RATE = 6000  # requests/s no endpoint here reaches; bounds the deliveries prepared


def order_bodies(count, seed=11):
    """Return `count` distinct order payloads from the simulator, as bytes."""
    store = Store.generate(seed=seed, orders=count, products=50, customers=200)
    return tuple(json.dumps(order, ensure_ascii=False).encode() for order in store.orders)


def deliveries(bodies, prefix, count):
    """Return `count` orders/create deliveries with webhook ids `prefix-i`."""
    return Deliveries(bodies, tuple((i % len(bodies), "orders/create", f"{prefix}-{i}")
                                    for i in range(count)))


def run(ctx):
    """Measure ingest throughput and latency against the no-op endpoint; return rows."""
    seconds, rounds = (0.5, 2) if ctx.quick else (10.0, ROUNDS)
    app = make_app(ctx)
    with app.app_context(), db.connection_context():
        fresh_schema()
    close_database()
    bodies = order_bodies(20 if ctx.quick else BODIES)
    batch = int(MAX_RATE * seconds / rounds)
    procs = Processes(ctx.env(), ctx.workdir)
    try:
        with Clients(*((1, 4) if ctx.quick else (2, 8))) as clients:
            hook_url, noop_url, bare_url = [procs.web(app, WEB_WORKERS) for app in (
                "wsgi:app", "bench.noop:app", "bench.bare_receiver:app")]
            warm = deliveries(bodies, "warm", 20 * WEB_WORKERS)  # every gunicorn worker connected
            load = {"hook_warm": clients.post(hook_url, warm), "noop_warm": clients.post(noop_url, warm),
                    "bare_warm": clients.post(bare_url, deliveries(bodies, "bare-warm", len(warm.items)))}
            turns = in_turns(clients, {"hook": hook_url, "bare": bare_url, "noop": noop_url},
                             lambda name, k: deliveries(bodies, f"{name}-{k}", batch), seconds, rounds,
                             lambda url: [cpu_by_process([procs.servers[url].pid]),
                                          cpu_by_process(backend_pids(ctx.database_url))])
            load.update(turns.loads)
            half = load["hook"].rate / 2
            paced = deliveries(bodies, "half", int(half * seconds) + 1)
            load["noop_half"] = clients.post(noop_url, paced, rate=half, duration=seconds)
            load["hook_half"] = clients.post(hook_url, paced, rate=half, duration=seconds)
            backlog = _saturate(ctx, app, procs, clients, hook_url, bodies, half, seconds, load)
    finally:
        procs.stop()
        if ctx.redis_url:
            Queue(ctx.queue, connection=connect(ctx.redis_url)).empty()  # and the jobs' hashes
    with app.app_context(), db.connection_context():
        stored = WebhookLog.select().where(~WebhookLog.id.startswith("bare-")).count()
    close_database()
    return _rows(load, turns, half, stored, backlog)


def _saturate(ctx, app, procs, clients, url, bodies, rate, seconds, load):
    """Post at `rate` while 2 workers drain the backlog into load["busy_half"]; return the
    pending webhooks (before, after), or None without a shared Redis."""
    if not ctx.redis_url:
        return None  # the in-process Redis stand-in of each gunicorn worker is out of reach
    procs.worker()
    procs.worker()
    # Measured once both are draining, not while they start up.
    queue = Queue(ctx.queue, connection=connect(ctx.redis_url))
    wait_until(lambda: Worker.count(queue=queue) >= 2, 30, message="2 workers")
    started = _pending(app)
    (before,) = wait_until(lambda: _fewer_pending(app, started), 30, 0.5, message="draining")
    load["busy_half"] = clients.post(url, deliveries(bodies, "busy", int(rate * seconds) + 1),
                                     rate=rate, duration=seconds)
    return before, _pending(app)


def _fewer_pending(app, count):
    """Return (pending,) once fewer than `count` webhooks wait, else None."""
    pending = _pending(app)
    return (pending,) if pending < count else None


def _pending(app):
    """Return how many stored webhooks wait to be applied."""
    with app.app_context(), db.connection_context():
        pending = WebhookLog.select().where(WebhookLog.status == WebhookStatus.PENDING).count()
    close_database()
    return pending


def _rows(load, turns, half, stored, backlog):
    """Turn the loads into result rows."""
    hook, noop, bare = load["hook"], load["noop"], load["bare"]
    rows = [Row("ingest", f"throughput, webhook endpoint ({turns.plan()}; {turns.spread('hook', 'noop')})",
                hook.rate, "req/s", noop.rate,
                "no-op Flask endpoint", "≥ 0.5× no-op", hook.rate >= 0.5 * noop.rate),
            Row("ingest", f"throughput, bare receiver (the floor; {turns.spread('bare', 'noop')})",
                bare.rate, "req/s", noop.rate, "no-op Flask endpoint"),
            Row("ingest", f"throughput, webhook endpoint against the floor ({turns.spread('hook', 'bare')})",
                hook.rate, "req/s", bare.rate, "bare receiver")]
    noop_web = turns.cpu["noop"][0] / noop.sent * 1000
    for key, label in (("hook", "webhook endpoint"), ("bare", "bare receiver")):
        web, database = (seconds / load[key].sent * 1000 for seconds in turns.cpu[key])
        rows.append(Row("ingest", f"CPU per request in gunicorn, {label}", web, "ms", noop_web,
                        "no-op endpoint"))
        rows.append(Row("ingest", f"CPU per request in PostgreSQL, {label}", database, "ms"))
    noop_p99 = percentile(load["noop_half"].latencies, 0.99) * 1000
    for key, label in (("hook_half", "workers stopped"), ("busy_half", "2 workers saturated")):
        if key not in load:
            continue
        p99 = percentile(load[key].latencies, 0.99) * 1000
        rows.append(Row("ingest", f"p99 latency at half load ({half:.0f} req/s), {label}", p99, "ms",
                        noop_p99, "no-op endpoint at the same load", "< 50 ms", p99 < 50))
        rows.append(Row("ingest", f"p50 latency at half load, {label}",
                        percentile(load[key].latencies, 0.50) * 1000, "ms"))
    if backlog:
        before, after = backlog
        rows.append(Row("ingest", "webhooks pending while saturated (start → end)", after,
                        "webhooks", before, "pending at start", "> 0 at end", after > 0))
    errors = sum(n for key in load for status, n in load[key].statuses.items() if status != 200)
    sent = sum(load[key].sent for key in load if key.startswith(("hook", "busy")))
    rows.append(Row("ingest", "non-200 answers", errors, "requests", target="0", met=errors == 0))
    rows.append(Row("ingest", "deliveries stored", stored, "rows", sent, "answered by the endpoint",
                    "all", stored == sent))
    return rows
