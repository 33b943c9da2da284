"""A fresh app, database and queue per test, on SQLite + fakeredis or on real services."""

import os
import uuid

import pytest

from shopsync import create_app, migrations
from shopsync.db import db
from shopsync.models import ALL_MODELS
from shopsync.queue import ThreadWorker, get_queue
from tests.helpers import ADMIN_TOKEN, SECRET

DATABASE_URL = os.environ.get("SHOPSYNC_TEST_DATABASE_URL")
REDIS_URL = os.environ.get("SHOPSYNC_TEST_REDIS_URL")
REQUIRE_SERVICES = os.environ.get("SHOPSYNC_REQUIRE_SERVICES") == "1"


def pytest_configure(config):
    if REQUIRE_SERVICES and not (DATABASE_URL and REDIS_URL):
        raise pytest.UsageError("SHOPSYNC_REQUIRE_SERVICES=1 needs SHOPSYNC_TEST_DATABASE_URL "
                                "and SHOPSYNC_TEST_REDIS_URL")


def pytest_report_header(config):
    return f"shopsync: database={DATABASE_URL or 'sqlite (per test)'} redis={REDIS_URL or 'fakeredis'}"


@pytest.fixture
def services():
    """Return (database_url, redis_url) of real services, skipping only when not required."""
    if not (DATABASE_URL and REDIS_URL):
        pytest.skip("needs SHOPSYNC_TEST_DATABASE_URL and SHOPSYNC_TEST_REDIS_URL")
    return DATABASE_URL, REDIS_URL


def _reset_shared_database():
    """Empty every table of the shared test database, creating the schema if needed."""
    migrations.upgrade()
    for model in reversed(ALL_MODELS):  # children before parents
        model.delete().execute()


@pytest.fixture
def app(tmp_path):
    """Return an app on an empty database and its own queue."""
    app = create_app({
        "TESTING": True,
        "DATABASE_URL": DATABASE_URL or f"sqlite:///{tmp_path}/shopsync.db",
        "REDIS_URL": REDIS_URL,
        "RQ_QUEUE": f"test-{uuid.uuid4().hex[:12]}",
        "SHOPIFY_WEBHOOK_SECRET": SECRET,
        "SHOPIFY_PREVIOUS_WEBHOOK_SECRET": "",
        "SHOPSYNC_ADMIN_TOKEN": ADMIN_TOKEN,
        "SECRET_KEY": "test",
    })
    with app.app_context():
        with db.connection_context():
            if DATABASE_URL:
                _reset_shared_database()
            else:
                migrations.upgrade()
        yield app
        get_queue().connection.delete(get_queue().key)
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
    """Return a function that runs every queued job to completion, in this thread."""

    def run():
        queue = get_queue()
        ThreadWorker([queue], connection=queue.connection).work(burst=True)

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
def processes(app, services):
    """Start real web and worker processes on the test database and the test's own queue."""
    from tests.processes import Processes

    database_url, redis_url = services
    procs = Processes({
        "DATABASE_URL": database_url, "REDIS_URL": redis_url,
        "SHOPSYNC_QUEUE": app.config["RQ_QUEUE"], "SHOPIFY_WEBHOOK_SECRET": SECRET,
        "SHOPSYNC_ADMIN_TOKEN": ADMIN_TOKEN, "SECRET_KEY": "test",
        "SHOPSYNC_ENV_FILE": "/nonexistent",
    })
    yield procs
    procs.stop()
