"""An order's books as GraphQL objects: tax, shipping and discount lines, refunds, transactions
and fulfillments, with shop and presentment money (the types are in `schema_books`).
"""

from decimal import Decimal

from shopsync.simulator.books import order_transactions
from shopsync.simulator.graphql import nodes
from shopsync.simulator.graphql.paging import connection

APPLICATION_TYPES = {"discount_code": "DiscountCodeApplication", "manual": "ManualDiscountApplication",
                     "automatic": "AutomaticDiscountApplication", "script": "ScriptDiscountApplication"}
# A fulfillment's displayStatus: its shipment status when it has one, else from its status.
DISPLAY = {"success": "FULFILLED", "cancelled": "CANCELED", "failure": "FAILURE"}


def _upper(value):
    return value.upper() if value else None


def _money(given):
    return {"amount": given["amount"], "currencyCode": given["currency_code"]}


def set_bag(given):
    """Return the MoneyBag of a REST money set."""
    return {"shopMoney": _money(given["shop_money"]),
            "presentmentMoney": _money(given["presentment_money"])}


def money_bag(record, name, currency):
    """Return the MoneyBag of `name` of a REST record: `name` in shop money, in the buyer's
    money as its `name_set` gives it (else the same)."""
    amount, given = record.get(name), record.get(f"{name}_set")
    if amount is None:
        return set_bag(given) if given else None
    return {"shopMoney": {"amount": amount, "currencyCode": currency},
            "presentmentMoney": _money(given["presentment_money"]) if given
            else {"amount": amount, "currencyCode": currency}}


def _negated(bag):
    return {part: {**money, "amount": format(-Decimal(money["amount"]), "f")}
            for part, money in bag.items()}


def _sum_bags(bags, currency, presentment):
    totals = [sum((Decimal(bag[part]["amount"]) for bag in bags), Decimal(0))
              for part in ("shopMoney", "presentmentMoney")]
    return {"shopMoney": {"amount": format(totals[0], "f"), "currencyCode": currency},
            "presentmentMoney": {"amount": format(totals[1], "f"), "currencyCode": presentment}}


def _paged(items):
    """Return a connection resolver over an in-memory list, keyed by position."""
    position = {id(item): i for i, item in enumerate(items)}
    return lambda info, **args: connection(items, args, lambda item: position[id(item)])


def _listed(items):
    return lambda info, first=None: items if first is None else items[:first]


def _location(location_id):
    return location_id and {"typename": "Location", "id": nodes.gid("Location", location_id),
                            "legacyResourceId": str(location_id)}


def discount_application(index, application, currency):
    """Return a DiscountApplication from a REST discount application."""
    value = (({"typename": "PricingPercentageValue", "percentage": float(application["value"])})
             if application.get("value_type") == "percentage" else
             {"typename": "MoneyV2", "amount": application.get("value"), "currencyCode": currency})
    return {"typename": APPLICATION_TYPES.get(application.get("type"), "ManualDiscountApplication"),
            "index": index, "value": value, "code": application.get("code"),
            "title": application.get("title") or application.get("code"),
            "description": application.get("description"),
            "allocationMethod": _upper(application.get("allocation_method")),
            "targetSelection": _upper(application.get("target_selection")),
            "targetType": _upper(application.get("target_type"))}


def allocations(line, order, currency):
    """Return a line's DiscountAllocations: its REST `discount_allocations`, else its whole
    discount allocated to the order's first discount application."""
    applications = [discount_application(i, a, currency)
                    for i, a in enumerate(order.get("discount_applications") or [])]
    given = line.get("discount_allocations")
    if given is None:
        discount = Decimal(line.get("total_discount") or 0)
        given = [{"amount_set": line.get("total_discount_set"), "amount": line["total_discount"],
                  "discount_application_index": 0}] if discount and applications else []
    return [{"allocatedAmountSet": money_bag(a, "amount", currency),
             "discountApplication": applications[a["discount_application_index"]]}
            for a in given]


def shipping_line(line, currency):
    """Return a ShippingLine from a REST shipping line."""
    original = money_bag(line, "price", currency)
    return {"id": line.get("id") and nodes.gid("ShippingLine", line["id"]), "title": line.get("title"),
            "code": line.get("code"), "source": line.get("source"), "originalPriceSet": original,
            "discountedPriceSet": money_bag(line, "discounted_price", currency) or original}


def transaction(item):
    """Return an OrderTransaction from a REST transaction."""
    parent = item.get("parent_id")
    return {"typename": "OrderTransaction", "id": nodes.gid("OrderTransaction", item["id"]),
            "kind": _upper(item.get("kind")), "status": _upper(item.get("status")),
            "gateway": item.get("gateway"), "errorCode": _upper(item.get("error_code")),
            "amountSet": set_bag(item["amount_set"]),
            "createdAt": nodes.utc(item.get("created_at")),
            "processedAt": nodes.utc(item.get("processed_at")),
            "test": bool(item.get("test")),
            "parentTransaction": parent and {"id": nodes.gid("OrderTransaction", parent)}}


