"""Alerts reach a real SMTP server and a local Slack stand-in, once per state change."""

import datetime as dt
import email
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from shopsync import alerts, health
from shopsync.models import Alert, FailedSyncItem, Severity, WebhookLog, WebhookStatus
from shopsync.reconciliation import ENTITIES
from shopsync.reconciliation.runs import reconcile
from shopsync.shopify import ShopifyClient
from shopsync.simulator import SimulatorServer, Store
from tests.test_health import NOW, failed_items, webhook

SMTP_USER, SMTP_PASSWORD = "alerts", "s3cret p@ss"
# The local SMTP server takes a login over plain text: fine on 127.0.0.1, in a test.
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Inbox:
    """An aiosmtpd handler keeping every message it accepts."""

    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content)
        self.messages.append({"from": envelope.mail_from, "to": envelope.rcpt_tos,
                              "subject": message["Subject"], "body": message.get_payload(),
                              "login": session.auth_data})
        return "250 Message accepted for delivery"


def authenticate(server, session, envelope, mechanism, auth_data):
    ok = (auth_data.login.decode(), auth_data.password.decode()) == (SMTP_USER, SMTP_PASSWORD)
    return AuthResult(success=ok, auth_data=auth_data.login.decode() if ok else None)


@pytest.fixture
def smtp():
    """A real SMTP server on localhost that requires a login; yields (inbox, port)."""
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, authenticator=authenticate,
                            auth_required=True, auth_require_tls=False)
    controller.start()
    yield inbox, port
    controller.stop()


class SlackStandIn(ThreadingHTTPServer):
    """A local HTTP server standing in for a Slack incoming webhook."""

    def __init__(self):
        self.posts, self.status = [], 200
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.posts.append({"path": self.path, "type": self.headers["Content-Type"],
                                    "json": json.loads(body)})
                self.send_response(outer.status)
                self.end_headers()
                self.wfile.write(b"ok" if outer.status == 200 else b"invalid_payload")

            def log_message(self, *args):
                pass

        super().__init__(("127.0.0.1", 0), Handler)

    @property
    def texts(self):
        return [post["json"]["text"] for post in self.posts]


@pytest.fixture
def slack():
    server = SlackStandIn()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def channels(app, smtp, slack):
    """Configure both channels against the local receivers; yield (inbox, slack)."""
    inbox, port = smtp
    app.config.update(SLACK_WEBHOOK_URL=f"http://127.0.0.1:{slack.server_port}/services/T0/B0/x",
                      SMTP_URL=f"smtp://{SMTP_USER}:s3cret%20p%40ss@127.0.0.1:{port}",
                      ALERT_EMAIL_TO="ops@example.com, oncall@example.com",
                      ALERT_EMAIL_FROM="shopsync@example.com", ALERT_REPEAT_MINUTES=30,
                      SHOPIFY_SHOP=None, SHOPIFY_API_BASE_URL=None, SHOPSYNC_WEBHOOK_ADDRESS=None)
    return inbox, slack


def at(minutes):
    return NOW + dt.timedelta(minutes=minutes)


def test_each_state_change_alerts_once_on_both_channels(channels):
    inbox, slack = channels
    sequence = [Severity.OK, Severity.WARNING, Severity.WARNING, Severity.CRITICAL,
                Severity.CRITICAL, Severity.WARNING, Severity.OK, Severity.OK]
    sent = [alerts.notify("dlq_size", status, f"reading {i}", now=at(i))
            for i, status in enumerate(sequence)]

    assert [a is not None for a in sent] == [False, True, False, True, False, True, True, False]
    history = list(Alert.select().order_by(Alert.created_at))
    assert [(a.previous_status, a.status) for a in history] == [
        (Severity.OK, Severity.WARNING), (Severity.WARNING, Severity.CRITICAL),
        (Severity.CRITICAL, Severity.WARNING), (Severity.WARNING, Severity.OK)]
    assert all(a.channels == "slack,email" and a.error is None for a in history)
    assert [a.created_at for a in history] == [at(1), at(3), at(5), at(6)]
    assert slack.texts == [a.message for a in history]
    assert slack.texts[0] == "[shopsync] dlq_size is WARNING (was ok): reading 1"
    assert slack.texts[3] == "[shopsync] dlq_size is back to OK (was warning): reading 6"
    assert {post["type"] for post in slack.posts} == {"application/json"}
    assert [m["subject"] for m in inbox.messages] == [
        "[shopsync] WARNING: dlq_size", "[shopsync] CRITICAL: dlq_size",
        "[shopsync] WARNING: dlq_size", "[shopsync] OK: dlq_size"]
    first = inbox.messages[0]
    assert first["to"] == ["ops@example.com", "oncall@example.com"]
    assert first["from"] == "shopsync@example.com" and first["login"] == SMTP_USER
    assert first["body"].strip() == slack.texts[0]


