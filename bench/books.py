"""Books: what keeping an order's books and checking its money costs on the bulk apply path.

The simulator's orders (some discounted, refunded, cancelled or in another currency) are
applied a drain's batch to a transaction, first as order rows and lines alone
(`sync.upsert_orders`, the path before the books), then with their tax, shipping and
discount lines, refunds, fulfillments and the money check (`topics.ORDER.apply_many`).
"""

import time

from bench.common import Row, close_database, fresh_schema, make_app
from shopsync import sync
from shopsync.db import db, write_transaction
from shopsync.models import FailedSyncItem
from shopsync.pending import BATCH_SIZE
from shopsync.simulator import Store
from shopsync.topics import ORDER


def rate(apply, loaded):
    """Apply `loaded` orders a batch to a transaction on a fresh schema; return orders per second."""
    fresh_schema()
    started = time.perf_counter()
    for first in range(0, len(loaded), BATCH_SIZE):
        with write_transaction():
            apply(loaded[first:first + BATCH_SIZE])
    return len(loaded) / (time.perf_counter() - started)


def run(ctx):
    """Measure bulk order upserts with and without the books; return rows."""
    orders = list(Store.generate(seed=12, orders=200 if ctx.quick else 5000, products=50,
                                 customers=200).orders)
    loaded = [ORDER.schema().load(order) for order in orders]
    app = make_app(ctx)
    with app.app_context(), db.connection_context():
        bare = rate(sync.upsert_orders, loaded)
        books = rate(ORDER.apply_many, loaded)
        money = FailedSyncItem.select().where(FailedSyncItem.entity_type == "money").count()
    close_database()
    return [Row("books", f"orders/s with books and money check, {BATCH_SIZE} a transaction",
                books, "orders/s", bare, "order rows and lines alone", "≥ 0.3× rows alone",
                books >= 0.3 * bare),
            Row("books", "generated orders whose money does not add up", money, "",
                target="0", met=money == 0)]
