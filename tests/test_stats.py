"""The counts of GET /api/admin/stats agree with each other however writes interleave."""

import itertools
import threading

from shopsync import stats
from shopsync.db import db
from shopsync.models import Order, WebhookLog

NUMBERS = itertools.count(1)


def _order_and_its_webhook():
    """Commit, on a connection of its own, one order together with the webhook that brought it."""
    def write():
        with db.connection_context(), db.atomic():
            number = next(NUMBERS)
            Order.insert(shopify_id=number).execute()
            WebhookLog.insert(id=f"hook-{number}", topic="orders/create", raw_body=b"{}",
                              shopify_id=number).execute()

    thread = threading.Thread(target=write)
    thread.start()
    thread.join()


def test_a_write_committed_while_the_summary_counts_is_in_every_count_or_in_none(
        app, monkeypatch):
    _order_and_its_webhook()
    statements = []
    execute_sql, counting = db.obj.execute_sql, threading.current_thread()

    def execute_then_write(sql, params=None, *args, **kwargs):
        cursor = execute_sql(sql, params, *args, **kwargs)
        if threading.current_thread() is counting:  # not the writer's own statements
            statements.append(sql)
            _order_and_its_webhook()  # lands after this statement, before any next one
        return cursor

    monkeypatch.setattr(db.obj, "execute_sql", execute_then_write)
    counts = stats.summary()
    monkeypatch.undo()
    # Every order came with its webhook in one transaction: counts of one moment agree.
    assert counts["orders"] == counts["webhooks"]["received"] == counts["webhooks"]["pending"] == 1
    assert len(statements) == 1, statements
    after = stats.summary()
    assert after["orders"] == after["webhooks"]["received"] == 2  # the write did land
