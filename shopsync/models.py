"""ERP tables (customers, products, orders) and the webhook log, keyed by Shopify ids."""

from enum import Enum

import peewee as pw

from shopsync.db import EnumField, JSONField, MoneyField, UTCDateTimeField, db, incoming_values, utcnow


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

    class Meta:
        # Reconciliation counts live records per created_at window.
        indexes = ((("deleted_at", "created_at"), False),)


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
    # The books (see shopsync.ledger): what the total is made of, what is left after refunds.
    presentment_currency = pw.CharField(max_length=8, null=True)
    taxes_included = pw.BooleanField(null=True)
    total_line_items_price = MoneyField(null=True)
    total_shipping_price = MoneyField(null=True)
    subtotal_price_presentment = MoneyField(null=True)
    total_tax_presentment = MoneyField(null=True)
    total_discounts_presentment = MoneyField(null=True)
    total_price_presentment = MoneyField(null=True)
    current_subtotal_price = MoneyField(null=True)
    current_total_tax = MoneyField(null=True)
    current_total_discounts = MoneyField(null=True)
    current_total_price = MoneyField(null=True)
    current_total_price_presentment = MoneyField(null=True)
    total_outstanding = MoneyField(null=True)
    total_refunded = MoneyField(null=True)  # successful refund transactions, in shop money
    total_refunded_presentment = MoneyField(null=True)


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
    total_discount = MoneyField(null=True)


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
        # A second delivery of one event and topic (several subscriptions) is a duplicate too.
        indexes = ((("shopify_id", "topic"), False), (("status", "received_at"), False),
                   (("event_id", "topic"), True))


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
    resolved_at = UTCDateTimeField(null=True)  # set with `resolution`, cleared when it fails again
    resolution = EnumField(Resolution, null=True)

    # The `status` filter of listings: open, needs_person (open, and not retried automatically
    # because the data itself is wrong), resolved (by a success), or abandoned.
    FILTERS = ("open", "needs_person", "resolved", "abandoned")

    class Meta:
        indexes = (
            (("entity_type", "shopify_id"), True),
            (("resolved_at", "next_retry_at"), False),
            (("created_at",), False),
        )

    @classmethod
    def is_open(cls):
        """Return the condition of an open item: neither resolved nor abandoned yet."""
        return cls.resolved_at.is_null()

    @classmethod
    def open(cls, *fields):
        """Select the open items."""
        return cls.select(*fields).where(cls.is_open())

    @classmethod
    def matching(cls, status):
        """Return the condition of the listing filter `status` (one of FILTERS)."""
        return {
            "open": cls.is_open(),
            "needs_person": cls.is_open() & ~cls.retryable,
            "resolved": cls.resolution.in_([Resolution.SUCCESS, Resolution.MANUAL]),
            "abandoned": cls.resolution == Resolution.ABANDONED,
        }[status]

    @property
    def state(self):
        """Return where the item stands: open, resolved or abandoned."""
        if self.resolved_at is None:
            return "open"
        return "abandoned" if self.resolution is Resolution.ABANDONED else "resolved"


class User(BaseModel):
    """A dashboard user; viewers read, admins act."""

    username = pw.CharField(max_length=64, unique=True)
    password_hash = pw.CharField(max_length=255)
    is_admin = pw.BooleanField(default=False)
    failed_logins = pw.IntegerField(default=0)
    locked_until = UTCDateTimeField(null=True)
    session_version = pw.IntegerField(default=0)  # bumped to end every session of the user
    last_login_at = UTCDateTimeField(null=True)
    created_at = UTCDateTimeField(default=utcnow)


class RunStatus(str, Enum):
    """Where a backfill or reconciliation run stands."""

    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"  # stopped on an error, or fetched and stored counts disagree
    INTERRUPTED = "interrupted"  # its process died; the next run of the entity resumes it


class BackfillRun(BaseModel):
    """One backfill of an entity; `position` is the last Shopify id stored, for resuming."""

    entity_type = pw.CharField(max_length=32)  # orders, products, customers
    since = UTCDateTimeField(null=True)  # created_at_min filter, if any
    status = EnumField(RunStatus, default=RunStatus.RUNNING)
    position = pw.BigIntegerField(default=0)
    expected = pw.IntegerField(null=True)  # Shopify's count at the start, for progress
    fetched = pw.IntegerField(default=0)
    stored = pw.IntegerField(default=0)
    failed = pw.IntegerField(default=0)
    error = pw.TextField(null=True)
    started_at = UTCDateTimeField(default=utcnow)
    updated_at = UTCDateTimeField(default=utcnow)
    finished_at = UTCDateTimeField(null=True)
    # Automatic resumes after its worker died (shopsync.resume), in a row without progress.
    resumes = pw.IntegerField(default=0)
    resumed_at = UTCDateTimeField(null=True)  # the last automatic resume
    # The last time its worker, asked to stop, queued it again for the next (shopsync.backfill).
    handed_over_at = UTCDateTimeField(null=True)

    class Meta:
        indexes = ((("entity_type", "started_at"), False),)


