"""Schemas for the books: an order's tax, shipping and discount lines, refunds, transactions
and fulfillments, and the order with all of them.

Amounts Shopify gives in both currencies come as `X` (shop money) and `X_set`
(`{"shop_money": {...}, "presentment_money": {...}}`); a record loads with `X` and
`X_presentment`, `X` taken from the set when only the set is given (as GraphQL gives it).
"""

from marshmallow import fields, post_load, validate

from shopsync import schemas
from shopsync.ledger import (
    Fulfillment,
    FulfillmentLineItem,
    OrderDiscountApplication,
    OrderDiscountCode,
    OrderShippingLine,
    OrderTaxLine,
    OrderTransaction,
    Refund,
    RefundLineItem,
)
from shopsync.models import Order
from shopsync.schemas import Integer, Money, ShopifyId, ShopifySchema, Text, Time


def _optional(field_factory, **kwargs):
    return field_factory(allow_none=True, load_default=None, **kwargs)


class AmountSchema(ShopifySchema):
    amount = Money(required=True)
    currency_code = Text()


class MoneySetSchema(ShopifySchema):
    shop_money = fields.Nested(AmountSchema, allow_none=True, load_default=None)
    presentment_money = fields.Nested(AmountSchema, allow_none=True, load_default=None)


def MoneySet():
    """An amount in shop and presentment money."""
    return fields.Nested(MoneySetSchema, allow_none=True, load_default=None)


def split_sets(data, names):
    """Replace each `name_set` of `data` by `name_presentment`, filling `name` from the set."""
    for name in names:
        money_set = data.pop(f"{name}_set", None) or {}
        shop, presentment = money_set.get("shop_money"), money_set.get("presentment_money")
        if data.get(name) is None and shop:
            data[name] = shop["amount"]
        data[f"{name}_presentment"] = presentment["amount"] if presentment else None
    return data


class SetsSchema(ShopifySchema):
    """A schema whose SETS amounts load as shop and presentment money."""

    SETS: tuple[str, ...] = ()

    @post_load
    def _split_sets(self, data, **kwargs):
        return split_sets(data, self.SETS)


class TaxLineSchema(SetsSchema):
    SETS = ("price",)
    title = Text(OrderTaxLine.title)
    rate = _optional(Money)
    price = Money(required=True)
    price_set = MoneySet()


class ShippingLineSchema(SetsSchema):
    SETS = ("price", "discounted_price")
    id = _optional(ShopifyId)
    title = Text(OrderShippingLine.title)
    code = Text(OrderShippingLine.code)
    source = Text(OrderShippingLine.source)
    price = Money(required=True)
    price_set = MoneySet()
    discounted_price = _optional(Money)
    discounted_price_set = MoneySet()


class DiscountCodeSchema(ShopifySchema):
    code = Text(OrderDiscountCode.code)
    type = Text(OrderDiscountCode.type)
    amount = _optional(Money)


class DiscountApplicationSchema(ShopifySchema):
    type = Text(OrderDiscountApplication.type)
    title = Text(OrderDiscountApplication.title)
    code = Text(OrderDiscountApplication.code)
    value = _optional(Money)
    value_type = Text(OrderDiscountApplication.value_type)
    allocation_method = Text(OrderDiscountApplication.allocation_method)
    target_selection = Text(OrderDiscountApplication.target_selection)
    target_type = Text(OrderDiscountApplication.target_type)


class TransactionSchema(ShopifySchema):
    """A transaction (`order_transactions/create`); `amount` is in its `currency`."""

    id = ShopifyId(required=True)
    order_id = ShopifyId(required=True)
    parent_id = _optional(ShopifyId)
    kind = fields.String(required=True, validate=validate.Length(
        min=1, max=OrderTransaction.kind.max_length))
    status = Text(OrderTransaction.status)
    gateway = Text(OrderTransaction.gateway)
    amount = Money(required=True)
    currency = Text(OrderTransaction.currency)
    amount_set = MoneySet()
    error_code = Text(OrderTransaction.error_code)
    processed_at = _optional(Time)
    created_at = _optional(Time)

    @post_load
    def _amount_shop(self, data, **kwargs):
        money_set = data.pop("amount_set", None) or {}
        data["amount_shop"] = (money_set.get("shop_money") or {}).get("amount")
        return data


class RefundLineItemSchema(SetsSchema):
    SETS = ("subtotal", "total_tax")
    id = ShopifyId(required=True)
    line_item_id = ShopifyId(required=True)
    quantity = Integer(RefundLineItem.quantity, minimum=0, required=True)
    restock_type = Text(RefundLineItem.restock_type)
    location_id = _optional(ShopifyId)
    subtotal = _optional(Money)
    subtotal_set = MoneySet()
    total_tax = _optional(Money)
    total_tax_set = MoneySet()


class OrderAdjustmentSchema(ShopifySchema):
    kind = Text()  # shipping_refund, refund_discrepancy (not stored)
    amount = _optional(Money)  # negative when money goes back to the buyer
    tax_amount = _optional(Money)


