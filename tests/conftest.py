"""A fresh app, database and queue per test, on SQLite + fakeredis or on real services."""

import os
import uuid

import pytest

from shopsync import create_app, migrations
from shopsync.db import db
from shopsync.models import ALL_MODELS
from shopsync.queue import ThreadWorker, get_long_queue, get_queue
from shopsync.testing.databases import own_database
from tests.helpers import ADMIN_TOKEN, SECRET, SESSION_KEY

DATABASE_URL = os.environ.get("SHOPSYNC_TEST_DATABASE_URL")
REDIS_URL = os.environ.get("SHOPSYNC_TEST_REDIS_URL")
REQUIRE_SERVICES = os.environ.get("SHOPSYNC_REQUIRE_SERVICES") == "1"


def pytest_configure(config):
    if REQUIRE_SERVICES and not (DATABASE_URL and REDIS_URL):
        raise pytest.UsageError("SHOPSYNC_REQUIRE_SERVICES=1 needs SHOPSYNC_TEST_DATABASE_URL "
                                "and SHOPSYNC_TEST_REDIS_URL")


def pytest_report_header(config):
    return f"shopsync: database={DATABASE_URL or 'sqlite (per test)'} redis={REDIS_URL or 'fakeredis'}"


@pytest.fixture(scope="session")
def run_database_url():
    """Create a PostgreSQL database of this run's own beside the given one; yield its URL.

    Test runs sharing a server (two developers, or CI beside a developer) never see each
    other's rows. Without SHOPSYNC_TEST_DATABASE_URL, yield None: each test gets SQLite.
    """
    if not DATABASE_URL:
        yield None
        return
    with own_database(DATABASE_URL, "", "run") as url:
        yield url
        if db.obj is not None:  # bound by a test's app (none when only benchmarks' ran)
            db.close_all() if hasattr(db.obj, "close_all") else db.close()


@pytest.fixture
def services(run_database_url):
    """Return (database_url, redis_url) of real services, skipping only when not required."""
    if not (run_database_url and REDIS_URL):
        pytest.skip("needs SHOPSYNC_TEST_DATABASE_URL and SHOPSYNC_TEST_REDIS_URL")
    return run_database_url, REDIS_URL


def _reset_shared_database():
    """Empty every table of the shared test database, creating the schema if needed."""
    migrations.upgrade()
    for model in reversed(ALL_MODELS):  # children before parents
        model.delete().execute()


@pytest.fixture
def app(tmp_path, run_database_url):
    """Return an app on an empty database and its own queue."""
    app = create_app({
        "TESTING": True,
        "DATABASE_URL": run_database_url or f"sqlite:///{tmp_path}/shopsync.db",
        "REDIS_URL": REDIS_URL,
        "RQ_QUEUE": f"test-{uuid.uuid4().hex[:12]}",
        "SHOPIFY_WEBHOOK_SECRET": SECRET,
        "SHOPIFY_PREVIOUS_WEBHOOK_SECRET": "",
        "SHOPSYNC_ADMIN_TOKEN": ADMIN_TOKEN,
        "SECRET_KEY": SESSION_KEY,
    })
    with app.app_context():
        with db.connection_context():
            if DATABASE_URL:
                _reset_shared_database()
            else:
                migrations.upgrade()
        yield app
        get_queue().connection.delete(get_queue().key, get_long_queue().key)
    db.close_all() if hasattr(db.obj, "close_all") else db.close()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def api(client):
    """Return a function that GETs an admin API path with the bearer token."""

    def get(path):
        return client.get(f"/api/admin/{path}", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})

    return get


@pytest.fixture
def run_jobs(app):
    """Return a function that runs every queued job of both queues to completion, in this thread."""

    def run():
        queue = get_queue()
        ThreadWorker([queue, get_long_queue()], connection=queue.connection).work(burst=True)

    return run


# --- dashboard: signed-in clients and a live server for the browser tests ---

DASHBOARD_PASSWORD = "correct horse battery"


def csrf_token_in(html):
    """Return the CSRF token a dashboard page carries in its forms."""
    import re

    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


