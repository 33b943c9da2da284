"""Day-one operations in a real headless Chromium: search, replay, pause, no double runs,
live tables, the audit log, and how often an idle page polls."""

import dataclasses

import pytest

from shopsync.db import db
from shopsync.models import AuditEntry, BackfillRun, FailedSyncItem, WebhookLog, WebhookStatus
from shopsync.queue import get_long_queue
from shopsync.topics import TOPICS
from tests import test_browser
from tests.helpers import deliver, fixture, order
from tests.test_browser import assert_not_reloaded, mark_page, shoot

# The browser module's fixtures: one Chromium per module, a fresh page, an admin signed in.
browser, page, admin = test_browser.browser, test_browser.page, test_browser.admin

pytestmark = pytest.mark.browser
# An idle page polls once every 10 s at most: 6 requests a minute (the limit is under 10).
MAX_IDLE_REQUESTS_PER_MINUTE = 6


def _deliver(client, topic, payload, webhook_id=None):
    assert deliver(client, topic, payload, webhook_id).status_code == 200


def _jobs(run_jobs):
    run_jobs()


def _status(webhook_id):
    with db.connection_context():
        return WebhookLog.get_by_id(webhook_id).status


def test_search_leads_to_the_record_and_its_delivery(live_server, client, run_jobs, admin):
    from playwright.sync_api import expect

    for topic, name in (("orders/create", "order"), ("customers/create", "customer")):
        _deliver(client, topic, fixture(name), webhook_id=f"{name}-hook")
    _jobs(run_jobs)
    page = admin
    page.fill("header input[name=q]", "#1001")
    page.press("header input[name=q]", "Enter")
    expect(page).to_have_url(live_server + "/records/order/450789469")
    expect(page.locator("h1")).to_contain_text("#1001")
    expect(page.get_by_role("cell", name="IPOD2008GREEN")).to_be_visible()
    shoot(page, "record")
    page.locator("tr[data-webhook=order-hook] a").first.click()
    expect(page).to_have_url(live_server + "/webhooks/order-hook")
    expect(page.locator("dl.fields.mono")).to_contain_text("sim-shop.myshopify.com")
    expect(page.locator("pre")).to_contain_text('"name": "#1001"')
    shoot(page, "webhook")
    page.fill("header input[name=q]", "bob.norman@hostmail.com")
    page.press("header input[name=q]", "Enter")
    expect(page.locator("ul.hits li")).to_have_count(2)
    page.get_by_role("link", name="bob.norman@hostmail.com").click()
    expect(page).to_have_url(live_server + "/records/customer/207119551")


def test_replay_one_delivery_and_every_match(live_server, client, run_jobs, admin, monkeypatch):
    from playwright.sync_api import expect

    fixed = TOPICS["orders/create"]
    monkeypatch.setitem(TOPICS, "orders/create",
                        dataclasses.replace(fixed, apply=lambda data: 1 / 0, apply_many=None))
    for n in (1, 2):
        _deliver(client, "orders/create", order(id=n), webhook_id=f"bad-{n}")
    _jobs(run_jobs)
    monkeypatch.setitem(TOPICS, "orders/create", fixed)  # the fix is deployed
    page = admin
    page.goto(live_server + "/webhooks/bad-1")
    page.get_by_role("button", name="Replay").click()
    expect(page.locator("#messages")).to_contain_text("Replaying 1 delivery")
    _jobs(run_jobs)
    assert _status("bad-1") is WebhookStatus.PROCESSED
    page.goto(live_server + "/webhooks?status=failed")
    expect(page.locator("#webhook-table tbody tr")).to_have_count(1)
    page.get_by_role("button", name="Replay every delivery matching this search").click()
    expect(page.locator("h1")).to_have_text("Replay 1 delivery?")
    page.get_by_role("button", name="Replay 1").click()
    expect(page).to_have_url(live_server + "/webhooks?status=failed")
    expect(page.locator("#messages")).to_contain_text("Replaying 1 delivery")
    _jobs(run_jobs)
    assert _status("bad-2") is WebhookStatus.PROCESSED


def test_pause_holds_processing_until_resumed(live_server, client, run_jobs, admin):
    from playwright.sync_api import expect

    page = admin
    page.goto(live_server + "/webhooks")
    page.get_by_role("button", name="Pause processing").click()
    banner = page.locator("#paused-banner")
    expect(banner).to_contain_text("Processing paused by alice")
    page.goto(live_server + "/")
    expect(banner).to_be_visible()
    shoot(page, "paused", full_page=False)
    _deliver(client, "orders/create", order(), webhook_id="held")
    _jobs(run_jobs)
    assert _status("held") is WebhookStatus.PENDING
    banner.get_by_role("button", name="Resume processing").click()
    expect(page.locator("#messages")).to_contain_text("Processing resumed")
    expect(banner).to_have_count(0)
    _jobs(run_jobs)
    assert _status("held") is WebhookStatus.PROCESSED


