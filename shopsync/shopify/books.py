"""An order's books through GraphQL: what to select, and the REST fields webhooks carry them in.

Current totals, presentment money (`*Set` MoneyBags as REST's `*_set`), tax, shipping and
discount lines, refunds (lines, shipping, transactions), fulfillments and every transaction
of the order. `refunds`, `fulfillments`, `transactions`, `taxLines` and `trackingInfo` are
lists; the connections inside are completed by follow-up queries (NESTED) when longer than
the first page.
"""

from decimal import Decimal

from shopsync.shopify import mapping

MONEY = "{ shopMoney { amount } }"
MONEY_SET = ("{ shopMoney { amount currencyCode } presentmentMoney { amount currencyCode } }")
PAGE_INFO = "pageInfo { hasNextPage endCursor }"
SHIPPING_LINE = f"id title code source originalPriceSet {MONEY_SET} discountedPriceSet {MONEY_SET}"
APPLICATION = ("__typename index allocationMethod targetSelection targetType value { __typename "
               "... on MoneyV2 { amount } ... on PricingPercentageValue { percentage } } "
               "... on DiscountCodeApplication { code } ... on ManualDiscountApplication { title } "
               "... on AutomaticDiscountApplication { title } "
               "... on ScriptDiscountApplication { title }")
REFUND_LINE = (f"id quantity restockType restocked lineItem {{ id }} location {{ legacyResourceId }} "
               f"subtotalSet {MONEY_SET} totalTaxSet {MONEY_SET}")
REFUND_SHIPPING = f"subtotalAmountSet {MONEY} taxAmountSet {MONEY}"
TRANSACTION = (f"id kind status gateway errorCode createdAt processedAt parentTransaction {{ id }} "
               f"amountSet {MONEY_SET}")
FULFILLMENT_LINE = "quantity lineItem { id }"
# Each connection of the books: the list fields leading to it, its name, its fields, first page.
NESTED = ((("shippingLines",), SHIPPING_LINE, 2), (("discountApplications",), APPLICATION, 2),
          (("refunds", "refundLineItems"), REFUND_LINE, 10),
          (("refunds", "refundShippingLines"), REFUND_SHIPPING, 2),
          (("refunds", "transactions"), TRANSACTION, 5),
          (("fulfillments", "fulfillmentLineItems"), FULFILLMENT_LINE, 10))
# The line item fields the books need (its discount and what it is allocated to).
LINE_ITEM = (f"totalDiscountSet {MONEY} discountAllocations {{ allocatedAmountSet {MONEY} "
             "discountApplication { index } }")


def _connection(path, fields, first):
    return f"{path[-1]}(first: {first}) {{ {PAGE_INFO} nodes {{ {fields} }} }}"


def _nested(owner):
    return " ".join(_connection(path, fields, first) for path, fields, first in NESTED
                    if path[:-1] == owner)


# The items of the order's lists that hold connections, also read alone by id (`ITEMS`).
REFUND = f"id legacyResourceId createdAt note {_nested(('refunds',))}"
FULFILLMENT = ("id legacyResourceId name status displayStatus createdAt updatedAt "
               "service { handle } location { legacyResourceId } trackingInfo { company number url } "
               f"{_nested(('fulfillments',))}")
# Those lists: their item's type and fields.
ITEMS = {"refunds": ("Refund", REFUND), "fulfillments": ("Fulfillment", FULFILLMENT)}
ORDER = (
    f"presentmentCurrencyCode taxesIncluded totalShippingPriceSet {MONEY} "
    f"currentSubtotalPriceSet {MONEY} currentTotalTaxSet {MONEY} "
    f"currentTotalDiscountsSet {MONEY} currentTotalPriceSet {MONEY_SET} totalOutstandingSet {MONEY} "
    f"taxLines {{ title rate priceSet {MONEY_SET} }} discountCodes {_nested(())} "
    f"refunds {{ {REFUND} }} fulfillments {{ {FULFILLMENT} }} transactions {{ {TRANSACTION} }}")