class RefundSchema(ShopifySchema):
    """A refund (`refunds/create`), with its lines and transactions."""

    id = ShopifyId(required=True)
    order_id = ShopifyId(required=True)
    note = Text(Refund.note)
    restock = _optional(fields.Boolean)
    created_at = _optional(Time)
    processed_at = _optional(Time)
    refund_line_items = fields.List(fields.Nested(RefundLineItemSchema), load_default=list)
    transactions = fields.List(fields.Nested(TransactionSchema(partial=("order_id",))),
                               load_default=list)
    order_adjustments = fields.List(fields.Nested(OrderAdjustmentSchema), allow_none=True,
                                    load_default=list)

    @post_load
    def _own_transactions(self, data, **kwargs):
        shipping = [-a["amount"] for a in data.pop("order_adjustments") or []
                    if a["kind"] == "shipping_refund" and a["amount"] is not None]
        data["shipping_refunded"] = sum(shipping[1:], shipping[0]) if shipping else None
        for transaction in data["transactions"]:
            transaction["order_id"] = data.get("order_id")
        return data


class FulfillmentLineSchema(ShopifySchema):
    id = ShopifyId(required=True)  # the order line's id
    quantity = Integer(FulfillmentLineItem.quantity, minimum=0, required=True)


class FulfillmentSchema(ShopifySchema):
    """A fulfillment (`fulfillments/create`, `fulfillments/update`)."""

    id = ShopifyId(required=True)
    order_id = ShopifyId(required=True)
    name = Text(Fulfillment.name)
    status = Text(Fulfillment.status)
    shipment_status = Text(Fulfillment.shipment_status)
    service = Text(Fulfillment.service)
    location_id = _optional(ShopifyId)
    tracking_company = Text(Fulfillment.tracking_company)
    tracking_number = Text(Fulfillment.tracking_number)
    tracking_numbers = fields.List(Text(), allow_none=True, load_default=list)
    tracking_urls = fields.List(Text(), allow_none=True, load_default=list)
    line_items = fields.List(fields.Nested(FulfillmentLineSchema), load_default=list)
    created_at = _optional(Time)
    updated_at = Time(required=True)


class MoneyCheckSchema(ShopifySchema):
    """A money failed item's data: the order to check again (its figures are for reading)."""

    id = ShopifyId(required=True)


class LineItemSchema(schemas.LineItemSchema):
    total_discount = _optional(Money)


# Order amounts given in both currencies; the current ones reflect refunds and edits.
ORDER_SETS = ("subtotal_price", "total_tax", "total_discounts", "total_price",
              "current_total_price")


class OrderSchema(schemas.OrderSchema, SetsSchema):
    """An order with what makes up its total, its refunds and its fulfillments."""

    SETS = ORDER_SETS
    line_items = fields.List(fields.Nested(LineItemSchema), load_default=list)
    presentment_currency = Text(Order.presentment_currency)
    taxes_included = _optional(fields.Boolean)
    total_line_items_price = _optional(Money)
    total_shipping_price_set = MoneySet()
    current_subtotal_price = _optional(Money)
    current_total_tax = _optional(Money)
    current_total_discounts = _optional(Money)
    current_total_price = _optional(Money)
    total_outstanding = _optional(Money)
    subtotal_price_set = MoneySet()
    total_tax_set = MoneySet()
    total_discounts_set = MoneySet()
    total_price_set = MoneySet()
    current_total_price_set = MoneySet()
    tax_lines = fields.List(fields.Nested(TaxLineSchema), allow_none=True, load_default=list)
    shipping_lines = fields.List(fields.Nested(ShippingLineSchema), allow_none=True,
                                 load_default=list)
    discount_codes = fields.List(fields.Nested(DiscountCodeSchema), allow_none=True,
                                 load_default=list)
    discount_applications = fields.List(fields.Nested(DiscountApplicationSchema),
                                        allow_none=True, load_default=list)
    refunds = fields.List(fields.Nested(RefundSchema(partial=("order_id",))), allow_none=True,
                          load_default=list)
    fulfillments = fields.List(fields.Nested(FulfillmentSchema(partial=("order_id",))),
                               allow_none=True, load_default=list)
    # Not in webhooks: the pull path adds them (GraphQL Order.transactions, REST's
    # orders/{id}/transactions.json).
    transactions = fields.List(fields.Nested(TransactionSchema(partial=("order_id",))),
                               allow_none=True, load_default=list)

    @post_load
    def _own_parts(self, data, **kwargs):
        shipping = (data.pop("total_shipping_price_set", None) or {}).get("shop_money")
        data["total_shipping_price"] = shipping["amount"] if shipping else None
        for name in ("tax_lines", "shipping_lines", "discount_codes", "discount_applications",
                     "refunds", "fulfillments", "transactions"):
            data[name] = data[name] or []
        for transaction in data["transactions"]:
            transaction["order_id"] = data["id"]
        for child in data["refunds"] + data["fulfillments"]:
            child["order_id"] = data["id"]
            for transaction in child.get("transactions", ()):
                transaction["order_id"] = data["id"]
        return data
