"""Outages with real processes: Redis down, a worker killed, the database unreachable."""

import datetime as dt
import signal
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit, urlunsplit

import pytest
import requests

from shopsync import outbox
from shopsync.models import Order, WebhookLog, WebhookStatus
from shopsync.testing.processes import wait_until
from shopsync.testing.tcp_proxy import TcpProxy
from tests.helpers import ADMIN_TOKEN, encode, headers, order

pytestmark = pytest.mark.services
AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def _via(proxy_url, url):
    """Return `url` rewritten to reach its server through a proxy on 127.0.0.1."""
    parts = urlsplit(url)
    proxy = TcpProxy(parts.hostname, parts.port)
    netloc = f"{parts.username + '@' if parts.username else ''}127.0.0.1:{proxy.port}"
    return proxy, urlunsplit(parts._replace(netloc=netloc))


def _post(url, payload, topic="orders/create", webhook_id=None):
    body = encode(payload)
    return requests.post(f"{url}/webhooks/shopify", data=body,
                         headers=headers(body, topic, webhook_id), timeout=10)


def _count(status):
    return WebhookLog.select().where(WebhookLog.status == status).count()


@pytest.fixture
def instant_sweep(monkeypatch):
    """Let the sweeper act on webhooks at once."""
    monkeypatch.setattr(outbox, "GRACE", dt.timedelta(0))


def test_redis_outage_loses_no_webhook(processes, services, instant_sweep):
    proxy, redis_url = _via(None, services[1])
    try:
        url = processes.web(REDIS_URL=redis_url)
        processes.worker(REDIS_URL=redis_url)
        assert all(_post(url, order(id=i)).status_code == 200 for i in range(1, 6))
        wait_until(lambda: _count(WebhookStatus.PROCESSED) == 5, message="first five applied")

        proxy.down()
        codes = [_post(url, order(id=i)).status_code for i in range(6, 26)]
        assert codes == [200] * 20
        assert _count(WebhookStatus.PENDING) == 20  # stored, though nothing could be queued

        proxy.up()
        outbox.sweep()  # queues a drain unless one queued before the outage is still there
        wait_until(lambda: _count(WebhookStatus.PROCESSED) == 25, timeout=60,
                   message="every webhook applied after Redis came back")
        assert Order.select().count() == 25
    finally:
        proxy.close()


def test_killed_worker_loses_nothing_and_applies_nothing_twice(processes, instant_sweep):
    url = processes.web(workers=3)
    ids = list(range(1, 601))
    with ThreadPoolExecutor(8) as pool:
        assert set(pool.map(lambda i: _post(url, order(id=i)).status_code, ids)) == {200}
    worker = processes.worker()
    wait_until(lambda: _count(WebhookStatus.PROCESSED) >= 10, interval=0.02,
               message="the worker to get going")
    worker.send_signal(signal.SIGKILL)
    worker.wait()
    left = _count(WebhookStatus.PENDING)
    assert left > 0, "the worker finished before it could be killed"

    processes.worker()
    outbox.sweep()
    wait_until(lambda: _count(WebhookStatus.PROCESSED) == len(ids), timeout=120,
               message="every webhook applied after the restart")
    assert sorted(o.shopify_id for o in Order.select()) == ids
    assert {hook.attempts for hook in WebhookLog.select()} == {1}


def test_two_workers_share_the_backlog_and_apply_each_webhook_once(processes):
    url = processes.web(workers=3)
    ids = list(range(1, 401))
    deliveries = [(order(id=i), "orders/create") for i in ids]
    deliveries += [(order(id=i, email=f"new-{i}@example.com", updated_at="2026-11-30T12:00:00Z"),
                    "orders/updated") for i in ids[::2]]
    with ThreadPoolExecutor(8) as pool:
        codes = set(pool.map(lambda d: _post(url, d[0], topic=d[1]).status_code, deliveries))
    assert codes == {200}
    processes.worker()
    processes.worker()
    wait_until(lambda: _count(WebhookStatus.PROCESSED) == len(deliveries), timeout=120,
               message="every webhook applied")
    assert {hook.attempts for hook in WebhookLog.select()} == {1}
    emails = {o.shopify_id: o.email for o in Order.select()}
    assert sorted(emails) == ids
    assert all(emails[i] == f"new-{i}@example.com" for i in ids[::2])


def test_database_outage_answers_503_and_the_retry_lands_once(processes, services):
    proxy, database_url = _via(None, services[0])
    try:
        url = processes.web(DATABASE_URL=database_url)
        processes.worker()
        proxy.down()
        refused = _post(url, order(), webhook_id="during-outage")
        assert refused.status_code == 503
        assert WebhookLog.select().count() == 0  # nothing half-written

        proxy.up()
        # Shopify retries the same delivery; the app's pool reconnects.
        retried = wait_until(lambda: (r := _post(url, order(), webhook_id="during-outage"))
                             .status_code == 200 and r, message="the retry to be accepted")
        assert retried.json()["status"] in ("accepted", "duplicate")
        wait_until(lambda: _count(WebhookStatus.PROCESSED) == 1, message="the order applied")
        hook = WebhookLog.get_by_id("during-outage")
        assert hook.attempts == 1 and Order.select().count() == 1
    finally:
        proxy.close()
