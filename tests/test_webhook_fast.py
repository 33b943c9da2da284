"""The webhook fast path answers deliveries itself, exactly as the Flask view answers them."""

import io
import logging

import peewee as pw
import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from shopsync.db import db
from shopsync.models import FailedSyncItem, WebhookLog
from shopsync.webhook_fast import FastPath
from tests.helpers import deliver, encode, headers, order

LIMIT = 4000
BODY = encode(order())
MALFORMED = b'{"id": 450789469, "total_price": '


def _refuse(environ, start_response):
    raise AssertionError(f"{environ['REQUEST_METHOD']} {environ['PATH_INFO']} reached Flask")


def _post(body=BODY, topic="orders/create", webhook_id="wh-1", signed=None, **extra):
    """Return the test client arguments of a delivery of `body`, signed over `signed` if given."""
    return {"data": body, "headers": headers(body if signed is None else signed, topic, webhook_id,
                                             **{"X-Shopify-Event-Id": "event-1", **extra})}


def _row(row):
    """Return what a stored webhook row shows, but the times of this run."""
    return {key: bytes(value) if isinstance(value, memoryview) else value
            for key, value in row.items() if key not in ("received_at", "processed_at")}


@pytest.fixture
def both(app, client, monkeypatch, caplog, run_jobs):
    """Return send(way, request, before=None, jobs=False): a delivery through "fast" (Flask
    unreachable) or "flask" (the fast path taken out) on an empty database, and all it shows:
    status, headers, body, log lines, stored rows and, after the jobs ran, failed items."""
    fast = app.wsgi_app
    assert isinstance(fast, FastPath)

    def send(way, request, before=None, jobs=False):
        FailedSyncItem.delete().execute()
        WebhookLog.delete().execute()
        with monkeypatch.context() as patch:
            patch.setattr(app, "wsgi_app", FastPath(app, _refuse) if way == "fast" else fast.flask_wsgi_app)
            if before:
                before(patch)
            caplog.clear()
            with caplog.at_level(logging.INFO):
                response = client.post("/webhooks/shopify", **request() if callable(request) else request)
        logged = [(record.name, record.levelname, record.getMessage()) for record in caplog.records]
        if jobs:
            run_jobs()
        rows = [_row(row) for row in WebhookLog.select().order_by(WebhookLog.id).dicts()]
        items = [(item.entity_type, item.retryable, item.error_message)
                 for item in FailedSyncItem.select().order_by(FailedSyncItem.id)]
        return (response.status_code, response.headers.to_wsgi_list(), response.get_data(), logged,
                rows, items)

    return send


def _same(both, request, status, before=None, jobs=False):
    """Assert the fast path answers `request` as Flask does, with `status`; return what it showed."""
    shown = both("fast", request, before, jobs)
    assert shown[0] == status, shown
    assert shown == both("flask", request, before, jobs)
    return shown


def test_a_valid_delivery(both):
    _, _, body, _, rows, _ = _same(both, _post(), 200)
    assert body == b'{"id":"wh-1","status":"accepted"}\n' and rows[0]["shopify_id"] == 450789469


def test_an_unknown_topic_is_ignored(both):
    assert _same(both, _post(topic="themes/publish"), 200)[4][0]["status"] == "ignored"


@pytest.mark.parametrize("signature", [None, BODY + b" ", b"x"])
def test_a_forged_or_unsigned_delivery(both, signature):
    def request():
        sent = _post(signed=signature or b"")
        if signature is None:
            del sent["headers"]["X-Shopify-Hmac-Sha256"]
        return sent

    assert _same(both, request, 401)[4] == []


def test_another_shops_delivery(app, both):
    app.config["SHOPIFY_SHOP"] = "mine.myshopify.com"
    assert _same(both, _post(), 401)[4] == []


@pytest.mark.parametrize("secure", [False, True])
def test_an_oversized_delivery_declared_or_chunked(app, both, secure):
    app.config.update(MAX_CONTENT_LENGTH=LIMIT, SESSION_COOKIE_SECURE=secure)
    big = encode(order(note="x" * LIMIT))
    shown = _same(both, _post(big), 413)
    assert shown[4] == [] and ("Content-Security-Policy" in dict(shown[1]))
    assert ("Strict-Transport-Security" in dict(shown[1])) is secure
    chunked = {**_post(big, signed=big[:LIMIT])["headers"], "Transfer-Encoding": "chunked"}
    assert _same(both, lambda: {"input_stream": io.BytesIO(big), "headers": chunked,
                                "environ_overrides": {"wsgi.input_terminated": True}}, 413)[4] == []


def test_security_headers_on_json_answers(app, both):
    app.config["SESSION_COOKIE_SECURE"] = True
    assert "Strict-Transport-Security" in dict(_same(both, _post(), 200)[1])


def test_a_duplicate_by_webhook_id_and_by_event(client, both):
    def stored(patch):
        deliver(client, "orders/create", order(), webhook_id="wh-0", **{"X-Shopify-Event-Id": "event-1"})

    assert _same(both, _post(webhook_id="wh-0", **{"X-Shopify-Event-Id": ""}), 200, stored)[4][0][
        "duplicates"] == 1
    shown = _same(both, _post(webhook_id="wh-2"), 200, stored)
    assert b'"duplicate"' in shown[2] and [row["id"] for row in shown[4]] == ["wh-0"]


def test_an_authentic_malformed_delivery_is_kept_then_a_failed_item(both):
    shown = _same(both, _post(MALFORMED), 200, jobs=True)
    assert shown[4][0]["raw_body"] == MALFORMED and shown[4][0]["status"] == "failed"
    assert shown[5][0][:2] == ("order", False)


def _database_down(patch):
    """Make the database unreachable for the next request."""
    db.close()

    def refuse(*args, **kwargs):
        raise pw.OperationalError("could not connect to server: Connection refused")

    patch.setattr(db.obj, "connect", refuse)


def _store_fails(exc):
    """Return a `before` under which storing a delivery raises `exc`."""
    return lambda patch: patch.setattr("shopsync.webhooks._store", _raise(exc))


def _raise(exc):
    def fail(*args, **kwargs):
        raise exc

    return fail


@pytest.mark.parametrize("failure", [_database_down, _store_fails(pw.OperationalError("server closed")),
                                     _store_fails(pw.InterfaceError("connection already closed"))])
def test_the_database_down_answers_503(both, failure):
    shown = _same(both, _post(), 503, failure)
    assert shown[3] and shown[3][0][1] == "ERROR" and shown[4] == []


def test_redis_down_still_answers_200_with_the_row_stored(both):
    refuse = _raise(RedisConnectionError("redis is down"))
    shown = _same(both, _post(), 200, lambda patch: patch.setattr("rq.Queue.enqueue", refuse))
    assert shown[4][0]["status"] == "pending"


def test_an_unexpected_failure_answers_500_in_json(app, both):
    app.config["PROPAGATE_EXCEPTIONS"] = False
    shown = _same(both, _post(), 500, _store_fails(KeyError("bug")))
    assert shown[2] == b'{"error":"internal error"}\n' and len(shown[3]) == 2


def test_every_other_request_goes_to_flask(app, client):
    app.wsgi_app.flask_wsgi_app = _refuse
    with pytest.raises(AssertionError, match="reached Flask"):
        client.get("/webhooks/shopify")
    with pytest.raises(AssertionError, match="reached Flask"):
        client.post("/webhooks/shopify/", **_post())
    client.set_cookie("session", "x")  # a signed-in person's session Flask would refresh
    with pytest.raises(AssertionError, match="reached Flask"):
        client.post("/webhooks/shopify", **_post())
