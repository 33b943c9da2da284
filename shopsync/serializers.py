"""JSON shapes of ERP records for the admin API: ids as integers, money as decimal strings."""


def money(value):
    """Format a Decimal as Shopify does ("409.94"), never in exponent form."""
    return None if value is None else format(value, "f")


def time(value):
    """Format a UTC-aware datetime as ISO 8601."""
    return None if value is None else value.isoformat()


def _record(obj, names, money_names=(), time_names=()):
    out = {"id": obj.shopify_id, "shopify_id": obj.shopify_id}
    out.update({name: getattr(obj, name) for name in names})
    out.update({name: money(getattr(obj, name)) for name in money_names})
    out.update({name: time(getattr(obj, name)) for name in time_names})
    return out


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
                          "sku", "quantity"), ("price",))


def order_json(order, line_items):
    """Serialise an Order with its line items."""
    out = _record(order, ("name", "order_number", "email", "currency", "financial_status",
                          "fulfillment_status", "customer_shopify_id", "shipping_address",
                          "cancel_reason"),
                  ("subtotal_price", "total_tax", "total_discounts", "total_price"),
                  RECORD_TIMES + ("cancelled_at", "closed_at"))
    out["line_items"] = [line_item_json(item) for item in line_items]
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
        "status": item_status(item), "raw_data": item.raw_data, "error_stack": item.error_stack,
    }


def item_status(item):
    """Return open, resolved or abandoned."""
    if item.resolution is None:
        return "open"
    return "abandoned" if item.resolution.value == "abandoned" else "resolved"
