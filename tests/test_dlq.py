"""The dead-letter queue: one item per record, backoff, retries, newest data wins."""

import datetime as dt
import json

import pytest

from shopsync import dlq, failed_items
from shopsync.db import utcnow
from shopsync.models import (
    Alert,
    FailedSyncItem,
    Order,
    Resolution,
    Severity,
    WebhookLog,
    WebhookStatus,
)
from shopsync.schemas import OrderSchema
from shopsync.topics import Topic
from tests.helpers import ADMIN_TOKEN, deliver, order

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
pytestmark = pytest.mark.usefixtures("app")


def _make_due(item_id):
    FailedSyncItem.update(next_retry_at=utcnow() - dt.timedelta(seconds=1)).where(
        FailedSyncItem.id == item_id).execute()


def _transient_failure(**changes):
    """Open a retryable failed item for the sample order, as a pull that hit a bug would."""
    document = order(**changes)
    failed_items.add_to_dead_letter("order", document["id"], json.dumps(document), "RuntimeError: boom",
                                    data_updated_at=failed_items.payload_updated_at(document))
    return FailedSyncItem.get(FailedSyncItem.shopify_id == document["id"])


def test_backoff_doubles_with_jitter_and_is_capped():
    now = utcnow()
    for n, minutes in [(0, 1), (1, 2), (3, 8), (6, 64)]:
        delay = (failed_items.backoff(n, now) - now).total_seconds() / 60
        assert minutes * 0.8 <= delay <= minutes * 1.2
    assert failed_items.backoff(30, now) - now <= failed_items.MAX_BACKOFF * 1.2


def test_one_item_per_record_updated_in_place():
    first = _transient_failure()
    failed_items.add_to_dead_letter("order", first.shopify_id, "{}", "second error")
    assert FailedSyncItem.select().count() == 1
    assert FailedSyncItem.get(FailedSyncItem.entity_type == "order").error_message == "second error"


def test_due_item_is_retried_and_resolved():
    item = _transient_failure()
    _make_due(item.id)
    assert dlq.process_dead_letter_queue() == {"retried": 1, "succeeded": 1, "failed": 0,
                                               "abandoned": 0, "skipped": 0}
    item = FailedSyncItem.get_by_id(item.id)
    assert item.resolution is Resolution.SUCCESS and item.resolved_at is not None
    assert Order.get().total_price is not None


def test_item_not_yet_due_is_left_alone():
    _transient_failure()
    assert dlq.process_dead_letter_queue()["retried"] == 0


def test_failing_retries_count_up_then_abandon():
    item = _transient_failure(total_price="not money")
    FailedSyncItem.update(max_retries=3).execute()
    for expected in (1, 2):
        FailedSyncItem.update(retryable=True).execute()  # as if the failure were transient
        _make_due(item.id)
        assert dlq.process_dead_letter_queue()["failed"] == 1
        item = FailedSyncItem.get_by_id(item.id)
        assert item.retry_count == expected and item.resolved_at is None
        # The payload is invalid: the runner learned that a retry cannot help.
        assert item.retryable is False and item.next_retry_at is None
    FailedSyncItem.update(retryable=True).execute()
    _make_due(item.id)
    assert dlq.process_dead_letter_queue()["abandoned"] == 1
    item = FailedSyncItem.get_by_id(item.id)
    assert item.retry_count == 3 and item.resolution is Resolution.ABANDONED
    alert = Alert.get(Alert.metric_name == "failed_items_abandoned")
    assert alert.status is Severity.CRITICAL and f"order {item.shopify_id}" in alert.message


def test_transient_failure_is_rescheduled_with_backoff(monkeypatch):
    item = _transient_failure()
    _make_due(item.id)

    def unavailable(data):
        raise RuntimeError("ERP briefly unavailable")

    flaky = Topic("order", "orders", OrderSchema, unavailable)
    monkeypatch.setattr("shopsync.dlq._topic_of", lambda item: flaky)
    assert dlq.process_dead_letter_queue()["failed"] == 1
    item = FailedSyncItem.get_by_id(item.id)
    delay = (item.next_retry_at - utcnow()).total_seconds() / 60
    assert item.retryable and item.retry_count == 1 and 1.5 <= delay <= 2.5
    assert "ERP briefly unavailable" in item.error_message