@pytest.fixture
def login(app):
    """Return a function that creates a user and signs a test client in as it.

    The client gets a `csrf_token` attribute to send with its POSTs.
    """
    from shopsync.auth import save_user

    def log_in(username="admin", is_admin=True, client=None):
        client = client or app.test_client()
        with db.connection_context():
            save_user(username, DASHBOARD_PASSWORD, is_admin=is_admin)
        token = csrf_token_in(client.get("/login").get_data(as_text=True))
        response = client.post("/login", data={"username": username, "password": DASHBOARD_PASSWORD,
                                               "csrf_token": token})
        assert response.status_code == 302, response.get_data(as_text=True)
        client.csrf_token = csrf_token_in(client.get("/failed-items").get_data(as_text=True))
        return client

    return log_in


@pytest.fixture
def admin_client(login):
    """Return a test client signed in as an admin."""
    return login("admin", is_admin=True)


@pytest.fixture
def viewer_client(login):
    """Return a test client signed in as a viewer."""
    return login("viewer", is_admin=False)


@pytest.fixture
def simulator_defaults():
    """What `serve` starts unless told: a store of 300 orders, a rate limit that is not the subject."""
    return {"orders": 300, "bucket_size": 1000, "leak_rate": 1000.0}


@pytest.fixture
def serve(simulator_defaults):
    """Return a function starting a simulator (of a new store unless given) that is stopped after."""
    from shopsync.simulator import SimulatorServer, Store

    defaults = dict(simulator_defaults)
    orders = defaults.pop("orders")
    servers = []

    def start(store=None, **options):
        server = SimulatorServer(store or Store.generate(seed=1, orders=orders, products=10,
                                                         customers=40), **{**defaults, **options})
        servers.append(server.start())
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def live_server(app):
    """Serve the app on a free local port in a thread; return its base URL."""
    import threading

    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)


@pytest.fixture
def processes(services, own_processes):
    """Start real web and worker processes on the test database, Redis and the test's own queue."""
    return own_processes


@pytest.fixture
def own_processes(app, tmp_path):
    """Start real processes on the test database and the test's own queue: on the test Redis if
    given, else each on an in-process stand-in of its own (reached by no other process)."""
    from shopsync.testing.processes import Processes

    procs = Processes({
        "DATABASE_URL": app.config["DATABASE_URL"], "REDIS_URL": app.config["REDIS_URL"] or "",
        "SHOPSYNC_QUEUE": app.config["RQ_QUEUE"], "SHOPIFY_WEBHOOK_SECRET": SECRET,
        "SHOPSYNC_ADMIN_TOKEN": ADMIN_TOKEN, "SECRET_KEY": SESSION_KEY,
        "SHOPSYNC_ENV_FILE": "/nonexistent",
    }, log_dir=tmp_path)
    yield procs
    procs.stop()


@pytest.fixture
def tls_redis(tmp_path):
    """Start a Redis of the test's own over TLS with a self-signed certificate (Heroku's way)."""
    import shutil

    from tests.tls_redis import TlsRedis

    missing = [tool for tool in ("redis-server", "openssl") if not shutil.which(tool)]
    if missing and not REQUIRE_SERVICES:
        pytest.skip(f"needs {' and '.join(missing)}")
    server = TlsRedis(str(tmp_path))
    yield server
    server.stop()


