"""Orders' books in a comparison: transactions the ERP lacks, and totals it holds otherwise.

Webhooks bring a transaction only by its own `order_transactions/create`: when that one is
lost, the order's `updated_at` may agree while the ERP lacks the transaction. So order
listings carry, beside the id and `updated_at`, the order's transactions (id and status), its
current total and its refunded amount (GraphQL; REST has no refunded total, its transactions
tell it), and an order is fetched again when any of them differs from the ERP's.
"""

from decimal import Decimal, InvalidOperation

from shopsync.ledger import OrderTransaction
from shopsync.ledger_sync import FINAL_STATUSES
from shopsync.models import Order
from shopsync.schemas import parse_time, record_id

FIELDS = ("id", "updated_at", "current_total_price", "total_refunded", "transactions")
TOTALS = ("current_total_price", "total_refunded")  # an order's columns of the same names


def _amount(value):
    try:
        return None if value is None else Decimal(str(value))
    except InvalidOperation:
        return None


def differing(records):
    """Return (ids of orders with a transaction the ERP lacks or holds in an earlier status,
    ids of orders whose current total or refunded amount differs from the ERP's), of the
    listed `records` whose version the ERP holds."""
    ids = [i for i in map(record_id, records) if i is not None]
    if not ids:
        return set(), set()
    held = {row[0]: row for row in Order.select(Order.shopify_id, Order.current_total_price,
                                                Order.total_refunded, Order.updated_at)
            .where(Order.shopify_id.in_(ids) & Order.deleted_at.is_null()).tuples()}
    statuses = dict(OrderTransaction.select(OrderTransaction.shopify_id, OrderTransaction.status)
                    .where(OrderTransaction.order_shopify_id.in_(ids)).tuples())
    lacking, totals = set(), set()
    for record in records:
        row, updated = held.get(record.get("id")), parse_time(record.get("updated_at"))
        if row is None or (updated is not None and updated > row[-1]):
            continue  # missing or stale: fetched again anyway
        for transaction in record.get("transactions") or ():
            mine = statuses.get(transaction.get("id"), "")
            if mine != transaction.get("status") and mine not in FINAL_STATUSES:
                lacking.add(record["id"])
        for position, name in enumerate(TOTALS, start=1):
            theirs = _amount(record.get(name))
            if theirs is not None and theirs != row[position]:
                totals.add(record["id"])
    return lacking, totals
