"""Record pages: one order, product or customer with its webhooks and failed items."""

import datetime as dt

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
from shopsync.schemas import MAX_BIGINT
from shopsync.serializers import customer_json, order_json, product_json
from shopsync.topics import ENTITIES, TOPICS

# Fields a record page leaves out of its field list: the id repeats the heading, and lists
# (line items, variants, the books' parts) have tables of their own or none yet.
HIDDEN = {"id"}


def _record(entity, shopify_id):
    """Return (fields, children, related orders) of a record, or (None, [], []) if not in the ERP."""
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


def record_webhooks(entity, shopify_id):
    """Return the newest deliveries about one record."""
    topics = [name for name, topic in TOPICS.items()
              if topic.entity_type == entity and not topic.is_privacy]
    return list(WebhookLog.select(*COLUMNS).where(
        (WebhookLog.shopify_id == shopify_id) & WebhookLog.topic.in_(topics))
        .order_by(WebhookLog.received_at.desc()).limit(PAGE_SIZE))


@bp.get("/records/<entity>/<int:shopify_id>")
@login_required
def record(entity, shopify_id):
    """Show one ERP record by Shopify id, with its webhooks and failed items."""
    if entity not in ENTITIES:
        abort(404, f"no such kind of record: {entity}")
    if shopify_id > MAX_BIGINT:
        abort(404, f"{entity} {shopify_id} not found")
    fields, children, orders = _record(entity, shopify_id)
    items = list(FailedSyncItem.select(*LIST_COLUMNS).where(
        (FailedSyncItem.entity_type == entity) & (FailedSyncItem.shopify_id == shopify_id))
        .order_by(FailedSyncItem.id.desc()).limit(PAGE_SIZE))
    hooks = record_webhooks(entity, shopify_id)
    if fields is None and not items and not hooks:
        abort(404, f"{entity} {shopify_id} not found: not in the ERP, and no webhook or "
                   "failed item names it")
    shown = {name: dt.datetime.fromisoformat(value) if name.endswith("_at") and value else value
             for name, value in (fields or {}).items()
             if name not in HIDDEN and not isinstance(value, list)}
    return render_template(f"dashboard/record_{entity}.html", entity=entity,
                           shopify_id=shopify_id, fields=shown, children=children,
                           orders=orders, items=items, hooks=hooks, **row_context(hooks),
                           back=request.full_path.rstrip("?"))
