"""Record pages: one order, product or customer with its webhooks and failed items."""

import functools
import operator

from flask import abort, render_template, request

from shopsync.auth import login_required
from shopsync.dashboard import PAGE_SIZE, bp
from shopsync.dashboard.failed import LIST_COLUMNS
from shopsync.dashboard.webhooks import COLUMNS, row_context
from shopsync.ledger import books_of
from shopsync.models import (
    FailedSyncItem,
    Order,
    OrderLineItem,
    ProductVariant,
    WebhookLog,
)
from shopsync.moneycheck import ENTITY as MONEY
from shopsync.schemas import MAX_BIGINT
from shopsync.serializers import ORDER_MONEY, customer_json, order_json, product_json
from shopsync.topics import ENTITIES, TOPICS

# Fields a record page leaves out of its field list: the id repeats the heading, lists (line
# items, variants, the books' parts) have tables of their own, and an order's money its own.
HIDDEN = {"id"}
HIDDEN_OF = {"order": HIDDEN | set(ORDER_MONEY)}
# The rows of an order's money table: (label, field); `field_presentment` is its presentment
# amount when the admin API's document has one.
ORDER_TOTALS = [("Line items", "total_line_items_price"), ("Discounts", "total_discounts"),
                ("Subtotal", "subtotal_price"), ("Shipping", "total_shipping_price"),
                ("Tax", "total_tax"), ("Total", "total_price"),
                ("Current subtotal", "current_subtotal_price"),
                ("Current discounts", "current_total_discounts"),
                ("Current tax", "current_total_tax"), ("Current total", "current_total_price"),
                ("Total refunded", "total_refunded"), ("Outstanding", "total_outstanding")]


def _record(entity, shopify_id):
    """Return (fields, children, related orders) of a record, or (None, [], []) if not in the ERP.

    An order's fields are the admin API's document of it, books included."""
    model = ENTITIES[entity].model
    row = model.get_or_none(model.shopify_id == shopify_id)
    if row is None:
        return None, [], []
    if entity == "order":
        fields = order_json(row, row.line_items.order_by(OrderLineItem.id), books_of(row))
        return fields, fields["line_items"], []
    if entity == "product":
        variants = (ProductVariant.select().where(ProductVariant.product_shopify_id == shopify_id)
                    .order_by(ProductVariant.position, ProductVariant.id))
        fields = product_json(row, variants)
        return fields, fields["variants"], []
    orders = (Order.select(Order.shopify_id, Order.name, Order.total_price, Order.currency,
                           Order.created_at)
              .where(Order.customer_shopify_id == shopify_id)
              .order_by(Order.created_at.desc()).limit(PAGE_SIZE))
    return customer_json(row), [], list(orders)


def related(entity, shopify_id, fields):
    """Return {entity: Shopify ids} whose webhooks and failed items a record's page lists.

    An order's page adds its money check and its refunds, transactions and fulfillments."""
    ids = {entity: [shopify_id]}
    if entity == "order":
        ids[MONEY] = [shopify_id]
        for kind, name in (("refund", "refunds"), ("transaction", "transactions"),
                           ("fulfillment", "fulfillments")):
            ids[kind] = [part["id"] for part in (fields or {}).get(name, [])]
    return ids


def _any_of(conditions):
    """Return the OR of a non-empty list of conditions."""
    return functools.reduce(operator.or_, conditions)


def record_webhooks(ids):
    """Return the newest deliveries about these records ({entity: Shopify ids})."""
    topics = {entity: [name for name, topic in TOPICS.items()
                       if topic.entity_type == entity and not topic.is_privacy] for entity in ids}
    return list(WebhookLog.select(*COLUMNS).where(_any_of(
        [WebhookLog.shopify_id.in_(shopify_ids) & WebhookLog.topic.in_(topics[entity])
         for entity, shopify_ids in ids.items() if shopify_ids and topics[entity]]))
        .order_by(WebhookLog.received_at.desc()).limit(PAGE_SIZE))


def record_failed_items(ids):
    """Return the newest failed items about these records ({entity: Shopify ids})."""
    return list(FailedSyncItem.select(*LIST_COLUMNS).where(_any_of(
        [(FailedSyncItem.entity_type == entity) & FailedSyncItem.shopify_id.in_(shopify_ids)
         for entity, shopify_ids in ids.items() if shopify_ids]))
        .order_by(FailedSyncItem.id.desc()).limit(PAGE_SIZE))


def order_totals(fields):
    """Return an order's money table: (label, shop amount, presentment amount or None) rows."""
    return [(label, fields[name], fields.get(f"{name}_presentment"))
            for label, name in ORDER_TOTALS]


@bp.get("/records/<entity>/<int:shopify_id>")
@login_required
def record(entity, shopify_id):
    """Show one ERP record by Shopify id, with its webhooks and failed items."""
    if entity not in ENTITIES or ENTITIES[entity].model is None:
        abort(404, f"no such kind of record: {entity}")
    if shopify_id > MAX_BIGINT:
        abort(404, f"{entity} {shopify_id} not found")
    fields, children, orders = _record(entity, shopify_id)
    ids = related(entity, shopify_id, fields)
    items = record_failed_items(ids)
    hooks = record_webhooks(ids)
    if fields is None and not items and not hooks:
        abort(404, f"{entity} {shopify_id} not found: not in the ERP, and no webhook or "
                   "failed item names it")
    hidden = HIDDEN_OF.get(entity, HIDDEN)
    shown = {name: value for name, value in (fields or {}).items()
             if name not in hidden and not isinstance(value, list)}
    money_item = next((item for item in items if item.entity_type == MONEY
                       and item.state == "open"), None)
    return render_template(f"dashboard/record_{entity}.html", entity=entity,
                           shopify_id=shopify_id, fields=shown, doc=fields or {},
                           children=children, orders=orders, items=items, hooks=hooks,
                           money_item=money_item, **row_context(hooks),
                           totals=order_totals(fields) if entity == "order" and fields else [],
                           back=request.full_path.rstrip("?"))