# Fulfillment display statuses that are REST shipment statuses (the others: none).
SHIPMENT = {"LABEL_PRINTED", "LABEL_PURCHASED", "ATTEMPTED_DELIVERY", "READY_FOR_PICKUP",
            "CONFIRMED", "IN_TRANSIT", "OUT_FOR_DELIVERY", "DELIVERED", "FAILURE"}


def _nodes(node, name):
    return (node.get(name) or {}).get("nodes") or []


def _negated(value):
    return None if value is None else format(-Decimal(value), "f")


def discount_application(node):
    """Return a REST discount application from a DiscountApplication."""
    value = node.get("value") or {}
    percentage = value.get("__typename") == "PricingPercentageValue"
    return {"type": {"DiscountCodeApplication": "discount_code",
                     "AutomaticDiscountApplication": "automatic",
                     "ScriptDiscountApplication": "script"}.get(node["__typename"], "manual"),
            "title": node.get("title"), "code": node.get("code"),
            "value": str(value["percentage"]) if percentage else value.get("amount"),
            "value_type": "percentage" if percentage else "fixed_amount",
            "allocation_method": mapping.lower(node.get("allocationMethod")),
            "target_selection": mapping.lower(node.get("targetSelection")),
            "target_type": mapping.lower(node.get("targetType"))}


def discount_codes(node):
    """Return REST discount codes: each code's type and the amount allocated to it."""
    applications = {a["index"]: a for a in _nodes(node, "discountApplications")}
    allocated = {}
    for line in _nodes(node, "lineItems"):
        for allocation in line.get("discountAllocations") or []:
            index = allocation["discountApplication"]["index"]
            allocated[index] = allocated.get(index, Decimal(0)) + Decimal(
                mapping.amount(allocation["allocatedAmountSet"]))
    out = []
    for code in node.get("discountCodes") or []:
        index, found = next(((i, a) for i, a in applications.items() if a.get("code") == code),
                            (None, {}))
        value = (found.get("value") or {}).get("__typename")
        kind = ("shipping" if found.get("targetType") == "SHIPPING_LINE" else
                "percentage" if value == "PricingPercentageValue" else "fixed_amount")
        out.append({"code": code, "type": kind,
                    "amount": format(allocated.get(index, Decimal(0)), "f")})
    return out


def transaction(node):
    """Return a REST transaction from an OrderTransaction (`amount` in the buyer's currency)."""
    bag = node.get("amountSet") or {}
    parent = node.get("parentTransaction")
    return {"id": mapping.gid_number(node["id"]), "parent_id": parent and mapping.gid_number(parent["id"]),
            "kind": mapping.lower(node.get("kind")), "status": mapping.lower(node.get("status")),
            "gateway": node.get("gateway"), "error_code": mapping.lower(node.get("errorCode")),
            "amount": (bag.get("presentmentMoney") or {}).get("amount"),
            "currency": (bag.get("presentmentMoney") or {}).get("currencyCode"),
            "amount_set": mapping.money_set(bag), "created_at": node.get("createdAt"),
            "processed_at": node.get("processedAt")}


def refund(node, order_id):
    """Return a REST refund from a Refund (Shopify keeps no processing time apart: its creation)."""
    lines = _nodes(node, "refundLineItems")
    return {
        "id": mapping.legacy_id(node), "order_id": order_id, "note": node.get("note"),
        "created_at": node.get("createdAt"), "processed_at": node.get("createdAt"),
        "restock": any(line.get("restocked") for line in lines),
        "refund_line_items": [{
            "id": mapping.gid_number(line["id"]), "line_item_id": mapping.gid_number(line["lineItem"]["id"]),
            "quantity": line.get("quantity"), "restock_type": mapping.lower(line.get("restockType")),
            "location_id": mapping.legacy_id(line.get("location")),
            "subtotal": mapping.amount(line.get("subtotalSet")),
            "subtotal_set": mapping.money_set(line.get("subtotalSet")),
            "total_tax": mapping.amount(line.get("totalTaxSet")),
            "total_tax_set": mapping.money_set(line.get("totalTaxSet"))} for line in lines],
        "transactions": [{**transaction(t), "order_id": order_id}
                         for t in _nodes(node, "transactions")],
        "order_adjustments": [{"kind": "shipping_refund",
                               "amount": _negated(mapping.amount(line.get("subtotalAmountSet"))),
                               "tax_amount": _negated(mapping.amount(line.get("taxAmountSet")))}
                              for line in _nodes(node, "refundShippingLines")],
    }


