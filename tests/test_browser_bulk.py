"""Bulk backfills on the Backfills page in a real headless Chromium: start, watch, cancel."""

import re
import threading
import time

import pytest

from shopsync import bulk_backfill
from shopsync.bulk_run import BulkRun, BulkStatus
from shopsync.db import db
from shopsync.models import BackfillRun, RunStatus
from shopsync.shopify import AdminClient
from shopsync.simulator import SimulatorServer, Store
from tests import test_browser
from tests.test_browser import assert_not_reloaded, mark_page, shoot

# The browser module's fixtures: one Chromium per module, a fresh page, an admin signed in.
browser, page, admin = test_browser.browser, test_browser.page, test_browser.admin

pytestmark = pytest.mark.browser


def _wait_for(condition, timeout=15):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with db.connection_context():
            found = condition()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError("the condition never held")


def test_a_bulk_run_shows_its_operation_and_cancel_cancels_it_in_shopify(app, live_server, admin):
    from playwright.sync_api import expect

    store = Store.generate(seed=5, orders=600, products=10, customers=20)
    with SimulatorServer(store, graphql_restore_rate=100_000.0) as shop:
        shop.bulk.page_delay = 1.0  # 600 orders: three pages, a second apart
        app.config.update({"SHOPIFY_API_BASE_URL": shop.base_url,
                           "SHOPIFY_ACCESS_TOKEN": "shpat_test"})
        page = admin
        page.goto(live_server + "/backfills")
        page.select_option("select[name=entity]", "orders")
        page.check("input[name=bulk]")
        page.get_by_role("button", name="Start backfill").click()
        expect(page.locator("#messages")).to_contain_text("started")
        run = _wait_for(lambda: BackfillRun.get_or_none())
        worker = threading.Thread(target=bulk_backfill.run_bulk_backfill, args=(run.id,), kwargs={
            "client": AdminClient(shop.base_url, "shpat_test"), "poll": 0.1, "step": 0.05})
        worker.start()
        _wait_for(lambda: BulkRun.get_or_none(BulkRun.part == "orders",
                                              BulkRun.status == BulkStatus.RUNNING))

        page.reload()
        row = page.locator(f"#run-{run.id}")
        expect(row.locator("li[data-part=orders]")).to_have_attribute("data-status", "running")
        shoot(page, "backfills-bulk")
        mark_page(page)
        page.once("dialog", lambda dialog: dialog.accept())
        row.get_by_role("button", name="Cancel").click()
        expect(row).to_contain_text("cancelled")
        expect(row).to_have_attribute("data-status", "interrupted")
        expect(row.locator("li[data-part=orders] .badge")).to_have_text(re.compile("cancel(ing|ed)"))
        assert_not_reloaded(page)  # the row was swapped in place
        worker.join(15)
        _wait_for(lambda: shop.bulk.current().status == "CANCELED")

        page.reload()
        expect(page.locator(f"#run-{run.id} li[data-part=orders]")).to_have_attribute(
            "data-status", "canceled")
    with db.connection_context():
        assert BackfillRun.get_by_id(run.id).status is RunStatus.INTERRUPTED
