"""The dead-letter queue: failed records kept with their data, retried with backoff."""

import datetime as dt
import random

from peewee import EXCLUDED, Case

from shopsync.db import utcnow
from shopsync.models import FailedSyncItem, Resolution

# Backoff before retry n (0-based) is 2^n minutes, jittered by ±20%, capped here.
MAX_BACKOFF = dt.timedelta(hours=6)


def backoff(retry_count, now=None):
    """Return when retry number `retry_count` is due."""
    minutes = min(2**retry_count, MAX_BACKOFF.total_seconds() / 60)
    return (now or utcnow()) + dt.timedelta(minutes=minutes * random.uniform(0.8, 1.2))


def readable(text):
    """Make text storable in any TEXT column (PostgreSQL refuses NUL characters)."""
    return None if text is None else text.replace("\x00", "\ufffd")


def add_to_dead_letter(entity_type, shopify_id, raw_data, error_message, *, error_stack=None,
                       retryable=True, topic=None, webhook_id=None, data_updated_at=None):
    """Record a failure for one record, opening its failed item or updating the open one."""
    now = utcnow()
    row = {
        "entity_type": entity_type, "shopify_id": shopify_id, "raw_data": readable(raw_data),
        "data_updated_at": data_updated_at, "error_message": readable(error_message),
        "error_stack": readable(error_stack), "retryable": retryable, "topic": topic,
        "webhook": webhook_id, "updated_at": now,
        "next_retry_at": backoff(0, now) if retryable else None,
    }
    fields = FailedSyncItem._meta.fields
    update = {fields[name]: getattr(EXCLUDED, fields[name].column_name)
              for name in row if name not in ("entity_type", "shopify_id")}
    reopened = FailedSyncItem.resolved_at.is_null(False)
    update[FailedSyncItem.retry_count] = Case(None, [(reopened, 0)], FailedSyncItem.retry_count)
    update[FailedSyncItem.created_at] = Case(None, [(reopened, now)], FailedSyncItem.created_at)
    update[FailedSyncItem.resolved_at] = None
    update[FailedSyncItem.resolution] = None
    FailedSyncItem.insert(**row, created_at=now).on_conflict(
        conflict_target=[FailedSyncItem.entity_type, FailedSyncItem.shopify_id],
        update=update,
    ).execute()


def resolve_superseded(entity_type, shopify_id, updated_at=None):
    """Resolve the open failed item of a record that newer data (or a deletion) has replaced."""
    conditions = [
        FailedSyncItem.entity_type == entity_type,
        FailedSyncItem.shopify_id == shopify_id,
        FailedSyncItem.resolved_at.is_null(),
    ]
    if updated_at is not None:
        conditions.append(FailedSyncItem.data_updated_at.is_null()
                          | (FailedSyncItem.data_updated_at <= updated_at))
    FailedSyncItem.update(resolved_at=utcnow(), resolution=Resolution.SUCCESS).where(
        *conditions).execute()
