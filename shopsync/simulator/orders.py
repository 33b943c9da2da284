"""Generated orders: multi-line, some guest, some cancelled or closed, some in another
currency, with discounts, tax lines and shipping that add up."""

from functools import lru_cache

from shopsync.simulator import books
from shopsync.simulator.data import PLACES, Factory, address, iso, money, to_cents

LINE_BASE = 13_000_000_000_000  # line item ids: LINE_BASE + order index * 10 + line
CANCEL_REASONS = ["customer", "fraud", "inventory", "declined", "other"]
GUEST_SHARE = 0.1
FOREIGN_SHARE = 0.15  # orders whose buyer pays in another currency
REFUND_BASE = 7_700_000_000_000  # refunds of generated orders: REFUND_BASE + index * 10
TRANSACTION_BASE = 8_800_000_000_000  # and their transactions: TRANSACTION_BASE + index * 10
CACHE_SIZE = 4096  # customers and product outlines kept built


class OrderFactory(Factory):
    """Orders referring to generated customers, products and variants."""

    kind, base = "orders", 5_500_000_000_000

    def __init__(self, seed, n, customers, products):
        super().__init__(seed, n)
        self.customers, self.products = customers, products
        # Orders share customers and products: build each once (records here are read-only).
        self._customer = lru_cache(CACHE_SIZE)(customers.record)
        self._outline = lru_cache(CACHE_SIZE)(products.outline)

    def flags(self, bits):
        """Return (closed, cancelled): ~7% cancelled, ~55% closed, the rest open."""
        share = ((bits >> 32) & 0xFFFF) / 0x10000
        return share < 0.62, share < 0.07

    def customer(self, rng, i):
        """Return the embedded customer (or None for a guest) and the buyer's names."""
        if not self.customers.n or rng.random() < GUEST_SHARE:
            return None, rng.choice(["Guest", "Gäst", "ゲスト"]), "Buyer"
        known = min(self.customers.n, 1 + self.customers.n * i // self.n)  # created before
        customer = self._customer(rng.randrange(known))
        embedded = {key: value for key, value in customer.items() if key != "addresses"}
        return embedded, customer["first_name"], customer["last_name"]

    def line(self, rng, i, j):
        """Return line j of order i, priced like the variant it sells."""
        products = self.products
        p = rng.randrange(products.n)
        outline = self._outline(p)
        product = products.row(p)
        variant = products.variant(p, rng.randrange(len(outline[4])), product.id, product,
                                   outline)
        line_id = LINE_BASE + i * 10 + j
        variant_title = None if variant["title"] == "Default Title" else variant["title"]
        return {
            "id": line_id, "variant_id": variant["id"], "product_id": product.id,
            "title": outline[0], "variant_title": variant_title, "sku": variant["sku"],
            "quantity": rng.choice([1, 1, 1, 2, 3]), "price": variant["price"],
            "name": f"{outline[0]} - {variant_title}" if variant_title else outline[0],
            "vendor": outline[1], "grams": variant["grams"], "requires_shipping": True,
            "taxable": True, "gift_card": False, "fulfillment_service": "manual",
            "fulfillment_status": None, "product_exists": True, "properties": [],
            "total_discount": "0.00", "admin_graphql_api_id": f"gid://shopify/LineItem/{line_id}",
        }

    def refund_owner(self, refund_id):
        """Return the id of the generated order whose refund this id would be, or None."""
        index, rest = divmod(refund_id - REFUND_BASE, 10)
        return self.row(index).id if rest == 0 and 0 <= index < self.n else None

    def build(self, i, row):
        rng = self.rng(i)
        customer, first, last = self.customer(rng, i)
        email = customer["email"] if customer else rng.choice([f"guest.{i}@example.net", None])
        place = rng.randrange(len(PLACES))
        ship_to = address(rng, first, last, place)
        lines = [self.line(rng, i, j) for j in range(rng.choice([1, 1, 1, 2, 2, 3, 4]))]
        items = sum(to_cents(line["price"]) * line["quantity"] for line in lines)
        discounted = rng.random() < 0.2
        discounts = ([{"code": "WELCOME10", "amount": money(items // 10), "type": "percentage"}]
                     if discounted else [])
        postage = "0.00" if items >= 5000 else "5.99"
        financial, fulfillment = rng.choice(
            [("paid", None), ("paid", "partial"), ("pending", None), ("authorized", None),
             ("partially_paid", None), ("paid", None)])
        cancel_reason = rng.choice(CANCEL_REASONS) if row.cancelled else None
        cancelled_as = rng.choice(["voided", "refunded"]) if row.cancelled else None
        if row.cancelled:  # cancelled from pending (voided) or from paid (refunded), below
            financial, fulfillment = ("paid" if cancelled_as == "refunded" else "pending"), None
        elif row.closed:
            financial, fulfillment = "paid", "fulfilled"
        order = {
            "id": row.id, "email": email, "contact_email": email,
            "created_at": iso(row.created), "updated_at": iso(row.updated),
            "processed_at": iso(row.created), "name": f"#{1001 + i}", "number": i + 1,
            "order_number": 1001 + i, "currency": books.SHOP_CURRENCY,
            "presentment_currency": (rng.choice(["EUR", "CAD", "JPY"])
                                     if rng.random() < FOREIGN_SHARE else books.SHOP_CURRENCY),
            "financial_status": financial, "fulfillment_status": fulfillment,
            "cancelled_at": iso(row.updated) if row.cancelled else None,
            "cancel_reason": cancel_reason,
            "closed_at": iso(row.updated) if row.closed else None,
            "confirmed": True, "test": False, "taxes_included": False,
            "buyer_accepts_marketing": rng.random() < 0.3, "gateway": "shopify_payments",
            "source_name": "web", "note": None, "tags": "", "phone": None,
            "token": f"{rng.getrandbits(128):032x}", "browser_ip": None,
            "discount_codes": discounts, "note_attributes": [],
            "discount_applications": [{
                "type": "discount_code", "code": "WELCOME10", "value": "10.0",
                "value_type": "percentage", "allocation_method": "across",
                "target_selection": "all", "target_type": "line_item"}] if discounted else [],
            "tax_lines": [{"price": "0.00", "rate": float(rate), "title": title}
                          for title, rate in books.split_rate(PLACES[place][7], PLACES[place][5])],
            "shipping_lines": [{"code": "Standard", "price": postage, "source": "shopify",
                                "title": "Standard Shipping"}],
            "line_items": lines, "customer": customer,
            "billing_address": dict(ship_to), "shipping_address": ship_to,
            "fulfillments": [], "refunds": [],
            "admin_graphql_api_id": f"gid://shopify/Order/{row.id}",
        }
        books.apply_totals(order)
        if row.cancelled:
            when = iso(row.updated)
            order["refunds"] = [books.refund(order, REFUND_BASE + i * 10, TRANSACTION_BASE + i * 10,
                                             when, shipping=True, restock_type="cancel")]
            order["financial_status"] = cancelled_as
            books.apply_totals(order)
        return order
