"""Marshmallow schemas for Shopify payloads: check at the edge, load into plain typed dicts.

Whatever a column or a conversion on the way to it could refuse is refused here, with the
field's name: a payload that loads can be written to SQLite and PostgreSQL alike.
"""

import datetime as dt
import json

import peewee as pw
from marshmallow import EXCLUDE, RAISE, Schema, ValidationError, fields, validate

from shopsync.models import Customer, Order, OrderLineItem, Product, ProductVariant

MAX_BIGINT = 2**63 - 1
# Money has at most this many digits before the point and after it: 28 in all, the precision
# of Python's decimal arithmetic, far past any amount and far inside PostgreSQL's NUMERIC.
MONEY_DIGITS = 18
MONEY_PLACES = 10
# JSON documents kept whole (addresses) nest no deeper than this.
MAX_NESTING = 16


def ShopifyId(**kwargs):
    """An integer Shopify id of any size up to BIGINT; floats and strings are refused."""
    return fields.Integer(strict=True, validate=validate.Range(min=1, max=MAX_BIGINT), **kwargs)


def record_id(document):
    """Return a payload's `id` if it is a usable Shopify id (a positive BIGINT), else None."""
    value = document.get("id") if isinstance(document, dict) else None
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_BIGINT:
        return value
    return None


def Integer(column, minimum=None, **kwargs):
    """An integer that fits `column` (INTEGER: 32 bits, BIGINT: 64 bits)."""
    bits = 64 if isinstance(column, pw.BigIntegerField) else 32
    low = -(2 ** (bits - 1)) if minimum is None else minimum
    return fields.Integer(validate=validate.Range(min=low, max=2 ** (bits - 1) - 1), **kwargs)


def _fits_money(value):
    """Refuse amounts with more digits than money has."""
    _, digits, exponent = value.as_tuple()
    if len(digits) + exponent > MONEY_DIGITS or -exponent > MONEY_PLACES:
        raise ValidationError(f"Not an amount of money: more than {MONEY_DIGITS} digits "
                              f"before the point or {MONEY_PLACES} after it.")


def Money(**kwargs):
    """A decimal amount, loaded exactly from Shopify's decimal string."""
    return fields.Decimal(allow_nan=False, validate=_fits_money, **kwargs)


