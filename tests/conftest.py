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
