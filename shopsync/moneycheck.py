"""The money check: an order's books must add up, at its currency's precision.

Run (by `settle`) whenever an order, a refund or a transaction is applied. What it checks:
the line items less discounts are the subtotal; subtotal, shipping and tax are the total
(in shop money, and in presentment money when given); tax lines add up to the total tax;
refunded lines, tax and shipping account for the current totals; successful refunds fit the
financial status; payments and refunds account for the outstanding amount. A mismatch opens
a failed item of the `money` kind, resolved by itself once a later version adds up.
"""

import json
import logging
from dataclasses import dataclass, field
from decimal import Decimal, localcontext

from shopsync import failed_items
from shopsync.db import INFRASTRUCTURE_ERRORS, db, is_sqlite
from shopsync.ledger import OrderShippingLine, OrderTaxLine, OrderTransaction, Refund, RefundLineItem
from shopsync.models import FailedSyncItem, Order, OrderLineItem, Resolution

log = logging.getLogger(__name__)
ENTITY = "money"
MESSAGE = "money does not add up: "
# Digits after the point of currencies that do not use two (ISO 4217).
DIGITS = {"BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0, "KRW": 0,
          "PYG": 0, "RWF": 0, "UGX": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0, "XPF": 0,
          "BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3}
PAID = ("paid", "partially_refunded", "refunded")
# Digits kept while checking: a price of 28 digits times a quantity of 10, summed, is never
# rounded (Python's default of 28 would round it, and refuse to quantize it).
PRECISION = 80
ZERO = Decimal(0)


def precision(currency):
    """Return the smallest unit of a currency as a Decimal exponent (USD 0.01, JPY 1)."""
    return Decimal(1).scaleb(-DIGITS.get((currency or "").upper(), 2))


@dataclass
class Books:
    """What the check reads of one order."""

    order: Order
    lines: list = field(default_factory=list)
    tax_lines: list = field(default_factory=list)
    shipping_lines: list = field(default_factory=list)
    refunds: list = field(default_factory=list)
    refund_lines: list = field(default_factory=list)
    transactions: list = field(default_factory=list)


def lock(order_ids):
    """Hold these orders' rows to the end of the transaction, so that the checks of one order
    run one at a time, each seeing what the one before committed (SQLite has one writer)."""
    query = Order.select().where(Order.shopify_id.in_(list(order_ids))).order_by(Order.id)
    return list(query if is_sqlite() else query.for_update())


def load(order_ids):
    """Return {shopify_id: Books} of the live orders among `order_ids` (a query per table)."""
    orders = {order.id: order for order in lock(order_ids) if order.deleted_at is None}
    books = {order.shopify_id: Books(order) for order in orders.values()}
    if not books:
        return books
    for model, name in ((OrderLineItem, "lines"), (OrderTaxLine, "tax_lines"),
                        (OrderShippingLine, "shipping_lines")):
        for row in model.select().where(model.order.in_(list(orders))):
            getattr(books[orders[row.order_id].shopify_id], name).append(row)
    ids = list(books)
    for refund in Refund.select().where(Refund.order_shopify_id.in_(ids)):
        books[refund.order_shopify_id].refunds.append(refund)
    for line in (RefundLineItem.select(RefundLineItem, Refund.order_shopify_id).join(Refund)
                 .where(Refund.order_shopify_id.in_(ids))):
        books[line.refund.order_shopify_id].refund_lines.append(line)
    for transaction in OrderTransaction.select().where(OrderTransaction.order_shopify_id.in_(ids)):
        books[transaction.order_shopify_id].transactions.append(transaction)
    return books


def _total(values):
    return sum((value for value in values if value is not None), ZERO)


def in_shop_money(transaction, order):
    """Return a transaction's amount in shop money, or None when only another currency is known."""
    if transaction.amount_shop is not None:
        return transaction.amount_shop
    return transaction.amount if transaction.currency in (None, order.currency) else None


def refunded(books):
    """Return (shop, presentment) money refunded by successful refund transactions (None: unknown)."""
    order = books.order
    done = [t for t in books.transactions if t.kind == "refund" and t.status == "success"]
    shop = [in_shop_money(t, order) for t in done]
    buyer_currency = order.presentment_currency or order.currency
    presentment = [t.amount for t in done if t.currency in (None, buyer_currency)]
    return (None if None in shop else _total(shop).quantize(precision(order.currency)),
            _total(presentment).quantize(precision(buyer_currency))
            if len(presentment) == len(done) else None)


def problems(books):
    """Return what does not add up in an order's books, as readable sentences."""
    order, found = books.order, []
    unit = precision(order.currency)

    def check(actual, expected, sentence):
        if actual is not None and expected is not None and (
                actual.quantize(unit) != expected.quantize(unit)):
            found.append(sentence.format(actual=_fmt(actual, unit), expected=_fmt(expected, unit)))

    items = _total(line.price * line.quantity for line in books.lines)
    discounts, tax = order.total_discounts or ZERO, order.total_tax or ZERO
    if books.lines:  # an order always has lines: none stored means none were given
        check(order.subtotal_price, items - discounts,
              f"line items {_fmt(items, unit)} - discounts {_fmt(discounts, unit)} = "
              f"{{expected}}, not the subtotal {{actual}}")
    shipping = _shipping(books)
    counted_tax = ZERO if order.taxes_included else tax
    if order.subtotal_price is not None and shipping is not None:
        check(order.total_price, order.subtotal_price + shipping + counted_tax,
              f"subtotal {_fmt(order.subtotal_price, unit)} + shipping {_fmt(shipping, unit)} + "
              f"tax {_fmt(counted_tax, unit)} = {{expected}}, not the total {{actual}}")
    if books.tax_lines:
        check(order.total_tax, _total(line.price for line in books.tax_lines),
              "tax lines add up to {expected}, not the total tax {actual}")
    found += _presentment_problems(books)
    _check_current(books, shipping, check)
    found += _payment_problems(books, unit)
    return found


def _shipping(books):
    """Return the shipping charged (after its discounts), or None when the order gave none."""
    if books.shipping_lines:
        return _total(line.price if line.discounted_price is None else line.discounted_price
                      for line in books.shipping_lines)
    return books.order.total_shipping_price


def _presentment_problems(books):
    """Check subtotal + shipping + tax = total in the buyer's currency, when it is given."""
    order = books.order
    shipping = [line.price_presentment for line in books.shipping_lines]
    amounts = (order.subtotal_price_presentment, order.total_tax_presentment,
               order.total_price_presentment)
    if not (order.presentment_currency and shipping) or None in amounts or None in shipping:
        return []  # no shipping lines: the shipping in that currency is unknown
    unit = precision(order.presentment_currency)
    subtotal, tax, total = amounts
    expected = subtotal + _total(shipping) + (ZERO if order.taxes_included else tax)
    if expected.quantize(unit) == total.quantize(unit):
        return []
    return [f"in {order.presentment_currency}, subtotal + shipping + tax = "
            f"{_fmt(expected, unit)}, not the total {_fmt(total, unit)}"]


def _check_current(books, shipping, check):
    """Check that refunded lines, their tax and refunded shipping account for the current totals."""
    order = books.order
    refunded_lines = _total(line.subtotal for line in books.refund_lines)
    refunded_tax = _total(line.total_tax for line in books.refund_lines)
    if order.subtotal_price is not None:
        check(order.current_subtotal_price, order.subtotal_price - refunded_lines,
              "subtotal less refunded lines is {expected}, not the current subtotal {actual}")
    if order.total_tax is not None:
        check(order.current_total_tax, order.total_tax - refunded_tax,
              "total tax less refunded tax is {expected}, not the current total tax {actual}")
    if order.current_subtotal_price is not None and shipping is not None:
        tax = ZERO if order.taxes_included else order.current_total_tax or ZERO
        shipping_left = shipping - _total(refund.shipping_refunded for refund in books.refunds)
        check(order.current_total_price, order.current_subtotal_price + tax + shipping_left,
              "current subtotal + tax + shipping not refunded = {expected}, "
              "not the current total {actual}")


def _payment_problems(books, unit):
    """Check refunds against the financial status, and payments against the outstanding amount."""
    order, found = books.order, []
    status, total, refund = order.financial_status, order.total_price, order.total_refunded
    if refund is not None and total is not None:
        if refund > total:
            found.append(f"{_fmt(refund, unit)} refunded, more than the total {_fmt(total, unit)}")
        elif status == "refunded" and refund.quantize(unit) != total.quantize(unit):
            found.append(f"financial status refunded, but refunds add up to {_fmt(refund, unit)} "
                         f"of the total {_fmt(total, unit)}")
        elif status == "partially_refunded" and not ZERO < refund < total:
            found.append(f"financial status partially_refunded, but refunds add up to "
                         f"{_fmt(refund, unit)} of the total {_fmt(total, unit)}")
        elif status not in ("refunded", "partially_refunded") and refund > 0:
            found.append(f"financial status {status}, but {_fmt(refund, unit)} was refunded")
    payments = [in_shop_money(t, order) for t in books.transactions
                if t.kind in ("sale", "capture") and t.status == "success"]
    if not payments or None in payments or total is None:
        return found
    paid = _total(payments)
    if status in PAID and paid.quantize(unit) != total.quantize(unit):
        found.append(f"financial status {status}, but payments add up to {_fmt(paid, unit)} "
                     f"of the total {_fmt(total, unit)}")
    current = total if order.current_total_price is None else order.current_total_price
    if order.total_outstanding is not None and refund is not None:
        expected = current - (paid - refund)
        if expected.quantize(unit) != order.total_outstanding.quantize(unit):
            found.append(f"current total - (paid - refunded) = {_fmt(expected, unit)}, "
                         f"not the outstanding {_fmt(order.total_outstanding, unit)}")
    return found


def _fmt(value, unit):
    return format(value.quantize(unit), "f")


def settle(order_ids):
    """Sum the refunds of these orders and check their money, opening or resolving failed items."""
    with localcontext(prec=PRECISION):
        _settle(order_ids)


def _settle(order_ids):
    passing, changed = [], {}
    everything = load(order_ids).values()
    for books in everything:
        order = books.order
        totals = refunded(books)
        if totals != (order.total_refunded, order.total_refunded_presentment):
            order.total_refunded, order.total_refunded_presentment = totals
            changed.setdefault(tuple(map(str, totals)), (totals, []))[1].append(order.id)
    for (shop, presentment), ids in changed.values():  # most share one total: 0.00
        Order.update(total_refunded=shop, total_refunded_presentment=presentment).where(
            Order.id.in_(ids)).execute()
    for books in everything:
        order = books.order
        found = problems(books)
        if found:
            _report(order, found)
        else:
            passing.append({"id": order.shopify_id})
    if passing:
        failed_items.resolve_superseded_many(ENTITY, passing)


def _report(order, found):
    """Open (or keep) the order's money failed item, unless a person already closed this one.

    The order stays applied whatever happens here: an item the database refuses is logged.
    """
    message = MESSAGE + "; ".join(found)
    known = FailedSyncItem.select().where(
        (FailedSyncItem.entity_type == ENTITY) & (FailedSyncItem.shopify_id == order.shopify_id)
        & (FailedSyncItem.error_message == message)
        & (FailedSyncItem.is_open() | (FailedSyncItem.resolution == Resolution.ABANDONED))
    ).exists()
    if known:
        return
    try:
        with db.atomic():
            failed_items.add_to_dead_letter(
                ENTITY, order.shopify_id,
                json.dumps({"id": order.shopify_id, "name": order.name, "problems": found},
                           ensure_ascii=False),
                message, retryable=False, data_updated_at=order.updated_at)
    except INFRASTRUCTURE_ERRORS:
        raise
    except Exception:
        log.exception("could not open the money failed item of order %s: %s",
                      order.shopify_id, message)


def recheck(data):
    """Check one order's money again (a retry of its failed item); raise if it still does not add up."""
    books = load({data["id"]}).get(data["id"])
    with localcontext(prec=PRECISION):
        found = problems(books) if books else []
    if found:
        from shopsync.ingest import InvalidPayload  # ingest imports topics, which imports this
        raise InvalidPayload(MESSAGE + "; ".join(found))
    return False
