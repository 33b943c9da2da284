"""Dashboard: p95 render time of every page on a big database, signed in, in this process.

The database holds WEBHOOKS webhook rows (real order bodies), FAILED failed items, a week
of per-minute health readings, and some reconciliation reports, backfill runs and alerts.
Every GET page of the dashboard blueprint is timed (those taking an id get an existing one),
plus the filtered and deep-paged variants a person uses, and a Prometheus scrape of /metrics.
"""

import datetime as dt
import random
import re
import time

from flask import url_for

from bench.common import Row, close_database, fresh_schema, make_app
from bench.ingest import order_bodies
from shopsync import stats
from shopsync.auth import save_user
from shopsync.config import TUNING
from shopsync.db import db, utcnow
from shopsync.health import METRICS, percentile
from shopsync.models import (
    Alert,
    BackfillRun,
    FailedSyncItem,
    ReconciliationReport,
    Resolution,
    RunStatus,
    Severity,
    SyncHealthMetric,
    WebhookLog,
    WebhookStatus,
)

FULL = {"webhooks": 100_000, "failed": 10_000, "days": 7, "reports": 300, "runs": 100,
        "requests": 40}
QUICK = {"webhooks": 1_000, "failed": 100, "days": 1, "reports": 10, "runs": 5, "requests": 3}
CHUNK = 1000
PASSWORD = "bench-dashboard-password"
STATUSES = [WebhookStatus.PROCESSED] * 90 + [WebhookStatus.FAILED] * 3 + \
    [WebhookStatus.PENDING] * 2 + [WebhookStatus.IGNORED] * 5
# Which existing row fills each URL argument of a page.
ID_ARGS = {"item_id": FailedSyncItem, "report_id": ReconciliationReport, "run_id": BackfillRun}
# Fragments that only exist while a job runs (htmx polls them); not timed.
NEEDS_RUNNING_JOB = {"dashboard.reconciliation_progress"}


def _insert(model, rows):
    """Insert rows a chunk at a time."""
    for start in range(0, len(rows), CHUNK):
        model.insert_many(rows[start:start + CHUNK]).execute()


def fill(size, now, rng):
    """Fill the bound database with the big data set."""
    bodies = order_bodies(200)
    stack = "Traceback (most recent call last):\n" + "  File \"shopsync/sync.py\", line 80\n" * 20
    for start in range(0, size["webhooks"], CHUNK):
        rows = []
        for i in range(start, min(start + CHUNK, size["webhooks"])):
            status = rng.choice(STATUSES)
            received = now - dt.timedelta(seconds=(size["webhooks"] - i) * 6)
            done = status in (WebhookStatus.PROCESSED, WebhookStatus.FAILED)
            rows.append({"id": f"hook-{i}", "topic": "orders/updated", "shopify_id": 10**12 + i % 40_000,
                         "raw_body": bodies[i % len(bodies)], "received_at": received, "status": status,
                         "processed_at": received + dt.timedelta(milliseconds=rng.randrange(50, 5000))
                         if done else None, "attempts": int(done), "duplicates": rng.choice([0] * 9 + [1]),
                         "error": "invalid order payload" if status is WebhookStatus.FAILED else None})
        WebhookLog.insert_many(rows).execute()
    outcomes = [None] * 6 + [Resolution.SUCCESS, Resolution.MANUAL, Resolution.ABANDONED]
    items = []
    for i in range(size["failed"]):
        resolution = rng.choice(outcomes)
        created = now - dt.timedelta(minutes=size["failed"] - i)
        items.append({"entity_type": rng.choice(["order", "product", "customer"]), "shopify_id": 10**12 + i,
                      "topic": "orders/updated", "raw_data": bodies[i % len(bodies)].decode(),
                      "error_message": "OperationalError: database is locked", "error_stack": stack,
                      "retry_count": rng.randrange(6), "created_at": created, "updated_at": created,
                      "next_retry_at": created + dt.timedelta(minutes=5),
                      "resolution": resolution, "resolved_at": created if resolution else None})
    _insert(FailedSyncItem, items)
    readings = [{"metric_name": metric.name, "value": rng.random() * 10, "status": Severity.OK,
                 "threshold_warning": warning, "threshold_critical": critical,
                 "recorded_at": now - dt.timedelta(minutes=m)}
                for metric in METRICS for warning, critical in [metric.thresholds(TUNING)]
                for m in range(size["days"] * 1440)]
    _insert(SyncHealthMetric, readings)
    _insert(Alert, [{"metric_name": "error_rate", "status": Severity.WARNING, "message": "error rate 7%",
                     "created_at": now - dt.timedelta(hours=i)} for i in range(200)])
    missing = list(range(10**12, 10**12 + 2000))
    _insert(ReconciliationReport, [
        {"entity_type": ["orders", "products", "customers"][i % 3], "shopify_count": 100_000,
         "erp_count": 99_000, "discrepancy": 1000, "status": Severity.CRITICAL, "api_calls": 60,
         "details": {"missing": missing, "extra": [], "healed": missing[:500]},
         "created_at": now - dt.timedelta(hours=size["reports"] - i)} for i in range(size["reports"])])
    _insert(BackfillRun, [{"entity_type": "orders", "status": RunStatus.COMPLETED, "expected": 100_000,
                           "fetched": 100_000, "stored": 100_000,
                           "started_at": now - dt.timedelta(days=i, hours=1),
                           "finished_at": now - dt.timedelta(days=i)} for i in range(size["runs"])])


