"""The order page: an order's money and books, as the admin API serves them, to the cent."""

from html.parser import HTMLParser

from shopsync.models import FailedSyncItem
from tests.helpers import deliver, fixture, order
from tests.test_books import sample_books

ORDER = "/records/order/450789469"


class Tables(HTMLParser):
    """Collect every table of a page as {name: [{cell label: text}]}.

    A table's name is its aria-label, or the text of the heading its aria-labelledby names; a
    cell's label is its data-label (a row heading's is "")."""

    def __init__(self):
        super().__init__()
        self.ids, self.named, self.tables = {}, {}, {}
        self.table = self.row = self.label = self.heading = None
        self.text = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in ("h2", "h3") and "id" in attrs:
            self.heading, self.text = attrs["id"], []
        elif tag == "table":
            self.table = []
            self.named[id(self.table)] = attrs.get("aria-label") or attrs.get("aria-labelledby")
            self.tables[id(self.table)] = self.table
        elif tag == "tr" and self.table is not None:
            self.row = {}
        elif tag in ("td", "th") and self.row is not None and (tag == "td" or attrs.get("scope") == "row"):
            self.label, self.text = attrs.get("data-label", ""), []

    def handle_endtag(self, tag):
        if tag in ("h2", "h3") and self.heading:
            self.ids[self.heading], self.heading = " ".join("".join(self.text).split()), None
        elif tag in ("td", "th") and self.label is not None:
            self.row[self.label], self.label = " ".join("".join(self.text).split()), None
        elif tag == "tr" and self.row is not None:
            if self.row:
                self.table.append(self.row)
            self.row = None
        elif tag == "table":
            self.table = None

    def handle_data(self, data):
        self.text.append(data)

    def result(self):
        return {self.ids.get(name, name): self.tables[key] for key, name in self.named.items()}


def tables(response):
    """Return the tables of a page by name."""
    assert response.status_code == 200, response.status_code
    parser = Tables()
    parser.feed(response.get_data(as_text=True))
    return parser.result()


def column(rows, label):
    return [row[label] for row in rows]


def test_the_sample_books_show_to_the_cent(client, viewer_client, run_jobs):
    sample_books(client, run_jobs)
    page = tables(viewer_client.get(ORDER))
    money = {row[""]: row["Shop money"] for row in page["Money"]}
    assert money == {
        "Line items": "398.00 USD", "Discounts": "0.00 USD", "Subtotal": "398.00 USD",
        "Shipping": "—", "Tax": "11.94 USD", "Total": "409.94 USD", "Current subtotal": "—",
        "Current discounts": "—", "Current tax": "—", "Current total": "—",
        "Total refunded": "209.00 USD", "Outstanding": "—"}
    assert [(row["Title"], row["Quantity"], row["Price"]) for row in page["Line items"]] == [
        ("IPod Nano - 8gb (green)", "1", "199.00 USD"), ("IPod Nano - 8gb (red)", "1", "199.00 USD"),
        ("IPod Nano - 8gb (black)", "1", "199.00 USD")]
    assert page["Discounts"] == [{"Code": "TENOFF", "Type": "—", "Amount": "10.00 USD"}]
    assert page["Tax lines"] == [{"Title": "State Tax", "Rate": "0.06", "Shop money": "11.94 USD"}]
    assert page["Shipping lines"] == [{"Title": "Free Shipping", "Code": "Free Shipping",
                                       "Source": "shopify", "Price": "0.00 USD",
                                       "Discounted price": "—"}]
    assert [(row["Line"], row["Quantity"]) for row in page["Lines of refund 509562969"]] == [
        ("IPod Nano - 8gb (black)", "1"), ("IPod Nano - 8gb (green)", "1")]
    refund_paid = [(row["Transaction"], row["Kind"], row["Status"], row["Amount"])
                   for row in page["Transactions of this refund"]]
    assert refund_paid == [("179259969", "refund", "success", "209.00 USD")]
    assert [(row["Transaction"], row["Kind"], row["Status"], row["Gateway"], row["Shop money"],
             row["Refund"]) for row in page["Transactions"]] == [
        ("179259969", "refund", "success", "bogus", "209.00 USD", "509562969"),
        ("389404469", "authorization", "success", "bogus", "409.94 USD", "—")]
    assert page["Fulfillments"] == [{
        "Fulfillment": "255858046", "Status": "failure", "Shipment": "—", "Tracking": "1Z2345",
        "Lines": "IPod Nano - 8gb (green) × 1", "Updated": "2014-01-22 20:58:27 UTC"}]


