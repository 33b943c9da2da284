"""An order's books as Shopify keeps them: tax lines, presentment money, refunds, transactions
and fulfillments, built so that every amount adds up to the cent (what shopsync checks).

Amounts are integer cents of the shop's currency (USD); presentment amounts are converted
per component at the buyer's currency's precision (JPY has none), so they add up too.
"""

from decimal import ROUND_HALF_UP, Decimal

from shopsync.simulator.data import money, to_cents

SHOP_CURRENCY = "USD"
# Buyer currencies of a multi-currency order: units of it per dollar, and digits after the point.
RATES = {"USD": (Decimal(1), 2), "EUR": (Decimal("0.92"), 2), "CAD": (Decimal("1.37"), 2),
         "JPY": (Decimal(151), 0)}
# Tax rates by country code, split as Shopify lists them (state and county, GST and QST, ...).
TAX_SPLITS = {"US": (("State Tax", "0.6"), ("County Tax", "0.4")),
              "CA": (("GST", "0.3339"), ("QST", "0.6661"))}
PAID = ("paid", "partially_refunded", "refunded")


# The same rates as fractions: converting with integers gives Decimal's digits, faster.
FRACTIONS = {code: (*rate.as_integer_ratio(), digits) for code, (rate, digits) in RATES.items()}


def convert(cents, currency):
    """Return an amount in cents of shop money as a decimal string in `currency` (rounded half
    away from zero, as Decimal's ROUND_HALF_UP)."""
    top, bottom, digits = FRACTIONS[currency]
    top, bottom = abs(cents) * top * 10**digits, 100 * bottom
    units = (2 * top + bottom) // (2 * bottom)
    text = f"{units // 100}.{units % 100:02d}" if digits == 2 else str(units)
    return f"-{text}" if cents < 0 else text


def money_set(cents, currency):
    """Return Shopify's MoneyBag of an amount: shop money and the buyer's money."""
    return {"shop_money": {"amount": money(cents), "currency_code": SHOP_CURRENCY},
            "presentment_money": {"amount": convert(cents, currency),
                                  "currency_code": currency}}


def _presentment_sum(amounts):
    """Return the sum of presentment amounts (decimal strings) as a money set's amount."""
    return format(sum((Decimal(a) for a in amounts), Decimal(0)), "f")


def split_rate(rate, country_code):
    """Return an order's tax lines (title, rate) for a place's rate."""
    rate = Decimal(str(rate))
    parts = TAX_SPLITS.get(country_code)
    if not parts:
        return [("Tax", rate)]
    rates = [(title, (rate * Decimal(share)).quantize(Decimal("0.00001"))) for title, share in parts]
    rates[-1] = (rates[-1][0], rate - sum(r for _, r in rates[:-1]))
    return rates


