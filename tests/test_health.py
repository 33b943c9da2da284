"""Health metrics from known data equal hand-computed values; subscriptions are checked and repaired."""

import datetime as dt

import pytest

from shopsync import health
from shopsync.db import utcnow
from shopsync.models import (
    FailedSyncItem,
    Order,
    Resolution,
    Severity,
    SyncHealthMetric,
    WebhookLog,
    WebhookStatus,
)
from shopsync.shopify import ShopifyClient
from shopsync.simulator import SimulatorServer, Store
from shopsync.topics import REQUIRED_TOPICS

ADDRESS = "https://shopsync.example.com/webhooks/shopify"
NOW = utcnow().replace(microsecond=0)


def webhook(n, status, received, processed=None, topic="orders/create"):
    """Store one webhook row received (and processed) at the given times."""
    WebhookLog.create(id=f"wh-{n}", topic=topic, raw_body=b"{}", status=status,
                      received_at=received, processed_at=processed)


def failed_items(count, resolved=False, start=0):
    """Store `count` failed items, unresolved unless told."""
    for i in range(start, start + count):
        FailedSyncItem.create(entity_type="order", shopify_id=1000 + i, raw_data="{}",
                              error_message="boom", resolved_at=NOW if resolved else None,
                              resolution=Resolution.SUCCESS if resolved else None)


def known_webhooks(now):
    """20 processed in 1..20 s, 2 failed, 1 pending for 300 s, 1 ignored; 1 failed 2 hours ago."""
    for i in range(1, 21):
        received = now - dt.timedelta(minutes=30) + dt.timedelta(seconds=i * 60)
        webhook(i, WebhookStatus.PROCESSED, received, received + dt.timedelta(seconds=i))
    webhook(21, WebhookStatus.FAILED, now - dt.timedelta(minutes=20), now - dt.timedelta(minutes=19))
    webhook(22, WebhookStatus.FAILED, now - dt.timedelta(minutes=10), now - dt.timedelta(minutes=9))
    webhook(23, WebhookStatus.PENDING, now - dt.timedelta(seconds=300))
    webhook(24, WebhookStatus.IGNORED, now - dt.timedelta(seconds=5), now, topic="app/uninstalled")
    webhook(25, WebhookStatus.FAILED, now - dt.timedelta(hours=2), now - dt.timedelta(hours=2))


@pytest.fixture
def shop():
    store = Store.generate(seed=21, orders=300, products=5, customers=20)
    with SimulatorServer(store, bucket_size=1000, leak_rate=10_000.0) as server:
        yield server


def client_of(server, **options):
    return ShopifyClient(server.base_url, server.access_token, leak_rate=0, **options)


def by_name(readings):
    return {reading.metric_name: reading for reading in readings}


def test_metrics_from_known_data_equal_hand_computed_values(app, shop):
    app.config["SHOPSYNC_WEBHOOK_ADDRESS"] = ADDRESS
    known_webhooks(NOW)
    failed_items(25)
    failed_items(3, resolved=True, start=100)
    ids = sorted(shop.store.ids("orders", status="any"))
    Order.insert_many([{"shopify_id": i} for i in ids[60:]]).execute()  # 240 of 300
    Order.create(shopify_id=1, deleted_at=NOW)  # a tombstone is not an order
    client = client_of(shop)
    for topic in REQUIRED_TOPICS[2:]:
        client.create_webhook(topic, ADDRESS)
    client.create_webhook(REQUIRED_TOPICS[0], "https://someone-else.example.com/hooks")

    readings = by_name(health.compute_health(client, now=NOW))

    expected = {  # metric: (value, status)
        "order_lag": (60, Severity.WARNING),  # 300 - 240 > 50
        "error_rate": (2 / 23, Severity.WARNING),  # 2 failed of 23 in the hour (ignored left out)
        "webhook_latency_seconds": (19, Severity.WARNING),  # nearest-rank p95 of 1..20 s
        "dlq_size": (25, Severity.WARNING),
        "oldest_pending_webhook_seconds": (300, Severity.WARNING),
        "last_webhook_age_seconds": (5, Severity.OK),
        "missing_webhook_topics": (2, Severity.CRITICAL),
        "shopify_access_problems": (0, Severity.OK),  # a static token: scopes not known
    }
    assert set(readings) == set(expected)
    for name, (value, status) in expected.items():
        assert readings[name].value == pytest.approx(value), name
        assert readings[name].status is status, name
        assert readings[name].recorded_at == NOW
    assert (readings["order_lag"].threshold_warning, readings["order_lag"].threshold_critical) == (50, 200)
    assert (readings["error_rate"].threshold_warning,
            readings["error_rate"].threshold_critical) == (0.05, 0.15)
    assert SyncHealthMetric.select().count() == len(expected)


def test_thresholds_come_from_the_config(app):
    app.config.update(HEALTH_DLQ_SIZE_WARNING=1, HEALTH_DLQ_SIZE_CRITICAL=2, SHOPIFY_SHOP=None,
                      SHOPIFY_API_BASE_URL=None)
    failed_items(3)
    reading = by_name(health.compute_health(now=NOW))["dlq_size"]
    assert reading.status is Severity.CRITICAL
    assert (reading.threshold_warning, reading.threshold_critical) == (1, 2)


