"""Alerts to Slack and email when a metric changes state, kept as history in the Alert table.

A metric alerts when its status differs from the status of its last alert (a metric never
alerted counts as ok): healthy → warning → critical, and back to healthy. A metric that stays
critical alerts again every ALERT_REPEAT_MINUTES. A channel that fails is recorded in
`Alert.error`; sending never raises.
"""

import logging
import smtplib
import ssl
from email.message import EmailMessage
from urllib.parse import unquote, urlsplit

import requests
from flask import current_app

from shopsync.config import DEFAULT_EMAIL_FROM
from shopsync.db import utcnow
from shopsync.models import Alert, Severity

log = logging.getLogger(__name__)

TIMEOUT = 10  # seconds, per channel
SMTP_PORTS = {"smtp": 25, "smtp+starttls": 587, "smtps": 465}


def last_alert(metric_name):
    """Return the newest Alert of a metric, or None."""
    return (Alert.select().where(Alert.metric_name == metric_name)
            .order_by(Alert.created_at.desc(), Alert.id.desc()).first())


def notify(metric_name, status, message, now=None):
    """Alert if `status` is a change from the metric's last alert, or a due reminder.

    Returns the Alert written, or None when nothing was due.
    """
    now = now or utcnow()
    status = Severity(status)
    last = last_alert(metric_name)
    previous = last.status if last else Severity.OK
    if status == previous:
        repeat = current_app.config["ALERT_REPEAT_MINUTES"]
        due = (status is Severity.CRITICAL and last is not None and repeat
               and (now - last.created_at).total_seconds() >= float(repeat) * 60)
        if not due:
            return None
        text = f"{metric_name} is still CRITICAL: {message}"
    elif status is Severity.OK:
        text = f"{metric_name} is back to OK (was {previous.value}): {message}"
    else:
        text = f"{metric_name} is {status.value.upper()} (was {previous.value}): {message}"
    return send(metric_name, previous, status, f"[shopsync] {text}", now)


def send(metric_name, previous, status, text, now=None):
    """Send `text` on every configured channel and record the Alert with any failures."""
    config = current_app.config
    channels, errors = [], []
    if config.get("SLACK_WEBHOOK_URL"):
        channels.append("slack")
        errors.append(_try("slack", send_slack, config["SLACK_WEBHOOK_URL"], text))
    if config.get("SMTP_URL") and config.get("ALERT_EMAIL_TO"):
        channels.append("email")
        subject = f"[shopsync] {status.value.upper()}: {metric_name}"
        errors.append(_try("email", send_email, config["SMTP_URL"], config["ALERT_EMAIL_TO"],
                           subject, text, config.get("ALERT_EMAIL_FROM") or DEFAULT_EMAIL_FROM))
    error = "; ".join(e for e in errors if e) or None
    if error:
        log.warning("alert for %s not delivered everywhere: %s", metric_name, error)
    return Alert.create(metric_name=metric_name, previous_status=previous, status=status,
                        message=text, channels=",".join(channels), error=error,
                        created_at=now or utcnow())


def _try(channel, func, *args):
    """Run one channel's sender; return None, or the reason it failed."""
    try:
        func(*args)
    except Exception as exc:  # a channel down must never stop the health job
        return f"{channel}: {type(exc).__name__}: {exc}"
    return None


def send_slack(url, text):
    """Post `text` to a Slack incoming webhook."""
    response = requests.post(url, json={"text": text}, timeout=TIMEOUT)
    response.raise_for_status()


def send_email(smtp_url, to, subject, text, sender=DEFAULT_EMAIL_FROM):
    """Mail `text` through the server of `smtp_url` (smtp://, smtp+starttls:// or smtps://)."""
    url = urlsplit(smtp_url)
    if url.scheme not in SMTP_PORTS:
        raise ValueError(f"SMTP_URL scheme must be one of {', '.join(SMTP_PORTS)}")
    message = EmailMessage()
    message["Subject"], message["From"] = subject, sender
    message["To"] = ", ".join(address.strip() for address in to.split(",") if address.strip())
    message.set_content(text)
    host, port = url.hostname or "localhost", url.port or SMTP_PORTS[url.scheme]
    if url.scheme == "smtps":
        server = smtplib.SMTP_SSL(host, port, timeout=TIMEOUT, context=ssl.create_default_context())
    else:
        server = smtplib.SMTP(host, port, timeout=TIMEOUT)
    with server:
        if url.scheme == "smtp+starttls":
            server.starttls(context=ssl.create_default_context())
        if url.username:
            server.login(unquote(url.username), unquote(url.password or ""))
        server.send_message(message)
