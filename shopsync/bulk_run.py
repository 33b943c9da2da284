"""The bulk operations of a backfill: one row per bulk query, with how far its result was applied."""

from enum import Enum

import peewee as pw

from shopsync.db import EnumField, UTCDateTimeField, utcnow
from shopsync.models import ALL_MODELS, BackfillRun, BaseModel


class BulkStatus(str, Enum):
    """Shopify's BulkOperationStatus (lower case), with the states of shopsync's own."""

    QUEUED = "queued"  # another bulk query holds the shop's limit: started when it ends
    CREATED = "created"
    RUNNING = "running"
    CANCELING = "canceling"
    COMPLETED = "completed"  # its result waits to be (or is being) applied
    FAILED = "failed"
    CANCELED = "canceled"
    EXPIRED = "expired"
    APPLIED = "applied"  # every line of its result is in the ERP


# Shopify has not finished the operation.
ACTIVE = (BulkStatus.QUEUED, BulkStatus.CREATED, BulkStatus.RUNNING, BulkStatus.CANCELING)


class BulkRun(BaseModel):
    """One bulk query of a backfill and how many lines (and bytes) of its result are applied."""

    backfill = pw.ForeignKeyField(BackfillRun, backref="bulk_runs", on_delete="CASCADE")
    part = pw.CharField(max_length=16)  # which query of the backfill: books, orders, products...
    operation_id = pw.CharField(max_length=128, null=True)  # gid://shopify/BulkOperation/…
    status = EnumField(BulkStatus, default=BulkStatus.QUEUED)
    error_code = pw.CharField(max_length=32, null=True)  # ACCESS_DENIED, TIMEOUT, …
    object_count = pw.BigIntegerField(default=0)  # objects Shopify has written so far
    url = pw.TextField(null=True)  # the result, or the partial data of a failed operation
    url_expires_at = UTCDateTimeField(null=True)
    lines_applied = pw.BigIntegerField(default=0)
    byte_offset = pw.BigIntegerField(default=0)  # where the next unapplied line starts
    # Lines of this part's results (of every operation it ran) whose records are in the run's
    # totals: kept when the operation is run again, so those records are not counted twice.
    lines_counted = pw.BigIntegerField(default=0)
    finished_at = UTCDateTimeField(null=True)  # when Shopify said it ended (webhook or poll)
    created_at = UTCDateTimeField(default=utcnow)
    updated_at = UTCDateTimeField(default=utcnow)

    class Meta:
        indexes = ((("operation_id",), False),)


ALL_MODELS.append(BulkRun)
