"""The Procfile under honcho, as Heroku runs it: PORT set, a postgres:// DATABASE_URL, and Redis the
way Heroku's Key-Value Store hands it over (rediss://, a self-signed certificate, no query string).
Dynos are stopped as Heroku stops them (SIGTERM, then SIGKILL 30 s later) and nothing is lost."""

import datetime as dt
import http.client
import json
import os
import time

import peewee
import pytest
import requests
from rq import Queue
from rq_scheduler import Scheduler

from shopsync import queue, scheduler
from shopsync.db import bind, utcnow
from shopsync.models import Order, WebhookLog, WebhookStatus
from shopsync.testing.processes import free_port, wait_until
from tests.helpers import ADMIN_TOKEN, SECRET, SESSION_KEY, encode, headers, order
from tests.procfile import BIN, HEROKU_GRACE, Honcho

pytestmark = pytest.mark.services
AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
FORMATION = ("web", "worker", "scheduler")


def _heroku_database_url(url):
    """Return `url` as Heroku Postgres writes it: postgres://."""
    return "postgres://" + url.split("://", 1)[1]


@pytest.fixture
def shop():
    """Serve an empty simulated store for the periodic jobs the scheduler queues."""
    from shopsync.simulator import SimulatorServer, Store

    with SimulatorServer(Store.generate(seed=1, orders=0, products=0, customers=0),
                         bucket_size=1000, leak_rate=10_000.0) as server:
        yield server


@pytest.fixture
def heroku(app, services, tls_redis, shop, tmp_path):
    """Return a function that starts process types of the Procfile with honcho on one "app"."""
    empty_env_file = tmp_path / "honcho.env"
    empty_env_file.write_text("")
    port = free_port()
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "PORT": str(port),
           "DATABASE_URL": _heroku_database_url(services[0]), "REDIS_URL": tls_redis.url,
           "REDIS_TLS_VERIFY": "0", "SECRET_KEY": SESSION_KEY, "SHOPSYNC_ADMIN_TOKEN": ADMIN_TOKEN,
           "SHOPIFY_WEBHOOK_SECRET": SECRET, "SHOPIFY_SHOP": shop.shop,
           "SHOPIFY_API_BASE_URL": shop.base_url, "SHOPIFY_ACCESS_TOKEN": shop.access_token,
           "SHOPSYNC_ENV_FILE": "/nonexistent", "WEB_CONCURRENCY": "2"}
    started = []

    def start(*process_types):
        honcho = Honcho(env, tmp_path / f"honcho-{len(started)}.log", "--env", str(empty_env_file),
                        *process_types)
        started.append(honcho)
        if "web" in process_types:
            wait_until(lambda: _answers(f"http://127.0.0.1:{port}/healthz"), timeout=60,
                       message=f"the web process (log: {honcho.log_path})")
        return honcho

    start.url = f"http://127.0.0.1:{port}"
    start.redis = queue.connect(tls_redis.url, tls_verify=False)
    yield start
    for honcho in started:
        honcho.stop()


def _answers(url):
    try:
        return requests.get(url, timeout=1).ok
    except requests.RequestException:
        return False


def _post(url, payload, webhook_id=None):
    body = encode(payload)
    return requests.post(f"{url}/webhooks/shopify", data=body,
                         headers=headers(body, "orders/create", webhook_id), timeout=10)


def _erp_order(url, shopify_id):
    response = requests.get(f"{url}/api/admin/orders/{shopify_id}", headers=AUTH, timeout=5)
    return response.json() if response.status_code == 200 else None


def _stopped_cleanly(honcho):
    """Wait for a stopped dyno's honcho to exit; tell whether no process needed a SIGKILL."""
    honcho.wait()
    return "SIGKILL" not in honcho.output()


def test_release_phase_migrates_the_database(heroku):
    release = heroku("release")
    assert release.wait(timeout=60) == 0, release.output()
    assert "schema up to date" in release.output()