def test_the_order_page_shows_what_the_admin_api_serves(client, viewer_client, api, run_jobs):
    sample_books(client, run_jobs)
    erp = api("orders/450789469").json
    page = tables(viewer_client.get(ORDER))
    assert column(page["Transactions"], "Amount") == [
        f"{t['amount']} {t['currency'] or ''}".strip() for t in erp["transactions"]]
    assert [row["Shop money"] for row in page["Money"] if row[""] == "Total refunded"] == [
        f"{erp['total_refunded']} USD"]


def test_a_failed_money_check_is_named_and_linked_at_the_top(client, viewer_client, run_jobs):
    sample_books(client, run_jobs)
    item = FailedSyncItem.get(FailedSyncItem.entity_type == "money")
    html = viewer_client.get(ORDER).get_data(as_text=True)
    banner = html[html.index('id="money-check"'):html.index("</p>", html.index('id="money-check"'))]
    assert "Money check failed: money does not add up: line items 597.00" in banner
    assert f'href="/failed-items/{item.id}"' in banner
    assert [row["Entity"] for row in tables(viewer_client.get(ORDER))["Failed items"]] == ["money"]
    item_page = viewer_client.get(f"/failed-items/{item.id}").get_data(as_text=True)
    assert f'<a href="{ORDER}">order 450789469</a>' in item_page


def test_an_order_that_adds_up_has_no_money_banner(client, viewer_client, run_jobs):
    deliver(client, "orders/create", order(line_items=fixture("order")["line_items"][:2]))
    run_jobs()
    assert not FailedSyncItem.select().exists()
    assert 'id="money-check"' not in viewer_client.get(ORDER).get_data(as_text=True)


def test_the_webhooks_of_its_refunds_transactions_and_fulfillments_are_listed(
        client, viewer_client, run_jobs):
    sample_books(client, run_jobs)
    topics = column(tables(viewer_client.get(ORDER))["Webhooks"], "Topic")
    assert sorted(topics) == ["fulfillments/create", "order_transactions/create",
                              "orders/create", "refunds/create"]


def _set(shop, presentment):
    return {"shop_money": {"amount": shop, "currency_code": "USD"},
            "presentment_money": {"amount": presentment, "currency_code": "EUR"}}


def test_presentment_money_is_shown_where_it_differs(client, viewer_client, run_jobs):
    sample = fixture("order")
    tax = {**sample["tax_lines"][0], "price_set": _set("11.94", "10.99")}
    deliver(client, "orders/create", order(
        line_items=sample["line_items"][:2], presentment_currency="EUR", tax_lines=[tax],
        subtotal_price_set=_set("398.00", "366.16"), total_tax_set=_set("11.94", "10.99"),
        total_discounts_set=_set("0.00", "0.00"), total_price_set=_set("409.94", "377.15")))
    run_jobs()
    page = tables(viewer_client.get(ORDER))
    money = {row[""]: (row["Shop money"], row["Presentment money"]) for row in page["Money"]}
    assert money["Subtotal"] == ("398.00 USD", "366.16 EUR")
    assert money["Tax"] == ("11.94 USD", "10.99 EUR")
    assert money["Total"] == ("409.94 USD", "377.15 EUR")
    assert page["Tax lines"][0]["Presentment money"] == "10.99 EUR"
    # Where the two currencies are the same, one column says it all.
    deliver(client, "orders/updated", order(presentment_currency="USD",
                                            updated_at="2008-01-10T12:00:00-04:00"))
    run_jobs()
    assert "Presentment money" not in tables(viewer_client.get(ORDER))["Money"][0]


def test_the_name_the_shopify_id_and_the_email_find_the_order(client, viewer_client, run_jobs):
    sample_books(client, run_jobs)
    for query in ("#1001", "1001", "450789469", "Bob.Norman@HostMail.com"):
        response = viewer_client.get("/search", query_string={"q": query})
        assert response.headers.get("Location") == ORDER, query


def test_the_books_kinds_have_no_record_page_of_their_own(client, viewer_client, run_jobs):
    sample_books(client, run_jobs)
    for kind, shopify_id in (("refund", 509562969), ("money", 450789469)):
        assert viewer_client.get(f"/records/{kind}/{shopify_id}").status_code == 404


def test_a_refund_delivery_links_to_its_orders_page(client, viewer_client, run_jobs):
    deliver(client, "refunds/create", fixture("refund"), webhook_id="refund-hook")
    run_jobs()
    html = viewer_client.get("/webhooks/refund-hook").get_data(as_text=True)
    assert f'<a href="{ORDER}">order 450789469</a>' in html
