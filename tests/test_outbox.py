"""Drains apply stored webhooks in batches, once each; the sweeper queues one for what waits."""

import dataclasses
import datetime as dt

import peewee as pw
import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from shopsync import outbox, pending, sync
from shopsync.models import FailedSyncItem, Order, WebhookLog
from shopsync.queue import get_queue
from shopsync.topics import TOPICS
from tests.helpers import deliver, order


def _age(seconds):
    """Pretend every stored webhook arrived `seconds` earlier."""
    for hook in WebhookLog.select():
        hook.received_at -= dt.timedelta(seconds=seconds)
        hook.save()


def _statuses():
    return {hook.id: hook.status.value for hook in WebhookLog.select()}


def test_deliveries_share_one_queued_drain(client, run_jobs):
    for n in range(1, 6):
        deliver(client, "orders/create", order(id=n))
    assert get_queue().count == 1
    run_jobs()
    assert set(_statuses().values()) == {"processed"} and Order.select().count() == 5
    assert {hook.attempts for hook in WebhookLog.select()} == {1}


def test_a_delivery_after_the_drain_started_queues_another(client, run_jobs):
    deliver(client, "orders/create", order(id=1))
    run_jobs()
    deliver(client, "orders/create", order(id=2))
    assert get_queue().count == 1  # the first drain lowered the flag when it started
    run_jobs()
    assert Order.select().count() == 2


def test_a_drain_works_through_a_backlog_in_batches(client, monkeypatch):
    claimed = []
    real = pending.apply_pending
    monkeypatch.setattr(pending, "apply_pending", lambda limit: claimed.append(real(limit)) or claimed[-1])
    for n in range(1, 31):
        deliver(client, "orders/create", order(id=n))
    assert outbox.drain(batch_size=7) == 30
    assert claimed == [7, 7, 7, 7, 2]
    assert Order.select().count() == 30 and set(_statuses().values()) == {"processed"}


def _rests(client, monkeypatch):
    """Drain a backlog of 30 in batches of 7; return the rests taken between batches."""
    rests = []
    monkeypatch.setattr(outbox.time, "sleep", rests.append)
    for n in range(1, 31):
        deliver(client, "orders/create", order(id=n))
    assert outbox.drain(batch_size=7) == 30
    return rests


def test_a_drain_does_not_rest_between_batches_by_default(client, monkeypatch):
    assert _rests(client, monkeypatch) == []


def test_a_drain_rests_after_each_full_batch_when_told_to(app, client, monkeypatch):
    app.config["DRAIN_REST_RATIO"] = 1.0
    rests = _rests(client, monkeypatch)
    assert len(rests) == 4 and all(rest > 0 for rest in rests)


def test_a_drain_hands_over_after_its_time(client, run_jobs, monkeypatch):
    monkeypatch.setattr(outbox, "DRAIN_SECONDS", -1)
    for n in range(1, 6):
        deliver(client, "orders/create", order(id=n))
    get_queue().connection.delete(get_queue().key)
    assert outbox.drain(batch_size=2) == 2
    assert get_queue().count == 1  # its successor
    run_jobs()
    assert Order.select().count() == 5


def _refusing_order_2(apply):
    """Wrap an order upsert so that the database refuses order 2 after writing it."""
    def refuse(loaded):
        changed = apply(loaded)
        if 2 in [data["id"] for data in (loaded if isinstance(loaded, list) else [loaded])]:
            raise pw.IntegrityError("constraint failed")
        return changed

    return refuse