def test_a_webhook_is_applied_and_a_stopped_web_dyno_answers_the_request_in_flight(heroku):
    dyno = heroku(*FORMATION)
    assert _post(heroku.url, order(), "first").json()["status"] == "accepted"
    erp = wait_until(lambda: _erp_order(heroku.url, 450789469), message="the order in the ERP")
    assert erp["total_price"] == "409.94" and erp["customer_shopify_id"] == 207119551

    # A delivery whose body is still arriving when Heroku stops the dyno.
    body = encode(order(id=2))
    connection = http.client.HTTPConnection("127.0.0.1", int(heroku.url.rsplit(":", 1)[1]), timeout=30)
    connection.putrequest("POST", "/webhooks/shopify")
    for name, value in {**headers(body, "orders/create", "in-flight"),
                        "Content-Length": str(len(body))}.items():
        connection.putheader(name, value)
    connection.endheaders(body[:100])
    time.sleep(0.5)  # let a gunicorn worker take the connection
    dyno.terminate("web")
    time.sleep(0.5)
    connection.send(body[100:])
    response = connection.getresponse()
    assert (response.status, json.loads(response.read())["status"]) == (200, "accepted")
    assert _stopped_cleanly(dyno), dyno.output()
    assert not heroku.redis.exists(scheduler.Scheduler.scheduler_lock_key)

    heroku(*FORMATION)  # the restarted dyno applies it, once
    assert wait_until(lambda: _erp_order(heroku.url, 2), message="the in-flight order in the ERP")
    assert [hook.attempts for hook in WebhookLog.select().order_by(WebhookLog.id)] == [1, 1]


def _store_backlog(count):
    """Store `count` pending order webhooks at once, as if delivered while no worker ran."""
    now = utcnow()
    rows = [{"id": f"backlog-{i:05d}", "topic": "orders/create", "shopify_id": i,
             "raw_body": encode(order(id=i)), "received_at": now} for i in range(1, count + 1)]
    for start in range(0, count, 500):
        WebhookLog.insert_many(rows[start:start + 500]).execute()
    return [row["shopify_id"] for row in rows]


def _count(status):
    return WebhookLog.select().where(WebhookLog.status == status).count()


def test_a_worker_stopped_mid_batch_finishes_within_herokus_grace_and_loses_nothing(heroku):
    ids = _store_backlog(2000)
    dyno = heroku(*FORMATION)
    assert _post(heroku.url, order(id=1), "wake").status_code == 200  # queues a drain
    wait_until(lambda: _count(WebhookStatus.PROCESSED) >= 100, interval=0.02,
               message="the worker to get going")
    stopped_at = time.monotonic()
    dyno.terminate("worker")
    assert _count(WebhookStatus.PENDING) > 0, "the worker finished before it could be stopped"
    wait_until(lambda: dyno.has_stopped("worker"), timeout=HEROKU_GRACE,
               message="the worker to stop within Heroku's 30 s grace")
    assert time.monotonic() - stopped_at < HEROKU_GRACE
    assert _stopped_cleanly(dyno), dyno.output()
    assert "warm shut down requested" in dyno.output()
    assert _count(WebhookStatus.FAILED) == 0  # each webhook applied once or still pending

    heroku(*FORMATION)
    wait_until(lambda: _count(WebhookStatus.PENDING) == 0, timeout=180,
               message="every webhook applied after the restart")
    assert sorted(o.shopify_id for o in Order.select()) == ids
    assert {hook.attempts for hook in WebhookLog.select()} == {1}


def test_a_stopped_scheduler_releases_its_lock_and_the_next_takes_over_within_its_poll(heroku):
    first, second = heroku("scheduler"), heroku("scheduler")
    for dyno in (first, second):
        wait_until(lambda d=dyno: "registered periodic-" in d.output(), message="a scheduler up")
    first.terminate("scheduler")
    assert _stopped_cleanly(first), first.output()
    assert "Registering death" in first.output()

    # A job due now is queued by the scheduler left running, within one poll interval.
    due = Scheduler(queue_name="shopsync", connection=heroku.redis).enqueue_at(
        utcnow() - dt.timedelta(seconds=1), "shopsync.outbox.sweep")
    rq_queue = Queue("shopsync", connection=heroku.redis)
    wait_until(lambda: due.id in rq_queue.job_ids, timeout=scheduler.POLL_INTERVAL + 1,
               message="the remaining scheduler to queue a due job")
    assert second.process.poll() is None


@pytest.mark.parametrize("mode", ["disable", "prefer"])
def test_sslmode_in_a_postgres_url_reaches_the_driver_and_connects(services, mode):
    database = bind(f"{_heroku_database_url(services[0])}?sslmode={mode}")
    try:
        assert database.connect_params["sslmode"] == mode
        with database.connection_context():
            assert database.execute_sql("SELECT 1").fetchone() == (1,)
    finally:
        database.close_all()


@pytest.mark.parametrize("where", ["url", "PGSSLMODE"])
def test_sslmode_require_reaches_the_driver(services, monkeypatch, where):
    # The local server has no TLS, so libpq refuses it; Heroku Postgres has, so there it connects.
    url = _heroku_database_url(services[0])
    if where == "url":
        url += "?sslmode=require"
    else:
        monkeypatch.setenv("PGSSLMODE", "require")  # what README advises, as Heroku owns DATABASE_URL
    database = bind(url)
    with pytest.raises(peewee.OperationalError, match="server does not support SSL, but SSL was required"):
        database.connect()
