"""Backfill: orders from the simulator behind Shopify's leaky bucket, against the rate-limit ceiling;
and through a bulk operation, against direct bulk upserts of the same orders.

The simulator runs in its own process (`python -m shopsync.simulator`), so it does not take
the backfill's interpreter; each backfill runs in a fresh process that reports its own peak
RSS. The ceiling: a backfill asks for ceil(N/250) pages of orders and, for each order, its
transactions (REST orders do not carry them); the first BUCKET requests go at once, every
further one costs 1/LEAK_RATE s, so N orders take at least
(ceil(N/250) + N - BUCKET) / LEAK_RATE s.

A bulk backfill's time has two parts: the simulator running the bulk query (Shopify's
side: not shopsync's to speed up, and the simulator builds its orders far slower than
Shopify) and shopsync streaming and applying the results. The apply phases are what is
compared with `ingest.apply_records` upserting the same generated orders, page by page.

On a PostgreSQL server whose autovacuum is off (this machine's), every phase runs with
`common.autoanalyzed`, an ANALYZE every 30 s as autovacuum would; without it each page's
deletes scan the order lines whole, the slower the larger the store.

    python -m bench.backfill BASE_URL DATABASE_URL LEAK_RATE   # one REST backfill, prints JSON
    python -m bench.backfill bulk BASE_URL DATABASE_URL        # one bulk backfill, prints JSON
    python -m bench.backfill direct ORDERS DATABASE_URL        # direct upserts, prints JSON
    python -m bench.backfill simulate ORDERS   # the simulator's bulk query alone, prints JSON
"""

import json
import math
import select
import subprocess
import sys
import time

from bench import bulk_books
from bench.common import ROOT, SESSION_KEY, Row, autoanalyzed, fresh_schema, peak_rss_mb
from shopsync import backfill, bulk_backfill, create_app
from shopsync.bulk_run import BulkRun
from shopsync.db import db
from shopsync.ingest import apply_records
from shopsync.models import Order
from shopsync.shopify import AdminClient, ShopifyClient
from shopsync.shopify.bulk import PARTS
from shopsync.simulator import SimulatorServer, Store

PAGE = 250
# Shopify Plus REST limits: at the classic 40-deep, 2/s a backfill of 10,000 orders, a call an
# order for its transactions, takes 83 minutes.
FULL = {"sizes": (1_000, 10_000), "bucket": 400, "leak_rate": 20.0}
QUICK = {"sizes": (100, 300), "bucket": 1, "leak_rate": 4.0}
CLASSIC_RESTORE = 50.0  # GraphQL cost points restored per second, Shopify's classic figure
REPORT_TIMEOUT = 6 * 3600  # seconds: a 1,000,000-order bulk backfill took 31 minutes here
SIMULATOR_DEFAULTS = {"products": 50, "customers": 200}  # python -m shopsync.simulator's


def ceiling(orders, bucket, leak_rate):
    """Return the most orders/s the bucket allows for a backfill of `orders` (None: unbounded):
    a request a page, and one an order for its transactions."""
    seconds = (math.ceil(orders / PAGE) + orders - bucket) / leak_rate
    return orders / seconds if seconds > 0 else None


def backfill_once(base_url, database_url, leak_rate):
    """Backfill every order into a fresh schema; return what it did, its time and peak RSS."""
    with _app(base_url, database_url).app_context(), db.connection_context(), \
            autoanalyzed(database_url):
        fresh_schema()
        run_id = backfill.prepare_run("orders").id
        client = ShopifyClient(base_url, "shpat_test", leak_rate=leak_rate)
        started = time.monotonic()
        run = backfill.run_backfill(run_id, client=client)
        seconds = time.monotonic() - started
    return {"status": run.status.value, "fetched": run.fetched, "stored": run.stored,
            "seconds": seconds, "requests": client.request_count,
            "throttled": client.throttled_count, "peak_rss_mb": peak_rss_mb()}