class Time(fields.AwareDateTime):
    """An ISO 8601 time loaded as UTC; one without an offset is taken as UTC."""

    def __init__(self, **kwargs):
        super().__init__(default_timezone=dt.UTC, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        moment = super()._deserialize(value, attr, data, **kwargs)
        try:
            return moment.astimezone(dt.UTC)
        except OverflowError:
            raise ValidationError("Not a valid datetime: out of range once in UTC.") from None


def parse_time(value):
    """Return a Shopify timestamp as a UTC-aware datetime, or None when absent or unreadable."""
    try:
        return Time().deserialize(value) if value else None
    except ValidationError:
        return None


def _storable_text(value):
    """Refuse text no database column holds: NUL characters, unpaired surrogates."""
    if "\x00" in value:
        raise ValidationError("Not storable: contains a NUL character.")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValidationError("Not storable: contains an unpaired surrogate.") from None


def Text(column=None, **kwargs):
    """A string Shopify may send as null, storable in `column` (no longer than its max_length)."""
    checks = [_storable_text]
    if isinstance(column, pw.CharField):
        checks.append(validate.Length(max=column.max_length))
    return fields.String(allow_none=True, load_default=None, validate=checks, **kwargs)


def _too_deep(value):
    """Tell whether `value` nests objects and arrays more than MAX_NESTING levels deep."""
    level = [value]
    for _ in range(MAX_NESTING + 1):
        level = [child for node in level if isinstance(node, (dict, list))
                 for child in (node.values() if isinstance(node, dict) else node)]
        if not level:
            return False
    return True


def _storable_document(value):
    """Refuse a document a JSON column cannot hold: too deep, NaN, unpaired surrogates."""
    if _too_deep(value):
        raise ValidationError(f"Not storable: nests deeper than {MAX_NESTING} levels.")
    try:
        json.dumps(value, ensure_ascii=False, allow_nan=False).encode("utf-8")
    except ValueError:
        raise ValidationError("Not storable: holds NaN, Infinity or an unpaired surrogate.") from None


def Document(**kwargs):
    """A JSON object kept whole (an address), or null."""
    return fields.Dict(allow_none=True, load_default=None, validate=_storable_document, **kwargs)


class ShopifySchema(Schema):
    """Base: unknown fields are ignored, as Shopify adds fields over time."""

    class Meta:
        unknown = EXCLUDE


class CustomerSchema(ShopifySchema):
    id = ShopifyId(required=True)
    email = Text(Customer.email)
    first_name = Text(Customer.first_name)
    last_name = Text(Customer.last_name)
    phone = Text(Customer.phone)
    state = Text(Customer.state)
    orders_count = Integer(Customer.orders_count, allow_none=True, load_default=None)
    total_spent = Money(allow_none=True, load_default=None)
    currency = Text(Customer.currency)
    default_address = Document()
    created_at = Time(allow_none=True, load_default=None)
    updated_at = Time(required=True)


class VariantSchema(ShopifySchema):
    id = ShopifyId(required=True)
    product_id = ShopifyId(allow_none=True, load_default=None)
    title = Text(ProductVariant.title)
    sku = Text(ProductVariant.sku)
    price = Money(allow_none=True, load_default=None)
    inventory_quantity = Integer(ProductVariant.inventory_quantity, allow_none=True, load_default=None)
    position = Integer(ProductVariant.position, allow_none=True, load_default=None)
    updated_at = Time(allow_none=True, load_default=None)


class ProductSchema(ShopifySchema):
    id = ShopifyId(required=True)
    title = Text(Product.title)
    handle = Text(Product.handle)
    vendor = Text(Product.vendor)
    product_type = Text(Product.product_type)
    status = Text(Product.status)
    tags = Text(Product.tags)
    variants = fields.List(fields.Nested(VariantSchema), load_default=list)
    created_at = Time(allow_none=True, load_default=None)
    updated_at = Time(required=True)


class CustomerRefSchema(ShopifySchema):
    id = ShopifyId(required=True)


class LineItemSchema(ShopifySchema):
    id = ShopifyId(required=True)
    product_id = ShopifyId(allow_none=True, load_default=None)
    variant_id = ShopifyId(allow_none=True, load_default=None)
    title = Text(OrderLineItem.title)
    variant_title = Text(OrderLineItem.variant_title)
    sku = Text(OrderLineItem.sku)
    quantity = Integer(OrderLineItem.quantity, minimum=0, required=True)
    price = Money(required=True)


class OrderSchema(ShopifySchema):
    id = ShopifyId(required=True)
    name = Text(Order.name)
    order_number = Integer(Order.order_number, allow_none=True, load_default=None)
    email = Text(Order.email)
    currency = Text(Order.currency)
    subtotal_price = Money(allow_none=True, load_default=None)
    total_tax = Money(allow_none=True, load_default=None)
    total_discounts = Money(allow_none=True, load_default=None)
    total_price = Money(required=True)
    financial_status = Text(Order.financial_status)
    fulfillment_status = Text(Order.fulfillment_status)
    customer = fields.Nested(CustomerRefSchema, allow_none=True, load_default=None)
    shipping_address = Document()
    line_items = fields.List(fields.Nested(LineItemSchema), load_default=list)
    cancelled_at = Time(allow_none=True, load_default=None)
    cancel_reason = Text(Order.cancel_reason)
    closed_at = Time(allow_none=True, load_default=None)
    created_at = Time(allow_none=True, load_default=None)
    updated_at = Time(required=True)


class ExactSchema(Schema):
    """Base of the bodies that delete or erase: Shopify signs the body but not the topic, so a
    body of any other shape (say, an order replayed as `shop/redact`) is refused, not acted on."""

    class Meta:
        unknown = RAISE


class DeletionSchema(ExactSchema):
    """The body of every `*/delete` topic: only the id."""

    id = ShopifyId(required=True)


class RedactedCustomerSchema(ExactSchema):
    id = ShopifyId(required=True)
    email = Text()
    phone = Text()


class ShopRedactSchema(ExactSchema):
    """The body of `shop/redact`, sent 48 hours after the app is uninstalled."""

    shop_id = ShopifyId(required=True)
    shop_domain = fields.String(required=True)


class CustomerRedactSchema(ShopRedactSchema):
    """The body of `customers/redact`: whose data to erase, and in which orders."""

    customer = fields.Nested(RedactedCustomerSchema, required=True)
    orders_to_redact = fields.List(ShopifyId(), required=True)


class DataRequestIdSchema(ExactSchema):
    id = ShopifyId(required=True)


class DataRequestSchema(ShopRedactSchema):
    """The body of `customers/data_request`."""

    customer = fields.Nested(RedactedCustomerSchema, required=True)
    orders_requested = fields.List(ShopifyId(), required=True)
    data_request = fields.Nested(DataRequestIdSchema, required=True)
