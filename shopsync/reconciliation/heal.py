"""Healing: fetch what reconciliation found missing or outdated, and apply it like a webhook;
apply the deletion of what Shopify no longer has."""

from collections.abc import Iterable
from dataclasses import dataclass, field

from shopsync import topics
from shopsync.db import write_transaction
from shopsync.ingest import apply_document, apply_records
from shopsync.reconciliation import Entity
from shopsync.reconciliation.windows import PAGE
from shopsync.shopify import Client


@dataclass
class Healing:
    """What healing did, by id."""

    healed: list = field(default_factory=list)  # applied: the ERP changed
    unchanged: list = field(default_factory=list)  # applied: the ERP held it already
    failed: list = field(default_factory=list)  # sent to failed items
    vanished: list = field(default_factory=list)  # missing or stale, deleted from Shopify since
    deleted: list = field(default_factory=list)  # extra, confirmed gone: marked deleted


def heal(entity: Entity, client: Client, ids: Iterable[int], gone: Iterable[int] = ()) -> Healing:
    """Fetch records by id and apply them; mark deleted the ids of `gone` Shopify lacks.

    `gone` are the ERP's extra ids: one Shopify still returns (created at another time than
    the ERP says) is applied like the rest; the others get their `*/delete` topic applied.
    """
    done, seen = Healing(), set[int | None]()
    ids = sorted(set(ids) | set(gone))
    for start in range(0, len(ids), PAGE):
        records = list(client.iter_records(entity.name, ids=ids[start:start + PAGE], limit=PAGE))
        seen.update(record.get("id") for record in records)
        for record, result in zip(records, apply_records(entity.topic.entity_type, records),
                                  strict=True):
            (done.healed if result else done.unchanged if result is False
             else done.failed).append(record["id"])
    deletion = topics.TOPICS[f"{entity.name}/delete"]
    for record_id in ids:
        if record_id in seen:
            continue
        if record_id in gone:
            with write_transaction():
                apply_document(deletion, {"id": record_id})
            done.deleted.append(record_id)
        else:
            done.vanished.append(record_id)
    return done
