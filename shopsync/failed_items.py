"""Failed items, recorded and resolved: the lower half of the dead-letter queue, below ingest.

Anything that applies records (ingest, the money check) opens and resolves failed items here;
`dlq` retries and abandons them through ingest, so neither needs the other's module.
"""

import datetime as dt
import random
from typing import Any

from peewee import Case

from shopsync.db import incoming_values, utcnow
from shopsync.models import FailedSyncItem, Resolution
from shopsync.schemas import parse_time

# Backoff before retry n (0-based) is 2^n minutes, jittered by ±20%, capped here.
MAX_BACKOFF = dt.timedelta(hours=6)


def backoff(retry_count: int, now: dt.datetime | None = None) -> dt.datetime:
    """Return when retry number `retry_count` is due."""
    minutes = min(2**retry_count, MAX_BACKOFF.total_seconds() / 60)
    return (now or utcnow()) + dt.timedelta(minutes=minutes * random.uniform(0.8, 1.2))


def payload_updated_at(document: object) -> dt.datetime | None:
    """Return a payload's `updated_at` as a UTC-aware datetime, or None if unreadable."""
    return parse_time(document.get("updated_at")) if isinstance(document, dict) else None


def readable(text: str | None) -> str | None:
    """Make text storable in any TEXT column: no NUL (PostgreSQL refuses it), no lone surrogate."""
    if text is None:
        return None
    return text.replace("\x00", "\ufffd").encode("utf-8", "backslashreplace").decode("utf-8")


def add_to_dead_letter(entity_type: str, shopify_id: int | None, raw_data: str, error_message: str, *,
                       error_stack: str | None = None, retryable: bool = True, topic: str | None = None,
                       webhook_id: str | None = None, data_updated_at: dt.datetime | None = None) -> None:
    """Record a failure for one record, opening its failed item or updating the open one."""
    now = utcnow()
    row = {
        "entity_type": entity_type, "shopify_id": shopify_id, "raw_data": readable(raw_data),
        "data_updated_at": data_updated_at, "error_message": readable(error_message),
        "error_stack": readable(error_stack), "retryable": retryable, "topic": topic,
        "webhook": webhook_id, "updated_at": now,
        "next_retry_at": backoff(0, now) if retryable else None,
    }
    update = incoming_values(FailedSyncItem, row, keys=("entity_type", "shopify_id"))
    reopened = ~FailedSyncItem.is_open()
    update[FailedSyncItem.retry_count] = Case(None, [(reopened, 0)], FailedSyncItem.retry_count)
    update[FailedSyncItem.created_at] = Case(None, [(reopened, now)], FailedSyncItem.created_at)
    update[FailedSyncItem.resolved_at] = None
    update[FailedSyncItem.resolution] = None
    FailedSyncItem.insert(**row, created_at=now).on_conflict(
        conflict_target=[FailedSyncItem.entity_type, FailedSyncItem.shopify_id],
        update=update,
    ).execute()


def resolve_superseded(entity_type: str, shopify_id: int, updated_at: dt.datetime | None = None) -> None:
    """Resolve the open failed item of a record that newer data (or a deletion) has replaced."""
    conditions = [
        FailedSyncItem.entity_type == entity_type,
        FailedSyncItem.shopify_id == shopify_id,
        FailedSyncItem.is_open(),
    ]
    if updated_at is not None:
        conditions.append(FailedSyncItem.data_updated_at.is_null()
                          | (FailedSyncItem.data_updated_at <= updated_at))
    FailedSyncItem.update(resolved_at=utcnow(), resolution=Resolution.SUCCESS).where(
        *conditions).execute()


def resolve_superseded_many(entity_type: str, loaded: list[dict[str, Any]]) -> None:
    """Resolve the open failed items that the loaded records supersede (one query if none)."""
    by_id = {data["id"]: data for data in loaded}
    open_items = FailedSyncItem.open(
        FailedSyncItem.id, FailedSyncItem.shopify_id, FailedSyncItem.data_updated_at).where(
        (FailedSyncItem.entity_type == entity_type) & FailedSyncItem.shopify_id.in_(list(by_id))).tuples()
    superseded = [item_id for item_id, shopify_id, failed_at in open_items
                  if _supersedes(by_id[shopify_id].get("updated_at"), failed_at)]
    if superseded:
        FailedSyncItem.update(resolved_at=utcnow(), resolution=Resolution.SUCCESS).where(
            FailedSyncItem.id.in_(superseded)).execute()


def _supersedes(updated_at, failed_at):
    """Tell whether data of `updated_at` replaces a failure's data of `failed_at` (None: unknown)."""
    return updated_at is None or failed_at is None or failed_at <= updated_at