def _allocate(total, weights):
    """Split `total` cents in proportion to `weights`, the remainder to the last."""
    whole = sum(weights)
    shares = [total * w // whole if whole else 0 for w in weights]
    if shares:
        shares[-1] += total - sum(shares)
    return shares


def _tax_of(cents, tax_lines):
    return [int((Decimal(cents) * Decimal(str(line["rate"]))).quantize(Decimal(1), ROUND_HALF_UP))
            for line in tax_lines]


def refunded_quantities(order):
    """Return {line id: quantity refunded so far}."""
    done = {}
    for refund in order["refunds"]:
        for line in refund["refund_line_items"]:
            done[line["line_item_id"]] = done.get(line["line_item_id"], 0) + line["quantity"]
    return done


def apply_totals(order):
    """Recompute an order's money from its lines, discount codes, shipping, tax rates and refunds."""
    lines, currency = order["line_items"], order["presentment_currency"]
    items = sum(to_cents(line["price"]) * line["quantity"] for line in lines)
    discount = min(items, sum(to_cents(code["amount"]) for code in order["discount_codes"]))
    for line, share in zip(lines, _allocate(discount, [to_cents(line["price"]) * line["quantity"]
                                                       for line in lines]), strict=True):
        line["total_discount"] = money(share)
        line["total_discount_set"] = money_set(share, currency)
    subtotal = items - discount
    shipping = [to_cents(line["price"]) for line in order["shipping_lines"]]
    for line in order["shipping_lines"]:
        line["price_set"] = line["discounted_price_set"] = money_set(to_cents(line["price"]),
                                                                     currency)
        line["discounted_price"] = line["price"]
    taxes = _tax_of(subtotal, order["tax_lines"])
    for line, tax in zip(order["tax_lines"], taxes, strict=True):
        line.update(price=money(tax), price_set=money_set(tax, currency))
    tax, total = sum(taxes), subtotal + sum(shipping) + sum(taxes)
    refund_lines = [line for refund in order["refunds"] for line in refund["refund_line_items"]]
    current_subtotal = subtotal - sum(to_cents(line["subtotal"]) for line in refund_lines)
    current_tax = tax - sum(to_cents(line["total_tax"]) for line in refund_lines)
    shipping_back = sum(-to_cents(a["amount"]) for refund in order["refunds"]
                        for a in refund["order_adjustments"] if a["kind"] == "shipping_refund")
    current_total = current_subtotal + current_tax + sum(shipping) - shipping_back
    refunded = sum(to_cents(t["amount_set"]["shop_money"]["amount"])
                   for refund in order["refunds"] for t in refund["transactions"]
                   if t["kind"] == "refund" and t["status"] == "success")
    paid = {"partially_paid": total // 2}.get(order["financial_status"],
                                              total if order["financial_status"] in PAID else 0)
    presentment = {"subtotal_price": convert(subtotal, currency),
                   "total_tax": _presentment_sum([convert(t, currency) for t in taxes]),
                   "shipping": _presentment_sum([convert(s, currency) for s in shipping])}
    order.update(
        total_line_items_price=money(items), total_discounts=money(discount),
        subtotal_price=money(subtotal), total_tax=money(tax), total_price=money(total),
        total_weight=sum(line["grams"] * line["quantity"] for line in lines),
        current_subtotal_price=money(current_subtotal), current_total_tax=money(current_tax),
        current_total_discounts=money(discount), current_total_price=money(current_total),
        total_outstanding=money(current_total - (paid - refunded)),
        total_discounts_set=money_set(discount, currency),
        total_shipping_price_set=money_set(sum(shipping), currency),
        current_total_price_set=money_set(current_total, currency),
    )
    for name in ("subtotal_price", "total_tax", "total_price"):
        order[f"{name}_set"] = money_set(to_cents(order[name]), currency)
    order["subtotal_price_set"]["presentment_money"]["amount"] = presentment["subtotal_price"]
    order["total_tax_set"]["presentment_money"]["amount"] = presentment["total_tax"]
    order["total_price_set"]["presentment_money"]["amount"] = _presentment_sum(
        presentment.values())
    return order


def transaction(order, transaction_id, kind, cents, now, parent_id=None):
    """Return a successful transaction of `cents` shop money, in the buyer's currency."""
    currency = order["presentment_currency"]
    return {"id": transaction_id, "order_id": order["id"], "kind": kind, "status": "success",
            "gateway": "shopify_payments", "amount": convert(cents, currency),
            "currency": currency, "amount_set": money_set(cents, currency),
            "parent_id": parent_id, "created_at": now, "processed_at": now, "test": False,
            "authorization": None, "error_code": None, "message": None, "source_name": "web",
            "admin_graphql_api_id": f"gid://shopify/OrderTransaction/{transaction_id}"}


def order_transactions(order, made):
    """Return every transaction of an order, oldest first: its refunds' and those `made` for it
    (payments of generated orders are not kept)."""
    found = {t["id"]: t for t in [*made, *(t for r in order["refunds"] for t in r["transactions"])]}
    return sorted(found.values(), key=lambda t: (t["created_at"] or "", t["id"]))


def refund(order, refund_id, transaction_id, now, quantities=None, shipping=False,
           restock_type="return"):
    """Return a refund of `quantities` ({line id: n}; default all that is left) of an order.

    Each refunded line carries its share of the discount and tax; a refund that leaves
    nothing takes exactly what is left, so a full refund brings the current totals to zero.
    Money goes back (one refund transaction) only for an order that was paid.
    """
    currency = order["presentment_currency"]
    done = refunded_quantities(order)
    left = {line["id"]: line["quantity"] - done.get(line["id"], 0) for line in order["line_items"]}
    quantities = {k: v for k, v in (quantities or left).items() if v > 0}
    subtotals = {}
    for line in order["line_items"]:
        n, before = quantities.get(line["id"], 0), done.get(line["id"], 0)
        if n:  # the line's discount shared out by units refunded so far, so that shares add up
            discount, count = to_cents(line["total_discount"]), line["quantity"]
            share = discount * (before + n) // count - discount * before // count
            subtotals[line["id"]] = to_cents(line["price"]) * n - share
    everything = quantities == {k: v for k, v in left.items() if v > 0}
    if everything:
        subtotal, tax = to_cents(order["current_subtotal_price"]), to_cents(order["current_total_tax"])
        subtotals = dict(zip(subtotals, _allocate(subtotal, list(subtotals.values())), strict=True))
    else:
        subtotal = sum(subtotals.values())
        tax = min(sum(_tax_of(subtotal, order["tax_lines"])), to_cents(order["current_total_tax"]))
    taxes = dict(zip(subtotals, _allocate(tax, list(subtotals.values())), strict=True))
    shipping_cents = 0
    if shipping:  # what is left of it
        shipping_cents = sum(to_cents(line["price"]) for line in order["shipping_lines"]) - sum(
            -to_cents(a["amount"]) for r in order["refunds"] for a in r["order_adjustments"]
            if a["kind"] == "shipping_refund")
    back = subtotal + tax + shipping_cents
    paid = order["financial_status"] in PAID
    return {
        "id": refund_id, "order_id": order["id"], "created_at": now, "processed_at": now,
        "note": "cancelled" if restock_type == "cancel" else "returned",
        "restock": bool(subtotals) and restock_type != "no_restock", "user_id": None,
        "refund_line_items": [{
            "id": refund_id * 10 + i, "line_item_id": line_id, "quantity": quantities[line_id],
            "restock_type": restock_type, "location_id": 905684977,
            "subtotal": money(sub), "subtotal_set": money_set(sub, currency),
            "total_tax": money(taxes[line_id]), "total_tax_set": money_set(taxes[line_id], currency),
        } for i, (line_id, sub) in enumerate(subtotals.items())],
        "transactions": [transaction(order, transaction_id, "refund", back, now)]
        if paid and back else [],
        "order_adjustments": [{"id": refund_id + 1, "order_id": order["id"], "refund_id": refund_id,
                               "kind": "shipping_refund", "reason": "Shipping refund",
                               "amount": money(-shipping_cents), "tax_amount": "0.00",
                               "amount_set": money_set(-shipping_cents, currency)}]
        if shipping_cents else [],
    }


def fulfillment(order, fulfillment_id, now, quantities=None):
    """Return a successful fulfillment of `quantities` ({line id: n}; default every line in full)."""
    quantities = quantities or {line["id"]: line["quantity"] for line in order["line_items"]}
    number = len(order["fulfillments"]) + 1
    tracking = f"1Z{fulfillment_id % 10**10:010d}"
    return {
        "id": fulfillment_id, "order_id": order["id"], "name": f"{order['name']}.{number}",
        "status": "success", "shipment_status": None, "service": "manual",
        "location_id": 905684977, "tracking_company": "UPS", "tracking_number": tracking,
        "tracking_numbers": [tracking],
        "tracking_url": f"https://www.ups.com/track?tracknum={tracking}",
        "tracking_urls": [f"https://www.ups.com/track?tracknum={tracking}"],
        "created_at": now, "updated_at": now,
        "line_items": [{**{k: line[k] for k in ("id", "variant_id", "product_id", "title", "sku",
                                                "price", "name")},
                        "quantity": quantities[line["id"]]}
                       for line in order["line_items"] if quantities.get(line["id"])],
    }


def fulfilled_quantities(order):
    """Return {line id: quantity fulfilled so far} (cancelled fulfillments left out)."""
    done = {}
    for shipment in order["fulfillments"]:
        if shipment["status"] != "cancelled":
            for line in shipment["line_items"]:
                done[line["id"]] = done.get(line["id"], 0) + line["quantity"]
    return done
