"""Marshmallow schemas for Shopify payloads: check at the edge, load into plain typed dicts."""

import datetime as dt

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate

MAX_BIGINT = 2**63 - 1


def ShopifyId(**kwargs):
    """An integer Shopify id of any size up to BIGINT; floats and strings are refused."""
    return fields.Integer(strict=True, validate=validate.Range(min=1, max=MAX_BIGINT), **kwargs)


def Money(**kwargs):
    """A decimal amount, loaded exactly from Shopify's decimal string."""
    return fields.Decimal(allow_nan=False, **kwargs)


def Time(**kwargs):
    """An ISO 8601 time; one without an offset is taken as UTC."""
    return fields.AwareDateTime(default_timezone=dt.UTC, **kwargs)


def parse_time(value):
    """Return a Shopify timestamp as a UTC-aware datetime, or None when absent or unreadable."""
    try:
        return Time().deserialize(value) if value else None
    except ValidationError:
        return None


def Text(**kwargs):
    """A string Shopify may send as null."""
    return fields.String(allow_none=True, load_default=None, **kwargs)


class ShopifySchema(Schema):
    """Base: unknown fields are ignored, as Shopify adds fields over time."""

    class Meta:
        unknown = EXCLUDE


class CustomerSchema(ShopifySchema):
    id = ShopifyId(required=True)
    email = Text()
    first_name = Text()
    last_name = Text()
    phone = Text()
    state = Text()
    orders_count = fields.Integer(allow_none=True, load_default=None)
    total_spent = Money(allow_none=True, load_default=None)
    currency = Text()
    default_address = fields.Dict(allow_none=True, load_default=None)
    created_at = Time(allow_none=True, load_default=None)
    updated_at = Time(required=True)


class VariantSchema(ShopifySchema):
    id = ShopifyId(required=True)
    product_id = ShopifyId(allow_none=True, load_default=None)
    title = Text()
    sku = Text()
    price = Money(allow_none=True, load_default=None)
    inventory_quantity = fields.Integer(allow_none=True, load_default=None)
    position = fields.Integer(allow_none=True, load_default=None)
    updated_at = Time(allow_none=True, load_default=None)


class ProductSchema(ShopifySchema):
    id = ShopifyId(required=True)
    title = Text()
    handle = Text()
    vendor = Text()
    product_type = Text()
    status = Text()
    tags = Text()
    variants = fields.List(fields.Nested(VariantSchema), load_default=list)
    created_at = Time(allow_none=True, load_default=None)
    updated_at = Time(required=True)


class CustomerRefSchema(ShopifySchema):
    id = ShopifyId(required=True)


class LineItemSchema(ShopifySchema):
    id = ShopifyId(required=True)
    product_id = ShopifyId(allow_none=True, load_default=None)
    variant_id = ShopifyId(allow_none=True, load_default=None)
    title = Text()
    variant_title = Text()
    sku = Text()
    quantity = fields.Integer(required=True, validate=validate.Range(min=0))
    price = Money(required=True)


class OrderSchema(ShopifySchema):
    id = ShopifyId(required=True)
    name = Text()
    order_number = fields.Integer(allow_none=True, load_default=None)
    email = Text()
    currency = Text()
    subtotal_price = Money(allow_none=True, load_default=None)
    total_tax = Money(allow_none=True, load_default=None)
    total_discounts = Money(allow_none=True, load_default=None)
    total_price = Money(required=True)
    financial_status = Text()
    fulfillment_status = Text()
    customer = fields.Nested(CustomerRefSchema, allow_none=True, load_default=None)
    shipping_address = fields.Dict(allow_none=True, load_default=None)
    line_items = fields.List(fields.Nested(LineItemSchema), load_default=list)
    cancelled_at = Time(allow_none=True, load_default=None)
    cancel_reason = Text()
    closed_at = Time(allow_none=True, load_default=None)
    created_at = Time(allow_none=True, load_default=None)
    updated_at = Time(required=True)


class DeletionSchema(ShopifySchema):
    """The body of every `*/delete` topic: only the id."""

    id = ShopifyId(required=True)


class RedactedCustomerSchema(ShopifySchema):
    id = ShopifyId(required=True)


class CustomerRedactSchema(ShopifySchema):
    """The body of `customers/redact`: whose data to erase, and in which orders."""

    shop_domain = Text()
    customer = fields.Nested(RedactedCustomerSchema, required=True)
    orders_to_redact = fields.List(ShopifyId(), load_default=list)


class ShopRedactSchema(ShopifySchema):
    """The body of `shop/redact`, sent 48 hours after the app is uninstalled."""

    shop_domain = Text()


class DataRequestSchema(ShopifySchema):
    """The body of `customers/data_request`."""

    shop_domain = Text()
    customer = fields.Nested(RedactedCustomerSchema, required=True)
    orders_requested = fields.List(ShopifyId(), load_default=list)
