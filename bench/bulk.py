"""Bulk backfill: orders through bulk operations against the simulator (see bench/backfill.py).

Applied orders/s against `ingest.apply_records` upserting the same generated orders in the
same run, peak RSS of the large store against the small one, and the time end to end against
a REST backfill of the same orders at its rate-limit ceiling (40-deep bucket, 2 calls/s).
The large store is 50,000 orders: the simulator builds its orders slowly for the bulk
query (about 170 orders/s when orders took two queries), so 100,000 and 1,000,000 take too
long on a shared 2-core machine; `--sizes SMALL,LARGE` runs other sizes.
"""

from bench.backfill import bulk_rows

FULL = {"sizes": (100_000, 1_000_000), "bucket": 40, "leak_rate": 2.0, "measured_up_to": 100_000}
QUICK = {"sizes": (100, 300), "bucket": 1, "leak_rate": 4.0, "measured_up_to": 300}


def run(ctx):
    """Backfill the small and the large store through bulk operations; return rows."""
    spec = QUICK if ctx.quick else FULL
    return bulk_rows(ctx, {**spec, "sizes": ctx.sizes} if ctx.sizes else spec)