def refund(item, lines, shipping_lines, currency, presentment):
    """Return a Refund from a REST refund (`lines`: the order's LineItems by id; its
    ShippingLines: a shipping refund refers to the first)."""
    shipping = [{"id": nodes.gid("RefundShippingLine", a["id"]), "shippingLine": shipping_lines[0],
                 "subtotalAmountSet": _negated(money_bag(a, "amount", currency)),
                 "taxAmountSet": _negated(money_bag(a, "tax_amount", currency))}
                for a in item.get("order_adjustments") or [] if a.get("kind") == "shipping_refund"]
    refunded = [set_bag(t["amount_set"]) for t in item.get("transactions") or []
                if t.get("kind") == "refund" and t.get("status") == "success"]
    return {"typename": "Refund", "id": nodes.gid("Refund", item["id"]),
            "legacyResourceId": str(item["id"]), "createdAt": nodes.utc(item.get("created_at")),
            "updatedAt": nodes.utc(item.get("processed_at") or item.get("created_at")),
            "note": item.get("note"),
            "totalRefundedSet": _sum_bags(refunded, currency, presentment),
            "refundLineItems": _paged([{
                "id": nodes.gid("RefundLineItem", line["id"]), "lineItem": lines[line["line_item_id"]],
                "quantity": line["quantity"], "restockType": _upper(line.get("restock_type")),
                "restocked": line.get("restock_type") not in (None, "no_restock"),
                "location": _location(line.get("location_id")),
                "subtotalSet": money_bag(line, "subtotal", currency),
                "totalTaxSet": money_bag(line, "total_tax", currency)}
                for line in item.get("refund_line_items") or []]),
            "refundShippingLines": _paged(shipping),
            "transactions": _paged([transaction(t) for t in item.get("transactions") or []])}


def fulfillment(item, lines):
    """Return a Fulfillment from a REST fulfillment (`lines`: the order's LineItems by id)."""
    numbers = item.get("tracking_numbers") or []
    urls = item.get("tracking_urls") or []
    tracking = [{"company": item.get("tracking_company"), "number": number,
                 "url": urls[i] if i < len(urls) else None} for i, number in enumerate(numbers)]
    service = item.get("service")
    return {"typename": "Fulfillment", "id": nodes.gid("Fulfillment", item["id"]),
            "legacyResourceId": str(item["id"]), "name": item.get("name"),
            "status": _upper(item.get("status")),
            "displayStatus": _upper(item.get("shipment_status")) or DISPLAY.get(item.get("status")),
            "service": service and {"handle": service, "serviceName": service},
            "location": _location(item.get("location_id")),
            "trackingInfo": _listed(tracking),
            "createdAt": nodes.utc(item.get("created_at")),
            "updatedAt": nodes.utc(item.get("updated_at")),
            "fulfillmentLineItems": _paged([{
                "id": nodes.gid("FulfillmentLineItem", f"{item['id']}{i}"),
                "lineItem": lines[line["id"]], "quantity": line["quantity"]}
                for i, line in enumerate(item.get("line_items") or [])])}


def order_fields(r, currency, lines, made=()):
    """Return the books' fields of an Order from a REST order (`lines`: LineItems by id,
    `made`: the transactions the store made for it beside its refunds')."""
    presentment = r.get("presentment_currency") or currency
    shipping_lines = [shipping_line(line, currency) for line in r.get("shipping_lines") or []]
    refunds = [refund(item, lines, shipping_lines, currency, presentment)
               for item in r.get("refunds") or []]
    return {
        "presentmentCurrencyCode": presentment, "taxesIncluded": bool(r.get("taxes_included")),
        "totalShippingPriceSet": money_bag(r, "total_shipping_price", currency),
        "currentSubtotalPriceSet": money_bag(r, "current_subtotal_price", currency),
        "currentTotalTaxSet": money_bag(r, "current_total_tax", currency),
        "currentTotalDiscountsSet": money_bag(r, "current_total_discounts", currency),
        "currentTotalPriceSet": money_bag(r, "current_total_price", currency),
        "totalRefundedSet": _sum_bags([item["totalRefundedSet"] for item in refunds],
                                      currency, presentment),
        "totalOutstandingSet": money_bag(r, "total_outstanding", currency),
        "taxLines": [{"title": line.get("title"), "rate": line.get("rate"),
                      "ratePercentage": None if line.get("rate") is None else line["rate"] * 100,
                      "priceSet": money_bag(line, "price", currency)}
                     for line in r.get("tax_lines") or []],
        "shippingLines": _paged(shipping_lines),
        "discountCodes": [code["code"] for code in r.get("discount_codes") or []],
        "discountApplications": _paged([discount_application(i, a, currency) for i, a in
                                        enumerate(r.get("discount_applications") or [])]),
        "refunds": _listed(refunds),
        "fulfillments": _listed([fulfillment(item, lines) for item in r.get("fulfillments") or []]),
        "transactions": _listed([transaction(t) for t in order_transactions(r, made)]),
    }