def pages(app):
    """Return (label, URL) of every GET page to time, then of filtered and deep variants."""
    urls = []
    with app.test_request_context():  # its teardown closes the connection
        db.connect(reuse_if_open=True)
        for rule in app.url_map.iter_rules():
            if (not rule.endpoint.startswith("dashboard.") or "GET" not in rule.methods
                    or rule.endpoint in NEEDS_RUNNING_JOB or not set(rule.arguments) <= set(ID_ARGS)):
                continue
            args = {name: ID_ARGS[name].select(ID_ARGS[name].id).order_by(ID_ARGS[name].id.desc())
                    .scalar() for name in rule.arguments}
            urls.append((rule.rule, url_for(rule.endpoint, **args)))
        deep = WebhookLog.select().order_by(WebhookLog.received_at).offset(60).first()
        deep_item = FailedSyncItem.select(FailedSyncItem.id).order_by(FailedSyncItem.id).offset(60).scalar()
        urls += [("/webhooks?status=failed", url_for("dashboard.webhooks", status="failed")),
                 ("/webhooks?shopify_id=<id>", url_for("dashboard.webhooks", shopify_id=10**12 + 7)),
                 ("/webhooks?before=<61st oldest>", url_for(
                     "dashboard.webhooks", before=f"{deep.received_at.isoformat()}|{deep.id}")),
                 ("/failed-items?status=all", url_for("dashboard.failed_items", status="all")),
                 ("/failed-items?entity=product", url_for("dashboard.failed_items", entity="product")),
                 ("/failed-items?before=<61st oldest>", url_for("dashboard.failed_items",
                                                                before=deep_item)),
                 ("/metrics (a Prometheus scrape)", url_for("metrics.metrics"))]
    return urls


def _login(app):
    """Return a test client signed in as an admin."""
    with db.connection_context():
        save_user("bench", PASSWORD, is_admin=True)
    client = app.test_client()
    form = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    response = client.post("/login", data={"username": "bench", "password": PASSWORD,
                                           "csrf_token": token})
    if response.status_code != 302:
        raise RuntimeError(f"bench login failed: {response.status_code}")
    return client


def time_page(client, url, requests):
    """Return the render times (ms) of `requests` GETs of `url`, after a warm-up."""
    times = []
    for n in range(requests + 2):
        started = time.perf_counter()
        response = client.get(url)
        response.get_data()  # a streamed page (the CSV exports) is timed to its last byte
        response.close()
        took = (time.perf_counter() - started) * 1000
        if response.status_code != 200:
            raise RuntimeError(f"GET {url}: HTTP {response.status_code}")
        if n >= 2:
            times.append(took)
    return times


def run(ctx):
    """Fill a big database and time every dashboard page; return rows."""
    size = QUICK if ctx.quick else FULL
    app = make_app(ctx)
    with app.app_context():
        with db.connection_context():
            fresh_schema()
            started = time.monotonic()
            with db.atomic():
                fill(size, utcnow(), random.Random(3))
            filled = time.monotonic() - started
            started = time.monotonic()
            stats.take_snapshot()  # as the health job does each minute, for /metrics
            counted = time.monotonic() - started
        urls = pages(app)
        client = _login(app)
        rows = []
        for label, url in urls:
            p95 = percentile(time_page(client, url, size["requests"]), 0.95)
            rows.append(Row("dashboard", f"p95 GET {label}", p95, "ms", target="< 100 ms", met=p95 < 100))
    close_database()
    rows.append(Row("dashboard", f"database filled: {size['webhooks']:,} webhooks, "
                                 f"{size['failed']:,} failed items", filled, "s"))
    rows.append(Row("dashboard", "counts for /metrics, taken by the health job each minute",
                    counted * 1000, "ms"))
    return rows