@pytest.fixture
def dashboard_data(app):
    """Fill the database with a little of everything the dashboard shows; return the ids made."""
    import datetime as dt
    import json

    from shopsync import failed_items, periodic
    from shopsync.db import utcnow
    from shopsync.models import (
        Alert,
        BackfillRun,
        FailedSyncItem,
        Heartbeat,
        ReconciliationReport,
        RunStatus,
        Severity,
        SyncHealthMetric,
        WebhookLog,
        WebhookStatus,
    )
    from tests.helpers import order

    now = utcnow()
    made = {}
    with db.connection_context():
        metrics = [("order_lag_seconds", 42.0, 300, 900, Severity.OK),
                   ("error_rate", 0.07, 0.05, 0.2, Severity.WARNING),
                   ("dlq_size", 3, 100, 1000, Severity.OK),
                   ("webhook_latency_p95_seconds", 95.0, 30, 60, Severity.CRITICAL)]
        readings = []
        for name, value, warning, critical, status in metrics:
            for step in range(144, -1, -1):
                readings.append({"metric_name": name, "value": value * (1 + (step % 7) / 10),
                                 "status": status if step == 0 else Severity.OK,
                                 "threshold_warning": warning, "threshold_critical": critical,
                                 "recorded_at": now - dt.timedelta(minutes=10 * step)})
        SyncHealthMetric.insert_many(readings).execute()
        Alert.create(metric_name="webhook_latency_p95_seconds", previous_status=Severity.WARNING,
                     status=Severity.CRITICAL, message="webhook latency p95 is 95 s (critical at 60 s)",
                     channels="slack")

        statuses = [WebhookStatus.PROCESSED] * 4 + [WebhookStatus.FAILED, WebhookStatus.PENDING]
        hooks = []
        for i in range(60):
            status = statuses[i % len(statuses)]
            received = now - dt.timedelta(minutes=60 - i)
            hooks.append({"id": f"hook-{i:03d}", "topic": "orders/create", "shopify_id": 1000 + i,
                          "raw_body": b"{}", "received_at": received, "status": status,
                          "processed_at": received + dt.timedelta(milliseconds=120 + i)
                          if status is WebhookStatus.PROCESSED else None,
                          "duplicates": 2 if i == 59 else 0, "attempts": 1,
                          "error": "invalid order payload" if status is WebhookStatus.FAILED else None})
        WebhookLog.insert_many(hooks).execute()
        made["webhook_ids"] = [h["id"] for h in hooks]

        good = order(id=820982911946154508, updated_at="2026-11-30T09:00:00-05:00")
        failed_items.add_to_dead_letter(
            "order", good["id"], json.dumps(good), "OperationalError: database is locked",
            error_stack="Traceback (most recent call last):\n  ...\nOperationalError",
            topic="orders/create")
        failed_items.add_to_dead_letter(
            "order", 555, json.dumps({"id": 555, "total_price": "not money"}),
            "invalid order payload: total_price", retryable=False, topic="orders/create")
        failed_items.add_to_dead_letter("product", 777, json.dumps({"id": 777, "title": "Mug"}),
                                        "ConnectionError: ERP timed out", topic="products/update")
        items = {i.shopify_id: i.id for i in FailedSyncItem.select()}
        made["fixable_item"], made["broken_item"], made["product_item"] = (
            items[good["id"]], items[555], items[777])

        made["report"] = ReconciliationReport.create(
            entity_type="orders", shopify_count=1203, erp_count=1201, discrepancy=3,
            status=Severity.WARNING, api_calls=6,
            details={"missing": [450789469, 450789470], "extra": [999], "healed": [450789469]}).id
        ReconciliationReport.create(entity_type="products", shopify_count=88, erp_count=88,
                                    discrepancy=0, status=Severity.OK, api_calls=1,
                                    details={"missing": [], "extra": []})
        made["done_run"] = BackfillRun.create(
            entity_type="customers", status=RunStatus.COMPLETED, expected=500, fetched=500, stored=500,
            started_at=now - dt.timedelta(hours=2), finished_at=now - dt.timedelta(hours=1, minutes=50)).id
        made["running_run"] = BackfillRun.create(entity_type="orders", status=RunStatus.RUNNING,
                                                 expected=1200, fetched=450, stored=450).id

        for role, name in (("scheduler", "scheduler.1"), ("worker", "worker.1"), ("worker", "worker.2")):
            Heartbeat.touch(role, name, started_at=now - dt.timedelta(hours=3), seen_at=now)
        for job in periodic.JOBS:
            Heartbeat.touch(periodic.ROLE, job.name, started_at=now - dt.timedelta(seconds=30), seen_at=now)
    return made
