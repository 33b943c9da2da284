"""Bulk backfill: orders through bulk operations against the simulator (see bench/backfill.py).

100,000 and 1,000,000 orders by default (`--sizes SMALL,LARGE` for others). For each store:
applied orders/s against `ingest.apply_records` upserting the same generated orders in the
same run, and seconds end to end against a REST backfill of the same store (40-deep bucket,
2 calls/s); peak RSS of the large store against the small one. Direct upserts run for the
stores up to MEASURED_UP_TO orders (always the small one; a larger store is set beside the
largest measured): 1,000,000 of them take some 20 minutes on this machine. A REST
backfill asks for each order's transactions, a call an order: 100,000 orders take 14 hours
at 2 calls/s. So one REST backfill runs, of REST_ORDERS orders, and each store's REST time is
computed from the ceiling and the share of it that one reached; the rows say which. The
simulator writes its JSONL at some 1,150 orders per CPU second (about 900 before), so
1,000,000 orders spend a quarter of an hour or more on Shopify's side before the apply phase.
Orders with books get their refunds and fulfillments fetched by id through GraphQL, some 15
cost points an order against 80 fetched whole, as before (a row, from `bench/bulk_books.py`);
at Shopify's classic 50 points/s those points bound the apply phase (the rows give the points
and their time); `--graphql-restore-rate` lets the simulator restore more.
"""

from bench.backfill import bulk_rows

MEASURED_UP_TO = 1_000_000  # orders: larger stores get no direct upserts
REST_ORDERS = 1_000  # the one REST backfill: a call an order for its transactions, 2 calls/s
BOOKS_ORDERS = 1_000  # the store whose orders with books are completed both ways (bulk_books)
FULL = {"sizes": (100_000, 1_000_000), "bucket": 40, "leak_rate": 2.0,
        "measured_up_to": MEASURED_UP_TO, "rest_orders": REST_ORDERS, "books_orders": BOOKS_ORDERS}
QUICK = {"sizes": (100, 300), "bucket": 1, "leak_rate": 4.0, "measured_up_to": 300,
         "rest_orders": 100, "books_orders": BOOKS_ORDERS}


def run(ctx):
    """Backfill the small and the large store through bulk operations; return rows."""
    spec = QUICK if ctx.quick else FULL
    return bulk_rows(ctx, {**spec, "sizes": ctx.sizes} if ctx.sizes else spec)
