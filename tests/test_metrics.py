"""GET /metrics serves the latest health readings and the sync counts in Prometheus format."""

import datetime as dt
import logging

import pytest
from prometheus_client.parser import text_string_to_metric_families

from shopsync import health
from shopsync.models import Order, ReconciliationReport, Severity, WebhookLog, WebhookStatus
from tests.test_health import NOW, failed_items, webhook


def scrape(client):
    """GET /metrics and return {(name, labels as a sorted tuple): value}."""
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.content_type.startswith("text/plain; version=")
    samples = {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


@pytest.fixture
def no_store(app):
    app.config.update(SHOPIFY_SHOP=None, SHOPIFY_API_BASE_URL=None, SHOPSYNC_WEBHOOK_ADDRESS=None)


@pytest.mark.usefixtures("no_store")
def test_metrics_expose_the_latest_readings_and_counts(client):
    webhook(1, WebhookStatus.PROCESSED, NOW - dt.timedelta(seconds=30), NOW - dt.timedelta(seconds=26))
    webhook(2, WebhookStatus.FAILED, NOW - dt.timedelta(seconds=20), NOW - dt.timedelta(seconds=19))
    webhook(3, WebhookStatus.PENDING, NOW - dt.timedelta(seconds=10))
    WebhookLog.update(duplicates=2).where(WebhookLog.id == "wh-1").execute()
    failed_items(21)
    failed_items(2, resolved=True, start=50)
    Order.insert_many([{"shopify_id": i} for i in range(1, 8)]).execute()
    Order.create(shopify_id=99, deleted_at=NOW)
    health.compute_health(now=NOW - dt.timedelta(minutes=1))
    health.compute_health(now=NOW)  # only the latest reading is exposed
    ReconciliationReport.create(entity_type="orders", discrepancy=4, status=Severity.WARNING,
                                created_at=NOW)

    samples = scrape(client)

    metric = {"error_rate": 1 / 3, "webhook_latency_seconds": 4, "dlq_size": 21,
              "oldest_pending_webhook_seconds": 10, "last_webhook_age_seconds": 10}
    for name, value in metric.items():
        assert samples[(f"shopsync_health_{name}", ())] == pytest.approx(value), name
    assert samples[("shopsync_health_status", (("metric", "dlq_size"),))] == 1  # warning
    assert samples[("shopsync_health_status", (("metric", "error_rate"),))] == 2  # critical
    assert samples[("shopsync_health_status", (("metric", "last_webhook_age_seconds"),))] == 0
    assert samples[("shopsync_health_threshold", (("level", "warning"), ("metric", "dlq_size")))] == 20
    assert samples[("shopsync_health_threshold", (("level", "critical"), ("metric", "dlq_size")))] == 100
    assert samples[("shopsync_erp_records", (("entity", "orders"),))] == 7
    assert samples[("shopsync_erp_records", (("entity", "products"),))] == 0
    assert samples[("shopsync_webhooks", (("status", "processed"),))] == 1
    assert samples[("shopsync_webhooks", (("status", "pending"),))] == 1
    assert samples[("shopsync_webhooks", (("status", "failed"),))] == 1
    assert samples[("shopsync_webhooks_received", ())] == 3
    assert samples[("shopsync_webhook_duplicates", ())] == 2
    assert samples[("shopsync_failed_items", (("state", "open"),))] == 21
    assert samples[("shopsync_failed_items", (("state", "resolved"),))] == 2
    assert samples[("shopsync_reconciliation_discrepancy", (("entity", "orders"),))] == 4
    assert samples[("shopsync_reconciliation_timestamp_seconds", (("entity", "orders"),))] == (
        NOW.timestamp())
    assert ("shopsync_reconciliation_discrepancy", (("entity", "products"),)) not in samples


@pytest.mark.usefixtures("no_store")
def test_an_unknown_reading_has_a_status_but_no_value(client):
    health.compute_health(now=NOW)  # no webhook yet: latency and last webhook age unknown
    samples = scrape(client)
    assert ("shopsync_health_webhook_latency_seconds", ()) not in samples
    assert ("shopsync_health_last_webhook_age_seconds", ()) not in samples
    assert samples[("shopsync_health_status", (("metric", "last_webhook_age_seconds"),))] == 1
    assert samples[("shopsync_health_dlq_size", ())] == 0


def test_metrics_answer_before_any_reading_and_need_no_login(client):
    samples = scrape(client)
    assert ("shopsync_webhooks_received", ()) not in samples  # nothing counted yet
    assert not any(name.startswith("shopsync_health_") and name not in (
        "shopsync_health_status", "shopsync_health_threshold") for name, _ in samples)


@pytest.mark.usefixtures("no_store")
def test_a_scrape_counts_nothing_and_serves_the_counts_of_the_last_health_run(client, caplog):
    webhook(1, WebhookStatus.PROCESSED, NOW - dt.timedelta(seconds=30), NOW)
    health.compute_health(now=NOW)
    webhook(2, WebhookStatus.PROCESSED, NOW - dt.timedelta(seconds=20), NOW)
    with caplog.at_level(logging.DEBUG, logger="peewee"):
        samples = scrape(client)
    queries = [str(record.msg) for record in caplog.records if record.name == "peewee"]
    assert queries and not [q for q in queries if "webhook_log" in q or "COUNT" in q.upper()]
    assert samples[("shopsync_webhooks_received", ())] == 1
    assert samples[("shopsync_counts_timestamp_seconds", ())] == NOW.timestamp()
    health.compute_health(now=NOW)
    assert scrape(client)[("shopsync_webhooks_received", ())] == 2


def test_metrics_want_the_token_when_one_is_set(app, client):
    app.config["SHOPSYNC_METRICS_TOKEN"] = "scrape-token"
    for given in (None, "Bearer nope", "scrape-token"):
        response = client.get("/metrics", headers={"Authorization": given} if given else {})
        assert response.status_code == 401 and response.headers["WWW-Authenticate"] == "Bearer"
    response = client.get("/metrics", headers={"Authorization": "Bearer scrape-token"})
    assert response.status_code == 200
    assert client.get("/healthz").status_code == 200  # liveness stays public


def test_hsts_is_sent_only_when_cookies_are_https_only(app, client):
    for path in ("/login", "/healthz", "/metrics"):
        assert "Strict-Transport-Security" not in client.get(path).headers
    app.config["SESSION_COOKIE_SECURE"] = True
    for path in ("/login", "/healthz", "/metrics"):
        assert client.get(path).headers["Strict-Transport-Security"].startswith("max-age=31536000")
