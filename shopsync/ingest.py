"""Validate and apply one Shopify record: shared by webhooks, backfills, reconciliation and retries."""

import functools
import json
import logging
import traceback
from collections.abc import Callable
from typing import Any, TypeVar

import peewee as pw
from marshmallow import ValidationError

from shopsync import failed_items
from shopsync.db import INFRASTRUCTURE_ERRORS, db, write_transaction
from shopsync.schemas import record_id
from shopsync.topics import ENTITIES, Topic

log = logging.getLogger(__name__)
K = TypeVar("K")  # what identifies a record to its caller: a webhook, an index in a page
# Errors the data itself causes (a value a column or a conversion refuses): retrying the same
# data cannot succeed, so its failed item waits for a person instead of retrying by itself.
DATA_ERRORS = (pw.DataError, ArithmeticError, ValueError, RecursionError)


class InvalidPayload(Exception):
    """The payload itself is wrong: retrying the same bytes cannot succeed."""


def parse(raw: bytes | str) -> dict[str, Any]:
    """Decode a JSON object from bytes or text; raise InvalidPayload with the reason."""
    try:
        document = json.loads(raw)
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidPayload(f"body is not JSON: {exc}") from exc
    except RecursionError:
        raise InvalidPayload("body is not readable: nested too deeply") from None
    if not isinstance(document, dict):
        raise InvalidPayload(f"body is a JSON {type(document).__name__}, not an object")
    return document


@functools.cache
def _schema(schema_class):
    """Return one reusable instance of a schema."""
    return schema_class()


def load(topic: Topic, document: dict[str, Any]) -> dict[str, Any]:
    """Validate `document` for `topic`; raise InvalidPayload with the reason."""
    try:
        return _schema(topic.schema).load(document)
    except ValidationError as exc:
        raise InvalidPayload(f"invalid {topic.entity_type} payload: "
                             f"{json.dumps(exc.messages)}") from exc


def apply_document(topic: Topic, document: dict[str, Any]) -> bool:
    """Validate `document` for `topic` and apply it in the caller's transaction; True if changed."""
    return apply_loaded(topic, load(topic, document))


def apply_loaded(topic: Topic, data: dict[str, Any]) -> bool:
    """Apply validated data for `topic` in the caller's transaction; True if the ERP changed."""
    changed = topic.apply(data)
    if not topic.is_privacy:
        failed_items.resolve_superseded(topic.entity_type, data["id"], data.get("updated_at"))
    return changed


def apply_together(topic: Topic, loaded: list[tuple[K, dict[str, Any]]],
                   fail: Callable[[K, Exception], object]) -> dict[K, bool]:
    """Apply validated records of one topic, given as (key, data) pairs, in the caller's transaction.

    Upserts are written with one statement per table, a record that appears twice only in its
    newest version (what applying them in turn would leave). If that fails, and for topics
    without a bulk form, each record is applied in a savepoint of its own and
    `fail(key, exc)` is called, inside the except block, for each that fails. Returns
    {key: True if it changed the ERP, else False} for the records applied. Infrastructure
    errors propagate.
    """
    if topic.apply_many is not None:
        try:
            with db.atomic():
                return _apply_newest(topic, loaded)
        except INFRASTRUCTURE_ERRORS:
            raise
        except Exception:
            log.exception("bulk apply of %d %s records failed; applying one by one",
                          len(loaded), topic.entity_type)
    return _apply_each(topic, loaded, fail)


def _apply_newest(topic, loaded):
    """Bulk-apply the newest version of each record; return {key: changed}."""
    newest = {}
    for key, data in loaded:
        held = newest.get(data["id"])
        if held is None or not _is_older(data, held[1]):
            newest[data["id"]] = (key, data)
    latest = [data for _, data in newest.values()]
    written = topic.apply_many(latest)
    failed_items.resolve_superseded_many(topic.entity_type, latest)
    winners = {key for key, _ in newest.values()}
    return {key: key in winners and data["id"] in written for key, data in loaded}


def _is_older(data, other):
    """Tell whether `data` is an older version than `other` (an unknown time is oldest)."""
    mine, theirs = data.get("updated_at"), other.get("updated_at")
    return theirs is not None and (mine is None or mine < theirs)


def _apply_each(topic, loaded, fail):
    """Apply each record in a savepoint of its own; return {key: changed} for those applied."""
    results = {}
    for key, data in loaded:
        try:
            with db.atomic():
                results[key] = apply_loaded(topic, data)
        except INFRASTRUCTURE_ERRORS:
            raise
        except Exception as exc:
            fail(key, exc)
    return results


def apply_records(entity_type: str, documents: list[dict[str, Any]]) -> list[bool | None]:
    """Apply records pulled from the API (a page) in one transaction.

    Returns, per record, True (changed), False (stale) or None (failed: a failed item was
    opened for it). Infrastructure errors propagate: nothing of the page is kept, and the
    run resumes later.
    """
    if not documents:
        return []
    topic = ENTITIES[entity_type]
    loaded = []
    with write_transaction():
        for index, document in enumerate(documents):
            try:
                loaded.append((index, load(topic, document)))
            except InvalidPayload as exc:
                _dead_letter(entity_type, document, exc)
        results = apply_together(
            topic, loaded, lambda index, exc: _dead_letter(entity_type, documents[index], exc))
    return [results.get(index) for index in range(len(documents))]


def _dead_letter(entity_type, document, exc):
    """Open a failed item for a pulled record that could not be applied."""
    shopify_id = record_id(document)
    failed_items.add_to_dead_letter(
        entity_type, shopify_id, json.dumps(document, ensure_ascii=False), describe(exc),
        error_stack=traceback.format_exc(), retryable=is_retryable(exc),
        data_updated_at=failed_items.payload_updated_at(document))
    log.warning("%s %s failed: %s", entity_type, shopify_id, describe(exc))


def is_retryable(exc: BaseException) -> bool:
    """Tell whether trying the same data again may succeed (a failure not of the data itself)."""
    return not isinstance(exc, (InvalidPayload, *DATA_ERRORS))


def describe(exc: BaseException) -> str:
    """Return a readable one-line reason for a failure."""
    return str(exc) if isinstance(exc, InvalidPayload) else f"{type(exc).__name__}: {exc}"
