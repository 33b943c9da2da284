"""Upsert services: the one path by which Shopify data becomes ERP rows.

Every write is keyed by Shopify id and guarded by `updated_at`: a payload older than the
stored row, or for a deleted record, changes nothing. So replays, retries and out-of-order
deliveries all converge to the newest state. Callers wrap each call in one transaction.
"""

from collections.abc import Iterable
from typing import Any

import peewee as pw
from peewee import EXCLUDED

from shopsync.db import incoming_values, utcnow
from shopsync.models import Customer, Order, OrderLineItem, Product, ProductVariant

CUSTOMER_FIELDS = ("email", "first_name", "last_name", "phone", "state", "orders_count",
                   "total_spent", "currency", "default_address", "created_at", "updated_at")
PRODUCT_FIELDS = ("title", "handle", "vendor", "product_type", "status", "tags",
                  "created_at", "updated_at")
VARIANT_FIELDS = ("title", "sku", "price", "inventory_quantity", "position", "updated_at")
ORDER_FIELDS = ("name", "order_number", "email", "currency", "subtotal_price", "total_tax",
                "total_discounts", "total_price", "financial_status", "fulfillment_status",
                "shipping_address", "cancelled_at", "cancel_reason", "closed_at",
                "created_at", "updated_at", "presentment_currency", "taxes_included",
                "total_line_items_price", "total_shipping_price", "subtotal_price_presentment",
                "total_tax_presentment", "total_discounts_presentment", "total_price_presentment",
                "current_subtotal_price", "current_total_tax", "current_total_discounts",
                "current_total_price", "current_total_price_presentment", "total_outstanding")
LINE_ITEM_FIELDS = ("title", "variant_title", "sku", "quantity", "price", "total_discount")


def _last_of_each(rows):
    """Keep one row per shopify_id (the last), as one statement may touch a row only once."""
    return list({row["shopify_id"]: row for row in rows}.values())


def upsert(model: type[pw.Model], rows: list[dict[str, Any]], where: Any = None) -> dict[int, int]:
    """Upsert `rows` by shopify_id, updating only stored rows `where` allows; return
    {shopify_id: id} of the rows written."""
    now = utcnow()
    rows = [{**row, "synced_at": now} for row in _last_of_each(rows)]
    if not rows:
        return {}
    query = model.insert_many(rows).on_conflict(
        conflict_target=[model.shopify_id], update=incoming_values(model, rows[0]), where=where,
    ).returning(model.shopify_id, model.id)
    return dict(query.tuples().execute())


def upsert_newer(model: type[pw.Model], rows: list[dict[str, Any]]) -> dict[int, int]:
    """Upsert `rows` unless the stored ones are newer or deleted; return {shopify_id: id} written."""
    guard = model.updated_at <= EXCLUDED.updated_at
    if "deleted_at" in model._meta.fields:
        guard &= model.deleted_at.is_null()
    return upsert(model, rows, guard)


def replace_children(model: type[pw.Model], parent_field: pw.Field, parent_ids: Iterable[int],
                     rows: list[dict[str, Any]]) -> None:
    """Make `rows` (keyed by shopify_id) the only children of the parents `parent_ids`."""
    rows = _last_of_each(rows)
    if not parent_ids:
        return
    ids = [row["shopify_id"] for row in rows]
    model.delete().where(parent_field.in_(parent_ids) & model.shopify_id.not_in(ids)).execute()
    if rows:  # one statement for every row
        model.insert_many(rows).on_conflict(
            conflict_target=[model.shopify_id], update=incoming_values(model, rows[0])
        ).as_rowcount().execute()


def _pick(data, names):
    return {name: data[name] for name in names}


def upsert_customers(loaded: list[dict[str, Any]]) -> set[int]:
    """Apply loaded customer payloads; return the ids of those that changed the ERP."""
    return set(upsert_newer(Customer, [{"shopify_id": data["id"], **_pick(data, CUSTOMER_FIELDS)}
                                        for data in loaded]))


def upsert_products(loaded: list[dict[str, Any]]) -> set[int]:
    """Apply loaded product payloads and their variants; return the ids that changed the ERP."""
    written = set(upsert_newer(Product, [{"shopify_id": data["id"], **_pick(data, PRODUCT_FIELDS)}
                                          for data in loaded]))
    variants = [{"shopify_id": v["id"], "product_shopify_id": data["id"], **_pick(v, VARIANT_FIELDS)}
                for data in loaded if data["id"] in written for v in data["variants"]]
    replace_children(ProductVariant, ProductVariant.product_shopify_id, list(written), variants)
    return written


def upsert_orders(loaded: list[dict[str, Any]]) -> set[int]:
    """Apply loaded order payloads and their line items; return the ids that changed the ERP."""
    written = upsert_newer(Order, [
        {"shopify_id": data["id"], "customer_shopify_id": data["customer"] and data["customer"]["id"],
         **_pick(data, ORDER_FIELDS)} for data in loaded])
    lines = [{"shopify_id": item["id"], "order": written[data["id"]],
              "product_shopify_id": item["product_id"], "variant_shopify_id": item["variant_id"],
              **_pick(item, LINE_ITEM_FIELDS)}
             for data in loaded if data["id"] in written for item in data["line_items"]]
    replace_children(OrderLineItem, OrderLineItem.order, list(written.values()), lines)
    return set(written)


def upsert_customer(data: dict[str, Any]) -> bool:
    """Apply a loaded customer payload; return True if it changed the ERP."""
    return bool(upsert_customers([data]))


def upsert_product(data: dict[str, Any]) -> bool:
    """Apply a loaded product payload and its variants; return True if it changed the ERP."""
    return bool(upsert_products([data]))


def upsert_order(data: dict[str, Any]) -> bool:
    """Apply a loaded order payload and its line items; return True if it changed the ERP."""
    return bool(upsert_orders([data]))


def _mark_deleted(model, shopify_id):
    """Tombstone a record (creating the tombstone if it never arrived); True if newly deleted."""
    now = utcnow()
    query = model.insert(shopify_id=shopify_id, deleted_at=now, synced_at=now).on_conflict(
        conflict_target=[model.shopify_id],
        update={model.deleted_at: now, model.synced_at: now},
        where=model.deleted_at.is_null(),
    )
    return query.as_rowcount().execute() > 0


def delete_customer(data: dict[str, Any]) -> bool:
    """Mark a customer deleted."""
    return _mark_deleted(Customer, data["id"])


def delete_product(data: dict[str, Any]) -> bool:
    """Mark a product deleted."""
    return _mark_deleted(Product, data["id"])


def delete_order(data: dict[str, Any]) -> bool:
    """Mark an order deleted."""
    return _mark_deleted(Order, data["id"])
