"""GraphQL nodes as the REST records webhooks carry, so every record takes one apply path.

Ids come from `legacyResourceId` (or the number ending a GID), money from
`MoneyBag.shopMoney.amount` as the decimal string it is, enums in REST's lower case.
"""

import re

from shopsync.shopify import books

FULFILLMENT = {"PARTIALLY_FULFILLED": "partial", "FULFILLED": "fulfilled",
               "RESTOCKED": "restocked"}  # anything else: null (unfulfilled) in REST
ORDER_NUMBER = re.compile(r"#?(\d+)")
# Order fields a comparison may list beside the id and times, with their selections: enough
# to tell that the ERP lacks a transaction or holds other totals, without building records.
CHECKS = {"current_total_price": "currentTotalPriceSet { shopMoney { amount } }",
          "total_refunded": "totalRefundedSet { shopMoney { amount } }",
          "transactions": "transactions { id status }"}


def legacy_id(node):
    """Return the REST id of a node: its legacyResourceId, else the number ending its GID."""
    if node is None:
        return None
    if node.get("legacyResourceId") is not None:
        return int(node["legacyResourceId"])
    return gid_number(node["id"])


def gid_number(gid):
    """Return the id ending a GID: gid://shopify/Order/450789469 -> 450789469."""
    return int(gid.rsplit("/", 1)[1].split("?", 1)[0])


def amount(bag):
    """Return the shop-currency amount of a MoneyBag (or a MoneyV2), or None."""
    if not bag:
        return None
    return (bag.get("shopMoney") or bag).get("amount")


def lower(value):
    """Return an enum value in REST's lower case, or None."""
    return value.lower() if value else None


def money_set(bag):
    """Return REST's money set of a MoneyBag: shop and presentment amounts with currencies."""
    if not bag:
        return None
    return {key: {"amount": bag[part]["amount"], "currency_code": bag[part].get("currencyCode")}
            if bag.get(part) else None
            for key, part in (("shop_money", "shopMoney"), ("presentment_money", "presentmentMoney"))}


def address(node, **extra):
    """Return a REST address from a MailingAddress, or None."""
    if not node:
        return None
    return {"first_name": node.get("firstName"), "last_name": node.get("lastName"),
            "name": node.get("name"), "company": node.get("company"),
            "address1": node.get("address1"), "address2": node.get("address2"),
            "city": node.get("city"), "province": node.get("province"),
            "province_code": node.get("provinceCode"), "country": node.get("country"),
            "country_code": node.get("countryCodeV2"), "zip": node.get("zip"),
            "phone": node.get("phone"), **extra}


def _times(node):
    return {"created_at": node.get("createdAt"), "updated_at": node.get("updatedAt")}


def line_item(node):
    """Return a REST line item from a LineItem."""
    return {"id": legacy_id(node), "product_id": legacy_id(node.get("product")),
            "variant_id": legacy_id(node.get("variant")), "title": node.get("title"),
            "variant_title": node.get("variantTitle"), "sku": node.get("sku"),
            "quantity": node.get("quantity"), "price": amount(node.get("originalUnitPriceSet")),
            "total_discount": amount(node.get("totalDiscountSet"))}


def order(node):
    """Return a REST order from an Order node."""
    if set(node) <= {"id", "legacyResourceId", "createdAt", "updatedAt"}:
        return brief(node)
    number = ORDER_NUMBER.fullmatch(node.get("name") or "")
    customer = node.get("customer")
    return {
        "id": legacy_id(node), "admin_graphql_api_id": node["id"], "name": node.get("name"),
        "order_number": int(number[1]) if number else None, "email": node.get("email"),
        "currency": node.get("currencyCode"),
        "subtotal_price": amount(node.get("subtotalPriceSet")),
        "total_tax": amount(node.get("totalTaxSet")),
        "total_discounts": amount(node.get("totalDiscountsSet")),
        "total_price": amount(node.get("totalPriceSet")),
        "financial_status": lower(node.get("displayFinancialStatus")),
        "fulfillment_status": FULFILLMENT.get(node.get("displayFulfillmentStatus")),
        "customer": {"id": legacy_id(customer)} if customer else None,
        "shipping_address": address(node.get("shippingAddress")),
        "line_items": [line_item(item) for item in node["lineItems"]["nodes"]],
        "cancelled_at": node.get("cancelledAt"), "cancel_reason": lower(node.get("cancelReason")),
        "closed_at": node.get("closedAt"), **_times(node),
        **books.order_books(node, legacy_id(node)),
    }


def variant(node, product_id):
    """Return a REST variant from a ProductVariant."""
    return {"id": legacy_id(node), "product_id": product_id, "title": node.get("title"),
            "sku": node.get("sku"), "price": node.get("price"),
            "inventory_quantity": node.get("inventoryQuantity"), "position": node.get("position"),
            "updated_at": node.get("updatedAt")}


def product(node):
    """Return a REST product from a Product node."""
    if set(node) <= {"id", "legacyResourceId", "createdAt", "updatedAt"}:
        return brief(node)
    product_id = legacy_id(node)
    return {"id": product_id, "admin_graphql_api_id": node["id"], "title": node.get("title"),
            "handle": node.get("handle"), "vendor": node.get("vendor"),
            "product_type": node.get("productType"), "status": lower(node.get("status")),
            "tags": ", ".join(node.get("tags") or []),
            "variants": [variant(item, product_id) for item in node["variants"]["nodes"]],
            **_times(node)}


def customer(node):
    """Return a REST customer from a Customer node."""
    if set(node) <= {"id", "legacyResourceId", "createdAt", "updatedAt"}:
        return brief(node)
    customer_id, spent = legacy_id(node), node.get("amountSpent") or {}
    home = node.get("defaultAddress")
    default_address = home and address(home, id=gid_number(home["id"]), customer_id=customer_id,
                                       default=True, country_name=home.get("country"))
    orders_count = node.get("numberOfOrders")
    return {"id": customer_id, "admin_graphql_api_id": node["id"], "email": node.get("email"),
            "first_name": node.get("firstName"), "last_name": node.get("lastName"),
            "phone": node.get("phone"), "state": lower(node.get("state")),
            "orders_count": None if orders_count is None else int(orders_count),
            "total_spent": spent.get("amount"), "currency": spent.get("currencyCode"),
            "default_address": default_address, **_times(node)}


def brief(node):
    """Return the id, times and CHECKS fields of a node listed for comparison."""
    out = {"id": legacy_id(node)}
    for name, key in (("created_at", "createdAt"), ("updated_at", "updatedAt")):
        if key in node:
            out[name] = node[key]
    for name, key in (("current_total_price", "currentTotalPriceSet"),
                      ("total_refunded", "totalRefundedSet")):
        if key in node:
            out[name] = amount(node[key])
    if "transactions" in node:
        out["transactions"] = [{"id": gid_number(t["id"]), "status": lower(t.get("status"))}
                               for t in node["transactions"] or []]
    return out


RECORDS = {"orders": order, "products": product, "customers": customer}
