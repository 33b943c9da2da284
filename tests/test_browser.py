"""The dashboard in a real headless Chromium (Debian's), driven by Playwright.

Set SHOPSYNC_SCREENSHOTS=docs/screenshots to save the screenshots the README shows.
"""

import datetime as dt
import os
import pathlib

import pytest

from shopsync.auth import save_user
from shopsync.db import db
from shopsync.models import FailedSyncItem, ReconciliationReport
from tests.conftest import DASHBOARD_PASSWORD, REQUIRE_SERVICES

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
SCREENSHOTS = os.environ.get("SHOPSYNC_SCREENSHOTS")
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


def _unavailable(reason):
    """Fail when CI requires every service, else skip with the reason."""
    if REQUIRE_SERVICES:
        pytest.fail(f"browser tests required (SHOPSYNC_REQUIRE_SERVICES=1): {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser():
    """Launch one headless Chromium for the module."""
    if not os.access(CHROMIUM, os.X_OK):
        _unavailable(f"{CHROMIUM} is missing: apt-get install chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        _unavailable(f"playwright is not installed: {exc}")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    """Return a fresh page (own cookies) at desktop width; fail on any script or CSP error."""
    context = browser.new_context(viewport=DESKTOP)
    context.set_default_timeout(10_000)
    page = context.new_page()
    errors = []
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    context.close()
    # The login test's wrong password is answered 401, which Chromium logs as an error.
    errors = [e for e in errors if "401 (UNAUTHORIZED)" not in e]
    assert not errors, f"browser errors: {errors}"


def sign_in_as_admin(page, url):
    """Open `url`, which asks to sign in, and sign in there as a new admin."""
    with db.connection_context():
        save_user("alice", DASHBOARD_PASSWORD, is_admin=True)
    page.goto(url)
    page.fill("input[name=username]", "alice")
    page.fill("input[name=password]", DASHBOARD_PASSWORD)
    page.click("button[type=submit]")


@pytest.fixture
def admin(live_server, page):
    """Sign in as an admin through the login form; return the page."""
    sign_in_as_admin(page, live_server + "/")
    page.wait_for_url(live_server + "/")
    return page


def shoot(page, name, full_page=True):
    """Save a screenshot when SHOPSYNC_SCREENSHOTS names a directory."""
    if SCREENSHOTS:
        pathlib.Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(pathlib.Path(SCREENSHOTS) / f"{name}.png"), full_page=full_page)


def mark_page(page):
    """Tag the loaded document, so a reload (which would drop the tag) can be detected."""
    page.evaluate("window.shopsyncMark = 'still here'")


def assert_not_reloaded(page):
    assert page.evaluate("window.shopsyncMark") == "still here", "the page was reloaded"


def test_login_shows_the_health_table(live_server, dashboard_data, page):
    from playwright.sync_api import expect

    page.goto(live_server + "/failed-items")
    expect(page).to_have_url(live_server + "/login?next=/failed-items")
    shoot(page, "login")
    with db.connection_context():
        save_user("alice", DASHBOARD_PASSWORD, is_admin=False)
    page.fill("input[name=username]", "alice")
    page.fill("input[name=password]", "wrong password")
    page.click("button[type=submit]")
    expect(page.locator("#messages")).to_contain_text("Wrong username or password")
    page.fill("input[name=password]", DASHBOARD_PASSWORD)
    page.click("button[type=submit]")
    expect(page).to_have_url(live_server + "/failed-items")
    page.clock.install()  # lets the test run htmx's 10-second timer at once
    page.click("nav >> text=Health")
    metrics = page.locator("#metrics tbody tr")
    expect(metrics).to_have_count(4)
    critical = page.locator("#metrics tr[data-metric=webhook_latency_p95_seconds]")
    expect(critical.locator(".badge")).to_have_text("critical")
    expect(critical.locator("svg.spark polyline")).to_have_count(1)
    # The table is live: htmx re-fetches it (HX-Request) every 10 s.
    mark_page(page)
    with page.expect_response(lambda r: r.url == live_server + "/"
                              and r.request.headers.get("hx-request") == "true"):
        page.clock.run_for(10_500)
    expect(metrics).to_have_count(4)
    assert_not_reloaded(page)
    shoot(page, "health")


def test_retry_and_abandon_swap_their_rows(live_server, dashboard_data, admin):
    from playwright.sync_api import expect

    page = admin
    page.goto(live_server + "/failed-items")
    shoot(page, "failed-items")
    mark_page(page)
    fixable = page.locator(f"#item-{dashboard_data['fixable_item']}")
    expect(fixable).to_have_attribute("data-state", "open")
    fixable.get_by_role("button", name="Retry").click()
    fixable = page.locator(f"#item-{dashboard_data['fixable_item']}")
    expect(fixable).to_have_attribute("data-state", "resolved")
    expect(fixable).to_contain_text("synced")
    expect(fixable.get_by_role("button")).to_have_count(0)

    broken = page.locator(f"#item-{dashboard_data['broken_item']}")
    broken.get_by_role("button", name="Retry").click()
    expect(broken).to_contain_text("failed again")
    expect(broken.locator("td[data-label=Retries]")).to_have_text("1 of 5")
    page.once("dialog", lambda dialog: dialog.dismiss())  # Abandon asks first; "no" does nothing
    broken.get_by_role("button", name="Abandon").click()
    expect(broken).to_have_attribute("data-state", "open")
    page.once("dialog", lambda dialog: dialog.accept())
    broken.get_by_role("button", name="Abandon").click()
    expect(broken).to_have_attribute("data-state", "abandoned")
    assert_not_reloaded(page)
    with db.connection_context():
        assert FailedSyncItem.get_by_id(dashboard_data["broken_item"]).resolution.value == "abandoned"
        assert FailedSyncItem.get_by_id(dashboard_data["fixable_item"]).resolution.value == "manual"

    page.click(f"text=#{dashboard_data['broken_item']}")
    expect(page.locator("h1")).to_contain_text(f"Failed item #{dashboard_data['broken_item']}")
    expect(page.locator("pre").first).to_contain_text("not money")
    shoot(page, "failed-item")


def test_run_now_starts_a_reconciliation_and_shows_its_progress(app, live_server, dashboard_data,
                                                                admin, run_jobs):
    from playwright.sync_api import expect

    page = admin
    # The runs' Shopify calls get a quick 404 from this server; each run reports the error.
    app.config["SHOPIFY_API_BASE_URL"] = live_server + "/no-shopify-here"
    page.goto(live_server + "/reconciliation")
    shoot(page, "reconciliation")
    mark_page(page)
    page.get_by_role("button", name="Run now").click()
    progress = page.locator("#reconcile-progress")
    expect(progress).to_contain_text("Reconciliation running: 0 of 3")
    shoot(page, "reconciliation-running", full_page=False)
    run_jobs()
    expect(progress).to_contain_text("Reconciliation finished", timeout=15_000)
    # The finished state stops polling and refreshes the history with the new reports.
    with db.connection_context():
        newest = ReconciliationReport.select().order_by(ReconciliationReport.id.desc()).first()
    expect(page.locator("#reports")).to_contain_text(f"#{newest.id}")
    assert_not_reloaded(page)


def test_pages_at_phone_width(live_server, dashboard_data, admin):
    from playwright.sync_api import expect

    page = admin
    page.set_viewport_size(PHONE)
    for path, name in [("/", "phone-health"), ("/failed-items", "phone-failed-items")]:
        page.goto(live_server + path)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], f"{path} scrolls sideways at phone width ({width}px)"
        shoot(page, name)
    page.set_viewport_size(DESKTOP)
    page.goto(live_server + "/webhooks")
    expect(page.locator("#webhook-table tbody tr")).to_have_count(50)
    page.fill("input[name=shopify_id]", "1003")
    page.get_by_role("button", name="Search").click()
    expect(page.locator("#webhook-table tbody tr")).to_have_count(1)
    expect(page).to_have_url(live_server + "/webhooks?shopify_id=1003&topic=&status=&since=&until=&error=")
    page.goto(live_server + "/webhooks")
    shoot(page, "webhooks", full_page=False)
    page.goto(live_server + "/backfills")
    running = page.locator(f"#run-{dashboard_data['running_run']}")
    expect(running.locator("progress")).to_have_attribute("value", "450")
    shoot(page, "backfills")


def test_everything_works_without_javascript(live_server, dashboard_data, browser):
    from playwright.sync_api import expect

    context = browser.new_context(viewport=DESKTOP, java_script_enabled=False)
    context.set_default_timeout(10_000)
    page = context.new_page()
    try:
        sign_in_as_admin(page, live_server + "/failed-items?entity=order")
        expect(page).to_have_url(live_server + "/failed-items?entity=order")
        row = page.locator(f"#item-{dashboard_data['fixable_item']}")
        row.get_by_role("button", name="Retry").click()  # a plain form POST, then a redirect
        expect(page).to_have_url(live_server + "/failed-items?entity=order")
        expect(page.locator("#messages")).to_contain_text("synced")
        expect(row).to_have_count(0)  # no longer open
        page.select_option("select[name=status]", "all")
        page.get_by_role("button", name="Filter").click()
        expect(page).to_have_url(live_server + "/failed-items?status=all&entity=order&q=")
        expect(row).to_have_attribute("data-state", "resolved")
        page.goto(live_server + "/webhooks")
        page.get_by_role("link", name="Older →").click()
        expect(page.locator("#webhook-table tbody tr")).to_have_count(10)
    finally:
        context.close()


def test_the_liveness_banner_names_what_is_late_and_clears_itself(live_server, dashboard_data, admin):
    from playwright.sync_api import expect

    from shopsync.db import utcnow
    from shopsync.models import Heartbeat

    def beat(role, name, minutes_ago=0):
        with db.connection_context():
            Heartbeat.touch(role, name, seen_at=utcnow() - dt.timedelta(minutes=minutes_ago))

    beat("scheduler", "scheduler.1", minutes_ago=3)  # every other process and job is alive
    page = admin
    page.clock.install()
    page.goto(live_server + "/")
    banner = page.locator("#liveness [role=alert]")
    expect(banner).to_contain_text("scheduler not seen for 3 min")
    expect(page.locator("#liveness details")).to_have_attribute("open", "")
    shoot(page, "health-late", full_page=False)

    beat("scheduler", "scheduler.1")  # the scheduler is back: the next refresh clears the banner
    mark_page(page)
    page.clock.run_for(10_500)
    expect(banner).to_have_count(0)
    expect(page.locator("#liveness summary")).to_have_text("Processes and periodic jobs: all seen lately")
    assert_not_reloaded(page)
