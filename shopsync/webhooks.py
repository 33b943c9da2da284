"""The webhook receiver: verify, store, wake a drain, answer; nothing is processed here."""

import functools
import hashlib
import json
import logging
import re
from typing import Any

import peewee as pw
from flask import Blueprint, Flask, current_app, jsonify, request
from flask.typing import ResponseReturnValue
from werkzeug.datastructures import Headers
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wsgi import get_input_stream

from shopsync import outbox, queue
from shopsync.db import db, keep_connection, utcnow
from shopsync.models import WebhookLog, WebhookStatus
from shopsync.schemas import parse_time, record_id
from shopsync.signing import is_authentic
from shopsync.topics import TOPICS

bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")
MAX_ID_LENGTH = 128  # WebhookLog.id's column; longer ids are replaced by their digest
# The payloads of Shopify's webhook reference open with the record's `id`: read there, it costs
# nothing, where parsing a 7 KB order took a sixth of the endpoint's CPU. A body that does not
# open with it is parsed whole. (A body naming `id` twice is read by its first; a parser keeps
# the last.)
LEADING_ID = re.compile(rb'_\{_"id"_:_(\d{1,20})_[,}]'.replace(b"_", rb"[ \t\r\n]*"))
log = logging.getLogger(__name__)


def shopify_id(body):
    """Return the payload's integer `id` if it has a usable one, else None."""
    leading = LEADING_ID.match(body)
    if leading:  # read where Shopify puts it, without parsing the whole body
        return record_id({"id": int(leading.group(1))})
    try:
        return record_id(json.loads(body))
    except (ValueError, RecursionError):  # not JSON, or nested too deeply to read
        return None


def _text(headers, name):
    """Return a header's value stripped, without NUL characters (no text column takes them)."""
    return headers.get(name, "").replace("\x00", "").strip()


def _header(headers, name, limit):
    """Return a header's value cut to its column's length, or None when absent."""
    return _text(headers, name)[:limit] or None


def _webhook_id(headers, topic, body):
    """Return the deduplication key: X-Shopify-Webhook-Id, else a digest of the delivery."""
    # Shopify always sends a webhook id; without one, the body's digest keeps resends together.
    given = _text(headers, "X-Shopify-Webhook-Id")
    if given and len(given) <= MAX_ID_LENGTH:
        return given
    return "sha256-" + hashlib.sha256(given.encode() + topic.encode() + b"\n" + body).hexdigest()


def _store(body, headers):
    """Insert the delivery's row; return (webhook_id, status), or (the stored row's id, None)
    for a duplicate."""
    topic = _text(headers, "X-Shopify-Topic")
    known = topic in TOPICS
    now = utcnow()
    row = {
        "id": _webhook_id(headers, topic, body), "topic": topic[:64], "raw_body": body,
        "received_at": now, "shopify_id": shopify_id(body),
        "shop_domain": _header(headers, "X-Shopify-Shop-Domain", 255),
        "event_id": _header(headers, "X-Shopify-Event-Id", 128),
        "triggered_at": parse_time(headers.get("X-Shopify-Triggered-At")),
        "api_version": _header(headers, "X-Shopify-API-Version", 16),
        "status": WebhookStatus.PENDING if known else WebhookStatus.IGNORED,
        "processed_at": None if known else now,
    }
    if not _insert(row):  # this delivery, or this event's for this topic, is stored
        stored = WebhookLog.id == row["id"]
        if row["event_id"]:
            stored |= (WebhookLog.event_id == row["event_id"]) & (WebhookLog.topic == row["topic"])
        WebhookLog.update(duplicates=WebhookLog.duplicates + 1).where(stored).execute()
        return WebhookLog.select(WebhookLog.id).where(stored).scalar() or row["id"], None
    return row["id"], row["status"]


@functools.cache
def _insert_sql(database):
    """Return the INSERT of a whole webhook row that does nothing if its id is stored."""
    return WebhookLog.insert({field: None for field in WebhookLog._meta.sorted_fields}
                             ).on_conflict_ignore().sql()[0]


def _insert(row):
    """Insert a webhook row unless its id is stored; True if it was inserted.

    One statement, committed alone (a transaction would only add BEGIN and COMMIT), its SQL
    built once: building it per delivery took a tenth of the endpoint's time.
    """
    params = [field.db_value(row.get(field.name, field.default))
              for field in WebhookLog._meta.sorted_fields]
    return db.execute_sql(_insert_sql(db.obj), params).rowcount == 1


def read_body(environ: dict[str, Any], limit: int | None) -> bytes:
    """Return a delivery's whole body; raise 413 past `limit`, whatever the transfer encoding.

    A declared Content-Length past it gets 413 before anything is read. Werkzeug stops a
    chunked body at the limit without a word: a body that filled it is checked for one byte
    more.
    """
    body = get_input_stream(environ, max_content_length=limit).read()
    if limit is not None and len(body) >= limit and environ["wsgi.input"].read(1):
        raise RequestEntityTooLarge()
    return body


def _payload_shop(body):
    """Return the payload's `shop_domain` when it has a string one, else None."""
    try:
        value = json.loads(body).get("shop_domain")
    except (ValueError, UnicodeDecodeError, AttributeError, RecursionError):
        return None
    return value if isinstance(value, str) else None


def _names_another_shop(headers, body, shop):
    """Tell whether the delivery's shop header or payload names a shop other than SHOPIFY_SHOP.

    Shopify signs the body only, with a secret an app shares across shops: a genuine delivery
    for another shop must not act on this one.
    """
    shop = (shop or "").strip().lower()
    if not shop:
        return False
    named = [headers.get("X-Shopify-Shop-Domain", "")]
    if b'"shop_domain"' in body:
        named.append(_payload_shop(body) or "")
    return any(name.strip() and name.strip().lower() != shop for name in named)


def handle(app: Flask, body: bytes, headers: Headers) -> tuple[dict[str, str], int]:
    """Verify and store one delivery, then wake a drain; return the JSON answer and its status.

    Both ways in answer through here: the view below, and the fast path (webhook_fast.py).
    """
    secrets = (app.config["SHOPIFY_WEBHOOK_SECRET"], app.config["SHOPIFY_PREVIOUS_WEBHOOK_SECRET"])
    if not is_authentic(body, headers.get("X-Shopify-Hmac-Sha256"), secrets):
        return {"error": "invalid or missing X-Shopify-Hmac-Sha256"}, 401
    if _names_another_shop(headers, body, app.config["SHOPIFY_SHOP"]):
        return {"error": "this delivery is for another shop than SHOPIFY_SHOP"}, 401
    try:
        webhook_id, status = _store(body, headers)
    except pw.DatabaseError as exc:
        log.error("could not store webhook: %s", exc)
        return {"error": "cannot store the webhook now; Shopify will retry"}, 503
    if status is None:
        return {"status": "duplicate", "id": webhook_id}, 200
    if status is WebhookStatus.IGNORED:
        return {"status": "ignored", "id": webhook_id}, 200
    outbox.wake(queue.get_queue(app))
    return {"status": "accepted", "id": webhook_id}, 200


@bp.post("/shopify")
def receive() -> ResponseReturnValue:
    """Accept one Shopify webhook delivery: 200 once stored, 401 if not signed by Shopify."""
    body = read_body(request.environ, current_app.config["MAX_CONTENT_LENGTH"])
    answer, status = handle(current_app, body, request.headers)
    if status == 200:
        keep_connection()
    return jsonify(answer), status