def _app(base_url, database_url):
    return create_app({"DATABASE_URL": database_url, "REDIS_URL": None,
                       "SHOPIFY_API_BASE_URL": base_url, "SECRET_KEY": SESSION_KEY})


def bulk_once(base_url, database_url):
    """Backfill every order through bulk operations into a fresh schema; return its figures.

    `apply_seconds`: from each operation's end (as the run saw it) to its last applied page.
    """
    with _app(base_url, database_url).app_context(), db.connection_context(), \
            autoanalyzed(database_url):
        fresh_schema()
        run_id = bulk_backfill.prepare_run("orders").id
        client = AdminClient(base_url, "shpat_test")
        started = time.monotonic()
        run = bulk_backfill.run_bulk_backfill(run_id, client=client, poll=0.2, step=0.05)
        seconds = time.monotonic() - started
        parts = list(BulkRun.select().where(BulkRun.backfill == run_id))
    return {"status": run.status.value, "error": run.error, "stored": run.stored,
            "seconds": seconds, "requests": client.request_count,
            "apply_seconds": sum((p.updated_at - p.finished_at).total_seconds() for p in parts),
            "graphql_points": client.actual_cost,
            "lines": sum(p.lines_applied for p in parts), "peak_rss_mb": peak_rss_mb()}


def direct_once(orders, database_url):
    """Upsert the simulator's generated orders with `apply_records`, a page at a time, into a
    fresh schema; return the orders stored and the seconds the upserts took."""
    store = Store.generate(1, orders, **SIMULATOR_DEFAULTS)
    ids = store.ids("orders", status="any")
    seconds = 0.0
    with _app("http://unused", database_url).app_context(), db.connection_context(), \
            autoanalyzed(database_url):
        fresh_schema()
        for start in range(0, len(ids), PAGE):
            page = [store.get_order(i) for i in ids[start:start + PAGE]]
            began = time.monotonic()
            apply_records("order", page)
            seconds += time.monotonic() - began
        stored = Order.select().count()
    return {"stored": stored, "seconds": seconds, "peak_rss_mb": peak_rss_mb()}


def simulate_once(orders):
    """Run the orders bulk query in a simulator of this process (Shopify's side alone); return
    its figures: orders/s by the clock and per CPU second, the JSONL's size, peak RSS."""
    with SimulatorServer(Store.generate(1, orders, **SIMULATOR_DEFAULTS)) as sim:
        operation, _ = sim.bulk.run_query(PARTS["orders"][0].query)
        began, cpu = time.monotonic(), time.process_time()
        while operation.status in ("CREATED", "RUNNING"):
            time.sleep(0.05)
        seconds, cpu = time.monotonic() - began, time.process_time() - cpu
        return {"status": operation.status, "orders": operation.root_object_count,
                "lines": operation.object_count, "bytes": operation.file_size,
                "seconds": seconds, "orders_per_s": orders / seconds,
                "orders_per_cpu_s": orders / cpu, "peak_rss_mb": peak_rss_mb()}


