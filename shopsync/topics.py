"""The webhook topics shopsync acts on, each with its schema and its upsert service."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import peewee as pw

from shopsync import (
    bulk_finish,
    ledger_schemas,
    ledger_sync,
    moneycheck,
    privacy,
    schemas,
    sync,
    uninstall,
)
from shopsync.models import Customer, Order, Product


@dataclass(frozen=True)
class Topic:
    """How one topic's payload is checked and applied."""

    entity_type: str  # order, product, customer
    resource: str  # the Admin API resource: orders, products, customers
    schema: type
    apply: Callable[[dict[str, Any]], bool]  # True when the ERP changed
    is_privacy: bool = False  # a GDPR topic: its body names no single record to track
    model: type[pw.Model] | None = None  # the ERP table the records land in
    apply_many: Callable[[list[dict[str, Any]]], set[int]] | None = None  # the ids that changed


def _one(apply_many):
    """Return the single-record form of an `apply_many`: True when the record changed the ERP."""
    return lambda data: bool(apply_many([data]))


ORDER = Topic("order", "orders", ledger_schemas.OrderSchema, _one(ledger_sync.upsert_orders),
              model=Order, apply_many=ledger_sync.upsert_orders)
PRODUCT = Topic("product", "products", schemas.ProductSchema, sync.upsert_product, model=Product,
                apply_many=sync.upsert_products)
CUSTOMER = Topic("customer", "customers", schemas.CustomerSchema, sync.upsert_customer,
                 model=Customer, apply_many=sync.upsert_customers)
REFUND = Topic("refund", "refunds", ledger_schemas.RefundSchema, _one(ledger_sync.upsert_refunds),
               apply_many=ledger_sync.upsert_refunds)
TRANSACTION = Topic("transaction", "transactions", ledger_schemas.TransactionSchema,
                    _one(ledger_sync.upsert_transactions),
                    apply_many=ledger_sync.upsert_transactions)
FULFILLMENT = Topic("fulfillment", "fulfillments", ledger_schemas.FulfillmentSchema,
                    _one(ledger_sync.upsert_fulfillments),
                    apply_many=ledger_sync.upsert_fulfillments)
# A failed money check of an order: retrying it checks the stored order again.
MONEY = Topic(moneycheck.ENTITY, "orders", ledger_schemas.MoneyCheckSchema, moneycheck.recheck)

TOPICS = {
    "orders/create": ORDER,
    "orders/updated": ORDER,
    "orders/paid": ORDER,
    "orders/cancelled": ORDER,
    "orders/fulfilled": ORDER,
    "orders/partially_fulfilled": ORDER,
    "orders/delete": Topic("order", "orders", schemas.DeletionSchema, sync.delete_order),
    "refunds/create": REFUND,
    "order_transactions/create": TRANSACTION,
    "fulfillments/create": FULFILLMENT,
    "fulfillments/update": FULFILLMENT,
    "products/create": PRODUCT,
    "products/update": PRODUCT,
    "products/delete": Topic("product", "products", schemas.DeletionSchema, sync.delete_product),
    "customers/create": CUSTOMER,
    "customers/update": CUSTOMER,
    "customers/enable": CUSTOMER,
    "customers/disable": CUSTOMER,
    "customers/delete": Topic("customer", "customers", schemas.DeletionSchema,
                              sync.delete_customer),
    # Nothing to store: a critical alert, as nothing syncs until the app is reinstalled.
    "app/uninstalled": Topic("shop", "shop", uninstall.AppUninstalledSchema, uninstall.raise_alert,
                             is_privacy=True),
    # A bulk operation ended: the backfill waiting on it reads its outcome.
    "bulk_operations/finish": Topic("bulk_operation", "bulk_operations",
                                    bulk_finish.BulkFinishSchema, bulk_finish.note_finish,
                                    is_privacy=True),
}
# Privacy topics: Shopify requires every app to answer them and act within 30 days. They are
# configured in the app's settings, not subscribed through the API.
PRIVACY_TOPICS = {
    "customers/redact": Topic("customer", "customers", schemas.CustomerRedactSchema,
                              privacy.redact_customer, is_privacy=True),
    "customers/data_request": Topic("customer", "customers", schemas.DataRequestSchema,
                                    privacy.record_data_request, is_privacy=True),
    "shop/redact": Topic("shop", "shop", schemas.ShopRedactSchema, privacy.redact_shop,
                         is_privacy=True),
}

# The topics a store must be subscribed to through the API for shopsync to see every change.
REQUIRED_TOPICS = tuple(TOPICS)
TOPICS.update(PRIVACY_TOPICS)

# How a record is applied by entity type (a pulled record, a failed item's retry), and how a
# record pulled from the API is applied by resource name.
ENTITIES = {topic.entity_type: topic for topic in (
    ORDER, PRODUCT, CUSTOMER, REFUND, TRANSACTION, FULFILLMENT, MONEY)}
RESOURCES = {topic.resource: topic for topic in (ORDER, PRODUCT, CUSTOMER)}
