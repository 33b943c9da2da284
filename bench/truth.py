"""Judge a chaos run: the ERP against the simulated store's truth, pending work and liveness."""

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal

from shopsync import liveness, periodic
from shopsync.ledger import Fulfillment, OrderTransaction, Refund, RefundLineItem
from shopsync.models import (
    Customer,
    FailedSyncItem,
    Order,
    OrderLineItem,
    Product,
    ProductVariant,
    WebhookLog,
    WebhookStatus,
)

# Fields compared per resource: the store's key is the ERP column's name.
FIELDS = {
    "orders": (Order, ("updated_at", "name", "email", "currency", "subtotal_price", "total_tax",
                       "total_discounts", "total_price", "current_subtotal_price",
                       "current_total_tax", "current_total_price", "total_outstanding",
                       "financial_status", "fulfillment_status", "cancelled_at", "cancel_reason",
                       "closed_at")),
    "products": (Product, ("updated_at", "title", "handle", "vendor", "status")),
    "customers": (Customer, ("updated_at", "email", "first_name", "last_name", "state",
                             "orders_count", "total_spent")),
}
MONEY = {"subtotal_price", "total_tax", "total_discounts", "total_price", "current_subtotal_price",
         "current_total_tax", "current_total_price", "total_outstanding", "total_spent"}
TIMES = {"updated_at", "cancelled_at", "closed_at"}
# Jobs whose interval is longer than a run's calm phase ran during the run, not necessarily after it.
AGAIN_WITHIN = 300  # seconds, unscaled: the five-minute jobs and shorter must run again


def _value(name, value):
    """Return a store value as the ERP holds it: Decimal money, aware datetimes."""
    if value is None:
        return None
    if name in MONEY:
        return Decimal(str(value))
    if name in TIMES:
        return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return value


def _lines(model, rows):
    """Return {parent id: sorted (id, quantity or inventory, price)} of order lines or variants."""
    out = {}
    for row in rows:
        if model is OrderLineItem:
            key, item = row.order.shopify_id, (row.shopify_id, row.quantity, row.price)
        else:
            key, item = row.product_shopify_id, (row.shopify_id, row.inventory_quantity, row.price)
        out.setdefault(key, []).append(item)
    return {key: sorted(items) for key, items in out.items()}


def _truth_lines(record, kind):
    if kind == "orders":
        items = [(i["id"], i["quantity"], Decimal(i["price"])) for i in record["line_items"]]
    elif kind == "products":
        items = [(v["id"], v.get("inventory_quantity"), Decimal(v["price"])) for v in record["variants"]]
    else:
        return None
    return sorted(items)


def books_mismatches(order, truth, transactions):
    """Return how an ERP order's refunds, transactions and fulfillments differ from the store's."""
    order_id, refunds = order.shopify_id, truth["refunds"]
    lines = RefundLineItem.select().join(Refund).where(Refund.order_shopify_id == order_id)
    kept = OrderTransaction.select().where(OrderTransaction.order_shopify_id == order_id)
    shipments = Fulfillment.select().where(Fulfillment.order_shopify_id == order_id)
    pairs = {  # name: (ERP, store)
        "total_refunded": (order.total_refunded, sum(
            (Decimal(t["amount_set"]["shop_money"]["amount"]) for r in refunds for t in r["transactions"]),
            Decimal(0))),
        "refunds": (sorted(r.shopify_id for r in Refund.select().where(Refund.order_shopify_id == order_id)),
                    sorted(r["id"] for r in refunds)),
        "refund lines": (
            sorted((i.shopify_id, i.quantity, i.restock_type, i.subtotal, i.total_tax) for i in lines),
            sorted((i["id"], i["quantity"], i["restock_type"], Decimal(i["subtotal"]),
                    Decimal(i["total_tax"])) for r in refunds for i in r["refund_line_items"])),
        "transactions": (
            sorted((t.shopify_id, t.kind, t.amount, t.currency) for t in kept),
            sorted((t["id"], t["kind"], Decimal(t["amount"]), t["currency"]) for t in transactions)),
        "fulfillments": ({f.shopify_id: (f.status, f.shipment_status) for f in shipments},
                         {f["id"]: (f["status"], f["shipment_status"]) for f in truth["fulfillments"]}),
    }
    return [f"order {order_id} {name}: store {want}, ERP {got}" for name, (got, want) in pairs.items()
            if got != want]


def compare(store):
    """Return ({kind: (store count, ERP count)}, [mismatch named by id]) for every resource."""
    counts, mismatches = {}, []
    erp_lines = {"orders": _lines(OrderLineItem, OrderLineItem.select(OrderLineItem, Order).join(Order)),
                 "products": _lines(ProductVariant, ProductVariant.select())}
    for kind, (model, fields) in FIELDS.items():
        truth = {record_id: store.collection(kind).get(record_id)
                 for record_id in store.ids(kind, **({"status": "any"} if kind == "orders" else {}))}
        erp = {row.shopify_id: row for row in model.select().where(model.deleted_at.is_null())}
        counts[kind] = (len(truth), len(erp))
        name = kind[:-1]
        mismatches += [f"{name} {i} missing from the ERP" for i in sorted(truth.keys() - erp.keys())]
        mismatches += [f"{name} {i} in the ERP, not in the store" for i in sorted(erp.keys() - truth.keys())]
        for record_id in sorted(truth.keys() & erp.keys()):
            record, row = truth[record_id], erp[record_id]
            for name in fields:
                want, got = _value(name, record.get(name)), getattr(row, name)
                if want != got:
                    mismatches.append(f"{kind[:-1]} {record_id} {name}: store {want!r}, ERP {got!r}")
            if kind == "orders":
                mismatches += books_mismatches(row, record, store.order_transactions(record_id))
            want = _truth_lines(record, kind)
            if want is not None and want != erp_lines.get(kind, {}).get(record_id, []):
                mismatches.append(f"{kind[:-1]} {record_id} lines: store {want}, "
                                  f"ERP {erp_lines.get(kind, {}).get(record_id, [])}")
    return counts, mismatches


