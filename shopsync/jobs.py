"""RQ jobs. Each carries ids, never payloads: the database holds the data."""

import json
import logging
import traceback

import peewee as pw
from marshmallow import ValidationError

from shopsync import dlq
from shopsync.db import db, is_sqlite, utcnow, write_transaction
from shopsync.models import WebhookLog, WebhookStatus
from shopsync.topics import TOPICS

log = logging.getLogger(__name__)


class InvalidPayload(Exception):
    """The payload itself is wrong: retrying the same bytes cannot succeed."""


def load_payload(topic, raw_body):
    """Parse and validate a webhook body for `topic`; raise InvalidPayload with the reason."""
    try:
        document = json.loads(raw_body)
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidPayload(f"body is not JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise InvalidPayload(f"body is a JSON {type(document).__name__}, not an object")
    try:
        return TOPICS[topic].schema().load(document)
    except ValidationError as exc:
        raise InvalidPayload(f"invalid {topic} payload: {json.dumps(exc.messages)}") from exc


def _claim(webhook_id):
    """Lock and return the pending webhook row, or None if another run has handled it."""
    query = WebhookLog.select().where(
        (WebhookLog.id == webhook_id) & (WebhookLog.status == WebhookStatus.PENDING))
    if not is_sqlite():  # SQLite's IMMEDIATE transaction already holds the write lock
        query = query.for_update()
    return query.first()


def process_webhook(webhook_id):
    """Apply one stored webhook to the ERP exactly once; send bad payloads to the DLQ."""
    with db.connection_context():
        try:
            with write_transaction():
                hook = _claim(webhook_id)
                if hook is None:
                    return "skipped"
                topic = TOPICS[hook.topic]
                data = load_payload(hook.topic, bytes(hook.raw_body))
                changed = topic.apply(data)
                dlq.resolve_superseded(topic.entity_type, data["id"], data.get("updated_at"))
                _finish(hook, WebhookStatus.PROCESSED, None)
                return "applied" if changed else "stale"
        except InvalidPayload as exc:
            _fail(webhook_id, str(exc), retryable=False)
            return "failed"
        except (pw.OperationalError, pw.InterfaceError):
            raise  # the database is unreachable: the row stays pending for the sweeper
        except Exception as exc:
            log.exception("webhook %s raised", webhook_id)
            _fail(webhook_id, f"{type(exc).__name__}: {exc}", retryable=True)
            return "failed"


def _finish(hook, status, error):
    """Close a claimed webhook row."""
    WebhookLog.update(status=status, error=error, processed_at=utcnow(),
                      attempts=WebhookLog.attempts + 1).where(WebhookLog.id == hook.id).execute()


def _fail(webhook_id, reason, *, retryable):
    """Mark a webhook failed and open a failed item for its record."""
    reason = dlq.readable(reason)
    with write_transaction():
        hook = _claim(webhook_id)
        if hook is None:
            return
        topic = TOPICS[hook.topic]
        raw = bytes(hook.raw_body).decode("utf-8", errors="replace")
        dlq.add_to_dead_letter(topic.entity_type, hook.shopify_id, raw, reason,
                               error_stack=traceback.format_exc(), retryable=retryable,
                               topic=hook.topic, webhook_id=hook.id)
        _finish(hook, WebhookStatus.FAILED, reason)
    log.warning("webhook %s failed: %s", webhook_id, reason)
