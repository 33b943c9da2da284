"""Words for people: units, rounded values, sentences for validation errors, plain retries."""

import datetime as dt

import pytest

from shopsync import failed_items, health
from shopsync.db import utcnow
from shopsync.models import Alert, FailedSyncItem, Severity, SyncHealthMetric, WebhookLog, WebhookStatus
from shopsync.wording import metric_label, metric_value, reason

RAW = ('invalid order payload: {"total_price": ["Not a valid number."], "line_items": {"0": '
       '{"quantity": ["Not a valid integer."]}}, "updated_at": ["Missing data for required field."]}')


def text(response):
    return response.get_data(as_text=True)


def test_validation_errors_read_as_sentences():
    assert reason(RAW) == ("The order data is not valid: total price must be a number; line item 1: "
                           "quantity must be a whole number; updated at is missing.")
    assert reason("OperationalError: database is locked") == "OperationalError: database is locked"
    assert reason("invalid order payload: {not json") == "invalid order payload: {not json"
    assert reason(None) == ""
    assert reason('invalid order payload: {"updated_at": ["Not a valid datetime: out of range '
                  'once in UTC."]}') == ("The order data is not valid: updated at is not a valid "
                                         "datetime: out of range once in UTC.")


@pytest.mark.parametrize("name, value, words", [
    ("error_rate", 0.0712, "7.1%"), ("error_rate", 0.05, "5%"),
    ("webhook_latency_seconds", 1.85446, "1.9 s"), ("webhook_latency_seconds", 95.0, "95 s"),
    ("oldest_pending_webhook_seconds", 900, "15 min"),
    ("last_webhook_age_seconds", 3 * 3600, "3 h"), ("last_webhook_age_seconds", 86400 * 3, "3 days"),
    ("order_lag", 1234, "1,234"), ("order_lag", -3, "3 extra in the ERP"),
    ("dlq_size", None, "—"),
])
def test_metric_values_read_in_their_unit(name, value, words):
    assert metric_value(value, name) == words


def test_alerts_read_without_long_decimals_or_microseconds(app):
    now = utcnow()
    WebhookLog.insert_many([
        {"id": "w1", "topic": "orders/create", "raw_body": b"{}", "status": WebhookStatus.PROCESSED,
         "received_at": now - dt.timedelta(seconds=40), "processed_at": now - dt.timedelta(seconds=2.14159),
         "error": None},
        {"id": "w2", "topic": "orders/create", "raw_body": b"{}", "status": WebhookStatus.PENDING,
         "received_at": now - dt.timedelta(minutes=20, microseconds=123456), "processed_at": None,
         "error": None}]).execute()
    health.compute_health(now=now)
    messages = {a.metric_name: a.message for a in Alert.select()}
    assert "38 s (1 webhooks processed" in messages["webhook_latency_seconds"]
    assert "warning above 5.0 s" not in messages["webhook_latency_seconds"]
    assert "warning above 5 s, critical above 30 s" in messages["webhook_latency_seconds"]
    pending = messages["oldest_pending_webhook_seconds"]
    assert "20 min (oldest pending since " in pending and " UTC;" in pending
    assert ".123" not in pending and "warning above 2 min, critical above 15 min" in pending


def test_health_says_the_overall_status_and_where_alerts_go(viewer_client, dashboard_data):
    html = text(viewer_client.get("/"))
    assert "2 metrics need attention" in html and "Error rate (warning)" in html
    assert "Slack and email are not configured" in html
    assert metric_label("error_rate") in html and "share of the last hour" in html


def test_a_healthy_store_says_so_and_configured_alerts_give_no_hint(app, viewer_client):
    SyncHealthMetric.create(metric_name="dlq_size", value=0, status=Severity.OK,
                            threshold_warning=20, threshold_critical=100)
    app.config["SLACK_WEBHOOK_URL"] = "https://hooks.slack.invalid/x"
    html = text(viewer_client.get("/"))
    assert "Every metric is within its thresholds" in html and "not configured" not in html


def test_retries_past_the_automatic_budget_never_read_as_more_than_allowed(viewer_client):
    failed_items.add_to_dead_letter("order", 1, "{}", RAW, retryable=False)
    FailedSyncItem.update(retry_count=8).execute()
    item = FailedSyncItem.get()
    listing = text(viewer_client.get("/failed-items"))
    assert "8, the 5 automatic ones used up" in listing and "8 / 5" not in listing
    page = text(viewer_client.get(f"/failed-items/{item.id}"))
    assert "line item 1: quantity must be a whole number" in page
    assert "<summary>Raw detail</summary>" in page and "Not a valid integer." in page