def test_status_is_reached_only_above_a_threshold():
    assert health.status_of(50, 50, 200) is Severity.OK
    assert health.status_of(51, 50, 200) is Severity.WARNING
    assert health.status_of(200, 50, 200) is Severity.WARNING
    assert health.status_of(201, 50, 200) is Severity.CRITICAL
    assert health.status_of(-201, 50, 200) is Severity.CRITICAL  # the ERP ahead of Shopify
    assert health.status_of(1, 0, 0) is Severity.CRITICAL
    assert health.status_of(None, 50, 200) is Severity.WARNING
    assert health.status_of(None, 5, 30, unknown=Severity.OK) is Severity.OK
    assert health.percentile([3, 1, 2], 0.95) == 3 and health.percentile([], 0.95) is None
    assert health.percentile(list(range(1, 101)), 0.95) == 95


def test_a_silent_store_and_an_unreachable_shopify_are_flagged_not_crashes(app, shop):
    app.config["SHOPSYNC_WEBHOOK_ADDRESS"] = ADDRESS
    shop.faults.fail_next_requests(100, status=503)
    readings = by_name(health.compute_health(client_of(shop, max_retries=0), now=NOW))
    for name in ("order_lag", "missing_webhook_topics", "last_webhook_age_seconds"):
        assert readings[name].value is None and readings[name].status is Severity.WARNING, name
    assert readings["webhook_latency_seconds"].value is None
    assert readings["webhook_latency_seconds"].status is Severity.OK
    assert readings["dlq_size"].value == 0 and readings["error_rate"].value == 0

    webhook(1, WebhookStatus.PROCESSED, NOW - dt.timedelta(hours=25), NOW - dt.timedelta(hours=25))
    app.config.update(SHOPIFY_SHOP=None, SHOPIFY_API_BASE_URL=None)
    reading = by_name(health.compute_health(now=NOW))["last_webhook_age_seconds"]
    assert reading.value == 25 * 3600 and reading.status is Severity.CRITICAL


def test_without_a_store_or_an_address_those_metrics_are_skipped(app):
    app.config.update(SHOPIFY_SHOP=None, SHOPIFY_API_BASE_URL=None, SHOPSYNC_WEBHOOK_ADDRESS=None)
    names = set(by_name(health.compute_health(now=NOW)))
    assert names == {m.name for m in health.METRICS} - {"order_lag", "missing_webhook_topics",
                                                        "shopify_access_problems"}


def test_latest_readings_and_retention(app):
    app.config.update(SHOPIFY_SHOP=None, SHOPIFY_API_BASE_URL=None)
    earlier, later = NOW - dt.timedelta(minutes=1), NOW
    SyncHealthMetric.create(metric_name="dlq_size", value=7, status=Severity.OK,
                            recorded_at=NOW - dt.timedelta(days=31))
    health.compute_health(now=earlier)
    failed_items(21)
    health.compute_health(now=later)

    latest = health.latest_metrics()
    assert [r.metric_name for r in latest] == [m.name for m in health.METRICS if m.name in
                                                {r.metric_name for r in latest}]
    assert all(r.recorded_at == later for r in latest)
    assert by_name(latest)["dlq_size"].value == 21
    history = SyncHealthMetric.select().where(SyncHealthMetric.metric_name == "dlq_size").order_by(
        SyncHealthMetric.recorded_at)
    assert [(r.recorded_at, r.value) for r in history] == [(earlier, 0), (later, 21)]  # 31 days: pruned


def test_api_health_returns_the_latest_readings(app, api):
    app.config.update(SHOPIFY_SHOP=None, SHOPIFY_API_BASE_URL=None)
    first = api("health").json
    assert {k: first[k] for k in ("status", "checked_at", "metrics")} == {
        "status": "unknown", "checked_at": None, "metrics": {}}
    webhook(1, WebhookStatus.PROCESSED, NOW - dt.timedelta(seconds=10), NOW - dt.timedelta(seconds=8))
    failed_items(101)
    health.compute_health(now=NOW)
    body = api("health").json
    assert body["status"] == "critical" and body["checked_at"] == NOW.isoformat()
    assert body["metrics"]["dlq_size"] == {
        "value": 101, "status": "critical", "threshold_warning": 20, "threshold_critical": 100,
        "recorded_at": NOW.isoformat(), "description": "unresolved failed items"}
    assert body["metrics"]["webhook_latency_seconds"]["value"] == 2
    assert body["metrics"]["last_webhook_age_seconds"]["status"] == "ok"


def test_register_webhooks_creates_only_the_missing_subscriptions(app, shop):
    app.config.update(SHOPIFY_API_BASE_URL=shop.base_url, SHOPIFY_ACCESS_TOKEN=shop.access_token,
                      SHOPSYNC_WEBHOOK_ADDRESS=ADDRESS)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["register-webhooks"])
    assert result.exit_code == 0, result.output
    assert f"{len(REQUIRED_TOPICS)} created" in result.output
    subscribed = {(item["topic"], item["address"]) for item in shop.subscriptions.list()}
    assert subscribed == {(topic, ADDRESS) for topic in REQUIRED_TOPICS}
    assert by_name(health.compute_health(now=NOW))["missing_webhook_topics"].value == 0

    # Shopify deletes a subscription after 8 failed deliveries; the check sees it, a rerun repairs it.
    lost = next(item for item in shop.subscriptions.list() if item["topic"] == "orders/create")
    shop.subscriptions.delete(lost["id"])
    reading = by_name(health.compute_health(now=NOW))["missing_webhook_topics"]
    assert reading.value == 1 and reading.status is Severity.CRITICAL
    result = runner.invoke(args=["register-webhooks"])
    assert result.exit_code == 0 and "1 created" in result.output and "orders/create" in result.output
    assert len(shop.subscriptions.list()) == len(REQUIRED_TOPICS)

    other = runner.invoke(args=["register-webhooks", "--address", "ftp://nowhere"])
    assert other.exit_code == 1 and "failed orders/create" in other.output
