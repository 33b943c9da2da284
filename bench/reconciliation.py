"""How many Shopify API calls reconciliation makes to name k differences among N orders.

    .venv/bin/python bench/reconciliation.py                       # N = 100,000, k = 5, 10 seeds
    .venv/bin/python bench/reconciliation.py --orders 10000 --missing 5 --seeds 50

For each seed: a simulated store of N orders, an ERP holding all of them but k (chosen at
random) plus one order since deleted from the store (the "extra"). A full reconciliation
runs against the simulator over HTTP; the script prints the calls it needed to find the ids,
to heal them, the bound k·log2(N/250) and the N/250 calls of a full id listing, and whether
exactly the right ids were named. The simulator's leak rate is raised so the run measures
calls, not waiting; `--leak-rate 2` shows the wall time a standard-plan store would take.
"""

import argparse
import math
import pathlib
import random
import statistics
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from shopsync import create_app, migrations  # noqa: E402
from shopsync.db import db  # noqa: E402
from shopsync.models import Order  # noqa: E402
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


def trial(seed, orders, missing, leak_rate, workdir, extras=1):
    """Run one reconciliation; return its figures."""
    app = create_app({"DATABASE_URL": f"sqlite:///{workdir}/bench-{seed}.db", "REDIS_URL": None,
                      "TESTING": True})
    store = Store.generate(seed=seed, orders=orders, products=20, customers=50)
    rng = random.Random(seed)
    ids = store.ids("orders", status="any")
    gone = rng.sample(ids, missing + extras)
    removed, extra = set(gone[:missing]), sorted(gone[missing:])
    with app.app_context(), db.connection_context():
        migrations.upgrade()
        load_erp(store, skip=removed)
        for shopify_id in extra:
            store.delete_order(shopify_id)
        with SimulatorServer(store, bucket_size=40, leak_rate=leak_rate) as server:
            client = ShopifyClient(server.base_url, server.access_token, leak_rate=leak_rate)
            started = time.monotonic()
            report = reconcile(ENTITIES["orders"], client)
            seconds = time.monotonic() - started
    details = report.details
    exact = details["missing"] == sorted(removed) and details["extra"] == extra
    return {"search": details["search_calls"], "total": report.api_calls, "exact": exact,
            "healed": len(details["healed"]), "seconds": seconds}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--missing", type=int, default=5, help="orders removed from the ERP")
    parser.add_argument("--extra", type=int, default=1,
                        help="orders deleted from the store but kept in the ERP")
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--leak-rate", type=float, default=10_000.0)
    args = parser.parse_args(argv)
    k = args.missing + args.extra  # differences: the missing ones and the extra ones
    bound = k * math.log2(args.orders / PAGE)
    print(f"N = {args.orders:,} orders, {args.missing} missing + {args.extra} extra (k = {k}); "
          f"bound k·log2(N/250) = {bound:.1f}; full id listing = {math.ceil(args.orders / PAGE)} calls")
    results = []
    with tempfile.TemporaryDirectory() as workdir:
        for seed in range(1, args.seeds + 1):
            result = trial(seed, args.orders, args.missing, args.leak_rate, workdir, args.extra)
            results.append(result)
            print(f"seed {seed:3d}: search {result['search']:3d} calls, with healing "
                  f"{result['total']:3d}, healed {result['healed']}, exact ids: {result['exact']}, "
                  f"{result['seconds']:.1f} s")
    searches = [r["search"] for r in results]
    print(f"search calls: min {min(searches)}, median {statistics.median(searches)}, "
          f"max {max(searches)}; within bound: {sum(s <= bound + 1 for s in searches)}/{len(results)}; "
          f"exact: {sum(r['exact'] for r in results)}/{len(results)}")


if __name__ == "__main__":
    main()
