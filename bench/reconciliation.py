"""How many Shopify API calls reconciliation makes to name k differences among N orders.

    .venv/bin/python bench/reconciliation.py                       # N = 100,000, 5 missing + 1 extra
    .venv/bin/python bench/reconciliation.py --orders 10000 --missing 5 --extra 0 --seeds 40

Each trial (one seed): a simulated store of N orders; an ERP holding all of them but `missing`
(chosen at random), plus `extra` orders since deleted from the store. A full reconciliation
runs against the simulator over HTTP. Printed per trial: the calls needed to find the ids,
the calls with healing, and whether exactly the right ids were named; then the bound
k·log2(N/250) and the N/250 calls of a full id listing. The simulator's leak rate is raised:
calls are measured, not waiting.

A missing and an extra order that share a count window cancel out (see
shopsync/reconciliation/windows.py), so with extras, "exact" is below 100%: the rate shows how
often. Without extras every difference is found.

Also `run(ctx)` for `python -m bench`: N = 100,000 (10,000 with --quick).

Measured on 2026-11-30 (10 seeds each; a full id listing would take 400 calls for N = 100,000):

| N | differences | search calls min / median / max | bound 1 + k·log2(N/250) | exact ids |
|---|---|---|---|---|
| 100,000 | 5 missing | 30 / 40 / 42 | 44.2 | 10/10 |
| 100,000 | 5 missing + 1 extra | 29 / 34 / 41 | 52.9 | 2/10 |
| 10,000 | 5 missing (40 seeds) | 18 / 23 / 27 | 27.6 | 40/40 |
| 10,000 | 5 missing + 1 extra (20 seeds) | 14 / 21 / 29 | 32.9 | 8/20 |

Healing the missing records adds one call (they are fetched by `ids=`, 250 a call). Where the
ids were not exact, one missing order and the extra one shared a window and cancelled out;
`run_deep` (a full listing) finds them.
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
from shopsync.reconciliation import ENTITIES, reconcile  # noqa: E402
from shopsync.reconciliation.windows import PAGE, instant  # noqa: E402
from shopsync.shopify import ShopifyClient  # noqa: E402
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


def trial(app, seed, orders, missing, extras=1):
    """Run one reconciliation in `app` (on an empty schema); return its figures."""
    store = Store.generate(seed=seed, orders=orders, products=20, customers=50)
    rng = random.Random(seed)
    gone = rng.sample(store.ids("orders", status="any"), missing + extras)
    removed, extra = set(gone[:missing]), sorted(gone[missing:])
    with app.app_context(), db.connection_context():
        load_erp(store, skip=removed)
        for shopify_id in extra:
            store.delete_order(shopify_id)
        with SimulatorServer(store, bucket_size=1000, leak_rate=100_000.0) as server:
            client = ShopifyClient(server.base_url, server.access_token, leak_rate=0)
            report = reconcile(ENTITIES["orders"], client)
        details = report.details
    exact = details["missing"] == sorted(removed) and details["extra"] == extra
    return {"search": details["search_calls"], "total": report.api_calls, "exact": exact,
            "healed": len(details["healed"])}


def trials(make_app, seeds, orders, missing, extras, echo=print):
    """Run one trial per seed, each on an emptied schema; return their figures."""
    results = []
    for seed in range(1, seeds + 1):
        app = make_app(seed)
        with app.app_context(), db.connection_context():
            db.drop_tables(ALL_MODELS, safe=True)
            db.drop_tables([migrations.SchemaMigration], safe=True)
            migrations.upgrade()
        result = trial(app, seed, orders, missing, extras)
        results.append(result)
        echo(f"seed {seed:3d}: search {result['search']:3d} calls, with healing "
             f"{result['total']:3d}, healed {result['healed']}, exact ids: {result['exact']}")
    return results


def bound(orders, differences):
    """Return k·log2(N/250)."""
    return differences * math.log2(orders / PAGE)


def run(ctx):
    """Measure for `python -m bench`: missing only, and missing plus one extra."""
    from bench.common import Row, close_database, make_app

    orders, seeds = (10_000, 2) if ctx.quick else (100_000, 5)
    rows = []
    for missing, extras in ((5, 0), (5, 1)):
        results = trials(lambda seed: make_app(ctx), seeds, orders, missing, extras,
                         echo=lambda line: None)
        close_database()
        k = missing + extras
        worst = max(r["search"] for r in results)
        name = f"N={orders:,}, {missing} missing + {extras} extra"
        rows.append(Row("reconciliation", f"search calls, worst of {seeds} ({name})", worst, "calls",
                        baseline=math.ceil(orders / PAGE), baseline_label="full id listing",
                        target=f"<= 1 + k*log2(N/250) = {1 + bound(orders, k):.1f}",
                        met=worst <= 1 + bound(orders, k)))
        rows.append(Row("reconciliation", f"runs naming exactly the ids ({name})",
                        100 * sum(r["exact"] for r in results) / len(results), "%"))
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--missing", type=int, default=5, help="orders removed from the ERP")
    parser.add_argument("--extra", type=int, default=1,
                        help="orders deleted from the store but kept in the ERP")
    parser.add_argument("--seeds", type=int, default=10)
    args = parser.parse_args(argv)
    k = args.missing + args.extra
    print(f"N = {args.orders:,} orders, {args.missing} missing + {args.extra} extra (k = {k}); "
          f"bound 1 + k·log2(N/250) = {1 + bound(args.orders, k):.1f}; "
          f"full id listing = {math.ceil(args.orders / PAGE)} calls")
    with tempfile.TemporaryDirectory() as workdir:
        results = trials(lambda seed: create_app({"DATABASE_URL": f"sqlite:///{workdir}/{seed}.db",
                                                  "REDIS_URL": None, "TESTING": True}),
                         args.seeds, args.orders, args.missing, args.extra)
    searches = [r["search"] for r in results]
    within = sum(s <= 1 + bound(args.orders, k) for s in searches)
    print(f"search calls: min {min(searches)}, median {statistics.median(searches)}, "
          f"max {max(searches)}; within the bound: {within}/{len(results)}; "
          f"exact ids: {sum(r['exact'] for r in results)}/{len(results)}")


if __name__ == "__main__":
    main()
