"""Real scheduler and worker processes outlive Redis restarted empty and a database cut."""

import datetime as dt
import time
from urllib.parse import urlsplit, urlunsplit

import pytest
import requests
from rq import Queue

from shopsync import liveness, periodic
from shopsync.db import utcnow
from shopsync.models import Heartbeat, Order, WebhookLog, WebhookStatus
from shopsync.simulator import SimulatorServer, Store
from shopsync.testing.processes import RedisServer, wait_until
from shopsync.testing.tcp_proxy import TcpProxy
from tests.helpers import ADMIN_TOKEN, encode, headers, order

pytestmark = pytest.mark.services
# Periodic jobs 20 times as often: the minute jobs every 3 s, the five-minute ones every 15 s.
SCALE = "0.05"
# The jobs that run again within a test's patience at that scale (not the daily and weekly ones).
FREQUENT = {job.name for job in periodic.JOBS if job.seconds <= 300}
SCHEDULED_JOBS_KEY = "rq:scheduler:scheduled_jobs"
EVER = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)


@pytest.fixture
def own_redis(tmp_path):
    """Start a redis-server of this test's own, never the shared one."""
    server = RedisServer(tmp_path).start()
    yield server
    server.kill()


@pytest.fixture
def shop():
    """Serve a small simulated store, so that the reconciliation jobs have something to read."""
    with SimulatorServer(Store.generate(seed=11, orders=3, products=2, customers=2)) as server:
        yield server


def _env(redis_url, shop, **more):
    return {"REDIS_URL": redis_url, "SHOPSYNC_SCHEDULE_SCALE": SCALE,
            "SHOPIFY_API_BASE_URL": shop.base_url, "SHOPIFY_ACCESS_TOKEN": shop.access_token, **more}


def _ran_since(moment, names):
    """Tell whether every job of `names` has started a successful run since `moment`."""
    runs = periodic.last_runs()
    return all(runs.get(name) and runs[name] > moment for name in names)


def _seen_since(moment):
    """Return the roles of processes that beat since `moment`."""
    return {row.role for row in Heartbeat.select().where(
        Heartbeat.role.in_(liveness.PROCESS_ROLES) & (Heartbeat.seen_at > moment))}


def _liveness(url):
    """Return (what is late, the status) from the admin API's health."""
    found = requests.get(f"{url}/api/admin/health", timeout=10,
                         headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}).json()["liveness"]
    return found["late"], found["status"]


def test_redis_restarted_empty_loses_no_periodic_job_and_no_webhook(own_redis, processes, shop, app):
    env = _env(own_redis.url, shop)
    url = processes.web(**env)
    children = [processes.worker(**env), processes.scheduler(**env)]
    wait_until(lambda: _ran_since(EVER, {job.name for job in periodic.JOBS}),
               timeout=60, message="every periodic job to run once")
    assert own_redis.client.zcard(SCHEDULED_JOBS_KEY) == len(periodic.JOBS)
    # Redis goes away while the worker is in a job: RQ itself only waits out an outage between jobs.
    busy = Queue(app.config["RQ_QUEUE"], connection=own_redis.client).enqueue("time.sleep", 2)
    wait_until(lambda: busy.get_status() == "started", message="the worker to be busy")

    own_redis.kill()
    body = encode(order(id=4242))
    stored = requests.post(f"{url}/webhooks/shopify", data=body, timeout=10,
                           headers=headers(body, "orders/create", "stored-while-redis-was-down"))
    assert stored.status_code == 200  # stored, though nothing could be queued
    time.sleep(3)  # the job ends and the processes meet the outage
    own_redis.start()
    restarted = utcnow()

    wait_until(lambda: _ran_since(restarted, FREQUENT), timeout=90,
               message=f"{', '.join(sorted(FREQUENT))} to run again")
    wait_until(lambda: WebhookLog.get_by_id("stored-while-redis-was-down").status
               is WebhookStatus.PROCESSED, timeout=60, message="the webhook stored meanwhile applied")
    assert Order.select().where(Order.shopify_id == 4242).exists()
    assert own_redis.client.zcard(SCHEDULED_JOBS_KEY) == len(periodic.JOBS)
    assert [child.poll() for child in children] == [None, None]  # never exited, never restarted
    # Every process beats on whatever Redis did: from a thread of its own, into the database.
    # (A late "-long" worker seen here was another test's, left running when its parent was
    # killed as it started: worker_process now stops such a child.)
    assert _liveness(url) == ([], "ok")

    processes.stop()  # SIGTERM: each process notes that it stopped, so none shows as late
    rows = Heartbeat.select().where(Heartbeat.role.in_(["scheduler", "worker"]))
    # worker.py's two workers (the short and the long queue's) each note it
    assert sorted(row.role for row in rows if row.stopped_at) == ["scheduler", "worker", "worker"]


def test_scheduler_and_worker_ride_out_a_database_cut(own_redis, processes, services, shop):
    parts = urlsplit(services[0])
    proxy = TcpProxy(parts.hostname, parts.port)
    try:
        user = f"{parts.username}@" if parts.username else ""
        database_url = urlunsplit(parts._replace(netloc=f"{user}127.0.0.1:{proxy.port}"))
        env = _env(own_redis.url, shop, DATABASE_URL=database_url)
        children = [processes.worker(**env), processes.scheduler(**env)]
        wait_until(lambda: _ran_since(EVER, FREQUENT), timeout=60,
                   message="the frequent periodic jobs to run once")

        proxy.down()
        time.sleep(5)  # heartbeats and jobs fail meanwhile
        assert [child.poll() for child in children] == [None, None]
        proxy.up()
        restored = utcnow()

        wait_until(lambda: _seen_since(restored) == {"scheduler", "worker"}, timeout=60,
                   message="both processes to beat again")
        wait_until(lambda: _ran_since(restored, FREQUENT), timeout=90,
                   message="the frequent periodic jobs to run again")
        assert [child.poll() for child in children] == [None, None]
    finally:
        processes.stop()
        proxy.close()


def test_a_worker_started_while_redis_is_down_waits_for_it(tmp_path, processes, app):
    redis_server = RedisServer(tmp_path)  # its port, nothing listening yet
    try:
        worker = processes.worker(REDIS_URL=redis_server.url)
        wait_until(lambda: _seen_since(EVER) == {"worker"} or worker.poll() is not None,
                   message="the worker to start")
        time.sleep(2)  # RQ meets Redis as the worker is made, right after its first beat
        assert worker.poll() is None  # waiting for Redis, not exited
        redis_server.start()
        job = Queue(app.config["RQ_QUEUE"], connection=redis_server.client).enqueue("time.sleep", 0)
        wait_until(lambda: job.get_status() == "finished", timeout=60, message="the job to run")
        assert worker.poll() is None
    finally:
        processes.stop()
        redis_server.kill()