def _simulator(orders, bucket, leak_rate, graphql_restore_rate=None):
    """Start the simulator in its own process; return (process, API base URL)."""
    restore = ["--graphql-restore-rate", str(graphql_restore_rate)] if graphql_restore_rate else []
    proc = subprocess.Popen([sys.executable, "-m", "shopsync.simulator", "--port", "0",
                             "--orders", str(orders), "--bucket-size", str(bucket),
                             "--leak-rate", str(leak_rate), *restore],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    ready, _, _ = select.select([proc.stdout], [], [], 60)
    if not ready:
        proc.kill()
        raise TimeoutError("the simulator did not start")
    return proc, proc.stdout.readline().strip()


def _report(*args):
    """Run `python -m bench.backfill ARGS` in a fresh process; return the JSON it prints."""
    out = subprocess.run([sys.executable, "-m", "bench.backfill", *map(str, args)], cwd=ROOT,
                         capture_output=True, text=True, timeout=REPORT_TIMEOUT, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def measure(ctx, orders, bucket, leak_rate, mode="rest"):
    """Backfill `orders` from a fresh simulator in a fresh process (REST or bulk); return its
    report."""
    simulator, base_url = _simulator(orders, bucket, leak_rate, ctx.graphql_restore_rate)
    try:
        if mode == "bulk":
            return _report("bulk", base_url, ctx.database_url)
        return _report(base_url, ctx.database_url, leak_rate)
    finally:
        simulator.terminate()
        simulator.wait(timeout=10)


def run(ctx):
    """Backfill the small and the large store; return rows."""
    spec = QUICK if ctx.quick else FULL
    small, large = spec["sizes"]
    reports = {n: measure(ctx, n, spec["bucket"], spec["leak_rate"]) for n in (small, large)}
    top = ceiling(large, spec["bucket"], spec["leak_rate"])
    rate = reports[large]["stored"] / reports[large]["seconds"]
    bucket = f"{spec['bucket']}-deep bucket, {spec['leak_rate']:g}/s"
    rows = [Row("backfill", f"orders/s, {large:,} orders ({bucket})", rate, "orders/s", top,
                "rate-limit ceiling", "≥ 0.9× ceiling", top is not None and rate >= 0.9 * top)]
    for n, report in reports.items():
        rows.append(Row("backfill", f"orders stored of {n:,} ({report['requests']} API calls, "
                                    f"{report['throttled']} throttled)", report["stored"], "orders",
                        n, "orders in the store", "all", report["stored"] == n
                        and report["status"] == "completed"))
    rows.append(Row("backfill", f"peak RSS, {large:,} orders", reports[large]["peak_rss_mb"], "MB",
                    reports[small]["peak_rss_mb"], f"peak RSS, {small:,} orders", "≤ 1.2×",
                    reports[large]["peak_rss_mb"] <= 1.2 * reports[small]["peak_rss_mb"]))
    rows.append(Row("backfill", f"orders/s, {small:,} orders",
                    reports[small]["stored"] / reports[small]["seconds"], "orders/s"))
    return rows


def bulk_rows(ctx, spec):
    """Backfill the small and the large store through bulk operations; return rows.

    Direct upserts are measured for the sizes up to spec["measured_up_to"] (always the small
    one): a larger store is set beside the largest measured. One REST backfill runs, of
    spec["rest_orders"]: other sizes get its time computed from its share of the ceiling.
    The rows say which.
    """
    sizes, bucket, leak_rate = spec["sizes"], spec["bucket"], spec["leak_rate"]
    bulk = {n: measure(ctx, n, bucket, leak_rate, "bulk") for n in sizes}
    measured = [n for n in sizes if n <= spec["measured_up_to"]] or [sizes[0]]
    rest = {spec["rest_orders"]: measure(ctx, spec["rest_orders"], bucket, leak_rate)}
    direct = {n: _report("direct", n, ctx.database_url) for n in measured}
    restore = (f", GraphQL restoring {ctx.graphql_restore_rate:,.0f} points/s"
               if ctx.graphql_restore_rate else "")
    rows = []
    for n, done in bulk.items():
        m = n if n in direct else max(direct)
        apply_rate, direct_rate = (done["stored"] / done["apply_seconds"],
                                   direct[m]["stored"] / direct[m]["seconds"])
        label = ("direct apply_records upserts of the same orders" if m == n else
                 f"direct apply_records upserts of the {m:,}-order store; not run for {n:,}")
        rows.append(Row("bulk", f"orders/s applied, {n:,} orders ({done['lines']:,} JSONL lines "
                                f"streamed{restore})", apply_rate, "orders/s", direct_rate, label,
                        "≥ 0.8×", apply_rate >= 0.8 * direct_rate))
    for n, report in bulk.items():
        rows.append(Row("bulk", f"orders stored of {n:,} ({report['requests']} API calls)",
                        report["stored"], "orders", n, "orders in the store", "all",
                        report["stored"] == n and report["status"] == "completed"))
    for n, report in rest.items():
        rows.append(Row("bulk", f"orders stored of {n:,} by the REST backfill", report["stored"],
                        "orders", n, "orders in the store", "all",
                        report["stored"] == n and report["status"] == "completed"))
        top = ceiling(n, bucket, leak_rate)
        rows.append(Row("bulk", f"seconds of the REST backfill of {n:,} orders "
                                f"({report['requests']} API calls, {report['throttled']} throttled)",
                        report["seconds"], "s", n / top if top else None,
                        "its rate-limit ceiling's time"))
    small, large = sizes
    rows.append(Row("bulk", f"peak RSS, {large:,} orders", bulk[large]["peak_rss_mb"], "MB",
                    bulk[small]["peak_rss_mb"], f"peak RSS, {small:,} orders", "≤ 1.2×",
                    bulk[large]["peak_rss_mb"] <= 1.2 * bulk[small]["peak_rss_mb"]))
    for n, done in bulk.items():
        rows.append(Row("bulk", f"seconds end to end, {n:,} orders (the simulator's run "
                                f"included{restore})", done["seconds"], "s",
                        *_rest_seconds(n, rest, bucket, leak_rate)))
    for n, done in bulk.items():
        rows.append(Row("bulk", f"GraphQL cost points spent, {n:,} orders (orders with books "
                                f"completed: {done['graphql_points'] / CLASSIC_RESTORE:,.0f} s "
                                f"at Shopify's classic {CLASSIC_RESTORE:g} points/s)",
                        done["graphql_points"], "points"))
    books = bulk_books.points(spec["books_orders"])
    rows.append(Row("bulk", f"GraphQL cost points an order with books takes beyond the bulk file, "
                            f"by parts ({books['orders_with_books']:,} orders with books of "
                            f"{books['orders']:,}: {books['refunds']:,} refunds, "
                            f"{books['fulfillments']:,} fulfillments; bench/bulk_books.py)",
                    books["per_order_by_parts"], "points", books["per_order_whole"],
                    "fetched whole by the cursor-paged order query", "same records",
                    books["same_records"]))
    for n, done in bulk.items():
        rows.append(Row("bulk", f"orders/s the simulator ran the bulk query at, {n:,} orders "
                                f"(end to end less the apply phases)",
                        n / (done["seconds"] - done["apply_seconds"]), "orders/s"))
    return rows


def _rest_seconds(n, rest, bucket, leak_rate):
    """Return (seconds, label) of a REST backfill of `n` orders: measured when it ran, else its
    ceiling's time over the share of the ceiling the measured one reached."""
    if n in rest:
        share = _share(n, rest[n], bucket, leak_rate)
        return rest[n]["seconds"], (
            f"a REST backfill of the same store, measured ({rest[n]['requests']} API calls, "
            f"{rest[n]['throttled']} throttled" + (f"; {share:.2f}× its rate-limit ceiling)"
                                                   if share else ")"))
    m = max(rest)
    top, share = ceiling(n, bucket, leak_rate), _share(m, rest[m], bucket, leak_rate) or 1.0
    return n / top / share, (f"a REST backfill, computed, not run: its rate-limit ceiling's time "
                             f"over {share:.2f}, the share of it measured for {m:,}")


def _share(n, report, bucket, leak_rate):
    """Return the share of its rate-limit ceiling a REST backfill reached (None: no ceiling)."""
    top = ceiling(n, bucket, leak_rate)
    return report["stored"] / report["seconds"] / top if top else None


if __name__ == "__main__":
    if sys.argv[1] == "bulk":
        print(json.dumps(bulk_once(sys.argv[2], sys.argv[3])))
    elif sys.argv[1] == "simulate":
        print(json.dumps(simulate_once(int(sys.argv[2]))))
    elif sys.argv[1] == "direct":
        print(json.dumps(direct_once(int(sys.argv[2]), sys.argv[3])))
    else:
        print(json.dumps(backfill_once(sys.argv[1], sys.argv[2], float(sys.argv[3]))))
