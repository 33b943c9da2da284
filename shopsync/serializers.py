"""JSON shapes of ERP records for the admin API: ids as integers, money as decimal strings."""


def money(value):
    """Format a Decimal as Shopify does ("409.94"), never in exponent form."""
    return None if value is None else format(value, "f")


def time(value):
    """Format a UTC-aware datetime as ISO 8601."""
    return None if value is None else value.isoformat()


def _fields(obj, names, money_names=(), time_names=()):
    out = {name: getattr(obj, name) for name in names}
    out.update({name: money(getattr(obj, name)) for name in money_names})
    out.update({name: time(getattr(obj, name)) for name in time_names})
    return out


def _record(obj, names, money_names=(), time_names=()):
    return {"id": obj.shopify_id, "shopify_id": obj.shopify_id,
            **_fields(obj, names, money_names, time_names)}


RECORD_TIMES = ("created_at", "updated_at", "deleted_at", "synced_at")


def customer_json(customer):
    """Serialise a Customer."""
    return _record(customer, ("email", "first_name", "last_name", "phone", "state",
                              "orders_count", "currency", "default_address"),
                   ("total_spent",), RECORD_TIMES)


def variant_json(variant):
    """Serialise a ProductVariant."""
    return _record(variant, ("product_shopify_id", "title", "sku", "inventory_quantity",
                             "position"), ("price",), ("updated_at",))


def product_json(product, variants):
    """Serialise a Product with its variants."""
    out = _record(product, ("title", "handle", "vendor", "product_type", "status", "tags"),
                  (), RECORD_TIMES)
    out["variants"] = [variant_json(v) for v in variants]
    return out


def line_item_json(item):
    """Serialise an OrderLineItem."""
    return _record(item, ("product_shopify_id", "variant_shopify_id", "title", "variant_title",
                          "sku", "quantity"), ("price", "total_discount"))


ORDER_MONEY = ("subtotal_price", "total_tax", "total_discounts", "total_price",
               "total_line_items_price", "total_shipping_price", "subtotal_price_presentment",
               "total_tax_presentment", "total_discounts_presentment", "total_price_presentment",
               "current_subtotal_price", "current_total_tax", "current_total_discounts",
               "current_total_price", "current_total_price_presentment", "total_outstanding",
               "total_refunded", "total_refunded_presentment")
# How each part of an order's books is serialised: (plain, money) fields.
PART_FIELDS = {
    "tax_lines": (("title",), ("rate", "price", "price_presentment")),
    "shipping_lines": (("title", "code", "source"),
                       ("price", "price_presentment", "discounted_price",
                        "discounted_price_presentment")),
    "discount_codes": (("code", "type"), ("amount",)),
    "discount_applications": (("type", "title", "code", "value_type", "allocation_method",
                               "target_selection", "target_type"), ("value",)),
}


def order_json(order, line_items, books):
    """Serialise an Order with its line items and books (see `ledger.books_of`)."""
    out = _record(order, ("name", "order_number", "email", "currency", "presentment_currency",
                          "taxes_included", "financial_status", "fulfillment_status",
                          "customer_shopify_id", "shipping_address", "cancel_reason"),
                  ORDER_MONEY, RECORD_TIMES + ("cancelled_at", "closed_at"))
    out["line_items"] = [line_item_json(item) for item in line_items]
    for name, (plain, amounts) in PART_FIELDS.items():
        out[name] = [_fields(part, plain, amounts) for part in books[name]]
    out["refunds"] = [refund_json(refund) for refund in books["refunds"]]
    out["transactions"] = [transaction_json(t) for t in books["transactions"]]
    out["fulfillments"] = [fulfillment_json(f) for f in books["fulfillments"]]
    return out


def refund_json(refund):
    """Serialise a Refund with its lines and transactions."""
    out = _record(refund, ("order_shopify_id", "note", "restock"), ("shipping_refunded",),
                  ("created_at", "processed_at"))
    out["refund_line_items"] = [_record(line, ("line_item_shopify_id", "quantity", "restock_type",
                                               "location_id"),
                                        ("subtotal", "subtotal_presentment", "total_tax",
                                         "total_tax_presentment"))
                                for line in refund.refund_line_items]
    out["transactions"] = [transaction_json(t) for t in refund.transactions]
    return out


def transaction_json(transaction):
    """Serialise an OrderTransaction."""
    return _record(transaction, ("order_shopify_id", "refund_shopify_id", "parent_shopify_id",
                                 "kind", "status", "gateway", "currency", "error_code"),
                   ("amount", "amount_shop"), ("processed_at", "created_at"))


def fulfillment_json(fulfillment):
    """Serialise a Fulfillment with its lines."""
    out = _record(fulfillment, ("order_shopify_id", "name", "status", "shipment_status",
                                "service", "location_id", "tracking_company", "tracking_number",
                                "tracking_numbers", "tracking_urls"),
                  (), ("created_at", "updated_at"))
    out["line_items"] = [{"line_item_shopify_id": line.line_item_shopify_id,
                          "quantity": line.quantity} for line in fulfillment.line_items]
    return out


def failed_item_json(item):
    """Serialise a FailedSyncItem, its data included."""
    return {
        "id": item.id, "entity_type": item.entity_type, "shopify_id": item.shopify_id,
        "topic": item.topic, "webhook_id": item.webhook_id, "error_message": item.error_message,
        "retryable": item.retryable, "retry_count": item.retry_count,
        "max_retries": item.max_retries, "next_retry_at": time(item.next_retry_at),
        "created_at": time(item.created_at), "updated_at": time(item.updated_at),
        "resolved_at": time(item.resolved_at),
        "resolution": item.resolution and item.resolution.value,
        "status": item.state, "raw_data": item.raw_data, "error_stack": item.error_stack,
    }