def test_overlapping_runners_attempt_an_item_once():
    item = _transient_failure()
    _make_due(item.id)
    stale_view = FailedSyncItem.get_by_id(item.id)
    assert dlq._claim(stale_view, dlq.CLAIM_LEASE)
    assert not dlq._claim(stale_view, dlq.CLAIM_LEASE)
    assert dlq.process_dead_letter_queue()["retried"] == 0


def test_newer_webhook_success_resolves_the_open_item(client, run_jobs):
    _transient_failure(updated_at="2024-01-01T00:00:00Z")
    deliver(client, "orders/updated", order(updated_at="2024-01-02T00:00:00Z"))
    run_jobs()
    item = FailedSyncItem.get(FailedSyncItem.entity_type == "order")
    assert item.resolution is Resolution.SUCCESS


def test_older_webhook_does_not_resolve_newer_failed_data(client, run_jobs):
    _transient_failure(updated_at="2024-01-03T00:00:00Z")
    deliver(client, "orders/updated", order(updated_at="2024-01-02T00:00:00Z"))
    run_jobs()
    assert FailedSyncItem.get(FailedSyncItem.entity_type == "order").resolved_at is None


def test_manual_retry_of_fixed_webhook_item_marks_webhook_processed(client, run_jobs):
    deliver(client, "orders/updated", order(total_price=None), webhook_id="w1")
    run_jobs()
    item = FailedSyncItem.get(FailedSyncItem.entity_type == "order")
    assert item.retryable is False and WebhookLog.get_by_id("w1").status is WebhookStatus.FAILED
    # Someone repairs the stored data (e.g. after a schema fix), then presses Retry.
    FailedSyncItem.update(raw_data=json.dumps(order())).execute()
    response = client.post(f"/api/admin/failed-items/{item.id}/retry", headers=AUTH)
    assert response.status_code == 200 and response.json["status"] == "resolved"
    assert response.json["resolution"] == "manual"
    assert WebhookLog.get_by_id("w1").status is WebhookStatus.PROCESSED


def test_api_lists_retries_and_abandons(client, run_jobs):
    deliver(client, "orders/updated", b"{broken", webhook_id="w2")
    run_jobs()
    listed = client.get("/api/admin/failed-items?status=open", headers=AUTH).json["items"]
    assert len(listed) == 1 and listed[0]["webhook_id"] == "w2"
    item_id = listed[0]["id"]
    retried = client.post(f"/api/admin/failed-items/{item_id}/retry", headers=AUTH).json
    assert retried["status"] == "open" and retried["retry_count"] == 1
    abandoned = client.post(f"/api/admin/failed-items/{item_id}/abandon", headers=AUTH).json
    assert abandoned["status"] == "abandoned"
    assert client.get("/api/admin/failed-items?status=open", headers=AUTH).json["items"] == []
    assert len(client.get("/api/admin/failed-items?status=abandoned", headers=AUTH).json["items"]) == 1
    assert client.get("/api/admin/failed-items?status=bogus", headers=AUTH).status_code == 400
    assert client.post("/api/admin/failed-items/999/retry", headers=AUTH).status_code == 404


def test_retry_all_open_queues_one_job_that_retries_each(client, run_jobs):
    for shopify_id in (1, 2, 3):
        failed_items.add_to_dead_letter("order", shopify_id, json.dumps(order(id=shopify_id)), "boom")
    assert dlq.retry_all_open() == (3, True)
    run_jobs()
    assert FailedSyncItem.select().where(FailedSyncItem.resolution == Resolution.MANUAL).count() == 3
    assert Order.select().count() == 3


def test_an_items_state_and_the_listing_filters_agree():
    for shopify_id, resolution in enumerate([None, Resolution.SUCCESS, Resolution.MANUAL,
                                             Resolution.ABANDONED], start=1):
        FailedSyncItem.create(entity_type="order", shopify_id=shopify_id, raw_data="{}",
                              error_message="boom", resolution=resolution,
                              resolved_at=resolution and utcnow())
    states = {item.shopify_id: item.state for item in FailedSyncItem.select()}
    assert states == {1: "open", 2: "resolved", 3: "resolved", 4: "abandoned"}
    for status in ("open", "resolved", "abandoned"):
        listed = {item.shopify_id for item in FailedSyncItem.select().where(FailedSyncItem.matching(status))}
        assert listed == {shopify_id for shopify_id, state in states.items() if state == status}
    assert {item.shopify_id for item in FailedSyncItem.open()} == {1}
