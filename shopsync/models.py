"""ERP tables (customers, products, orders) and the webhook log, keyed by Shopify ids."""

from enum import Enum

import peewee as pw

from shopsync.db import EnumField, JSONField, MoneyField, UTCDateTimeField, db, utcnow


class BaseModel(pw.Model):
    class Meta:
        database = db
        legacy_table_names = False


class ShopifyRecord(BaseModel):
    """Columns every synced Shopify resource has: its id, its times and a tombstone."""

    shopify_id = pw.BigIntegerField(unique=True)
    created_at = UTCDateTimeField(null=True)
    updated_at = UTCDateTimeField(null=True)
    deleted_at = UTCDateTimeField(null=True)
    synced_at = UTCDateTimeField(default=utcnow)


class Customer(ShopifyRecord):
    email = pw.CharField(max_length=320, null=True)
    first_name = pw.TextField(null=True)
    last_name = pw.TextField(null=True)
    phone = pw.CharField(max_length=64, null=True)
    state = pw.CharField(max_length=32, null=True)
    orders_count = pw.IntegerField(null=True)
    total_spent = MoneyField(null=True)
    currency = pw.CharField(max_length=8, null=True)
    default_address = JSONField(null=True)


class Product(ShopifyRecord):
    title = pw.TextField(null=True)
    handle = pw.TextField(null=True)
    vendor = pw.TextField(null=True)
    product_type = pw.TextField(null=True)
    status = pw.CharField(max_length=32, null=True)
    tags = pw.TextField(null=True)


class ProductVariant(BaseModel):
    """A product variant; `product_shopify_id` links it to its product by Shopify id."""

    shopify_id = pw.BigIntegerField(unique=True)
    product_shopify_id = pw.BigIntegerField(index=True)
    title = pw.TextField(null=True)
    sku = pw.TextField(null=True)
    price = MoneyField(null=True)
    inventory_quantity = pw.IntegerField(null=True)
    position = pw.IntegerField(null=True)
    updated_at = UTCDateTimeField(null=True)


class Order(ShopifyRecord):
    """An order; `customer_shopify_id` links it to a customer that may arrive later."""

    name = pw.CharField(max_length=64, null=True)
    order_number = pw.BigIntegerField(null=True)
    email = pw.CharField(max_length=320, null=True)
    currency = pw.CharField(max_length=8, null=True)
    subtotal_price = MoneyField(null=True)
    total_tax = MoneyField(null=True)
    total_discounts = MoneyField(null=True)
    total_price = MoneyField(null=True)
    financial_status = pw.CharField(max_length=32, null=True)
    fulfillment_status = pw.CharField(max_length=32, null=True)
    customer_shopify_id = pw.BigIntegerField(null=True, index=True)
    shipping_address = JSONField(null=True)
    cancelled_at = UTCDateTimeField(null=True)
    cancel_reason = pw.CharField(max_length=64, null=True)
    closed_at = UTCDateTimeField(null=True)


class OrderLineItem(BaseModel):
    """One line of an order; product and variant are linked by Shopify id."""

    shopify_id = pw.BigIntegerField(unique=True)
    order = pw.ForeignKeyField(Order, backref="line_items", on_delete="CASCADE")
    product_shopify_id = pw.BigIntegerField(null=True, index=True)
    variant_shopify_id = pw.BigIntegerField(null=True, index=True)
    title = pw.TextField(null=True)
    variant_title = pw.TextField(null=True)
    sku = pw.TextField(null=True)
    quantity = pw.IntegerField()
    price = MoneyField()


class WebhookStatus(str, Enum):
    """Where a received webhook stands."""

    PENDING = "pending"  # stored, not yet applied (queued, or waiting for the sweeper)
    PROCESSED = "processed"  # applied to the ERP (or found stale and skipped)
    FAILED = "failed"  # could not be applied; see `error`
    IGNORED = "ignored"  # a topic shopsync does not act on, kept for the record


class WebhookLog(BaseModel):
    """One webhook delivery, stored with its raw body before it is answered."""

    id = pw.CharField(max_length=128, primary_key=True)  # X-Shopify-Webhook-Id
    topic = pw.CharField(max_length=64)
    shop_domain = pw.CharField(max_length=255, null=True)
    shopify_id = pw.BigIntegerField(null=True)
    event_id = pw.CharField(max_length=128, null=True)
    triggered_at = UTCDateTimeField(null=True)
    api_version = pw.CharField(max_length=16, null=True)
    raw_body = pw.BlobField()
    received_at = UTCDateTimeField(default=utcnow, index=True)
    processed_at = UTCDateTimeField(null=True)
    status = EnumField(WebhookStatus, default=WebhookStatus.PENDING)
    error = pw.TextField(null=True)
    attempts = pw.IntegerField(default=0)
    duplicates = pw.IntegerField(default=0)

    class Meta:
        indexes = ((("shopify_id", "topic"), False), (("status", "received_at"), False))


class Resolution(str, Enum):
    """How a failed item was closed."""

    SUCCESS = "success"  # a retry, or newer data for the same record, succeeded
    MANUAL = "manual"  # a person retried it from the dashboard or the API and it succeeded
    ABANDONED = "abandoned"  # given up: retries exhausted, or abandoned by a person


class FailedSyncItem(BaseModel):
    """A record that could not be applied: the dead-letter queue, one row per record."""

    entity_type = pw.CharField(max_length=32)  # order, product, customer
    shopify_id = pw.BigIntegerField(null=True)  # null when the payload had no readable id
    topic = pw.CharField(max_length=64, null=True)  # the webhook topic, or None for a pull
    webhook = pw.ForeignKeyField(WebhookLog, null=True, on_delete="SET NULL")
    raw_data = pw.TextField()
    data_updated_at = UTCDateTimeField(null=True)  # the payload's updated_at, when readable
    error_message = pw.TextField()
    error_stack = pw.TextField(null=True)
    retryable = pw.BooleanField(default=True)  # False: the data itself is wrong, a retry can't help
    retry_count = pw.IntegerField(default=0)
    max_retries = pw.IntegerField(default=5)
    next_retry_at = UTCDateTimeField(null=True)
    created_at = UTCDateTimeField(default=utcnow)
    updated_at = UTCDateTimeField(default=utcnow)
    resolved_at = UTCDateTimeField(null=True)
    resolution = EnumField(Resolution, null=True)

    class Meta:
        indexes = (
            (("entity_type", "shopify_id"), True),
            (("resolved_at", "next_retry_at"), False),
            (("created_at",), False),
        )


ALL_MODELS = [Customer, Product, ProductVariant, Order, OrderLineItem, WebhookLog, FailedSyncItem]
