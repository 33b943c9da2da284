"""The order page in a real headless Chromium: found from the search box, read on a phone."""

import pytest

from tests import test_browser
from tests.test_books import sample_books
from tests.test_browser import PHONE, shoot

# The browser module's fixtures: one Chromium per module, a fresh page, an admin signed in.
browser, page, admin = test_browser.browser, test_browser.page, test_browser.admin

pytestmark = pytest.mark.browser

ORDER = "/records/order/450789469"


def _find(page, text):
    """Type `text` in the header's search box and submit it."""
    box = page.get_by_role("searchbox", name="Find an order, product, customer or webhook")
    box.fill(text)
    box.press("Enter")


def test_the_order_page_is_found_and_reads_on_a_phone(client, run_jobs, live_server, admin):
    from playwright.sync_api import expect

    sample_books(client, run_jobs)
    page = admin
    for text in ("#1001", "450789469", "bob.norman@hostmail.com"):
        page.goto(live_server + "/")
        _find(page, text)
        expect(page).to_have_url(live_server + ORDER)
    money = page.get_by_role("table", name="Money")
    for heading, amount in (("Total", "409.94 USD"), ("Total refunded", "209.00 USD")):
        row = money.get_by_role("row").filter(
            has=page.get_by_role("rowheader", name=heading, exact=True))
        expect(row.get_by_role("cell")).to_have_text([amount])
    refund = page.get_by_role("table", name="Transactions of this refund")
    expect(refund.get_by_role("row")).to_have_count(2)  # its heading and its one transaction
    expect(refund).to_contain_text("209.00 USD")
    expect(page.get_by_role("table", name="Fulfillments")).to_contain_text("1Z2345")
    expect(page.get_by_role("table", name="Webhooks").get_by_role("row")).to_have_count(5)
    page.set_viewport_size(PHONE)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the order page scrolls sideways at phone width ({width}px)"
    cell = page.get_by_role("table", name="Transactions").locator("td[data-label=Gateway]").first
    label = cell.evaluate("cell => getComputedStyle(cell, '::before').content")
    assert label == '"Gateway"'  # each cell says what it is once the table becomes cards
    shoot(page, "phone-order")
    page.get_by_role("alert").get_by_role("link", name="Failed item").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Failed item")
