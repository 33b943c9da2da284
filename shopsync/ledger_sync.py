"""Upserts for the books: an order's parts, refunds, transactions and fulfillments.

Refunds and transactions never change once made, and fulfillments carry their own
`updated_at`, so each is applied wherever it comes from (its own webhook, or inside any
version of its order, even one too old to change the order row). The parts of an order
(tax, shipping and discount lines) belong to one version of it and are replaced with it.
After each write the orders touched are settled: refunded totals summed, money checked, with
their rows locked so that the checks of one order run one at a time.
"""

from peewee import EXCLUDED

from shopsync import moneycheck, sync
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

# Each part table, the order's key holding its lines, and the columns copied from a line.
PARTS = (
    (OrderTaxLine, "tax_lines", ("title", "rate", "price", "price_presentment")),
    (OrderShippingLine, "shipping_lines",
     ("title", "code", "source", "price", "price_presentment", "discounted_price",
      "discounted_price_presentment")),
    (OrderDiscountCode, "discount_codes", ("code", "type", "amount")),
    (OrderDiscountApplication, "discount_applications",
     ("type", "title", "code", "value", "value_type", "allocation_method", "target_selection",
      "target_type")),
)
REFUND_FIELDS = ("note", "restock", "shipping_refunded", "created_at", "processed_at")
REFUND_LINE_FIELDS = ("quantity", "restock_type", "location_id", "subtotal",
                      "subtotal_presentment", "total_tax", "total_tax_presentment")
TRANSACTION_FIELDS = ("kind", "status", "gateway", "amount", "currency", "amount_shop",
                      "error_code", "processed_at", "created_at")
FULFILLMENT_FIELDS = ("name", "status", "shipment_status", "service", "location_id",
                      "tracking_company", "tracking_number", "tracking_numbers", "tracking_urls",
                      "created_at", "updated_at")
# A transaction that reached one of these is never set back to pending by an older copy.
FINAL_STATUSES = ("success", "failure", "error")


def _pick(data, names):
    return {name: data[name] for name in names}


def upsert_orders(loaded):
    """Apply loaded orders with their parts, refunds, transactions and fulfillments; return the
    ids of the orders changed (a transaction new to the ERP changes its order)."""
    written = sync.upsert_orders(loaded)
    if written:
        rows = dict(Order.select(Order.shopify_id, Order.id)
                    .where(Order.shopify_id.in_(list(written))).tuples())
        newest = {data["id"]: data for data in loaded if data["id"] in rows}
        for model, key, names in PARTS:
            model.delete().where(model.order.in_(list(rows.values()))).execute()
            parts = [{"order": rows[order_id], "position": position, **_pick(part, names)}
                     for order_id, data in newest.items()
                     for position, part in enumerate(data[key])]
            if parts:
                model.insert_many(parts).as_rowcount().execute()
    _write_refunds([refund for data in loaded for refund in data["refunds"]])
    _write_fulfillments([fulfillment for data in loaded for fulfillment in data["fulfillments"]])
    transactions = [transaction for data in loaded for transaction in data["transactions"]]
    held = {i for (i,) in OrderTransaction.select(OrderTransaction.shopify_id).where(
        OrderTransaction.shopify_id.in_([t["id"] for t in transactions])).tuples()
            } if transactions else set()
    _write_transactions(transactions)
    moneycheck.settle({data["id"] for data in loaded})
    return set(written) | {t["order_id"] for t in transactions if t["id"] not in held}


def upsert_refunds(loaded):
    """Apply loaded refunds with their lines and transactions; return their ids."""
    # The order first: an apply of the order holds its row, then writes these same refunds.
    moneycheck.lock({refund["order_id"] for refund in loaded})
    _write_refunds(loaded)
    moneycheck.settle({refund["order_id"] for refund in loaded})
    return {refund["id"] for refund in loaded}


def upsert_transactions(loaded):
    """Apply loaded transactions; return the ids written."""
    moneycheck.lock({transaction["order_id"] for transaction in loaded})
    written = _write_transactions(loaded)
    moneycheck.settle({transaction["order_id"] for transaction in loaded})
    return written


def upsert_fulfillments(loaded):
    """Apply loaded fulfillments with their lines, unless older than stored; return the ids written."""
    return _write_fulfillments(loaded)


def _write_refunds(refunds):
    if not refunds:
        return
    written = sync.upsert(Refund, [
        {"shopify_id": refund["id"], "order_shopify_id": refund["order_id"],
         **_pick(refund, REFUND_FIELDS)} for refund in refunds])
    lines = [{"shopify_id": line["id"], "refund": written[refund["id"]],
              "line_item_shopify_id": line["line_item_id"], **_pick(line, REFUND_LINE_FIELDS)}
             for refund in refunds for line in refund["refund_line_items"]]
    sync.replace_children(RefundLineItem, RefundLineItem.refund, list(written.values()), lines)
    _write_transactions([{**transaction, "refund_id": refund["id"]}
                         for refund in refunds for transaction in refund["transactions"]])


def _write_transactions(transactions):
    # Of two copies of a transaction, the one with a final status is written.
    transactions = sorted(transactions, key=lambda t: t["status"] in FINAL_STATUSES)
    rows = [{"shopify_id": transaction["id"], "order_shopify_id": transaction["order_id"],
             "parent_shopify_id": transaction["parent_id"],
             **({"refund_shopify_id": transaction["refund_id"]} if "refund_id" in transaction
                else {}),
             **_pick(transaction, TRANSACTION_FIELDS)} for transaction in transactions]
    if not rows:
        return set()
    by_shape = {}  # one statement per set of columns (refund_shopify_id is only known sometimes)
    for row in rows:
        by_shape.setdefault(tuple(row), []).append(row)
    written = set()
    for shape_rows in by_shape.values():
        written |= set(sync.upsert(OrderTransaction, shape_rows, where=(
            OrderTransaction.status.not_in(FINAL_STATUSES) | EXCLUDED.status.in_(FINAL_STATUSES)
        )))
    return written


def _write_fulfillments(fulfillments):
    fulfillments = sorted(fulfillments, key=lambda f: f["updated_at"])  # the newest copy last
    written = sync.upsert_newer(Fulfillment, [
        {"shopify_id": fulfillment["id"], "order_shopify_id": fulfillment["order_id"],
         **_pick(fulfillment, FULFILLMENT_FIELDS)} for fulfillment in fulfillments])
    lines = [{"fulfillment": written[fulfillment["id"]], "line_item_shopify_id": line["id"],
              "quantity": line["quantity"]}
             for fulfillment in fulfillments if fulfillment["id"] in written
             for line in fulfillment["line_items"]]
    _replace_fulfillment_lines(list(written.values()), lines)
    return set(written)


def _replace_fulfillment_lines(fulfillment_ids, lines):
    """Make `lines` the only lines of the fulfillments `fulfillment_ids`."""
    if not fulfillment_ids:
        return
    FulfillmentLineItem.delete().where(
        FulfillmentLineItem.fulfillment.in_(fulfillment_ids)).execute()
    newest = {(line["fulfillment"], line["line_item_shopify_id"]): line for line in lines}
    if newest:
        FulfillmentLineItem.insert_many(list(newest.values())).as_rowcount().execute()