def test_a_metric_that_stays_critical_alerts_again_at_the_interval(channels):
    inbox, slack = channels
    for minute in (0, 10, 29, 30, 45, 59, 61):
        alerts.notify("order_lag", Severity.CRITICAL, "250", now=at(minute))
    assert [a.created_at for a in Alert.select().order_by(Alert.created_at)] == [at(0), at(30), at(61)]
    assert slack.texts[1] == "[shopsync] order_lag is still CRITICAL: 250"
    assert len(inbox.messages) == 3


def test_a_failing_channel_is_recorded_and_the_health_job_goes_on(app, channels):
    inbox, slack = channels
    slack.status = 500
    app.config["SMTP_URL"] = f"smtp://127.0.0.1:{free_port()}"  # nothing listens there
    failed_items(25)
    readings = health.compute_health(now=NOW)
    assert {r.metric_name for r in readings} >= {"dlq_size", "error_rate"}
    alert = Alert.get(Alert.metric_name == "dlq_size")
    assert alert.status is Severity.WARNING and alert.channels == "slack,email"
    assert "slack: HTTPError: 500" in alert.error and "email: ConnectionRefusedError" in alert.error
    assert len(slack.posts) >= 1 and inbox.messages == []

    slack.status = 200
    app.config["SMTP_URL"] = "gopher://127.0.0.1:70"
    alert = alerts.notify("dlq_size", Severity.OK, "0", now=at(2))
    assert alert.error.startswith("email: ValueError: SMTP_URL scheme")
    assert inbox.messages == [] and slack.texts[-1].endswith("back to OK (was warning): 0")


def test_every_threshold_transition_of_the_health_job_alerts_exactly_once(channels):
    inbox, slack = channels
    # Keep the other metrics healthy: a webhook just processed, nothing pending or failed.
    webhook(1, WebhookStatus.PROCESSED, NOW - dt.timedelta(seconds=3), NOW - dt.timedelta(seconds=2))
    sizes = [0, 21, 30, 101, 150, 99, 5, 0]  # ok, warning, warning, critical, critical, warning, ok, ok
    for minute, size in enumerate(sizes):
        FailedSyncItem.delete().execute()
        failed_items(size)
        WebhookLog.update(received_at=at(minute) - dt.timedelta(seconds=3),
                          processed_at=at(minute) - dt.timedelta(seconds=2)).execute()
        health.compute_health(now=at(minute))
    history = list(Alert.select().order_by(Alert.created_at))
    assert [(a.metric_name, a.status, a.created_at) for a in history] == [
        ("dlq_size", Severity.WARNING, at(1)), ("dlq_size", Severity.CRITICAL, at(3)),
        ("dlq_size", Severity.WARNING, at(5)), ("dlq_size", Severity.OK, at(6))]
    assert slack.texts[1].startswith("[shopsync] dlq_size is CRITICAL (was warning): 101 (")
    assert "warning above 20, critical above 100" in slack.texts[1]
    assert len(inbox.messages) == 4


def test_reconciliation_alerts_when_it_finds_differences_and_when_they_are_gone(channels):
    inbox, slack = channels
    store = Store.generate(seed=31, orders=400, products=5, customers=10)
    from tests.test_reconciliation import load_erp

    ids = sorted(store.ids("orders", status="any"))
    load_erp(store, skip=ids[:3])
    with SimulatorServer(store, bucket_size=1000, leak_rate=10_000.0) as server:
        client = ShopifyClient(server.base_url, server.access_token, leak_rate=0)
        reconcile(ENTITIES["orders"], client)  # finds and heals 3
        reconcile(ENTITIES["orders"], client)  # all in step
    assert slack.texts == [
        "[shopsync] reconciliation_orders is WARNING (was ok): reconciliation of orders: "
        "3 missing, 0 stale, 0 extra; 3 healed, 0 deleted, 0 failed (Shopify 400, ERP 397)",
        "[shopsync] reconciliation_orders is back to OK (was warning): reconciliation of orders: "
        "0 missing, 0 stale, 0 extra; 0 healed, 0 deleted, 0 failed (Shopify 400, ERP 400)"]


def test_no_channel_configured_still_keeps_the_history(app):
    app.config.update(SLACK_WEBHOOK_URL=None, SMTP_URL=None)
    alert = alerts.notify("dlq_size", Severity.CRITICAL, "120", now=NOW)
    assert alert.channels == "" and alert.error is None
    assert Alert.select().count() == 1
