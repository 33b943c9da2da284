"""Backfill: orders from the simulator behind Shopify's leaky bucket, against the rate-limit ceiling.

The simulator runs in its own process (`python -m shopsync.simulator`), so it does not take
the backfill's interpreter; each backfill runs in a fresh process that reports its own peak
RSS. The ceiling: the first BUCKET pages come at once, every further page costs 1/LEAK_RATE
s, so N orders take at least (ceil(N/250) - BUCKET) / LEAK_RATE s.

    python -m bench.backfill BASE_URL DATABASE_URL LEAK_RATE   # one backfill, prints JSON
"""

import json
import math
import select
import subprocess
import sys
import time

from bench.common import ROOT, SESSION_KEY, Row, fresh_schema, peak_rss_mb
from shopsync import backfill, create_app
from shopsync.db import db
from shopsync.shopify import ShopifyClient

PAGE = 250
FULL = {"sizes": (10_000, 100_000), "bucket": 40, "leak_rate": 2.0}
QUICK = {"sizes": (100, 300), "bucket": 1, "leak_rate": 4.0}


def ceiling(orders, bucket, leak_rate):
    """Return the most orders/s the bucket allows for a backfill of `orders` (None: unbounded)."""
    seconds = (math.ceil(orders / PAGE) - bucket) / leak_rate
    return orders / seconds if seconds > 0 else None


def backfill_once(base_url, database_url, leak_rate):
    """Backfill every order into a fresh schema; return what it did, its time and peak RSS."""
    app = create_app({"DATABASE_URL": database_url, "REDIS_URL": None,
                      "SHOPIFY_API_BASE_URL": base_url, "SECRET_KEY": SESSION_KEY})
    with app.app_context(), db.connection_context():
        fresh_schema()
        run_id = backfill.prepare_run("orders").id
        client = ShopifyClient(base_url, "shpat_test", leak_rate=leak_rate)
        started = time.monotonic()
        run = backfill.run_backfill(run_id, client=client)
        seconds = time.monotonic() - started
    return {"status": run.status.value, "fetched": run.fetched, "stored": run.stored,
            "seconds": seconds, "requests": client.request_count,
            "throttled": client.throttled_count, "peak_rss_mb": peak_rss_mb()}


def _simulator(orders, bucket, leak_rate):
    """Start the simulator in its own process; return (process, API base URL)."""
    proc = subprocess.Popen([sys.executable, "-m", "shopsync.simulator", "--port", "0",
                             "--orders", str(orders), "--bucket-size", str(bucket),
                             "--leak-rate", str(leak_rate)],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    ready, _, _ = select.select([proc.stdout], [], [], 60)
    if not ready:
        proc.kill()
        raise TimeoutError("the simulator did not start")
    return proc, proc.stdout.readline().strip()


def measure(ctx, orders, bucket, leak_rate):
    """Backfill `orders` from a fresh simulator in a fresh process; return its report."""
    simulator, base_url = _simulator(orders, bucket, leak_rate)
    try:
        out = subprocess.run([sys.executable, "-m", "bench.backfill", base_url, ctx.database_url,
                              str(leak_rate)], cwd=ROOT, capture_output=True, text=True,
                             timeout=1800, check=True)
    finally:
        simulator.terminate()
        simulator.wait(timeout=10)
    return json.loads(out.stdout.strip().splitlines()[-1])


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
    rows.append(Row("backfill", f"orders/s, {small:,} orders (within the initial burst)",
                    reports[small]["stored"] / reports[small]["seconds"], "orders/s"))
    return rows


if __name__ == "__main__":
    print(json.dumps(backfill_once(sys.argv[1], sys.argv[2], float(sys.argv[3]))))
