"""Validate and apply one Shopify record: shared by webhooks, backfills, reconciliation and retries."""

import functools
import json
import logging
import traceback

import peewee as pw
from marshmallow import ValidationError

from shopsync import dlq
from shopsync.db import db, write_transaction
from shopsync.topics import ENTITIES

log = logging.getLogger(__name__)
# Errors that mean the database is unreachable: the caller retries later, no failed item.
INFRASTRUCTURE_ERRORS = (pw.OperationalError, pw.InterfaceError)


class InvalidPayload(Exception):
    """The payload itself is wrong: retrying the same bytes cannot succeed."""


def parse(raw):
    """Decode a JSON object from bytes or text; raise InvalidPayload with the reason."""
    try:
        document = json.loads(raw)
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidPayload(f"body is not JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise InvalidPayload(f"body is a JSON {type(document).__name__}, not an object")
    return document


@functools.cache
def _schema(schema_class):
    """Return one reusable instance of a schema."""
    return schema_class()


def load(topic, document):
    """Validate `document` for `topic`; raise InvalidPayload with the reason."""
    try:
        return _schema(topic.schema).load(document)
    except ValidationError as exc:
        raise InvalidPayload(f"invalid {topic.entity_type} payload: "
                             f"{json.dumps(exc.messages)}") from exc


def apply_document(topic, document):
    """Validate `document` for `topic` and apply it in the caller's transaction; True if changed."""
    data = load(topic, document)
    changed = topic.apply(data)
    if not topic.is_privacy:
        dlq.resolve_superseded(topic.entity_type, data["id"], data.get("updated_at"))
    return changed


def apply_records(entity_type, documents):
    """Apply records pulled from the API (a page) in one transaction.

    Valid records are written with one statement per table; if that fails, each record is
    retried in a savepoint of its own so that only the bad one fails. Returns, per record,
    True (changed), False (stale) or None (failed: a failed item was opened for it).
    Infrastructure errors propagate: nothing of the page is kept, and the run resumes later.
    """
    topic = ENTITIES[entity_type]
    results = [None] * len(documents)
    loaded = []
    with write_transaction():
        for index, document in enumerate(documents):
            try:
                loaded.append((index, load(topic, document)))
            except InvalidPayload as exc:
                _dead_letter(entity_type, document, exc)
        try:
            with db.atomic():
                written = topic.apply_many([data for _, data in loaded])
        except INFRASTRUCTURE_ERRORS:
            raise
        except Exception:
            log.exception("bulk apply of %d %s records failed; applying one by one",
                          len(loaded), entity_type)
            return _apply_one_by_one(topic, documents, loaded, results)
        for index, data in loaded:
            results[index] = data["id"] in written
        dlq.resolve_superseded_many(topic.entity_type, [data for _, data in loaded])
    return results


def _apply_one_by_one(topic, documents, loaded, results):
    """Apply each loaded record in its own savepoint; open a failed item for each that fails."""
    for index, _ in loaded:
        try:
            with db.atomic():
                results[index] = apply_document(topic, documents[index])
        except INFRASTRUCTURE_ERRORS:
            raise
        except Exception as exc:
            _dead_letter(topic.entity_type, documents[index], exc)
    return results


def apply_record(entity_type, document):
    """Apply one record pulled from the API; see apply_records."""
    return apply_records(entity_type, [document])[0]


def _dead_letter(entity_type, document, exc):
    """Open a failed item for a pulled record that could not be applied."""
    shopify_id = document.get("id") if isinstance(document.get("id"), int) else None
    dlq.add_to_dead_letter(
        entity_type, shopify_id, json.dumps(document, ensure_ascii=False), describe(exc),
        error_stack=traceback.format_exc(), retryable=not isinstance(exc, InvalidPayload),
        data_updated_at=dlq.payload_updated_at(document))
    log.warning("%s %s failed: %s", entity_type, shopify_id, describe(exc))


def describe(exc):
    """Return a readable one-line reason for a failure."""
    return str(exc) if isinstance(exc, InvalidPayload) else f"{type(exc).__name__}: {exc}"
