"""The audit log records every action a person takes: who, when, what, from which page."""

from shopsync.models import AuditEntry
from tests.helpers import deliver, order
from tests.test_dashboard import post


def text(response):
    return response.get_data(as_text=True)


def entries():
    return [(e.username, e.action, e.target, e.detail, e.page)
            for e in AuditEntry.select().order_by(AuditEntry.id)]


def test_dashboard_actions_are_logged_with_who_what_and_the_page(admin_client, dashboard_data):
    item = dashboard_data["fixable_item"]
    post(admin_client, f"/failed-items/{item}/retry", htmx=True, next="/failed-items?entity=order")
    post(admin_client, f"/failed-items/{dashboard_data['broken_item']}/abandon",
         next="/failed-items")
    post(admin_client, "/processing/pause", next="/webhooks?status=failed")
    logged = entries()
    assert logged[0] == ("admin", "retry failed item", str(item), f"Item {item} retried: synced.",
                         "/failed-items?entity=order")
    assert logged[1][:3] == ("admin", "abandon failed item", str(dashboard_data["broken_item"]))
    assert logged[1][3] == f"Item {dashboard_data['broken_item']} abandoned."
    assert logged[2][1:] == ("pause processing", None, "Processing paused: webhooks are stored "
                             "and answered 200, and wait until you resume.", "/webhooks?status=failed")
    assert AuditEntry.select().first().created_at.tzinfo is not None


def test_a_confirmation_page_is_not_an_action_but_the_replay_is(client, admin_client, run_jobs):
    deliver(client, "orders/create", order(), webhook_id="a1")
    run_jobs()
    post(admin_client, "/webhooks/replay", topic="orders/create", next="/webhooks")
    assert entries() == []
    post(admin_client, "/webhooks/replay", topic="orders/create", next="/webhooks", confirm="yes")
    assert entries() == [("admin", "replay matching deliveries", None,
                          "topic=orders/create; Replaying 1 delivery: a worker applies it again "
                          "in a moment (newer data in the ERP wins).", "/webhooks")]


def test_refused_actions_are_logged_as_refused(viewer_client, dashboard_data):
    post(viewer_client, f"/failed-items/{dashboard_data['fixable_item']}/retry")
    (who, action, _, detail, _), = entries()
    assert (who, action) == ("viewer", "retry failed item") and detail.startswith("refused (403)")


def test_user_changes_at_the_command_line_are_logged(app):
    runner = app.test_cli_runner()
    runner.invoke(args=["create-user", "carol", "--admin", "--password", "long enough pw"])
    runner.invoke(args=["create-user", "carol", "--password", "long enough pw"])
    assert [(e.action, e.target, e.detail, e.page) for e in AuditEntry.select().order_by(
        AuditEntry.id)] == [("create user", "carol", "admin", "command line"),
                            ("update user", "carol", "viewer", "command line")]


def test_the_audit_page_lists_entries_newest_first(admin_client, viewer_client, dashboard_data):
    post(admin_client, "/processing/pause", next="/webhooks")
    post(admin_client, "/processing/resume", next="/webhooks")
    html = text(viewer_client.get("/audit"))
    assert html.index("resume processing") < html.index("pause processing")
    assert 'href="/webhooks"' in html
    assert "No actions recorded for nobody" in text(viewer_client.get("/audit?user=nobody"))