def pending_webhooks():
    """Return the ids of the stored webhooks waiting to be applied."""
    return [webhook_id for (webhook_id,) in WebhookLog.select(WebhookLog.id)
            .where(WebhookLog.status == WebhookStatus.PENDING).tuples()]


def frequent_jobs():
    """Return the names of the periodic jobs that must run again after the faults."""
    return {job.name for job in periodic.JOBS if job.seconds <= AGAIN_WITHIN}


def jobs_ran_since(moment):
    """Tell whether every frequent periodic job started a successful run after `moment`."""
    runs = periodic.last_runs()
    return all(runs.get(name) and runs[name] > moment for name in frequent_jobs())


@dataclass(frozen=True)
class Outcome:
    """What a chaos run ended with."""

    counts: dict  # kind -> (store, ERP)
    mismatches: list
    webhooks: Counter  # status -> stored webhooks
    pending: list  # ids of webhooks never applied
    duplicates: int  # deliveries of a webhook id already stored
    open_failed_items: list  # "kind id: error" of each failed item left open
    late: list  # what liveness calls late at the end
    not_run_again: list  # frequent periodic jobs without a run after the faults
    last_runs: dict  # job name -> its last run
    unexpected_exits: list
    timeline: list = field(default_factory=list)
    faults: dict = field(default_factory=dict)  # fault -> (how many, seconds in all)
    deliveries: Counter = field(default_factory=Counter)  # the simulator's, by their end state
    transactions_missing: list = field(default_factory=list)
    transactions_lost_with_webhook: list = field(default_factory=list)  # healed by the pull path

    @property
    def passed(self):
        """Tell whether the run ended as promised."""
        return not (self.mismatches or self.transactions_missing or self.pending
                    or self.open_failed_items or self.late or self.not_run_again
                    or self.unexpected_exits)

    def report(self):
        """Return the outcome as text: faults, counts, anything wrong named by id."""
        lines = ["faults: " + ", ".join(f"{kind} ×{n}" + (f" ({seconds:.0f} s in all)" if seconds else "")
                                        for kind, (n, seconds) in sorted(self.faults.items())),
                 "records (store = ERP): " + ", ".join(f"{kind} {s} = {e}"
                                                        for kind, (s, e) in self.counts.items()),
                 "webhook deliveries sent by the store: " + ", ".join(
                     f"{state} {n}" for state, n in sorted(self.deliveries.items())),
                 "webhooks stored: " + ", ".join(f"{status} {n}" for status, n in
                                                 sorted(self.webhooks.items())) +
                 f"; duplicate deliveries {self.duplicates}",
                 f"failed items left open: {'; '.join(self.open_failed_items) or 'none'}",
                 "periodic jobs' last runs: " + ", ".join(
                     f"{name} {when:%H:%M:%S}" if when else f"{name} never"
                     for name, when in sorted(self.last_runs.items())),
                 f"webhooks left pending: {', '.join(self.pending) or 'none'}",
                 f"late per liveness: {', '.join(self.late) or 'nothing'}",
                 f"frequent jobs not run since the faults: {', '.join(self.not_run_again) or 'none'}",
                 f"processes that exited by themselves: {', '.join(self.unexpected_exits) or 'none'}",
                 f"transactions missing from the ERP: {len(self.transactions_missing)}; "
                 f"transactions whose only webhook was lost: "
                 f"{len(self.transactions_lost_with_webhook)} (the pull path fetched them)",
                 f"mismatches: {len(self.mismatches)}", *[f"  {m}" for m in self.mismatches[:50]],
                 "PASSED" if self.passed else "FAILED"]
        return "\n".join(lines)


def missing_transactions(store, deliveries):
    """Return (the store's transaction ids missing from the ERP, the ids of the transactions
    whose order_transactions/create webhook was never delivered)."""
    made = {t["id"] for transactions in store.transactions.values() for t in transactions}
    kept = {i for (i,) in OrderTransaction.select(OrderTransaction.shopify_id).tuples()}
    delivered = {d.webhook_id for d in deliveries if d.state == "delivered"}
    lost = {d.payload["id"] for d in deliveries
            if d.topic == "order_transactions/create" and d.webhook_id not in delivered}
    return made - kept, made & lost


def judge(store, deliveries, calm_since, unexpected_exits):
    """Compare the bound ERP with `store` and read what is pending and late; return an Outcome."""
    counts, mismatches = compare(store)
    missing, lost = missing_transactions(store, deliveries)
    statuses = Counter(status.value for (status,) in WebhookLog.select(WebhookLog.status).tuples())
    duplicates = sum(n for (n,) in WebhookLog.select(WebhookLog.duplicates).tuples())
    runs = periodic.last_runs()
    return Outcome(
        counts, mismatches, statuses, pending_webhooks(), duplicates,
        [f"{item.entity_type} {item.shopify_id}: {item.error_message}"
         for item in FailedSyncItem.open()],
        liveness.report().late(),
        sorted(name for name in frequent_jobs() if not (runs.get(name) and runs[name] > calm_since)),
        {job.name: runs.get(job.name) for job in periodic.JOBS}, list(unexpected_exits),
        deliveries=Counter(d.state for d in deliveries), transactions_missing=sorted(missing),
        transactions_lost_with_webhook=sorted(lost))