def test_double_clicks_run_things_once(app, live_server, dashboard_data, admin):
    from playwright.sync_api import expect

    page = admin
    page.goto(live_server + "/failed-items")
    broken = page.locator(f"#item-{dashboard_data['broken_item']}")
    broken.get_by_role("button", name="Retry").dblclick()
    expect(broken).to_contain_text("failed again")
    with db.connection_context():
        assert FailedSyncItem.get_by_id(dashboard_data["broken_item"]).retry_count == 1

    app.config["SHOPIFY_API_BASE_URL"] = live_server + "/no-shopify-here"
    page.goto(live_server + "/reconciliation")
    page.get_by_role("button", name="Run now").dblclick()
    expect(page.locator("#reconcile-progress")).to_contain_text("Reconciliation running: 0 of 3")
    assert sum(job.func_name.endswith("run_full") for job in get_long_queue().get_jobs()) == 3

    page.goto(live_server + "/backfills")
    page.select_option("select[name=entity]", "products")
    page.get_by_role("button", name="Start backfill").dblclick()
    expect(page.locator("#messages")).to_contain_text("started")
    page.get_by_role("button", name="Start backfill").click()  # a later, deliberate second run
    expect(page.locator("#messages")).to_contain_text("already queued or running")
    with db.connection_context():
        assert BackfillRun.select().where(BackfillRun.entity_type == "products").count() == 1


def test_counts_follow_inline_actions_and_new_webhooks_appear(live_server, client, dashboard_data,
                                                              admin):
    from playwright.sync_api import expect

    page = admin
    page.clock.install()
    page.goto(live_server + "/failed-items")
    mark_page(page)
    counts = page.locator("#failed-counts")
    expect(counts).to_contain_text("3 open items")
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator(f"#item-{dashboard_data['broken_item']}").get_by_role("button", name="Abandon").click()
    expect(counts).to_contain_text("2 open items")
    expect(counts.get_by_role("button")).to_have_text("Retry all open (2)")
    page.clock.run_for(10_500)  # the table's poll drops the abandoned row from the open list
    expect(page.locator(f"#item-{dashboard_data['broken_item']}")).to_have_count(0)
    assert_not_reloaded(page)

    page.goto(live_server + "/webhooks")
    mark_page(page)
    _deliver(client, "orders/create", order(id=4242), webhook_id="brand-new")
    expect(page.locator("tr[data-webhook=brand-new]")).to_have_count(0)
    page.clock.run_for(10_500)
    expect(page.locator("tr[data-webhook=brand-new]")).to_have_count(1)
    assert_not_reloaded(page)


def test_the_audit_log_shows_what_people_did(live_server, dashboard_data, admin):
    from playwright.sync_api import expect

    page = admin
    page.goto(live_server + "/failed-items")
    page.locator(f"#item-{dashboard_data['fixable_item']}").get_by_role("button", name="Retry").click()
    expect(page.locator(f"#item-{dashboard_data['fixable_item']}")).to_contain_text("synced")
    page.goto(live_server + "/webhooks")
    page.get_by_role("button", name="Pause processing").click()
    page.get_by_role("button", name="Resume processing").click()
    page.get_by_role("link", name="Audit log").click()
    rows = page.locator("#audit-table tbody tr")
    expect(rows).to_have_count(3)
    expect(rows.nth(0)).to_contain_text("resume processing")
    expect(rows.nth(2)).to_contain_text("retry failed item")
    expect(rows.nth(2)).to_contain_text("alice")
    expect(rows.nth(2).locator("td[data-label=From]")).to_have_text("/failed-items")
    with db.connection_context():
        assert AuditEntry.select().count() == 3
    shoot(page, "audit")


@pytest.mark.parametrize("path", ["/", "/failed-items", "/webhooks", "/reconciliation", "/workers",
                                  "/backfills", "/audit"])
def test_an_idle_page_polls_at_most_six_times_a_minute(live_server, dashboard_data, admin, path):
    page = admin
    page.clock.install()
    page.goto(live_server + path)
    page.wait_for_load_state("networkidle")
    sent = []
    page.on("request", lambda request: sent.append(request.url))
    for _ in range(12):  # a minute, in steps the timers can keep up with
        page.clock.run_for(5_000)
        page.wait_for_timeout(50)
    page.wait_for_load_state("networkidle")
    assert len(sent) <= MAX_IDLE_REQUESTS_PER_MINUTE, \
        f"{path} sent {len(sent)} requests in an idle minute: {sent}"