def test_a_bad_webhook_in_a_batch_fails_alone(client, run_jobs, monkeypatch):
    monkeypatch.setitem(TOPICS, "orders/create", dataclasses.replace(
        TOPICS["orders/create"], apply=_refusing_order_2(sync.upsert_order),
        apply_many=_refusing_order_2(sync.upsert_orders)))
    deliver(client, "orders/create", order(id=1), webhook_id="one")
    deliver(client, "orders/create", order(id=2), webhook_id="two")
    deliver(client, "orders/create", {"id": 3, "total_price": "lots"}, webhook_id="three")
    deliver(client, "orders/create", order(id=4), webhook_id="four")
    run_jobs()
    assert _statuses() == {"one": "processed", "two": "failed", "three": "failed", "four": "processed"}
    assert sorted(o.shopify_id for o in Order.select()) == [1, 4]  # order 2's write rolled back
    items = {item.webhook_id: item for item in FailedSyncItem.select()}
    assert set(items) == {"two", "three"}
    assert items["two"].retryable and "IntegrityError" in items["two"].error_message
    assert not items["three"].retryable


def test_versions_of_one_order_in_a_batch_leave_the_newest(client, run_jobs):
    newer = order(id=7, email="newer@example.com", updated_at="2026-11-30T12:00:00Z")
    older = order(id=7, email="older@example.com", updated_at="2026-11-30T11:00:00Z")
    deliver(client, "orders/updated", newer, webhook_id="newer")  # arrives first
    deliver(client, "orders/create", older, webhook_id="older")
    deliver(client, "orders/updated", newer, webhook_id="newer-again")  # same time, sent twice
    run_jobs()
    assert Order.get().email == "newer@example.com"
    assert set(_statuses().values()) == {"processed"}


def test_a_delete_between_upserts_keeps_delivery_order(client, run_jobs):
    deliver(client, "orders/create", order(id=8, updated_at="2026-11-30T11:00:00Z"))
    deliver(client, "orders/delete", {"id": 8})
    deliver(client, "orders/create", order(id=9))
    run_jobs()
    stored = {o.shopify_id: o for o in Order.select()}
    assert stored[8].deleted_at is not None and stored[9].deleted_at is None
    assert set(_statuses().values()) == {"processed"}


def test_an_infrastructure_error_retries_the_batch(client, monkeypatch):
    real = pending.apply_pending
    failures = iter([pw.OperationalError("deadlock detected")])

    def flaky(limit):
        for exc in failures:
            raise exc
        return real(limit)

    monkeypatch.setattr(pending, "apply_pending", flaky)
    deliver(client, "orders/create", order(id=1))
    assert outbox.drain() == 1
    assert Order.select().count() == 1


def test_a_database_outage_leaves_the_batch_pending(client, monkeypatch):
    deliver(client, "orders/create", order(id=1))

    def down(limit):
        raise pw.OperationalError("server closed the connection")

    monkeypatch.setattr(pending, "apply_pending", down)
    monkeypatch.setattr(outbox.time, "sleep", lambda seconds: None)
    with pytest.raises(pw.OperationalError):
        outbox.drain()
    assert [(hook.status.value, hook.attempts) for hook in WebhookLog.select()] == [("pending", 0)]


def test_webhook_stored_while_redis_was_down_is_swept_and_applied(client, run_jobs, monkeypatch):
    with monkeypatch.context() as patch:
        patch.setattr("rq.Queue.enqueue", lambda *a, **k: (_ for _ in ()).throw(
            RedisConnectionError("down")))
        for n in range(3):
            assert deliver(client, "orders/create", order(id=n + 1)).status_code == 200
    assert get_queue().count == 0
    assert outbox.sweep() == 0  # still inside the grace period
    _age(120)
    assert outbox.sweep() == 3
    assert outbox.sweep() == 0  # a drain is queued now
    run_jobs()
    assert set(_statuses().values()) == {"processed"} and Order.select().count() == 3


def test_sweep_leaves_a_queued_drain_alone(client, run_jobs):
    deliver(client, "orders/create", order())
    _age(120)
    assert outbox.sweep() == 0
    assert get_queue().count == 1
    run_jobs()
    assert outbox.sweep() == 0


def test_sweep_queues_a_drain_when_the_queued_one_was_lost(client, run_jobs):
    deliver(client, "orders/create", order())
    get_queue().connection.delete(get_queue().key)  # popped by a worker killed before or while running it
    _age(3600)
    assert outbox.sweep() == 1
    run_jobs()
    assert set(_statuses().values()) == {"processed"}