def fulfillment(node, order_id):
    """Return a REST fulfillment from a Fulfillment."""
    tracking = node.get("trackingInfo") or []
    status = node.get("displayStatus")
    return {
        "id": mapping.legacy_id(node), "order_id": order_id, "name": node.get("name"),
        "status": mapping.lower(node.get("status")),
        "shipment_status": status.lower() if status in SHIPMENT else None,
        "service": (node.get("service") or {}).get("handle"),
        "location_id": mapping.legacy_id(node.get("location")),
        "tracking_company": tracking[0].get("company") if tracking else None,
        "tracking_number": tracking[0].get("number") if tracking else None,
        "tracking_numbers": [t["number"] for t in tracking if t.get("number")],
        "tracking_urls": [t["url"] for t in tracking if t.get("url")],
        "line_items": [{"id": mapping.gid_number(line["lineItem"]["id"]), "quantity": line.get("quantity")}
                       for line in _nodes(node, "fulfillmentLineItems")],
        "created_at": node.get("createdAt"), "updated_at": node.get("updatedAt"),
    }


def order_books(node, order_id):
    """Return the REST fields of an Order node's books."""
    lines = _nodes(node, "lineItems")
    return {
        "presentment_currency": node.get("presentmentCurrencyCode"),
        "taxes_included": node.get("taxesIncluded"),
        "total_line_items_price": format(sum(
            (Decimal(mapping.amount(line["originalUnitPriceSet"])) * line["quantity"] for line in lines),
            Decimal(0)), "f"),
        "total_shipping_price_set": mapping.money_set(node.get("totalShippingPriceSet")),
        "current_subtotal_price": mapping.amount(node.get("currentSubtotalPriceSet")),
        "current_total_tax": mapping.amount(node.get("currentTotalTaxSet")),
        "current_total_discounts": mapping.amount(node.get("currentTotalDiscountsSet")),
        "current_total_price": mapping.amount(node.get("currentTotalPriceSet")),
        "current_total_price_set": mapping.money_set(node.get("currentTotalPriceSet")),
        "total_outstanding": mapping.amount(node.get("totalOutstandingSet")),
        **{f"{name}_set": mapping.money_set(node.get(key)) for name, key in (
            ("subtotal_price", "subtotalPriceSet"), ("total_tax", "totalTaxSet"),
            ("total_discounts", "totalDiscountsSet"), ("total_price", "totalPriceSet"))},
        "tax_lines": [{"title": line.get("title"), "rate": line.get("rate"),
                       "price": mapping.amount(line.get("priceSet")),
                       "price_set": mapping.money_set(line.get("priceSet"))}
                      for line in node.get("taxLines") or []],
        "shipping_lines": [{
            "id": line.get("id") and mapping.gid_number(line["id"]), "title": line.get("title"),
            "code": line.get("code"), "source": line.get("source"),
            "price": mapping.amount(line.get("originalPriceSet")),
            "price_set": mapping.money_set(line.get("originalPriceSet")),
            "discounted_price": mapping.amount(line.get("discountedPriceSet")),
            "discounted_price_set": mapping.money_set(line.get("discountedPriceSet"))}
            for line in _nodes(node, "shippingLines")],
        "discount_codes": discount_codes(node),
        "discount_applications": [discount_application(a)
                                  for a in _nodes(node, "discountApplications")],
        "refunds": [refund(item, order_id) for item in node.get("refunds") or []],
        "fulfillments": [fulfillment(item, order_id) for item in node.get("fulfillments") or []],
        "transactions": [{**transaction(t), "order_id": order_id}
                         for t in node.get("transactions") or []],
    }
