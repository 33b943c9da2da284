"""Pausing holds the drains while deliveries are still stored and answered; resuming applies them."""

from shopsync import outbox, pause
from shopsync.models import AuditEntry, Order, WebhookLog, WebhookStatus
from tests.helpers import deliver, order
from tests.test_dashboard import post


def text(response):
    return response.get_data(as_text=True)


def test_paused_deliveries_are_stored_and_answered_then_applied_on_resume(client, admin_client,
                                                                         run_jobs):
    post(admin_client, "/processing/pause", next="/webhooks")
    response = deliver(client, "orders/create", order(), webhook_id="while-paused")
    assert response.status_code == 200 and response.json["status"] == "accepted"
    run_jobs()
    assert WebhookLog.get_by_id("while-paused").status is WebhookStatus.PENDING
    assert Order.select().count() == 0
    post(admin_client, "/processing/resume", next="/webhooks")
    run_jobs()
    assert WebhookLog.get_by_id("while-paused").status is WebhookStatus.PROCESSED
    assert Order.select().count() == 1


def test_a_banner_shows_while_paused_with_who_paused(admin_client, viewer_client):
    assert "Processing paused" not in text(viewer_client.get("/webhooks"))
    assert "Pause processing" in text(admin_client.get("/webhooks"))
    post(admin_client, "/processing/pause", next="/webhooks")
    html = text(viewer_client.get("/failed-items"))
    assert "Processing paused by admin" in html and "Resume processing" not in html  # viewers
    admin_page = text(admin_client.get("/webhooks"))
    assert "Resume processing" in admin_page and "Pause processing" not in admin_page
    assert post(viewer_client, "/processing/resume").status_code == 403
    assert pause.is_paused()


def test_the_commands_pause_and_resume(app, client, run_jobs):
    runner = app.test_cli_runner()
    assert "processing paused" in runner.invoke(args=["pause"]).output
    assert "already paused" in runner.invoke(args=["pause"]).output
    deliver(client, "orders/create", order())
    run_jobs()
    assert Order.select().count() == 0
    assert "processing resumed: a drain is queued" in runner.invoke(args=["resume"]).output
    run_jobs()
    assert Order.select().count() == 1
    assert "was not paused" in runner.invoke(args=["resume"]).output
    actions = [(e.action, e.page) for e in AuditEntry.select().order_by(AuditEntry.id)][:2]
    assert actions == [("pause processing", "command line"), ("pause processing", "command line")]


def test_resume_says_so_when_redis_is_down(admin_client, monkeypatch):
    post(admin_client, "/processing/pause")
    monkeypatch.setattr(outbox, "wake", lambda queue: False)
    response = post(admin_client, "/processing/resume", next="/webhooks")
    assert "Redis cannot be reached" in text(admin_client.get(response.headers["Location"]))
    assert not pause.is_paused()
