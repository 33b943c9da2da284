"""How many Shopify API calls and query-cost points reconciliation spends to name k differences
among N orders, and how often it names exactly the right ids.

    .venv/bin/python bench/reconciliation.py                     # N = 100,000, 5 missing + 5 extra
    .venv/bin/python bench/reconciliation.py --orders 10000 --api rest --seeds 5

Each trial (one seed): a simulated store of N orders; an ERP holding all of them but `missing`,
plus `extra` orders since deleted from the store (their orders/delete webhook lost), every one
created on a different day, so the totals agree and only the per-day comparison sees them. A
full reconciliation runs against the simulator over HTTP and heals. Printed per trial: the
calls needed to find the ids, the calls with healing, the GraphQL cost points spent, and
whether exactly the right ids were named; then N/250, the calls of a full id listing. The
simulator restores cost points fast: calls and points are measured, not waiting (at Shopify's
classic 50 points a second, the points divided by 50 are the seconds a run takes).

Also `run(ctx)` for `python -m bench`: N = 100,000 (10,000 with --quick).

Measured on 2026-12-02 with `.venv/bin/python bench/reconciliation.py` (N = 100,000, 5 seeds;
a full id listing would take 400 calls):

| API | differences | calls with healing (min / median / max) | cost points | exact ids | healed |
|---|---|---|---|---|---|
| GraphQL | 5 missing + 5 extra, on 10 days | 19 / 19 / 19 | 6,056 to 6,074 | 5/5 | 5/5 |

The 19 calls: one asking the static token's scopes, 7 counting the ~1,280 days from the oldest
order to today (200 a query), 10 listing the differing days, one fetching the 5 missing orders.
The points are mostly the counting (about 4 a day); at Shopify's classic 50 points a second
that is two minutes of the bucket's time, spread by the client's pacing.
"""

import argparse
import math
import pathlib
import random
import statistics
import sys
import tempfile

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from shopsync import create_app, migrations  # noqa: E402
from shopsync.db import db  # noqa: E402
from shopsync.models import ALL_MODELS, Order  # noqa: E402
from shopsync.reconciliation import ENTITIES  # noqa: E402
from shopsync.reconciliation.runs import reconcile  # noqa: E402
from shopsync.reconciliation.windows import PAGE, instant  # noqa: E402
from shopsync.shopify import AdminClient, ShopifyClient  # noqa: E402
from shopsync.simulator import SimulatorServer, Store  # noqa: E402


def load_erp(store, skip=()):
    """Insert every live order of `store` but `skip` into the ERP, a chunk at a time."""
    skip = set(skip)
    rows = [{"shopify_id": row.id, "created_at": instant(row.created),
             "updated_at": instant(row.updated)}
            for row in store.orders.rows() if row.id not in skip]
    with db.atomic():
        for start in range(0, len(rows), 1000):
            Order.insert_many(rows[start:start + 1000]).execute()


def on_different_days(store, rng, count):
    """Return `count` random order ids, each created on a day of its own."""
    ids, days, picked = store.ids("orders", status="any"), set(), []
    while len(picked) < count:
        order_id = rng.choice(ids)
        day = store.orders.row(order_id).created // 86400
        if day not in days:
            days.add(day)
            picked.append(order_id)
    return picked


def trial(app, seed, orders, missing, extras, api="graphql"):
    """Run one reconciliation in `app` (on an empty schema); return its figures."""
    store = Store.generate(seed=seed, orders=orders, products=20, customers=50)
    gone = on_different_days(store, random.Random(seed), missing + extras)
    removed, extra = set(gone[:missing]), sorted(gone[missing:])
    with app.app_context(), db.connection_context():
        load_erp(store, skip=removed)
        for shopify_id in extra:
            store.delete_order(shopify_id)
        with SimulatorServer(store, bucket_size=1000, leak_rate=100_000.0,
                             graphql_restore_rate=1_000_000.0) as server:
            client = (AdminClient(server.base_url, server.access_token) if api == "graphql"
                      else ShopifyClient(server.base_url, server.access_token, leak_rate=0))
            report = reconcile(ENTITIES["orders"], client)
        details = report.details
    exact = details["missing"] == sorted(removed) and details["extra"] == extra
    healed = sorted(details["healed"]) == sorted(removed | set(extra))
    return {"search": details["search_calls"], "total": report.api_calls, "exact": exact,
            "healed": healed, "points": details["cost_points"] or 0}


def trials(make_app, seeds, orders, missing, extras, api="graphql", echo=print):
    """Run one trial per seed, each on an emptied schema; return their figures."""
    results = []
    for seed in range(1, seeds + 1):
        app = make_app(seed)
        with app.app_context(), db.connection_context():
            db.drop_tables(ALL_MODELS, safe=True)
            db.drop_tables([migrations.SchemaMigration], safe=True)
            migrations.upgrade()
        result = trial(app, seed, orders, missing, extras, api)
        results.append(result)
        echo(f"seed {seed:3d}: search {result['search']:3d} calls, with healing "
             f"{result['total']:3d}, {result['points']} cost points, exact ids: "
             f"{result['exact']}, all healed: {result['healed']}")
    return results


def run(ctx):
    """Measure for `python -m bench`: 5 missing + 5 extra on different days, through GraphQL."""
    from bench.common import Row, close_database, make_app

    orders, seeds = (10_000, 2) if ctx.quick else (100_000, 5)
    results = trials(lambda seed: make_app(ctx), seeds, orders, 5, 5, echo=lambda line: None)
    close_database()
    name = f"N={orders:,}, 5 missing + 5 extra on different days"
    worst = max(r["total"] for r in results)
    return [
        Row("reconciliation", f"calls with healing, worst of {seeds} ({name})", worst, "calls",
            baseline=math.ceil(orders / PAGE), baseline_label="full id listing",
            target="< full id listing", met=worst < math.ceil(orders / PAGE)),
        Row("reconciliation", f"cost points, worst of {seeds} ({name})",
            max(r["points"] for r in results), "points"),
        Row("reconciliation", f"runs naming exactly the 10 ids ({name})",
            100 * sum(r["exact"] for r in results) / len(results), "%", target="100%",
            met=all(r["exact"] for r in results)),
    ]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--missing", type=int, default=5, help="orders removed from the ERP")
    parser.add_argument("--extra", type=int, default=5,
                        help="orders deleted from the store but kept in the ERP")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--api", choices=("graphql", "rest"), default="graphql")
    args = parser.parse_args(argv)
    print(f"N = {args.orders:,} orders, {args.missing} missing + {args.extra} extra on different "
          f"days, through {args.api}; full id listing = {math.ceil(args.orders / PAGE)} calls")
    with tempfile.TemporaryDirectory() as workdir:
        results = trials(lambda seed: create_app({"DATABASE_URL": f"sqlite:///{workdir}/{seed}.db",
                                                  "REDIS_URL": None, "TESTING": True}),
                         args.seeds, args.orders, args.missing, args.extra, args.api)
    totals, points = [r["total"] for r in results], [r["points"] for r in results]
    print(f"calls with healing: min {min(totals)}, median {statistics.median(totals)}, "
          f"max {max(totals)}; cost points: min {min(points)}, max {max(points)}; "
          f"exact ids: {sum(r['exact'] for r in results)}/{len(results)}; "
          f"all healed: {sum(r['healed'] for r in results)}/{len(results)}")


if __name__ == "__main__":
    main()
