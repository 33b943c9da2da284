"""Reconciliation: find what webhooks missed, heal it through the sync path, and report it.

Two jobs, as Shopify advises (`runs`):
- `run_full` (daily): names exactly which ids differ (see `windows`), fetches the missing and
  stale records and applies them like any webhook (`heal`), and applies the deletion of the
  ERP's records Shopify no longer has (their lost `*/delete` webhook).
- `run_catchup` (every few minutes): applies everything Shopify changed since a watermark,
  so a lost webhook is repaired within minutes.
Both write a ReconciliationReport per entity (read back by `reports`); `start_reconciliation`
queues full runs. This module names what is reconciled and how a difference is judged.
"""

from dataclasses import dataclass
from typing import Any

from flask import current_app

from shopsync import topics
from shopsync.models import Severity
from shopsync.reconciliation import books


@dataclass(frozen=True)
class Entity:
    """A reconciled resource: the topic its records are applied with (its alert threshold is
    the setting RECONCILE_THRESHOLD_<NAME>)."""

    topic: topics.Topic

    @property
    def name(self) -> str:
        """Return the API resource, also the report's entity_type."""
        return self.topic.resource

    @property
    def model(self) -> Any:
        """Return the ERP table."""
        return self.topic.model

    @property
    def listed(self):
        """Return the fields catch-up lists: ids and times, and orders' books checks."""
        return books.FIELDS if self.name == "orders" else ("id", "updated_at")

    def compared(self, client):
        """Return the fields a full comparison lists: as catch-up, but REST, which reads
        transactions with a call per order, leaves them to catch-up and to whole fetches."""
        return tuple(name for name in self.listed
                     if client.api == "graphql" or name != "transactions")

    def books(self, records):
        """Return (ids lacking a transaction, ids whose totals differ) of listed records."""
        return books.differing(records) if self.name == "orders" else (set(), set())


ENTITIES = {entity.name: entity for entity in (
    Entity(topics.ORDER), Entity(topics.PRODUCT), Entity(topics.CUSTOMER))}


def entities(entity_type: str | None = None) -> list[Entity]:
    """Return the Entities named by `entity_type` ("orders" or "order"), or all of them."""
    if entity_type is None:
        return list(ENTITIES.values())
    name = entity_type if entity_type in ENTITIES else f"{entity_type}s"
    if name not in ENTITIES:
        raise ValueError(f"unknown entity {entity_type!r}: use one of {', '.join(ENTITIES)}")
    return [ENTITIES[name]]


def severity(entity: Entity, discrepancy: int) -> Severity:
    """Return ok for no difference, critical above the entity's threshold, else warning."""
    threshold = current_app.config[f"RECONCILE_THRESHOLD_{entity.name.upper()}"]
    if discrepancy == 0:
        return Severity.OK
    return Severity.CRITICAL if discrepancy > threshold else Severity.WARNING