class Severity(str, Enum):
    """A health or reconciliation verdict."""

    OK = "ok"
    WARNING = "warning"
    CRITICAL = "critical"


class ReconciliationReport(BaseModel):
    """One comparison of Shopify with the ERP for an entity."""

    entity_type = pw.CharField(max_length=32)
    kind = pw.CharField(max_length=16, default="full")  # full, or catchup (updated_at watermark)
    shopify_count = pw.IntegerField(null=True)
    erp_count = pw.IntegerField(null=True)
    discrepancy = pw.IntegerField(default=0)
    status = EnumField(Severity, default=Severity.OK)
    details = JSONField(null=True)  # {"missing": [...], "extra": [...], "healed": [...], ...}
    api_calls = pw.IntegerField(default=0)
    created_at = UTCDateTimeField(default=utcnow, index=True)

    @classmethod
    def newest(cls, *fields, entity_types=None, kind=None):
        """Select reports newest first, optionally of some entities and of one kind."""
        query = cls.select(*fields)
        if entity_types:
            query = query.where(cls.entity_type.in_(entity_types))
        if kind:
            query = query.where(cls.kind == kind)
        return query.order_by(cls.created_at.desc(), cls.id.desc())


class SyncHealthMetric(BaseModel):
    """One reading of one health metric."""

    metric_name = pw.CharField(max_length=64)
    value = pw.FloatField(null=True)
    status = EnumField(Severity)
    threshold_warning = pw.FloatField(null=True)
    threshold_critical = pw.FloatField(null=True)
    recorded_at = UTCDateTimeField(default=utcnow)

    class Meta:
        indexes = ((("metric_name", "recorded_at"), False),)


class Alert(BaseModel):
    """An alert sent (or attempted) when a metric changed state or stayed critical."""

    metric_name = pw.CharField(max_length=64)
    previous_status = EnumField(Severity, null=True)
    status = EnumField(Severity)
    message = pw.TextField()
    channels = pw.CharField(max_length=64, default="")  # e.g. "slack,email"
    error = pw.TextField(null=True)
    created_at = UTCDateTimeField(default=utcnow, index=True)


class SyncState(BaseModel):
    """A named value kept between runs, e.g. a reconciliation watermark."""

    key = pw.CharField(max_length=64, primary_key=True)
    value = pw.TextField(null=True)
    updated_at = UTCDateTimeField(default=utcnow)


class Heartbeat(BaseModel):
    """The last sign of life of a process (scheduler, worker), or a periodic job's last run.

    Kept in the database, not in Redis, so that losing Redis cannot erase it.
    """

    role = pw.CharField(max_length=16)  # scheduler, worker, or job
    name = pw.CharField(max_length=255)  # a process: DYNO or host:pid; a job: its name
    started_at = UTCDateTimeField(default=utcnow)  # process start, or the start of the job's run
    seen_at = UTCDateTimeField(default=utcnow)  # the latest beat, or the end of the job's run
    stopped_at = UTCDateTimeField(null=True)  # a process that stopped when asked to
    # A periodic job's latest attempt (role "run", shopsync.attempts): the attempts in a row that
    # did not complete, and why the last one did not.
    failures = pw.IntegerField(default=0)
    reason = pw.TextField(null=True)

    class Meta:
        indexes = ((("role", "name"), True),)

    @classmethod
    def touch(cls, role, name, **fields):
        """Insert or update the row of (role, name) with `fields`."""
        row = {"role": role, "name": name, **fields}
        cls.insert(row).on_conflict(conflict_target=[cls.role, cls.name],
                                    update=incoming_values(cls, row, keys=("role", "name"))).execute()


class AuditEntry(BaseModel):
    """One action a person took: who, when, what, and from which page."""

    username = pw.CharField(max_length=64)  # kept as text: the log outlives renamed users
    action = pw.CharField(max_length=64)  # e.g. "retry failed item", "pause"
    target = pw.TextField(null=True)  # what it acted on, e.g. "#12", "orders"
    detail = pw.TextField(null=True)  # the form's choices and the outcome
    page = pw.TextField(null=True)  # the dashboard page it was taken from, or "command line"
    created_at = UTCDateTimeField(default=utcnow, index=True)


class DataRequestAnswer(BaseModel):
    """A `customers/data_request` delivery the team has answered (open while absent)."""

    webhook = pw.ForeignKeyField(WebhookLog, primary_key=True, on_delete="CASCADE")
    answered_by = pw.CharField(max_length=64)
    answered_at = UTCDateTimeField(default=utcnow)


ALL_MODELS = [Customer, Product, ProductVariant, Order, OrderLineItem, WebhookLog, FailedSyncItem,
              User, BackfillRun, ReconciliationReport, SyncHealthMetric, Alert, SyncState, Heartbeat,
              AuditEntry, DataRequestAnswer]

import shopsync.bulk_run  # noqa: E402, F401  (bulk operations of backfills join ALL_MODELS)
import shopsync.ledger  # noqa: E402, F401  (the books' tables build on Order and join ALL_MODELS)
