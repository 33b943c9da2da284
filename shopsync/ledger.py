"""ERP books tables: what makes up an order's total, and its refunds, transactions and fulfillments.

Money is kept in shop currency; a `_presentment` column holds the amount in the currency the
buyer saw, where Shopify gives both. Refunds, transactions and fulfillments link to their
order by Shopify id (they may arrive before it); the lines of an order hang off its row.
"""

import peewee as pw

from shopsync.db import JSONField, MoneyField, UTCDateTimeField, utcnow
from shopsync.models import ALL_MODELS, BaseModel, Order


class OrderPart(BaseModel):
    """A line of an order without an id of its own, kept in the order's `position` order."""

    order = pw.ForeignKeyField(Order, on_delete="CASCADE")
    position = pw.IntegerField()

    class Meta:
        indexes = ((("order", "position"), True),)


class OrderTaxLine(OrderPart):
    title = pw.TextField(null=True)
    rate = MoneyField(null=True)  # exact, e.g. 0.06
    price = MoneyField()
    price_presentment = MoneyField(null=True)


class OrderShippingLine(OrderPart):
    shopify_id = pw.BigIntegerField(null=True)
    title = pw.TextField(null=True)
    code = pw.TextField(null=True)
    source = pw.TextField(null=True)
    price = MoneyField()
    price_presentment = MoneyField(null=True)
    discounted_price = MoneyField(null=True)
    discounted_price_presentment = MoneyField(null=True)


class OrderDiscountCode(OrderPart):
    code = pw.TextField(null=True)
    type = pw.CharField(max_length=32, null=True)  # fixed_amount, percentage, shipping
    amount = MoneyField(null=True)


class OrderDiscountApplication(OrderPart):
    type = pw.CharField(max_length=32, null=True)  # discount_code, manual, script, automatic
    title = pw.TextField(null=True)
    code = pw.TextField(null=True)
    value = MoneyField(null=True)  # an amount, or a percentage when value_type says so
    value_type = pw.CharField(max_length=32, null=True)
    allocation_method = pw.CharField(max_length=32, null=True)
    target_selection = pw.CharField(max_length=32, null=True)
    target_type = pw.CharField(max_length=32, null=True)


class Refund(BaseModel):
    """A refund of an order: its lines and transactions hang off it."""

    shopify_id = pw.BigIntegerField(unique=True)
    order_shopify_id = pw.BigIntegerField(index=True)
    note = pw.TextField(null=True)
    restock = pw.BooleanField(null=True)
    shipping_refunded = MoneyField(null=True)  # from its shipping_refund adjustments
    created_at = UTCDateTimeField(null=True)
    processed_at = UTCDateTimeField(null=True)
    synced_at = UTCDateTimeField(default=utcnow)


class RefundLineItem(BaseModel):
    """A quantity of an order line refunded, and whether its stock went back."""

    shopify_id = pw.BigIntegerField(unique=True)
    refund = pw.ForeignKeyField(Refund, backref="refund_line_items", on_delete="CASCADE")
    line_item_shopify_id = pw.BigIntegerField(index=True)
    quantity = pw.IntegerField()
    restock_type = pw.CharField(max_length=32, null=True)  # no_restock, cancel, return, ...
    location_id = pw.BigIntegerField(null=True)
    subtotal = MoneyField(null=True)
    subtotal_presentment = MoneyField(null=True)
    total_tax = MoneyField(null=True)
    total_tax_presentment = MoneyField(null=True)


class OrderTransaction(BaseModel):
    """Money moving for an order: `amount` is in `currency`, `amount_shop` in shop money."""

    shopify_id = pw.BigIntegerField(unique=True)
    order_shopify_id = pw.BigIntegerField(index=True)
    refund_shopify_id = pw.BigIntegerField(null=True, index=True)
    parent_shopify_id = pw.BigIntegerField(null=True)
    kind = pw.CharField(max_length=32)  # authorization, capture, sale, void, refund
    status = pw.CharField(max_length=32, null=True)  # pending, failure, success, error
    gateway = pw.TextField(null=True)
    amount = MoneyField()
    currency = pw.CharField(max_length=8, null=True)
    amount_shop = MoneyField(null=True)
    error_code = pw.CharField(max_length=64, null=True)
    processed_at = UTCDateTimeField(null=True)
    created_at = UTCDateTimeField(null=True)
    synced_at = UTCDateTimeField(default=utcnow)


class Fulfillment(BaseModel):
    """A shipment of some of an order's lines."""

    shopify_id = pw.BigIntegerField(unique=True)
    order_shopify_id = pw.BigIntegerField(index=True)
    name = pw.TextField(null=True)
    status = pw.CharField(max_length=32, null=True)  # pending, open, success, cancelled, ...
    shipment_status = pw.CharField(max_length=32, null=True)
    service = pw.TextField(null=True)
    location_id = pw.BigIntegerField(null=True)
    tracking_company = pw.TextField(null=True)
    tracking_number = pw.TextField(null=True)
    tracking_numbers = JSONField(null=True)
    tracking_urls = JSONField(null=True)
    created_at = UTCDateTimeField(null=True)
    updated_at = UTCDateTimeField(null=True)
    synced_at = UTCDateTimeField(default=utcnow)


class FulfillmentLineItem(BaseModel):
    """A quantity of an order line in a fulfillment."""

    fulfillment = pw.ForeignKeyField(Fulfillment, backref="line_items", on_delete="CASCADE")
    line_item_shopify_id = pw.BigIntegerField()
    quantity = pw.IntegerField()

    class Meta:
        indexes = ((("fulfillment", "line_item_shopify_id"), True),)


def books_of(order):
    """Return an order's parts, refunds (with lines and transactions), transactions and fulfillments."""
    books = {name: list(model.select().where(model.order == order).order_by(model.position))
             for name, model in (("tax_lines", OrderTaxLine), ("shipping_lines", OrderShippingLine),
                                 ("discount_codes", OrderDiscountCode),
                                 ("discount_applications", OrderDiscountApplication))}
    transactions = list(OrderTransaction.select().where(
        OrderTransaction.order_shopify_id == order.shopify_id).order_by(OrderTransaction.shopify_id))
    refunds = pw.prefetch(Refund.select().where(Refund.order_shopify_id == order.shopify_id)
                          .order_by(Refund.shopify_id),
                          RefundLineItem.select().order_by(RefundLineItem.shopify_id))
    for refund in refunds:
        refund.transactions = [t for t in transactions if t.refund_shopify_id == refund.shopify_id]
    fulfillments = pw.prefetch(Fulfillment.select().where(
        Fulfillment.order_shopify_id == order.shopify_id).order_by(Fulfillment.shopify_id),
        FulfillmentLineItem.select().order_by(FulfillmentLineItem.id))
    return {**books, "refunds": refunds, "transactions": transactions, "fulfillments": fulfillments}


ORDER_PARTS = [OrderTaxLine, OrderShippingLine, OrderDiscountCode, OrderDiscountApplication]
LEDGER_MODELS = [*ORDER_PARTS, Refund, RefundLineItem, OrderTransaction, Fulfillment,
                 FulfillmentLineItem]
ALL_MODELS.extend(LEDGER_MODELS)
