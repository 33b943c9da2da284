"""The sweeper queues stored webhooks that never reached a worker, once."""

import datetime as dt

from redis.exceptions import ConnectionError as RedisConnectionError

from shopsync import outbox
from shopsync.models import Order, WebhookLog, WebhookStatus
from shopsync.queue import get_queue
from tests.helpers import deliver, order


def _age(seconds):
    """Pretend every stored webhook arrived `seconds` earlier."""
    for hook in WebhookLog.select():
        hook.received_at -= dt.timedelta(seconds=seconds)
        hook.save()


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
    run_jobs()
    assert WebhookLog.select().where(WebhookLog.status == WebhookStatus.PROCESSED).count() == 3
    assert Order.select().count() == 3


def test_sweep_leaves_queued_jobs_alone(client, run_jobs):
    deliver(client, "orders/create", order())
    _age(120)
    assert outbox.sweep() == 0
    assert get_queue().count == 1
    run_jobs()
    assert outbox.sweep() == 0


def test_sweep_requeues_a_job_whose_worker_died(client, run_jobs):
    deliver(client, "orders/create", order(), webhook_id="orphan")
    job = get_queue().fetch_job(outbox.job_id("orphan"))
    get_queue().remove(job)  # taken off the queue by a worker...
    job.set_status("started")  # ...that was killed while running it, long ago
    job.started_at = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)).replace(tzinfo=None)
    job.save()
    _age(3600)
    assert outbox.sweep() == 1
    run_jobs()
    assert WebhookLog.get_by_id("orphan").status is WebhookStatus.PROCESSED


def test_unsafe_webhook_ids_get_valid_job_ids():
    assert outbox.job_id("b0e4a2c5-1d2f-4a6c-9e1b-2f3a4b5c6d7e").startswith("webhook-b0e4")
    odd = outbox.job_id("weird id/with:chars")
    assert odd.startswith("webhook-") and " " not in odd and "/" not in odd


def test_sweep_requeues_a_job_lost_between_queue_and_worker(client, run_jobs):
    deliver(client, "orders/create", order(), webhook_id="lost")
    job = get_queue().fetch_job(outbox.job_id("lost"))
    get_queue().remove(job)  # popped by a worker killed before it marked the job started
    assert job.get_status() == "queued"
    _age(3600)
    assert outbox.sweep() == 1
    run_jobs()
    assert WebhookLog.get_by_id("lost").status is WebhookStatus.PROCESSED
