"""Schemas for the books: an order's tax, shipping and discount lines, refunds, transactions
and fulfillments, and the order with all of them.

Amounts Shopify gives in both currencies come as `X` (shop money) and `X_set`
(`{"shop_money": {...}, "presentment_money": {...}}`); a record loads with `X` and
`X_presentment`, `X` taken from the set when only the set is given (as GraphQL gives it).
"""

from marshmallow import fields, post_load, validate

from shopsync import schemas
from shopsync.schemas import Money, ShopifyId, ShopifySchema, Text, Time


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


def Word(max_length):
    """A short code Shopify may send as null (a status, a kind, a currency), at most `max_length`."""
    return Text(validate=validate.Length(max=max_length))


def Quantity(**kwargs):
    """A count of items, never negative."""
    return fields.Integer(strict=True, validate=validate.Range(min=0, max=2**31 - 1), **kwargs)


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

    SETS = ()

    @post_load
    def _split_sets(self, data, **kwargs):
        return split_sets(data, self.SETS)


class TaxLineSchema(SetsSchema):
    SETS = ("price",)
    title = Text()
    rate = _optional(fields.Decimal, allow_nan=False)
    price = Money(required=True)
    price_set = MoneySet()


class ShippingLineSchema(SetsSchema):
    SETS = ("price", "discounted_price")
    id = _optional(ShopifyId)
    title = Text()
    code = Text()
    source = Text()
    price = Money(required=True)
    price_set = MoneySet()
    discounted_price = _optional(Money)
    discounted_price_set = MoneySet()


class DiscountCodeSchema(ShopifySchema):
    code = Text()
    type = Word(32)
    amount = _optional(Money)


class DiscountApplicationSchema(ShopifySchema):
    type = Word(32)
    title = Text()
    code = Text()
    value = _optional(Money)
    value_type = Word(32)
    allocation_method = Word(32)
    target_selection = Word(32)
    target_type = Word(32)


class TransactionSchema(ShopifySchema):
    """A transaction (`order_transactions/create`); `amount` is in its `currency`."""

    id = ShopifyId(required=True)
    order_id = ShopifyId(required=True)
    parent_id = _optional(ShopifyId)
    kind = fields.String(required=True, validate=validate.Length(min=1, max=32))
    status = Word(32)
    gateway = Text()
    amount = Money(required=True)
    currency = Word(8)
    amount_set = MoneySet()
    error_code = Word(64)
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
    quantity = Quantity(required=True)
    restock_type = Word(32)
    location_id = _optional(ShopifyId)
    subtotal = _optional(Money)
    subtotal_set = MoneySet()
    total_tax = _optional(Money)
    total_tax_set = MoneySet()


class OrderAdjustmentSchema(ShopifySchema):
    kind = Text()  # shipping_refund, refund_discrepancy
    amount = _optional(Money)  # negative when money goes back to the buyer
    tax_amount = _optional(Money)


class RefundSchema(ShopifySchema):
    """A refund (`refunds/create`), with its lines and transactions."""

    id = ShopifyId(required=True)
    order_id = ShopifyId(required=True)
    note = Text()
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
    quantity = Quantity(required=True)


class FulfillmentSchema(ShopifySchema):
    """A fulfillment (`fulfillments/create`, `fulfillments/update`)."""

    id = ShopifyId(required=True)
    order_id = ShopifyId(required=True)
    name = Text()
    status = Word(32)
    shipment_status = Word(32)
    service = Text()
    location_id = _optional(ShopifyId)
    tracking_company = Text()
    tracking_number = Text()
    tracking_numbers = fields.List(fields.String(), allow_none=True, load_default=list)
    tracking_urls = fields.List(fields.String(), allow_none=True, load_default=list)
    line_items = fields.List(fields.Nested(FulfillmentLineSchema), load_default=list)
    created_at = _optional(Time)
    updated_at = Time(required=True)


class LineItemSchema(schemas.LineItemSchema):
    total_discount = _optional(Money)


# Order amounts given in both currencies; the current ones reflect refunds and edits.
ORDER_SETS = ("subtotal_price", "total_tax", "total_discounts", "total_price",
              "current_total_price")


class OrderSchema(schemas.OrderSchema, SetsSchema):
    """An order with what makes up its total, its refunds and its fulfillments."""

    SETS = ORDER_SETS
    line_items = fields.List(fields.Nested(LineItemSchema), load_default=list)
    presentment_currency = Word(8)
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

    @post_load
    def _own_parts(self, data, **kwargs):
        shipping = (data.pop("total_shipping_price_set", None) or {}).get("shop_money")
        data["total_shipping_price"] = shipping["amount"] if shipping else None
        for name in ("tax_lines", "shipping_lines", "discount_codes", "discount_applications",
                     "refunds", "fulfillments"):
            data[name] = data[name] or []
        for child in data["refunds"] + data["fulfillments"]:
            child["order_id"] = data["id"]
            for transaction in child.get("transactions", ()):
                transaction["order_id"] = data["id"]
        return data
