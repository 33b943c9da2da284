"""Sync health: the metrics read every minute, their thresholds and history.

`compute_health()` (a job) measures every metric, stores one SyncHealthMetric reading each and
lets `alerts` report state changes. `latest_metrics()` reads them back.
Thresholds come from the app config, `HEALTH_<METRIC>_WARNING` / `HEALTH_<METRIC>_CRITICAL`
(e.g. HEALTH_ORDER_LAG_WARNING; defaults in config.TUNING); a value above a threshold reaches
its level.
"""

import datetime as dt
import logging
import math
from dataclasses import dataclass

from flask import current_app
from peewee import fn

from shopsync import alerts, shopify, stats, subscriptions
from shopsync.db import INFRASTRUCTURE_ERRORS, db, utcnow
from shopsync.models import (
    FailedSyncItem,
    Order,
    Severity,
    SyncHealthMetric,
    SyncState,
    WebhookLog,
    WebhookStatus,
)
from shopsync.shopify.errors import ShopifyAccessError
from shopsync.shopify.scopes import SCOPES
from shopsync.wording import metric_value

log = logging.getLogger(__name__)

REQUIRED_SCOPES = tuple(SCOPES.values())  # read_orders, read_products, read_customers
WINDOW = dt.timedelta(hours=1)  # error rate and latency look at the last hour
SEVERITY_RANK = {Severity.OK: 0, Severity.WARNING: 1, Severity.CRITICAL: 2}


@dataclass(frozen=True)
class Metric:
    """One health metric: what it measures, and how it stands when it cannot be measured."""

    name: str
    description: str
    unknown: Severity = Severity.WARNING  # the status when it cannot be measured
    needs_shopify: bool = False

    def thresholds(self, config):
        """Return (warning, critical) from the config."""
        key = f"HEALTH_{self.name.upper()}"
        return config[f"{key}_WARNING"], config[f"{key}_CRITICAL"]


METRICS = [
    Metric("order_lag", "Shopify's order count minus the ERP's", needs_shopify=True),
    Metric("error_rate", "share of the last hour's webhooks that failed"),
    Metric("webhook_latency_seconds", "95th percentile, received to processed, last hour",
           unknown=Severity.OK),
    Metric("dlq_size", "unresolved failed items"),
    Metric("oldest_pending_webhook_seconds", "age of the oldest webhook not yet processed"),
    Metric("last_webhook_age_seconds", "time since the last webhook arrived"),
    Metric("missing_webhook_topics", "required topics this app is not subscribed to",
           needs_shopify=True),
    Metric("shopify_access_problems", "scopes not granted, or credentials Shopify refuses",
           needs_shopify=True),
]
METRICS_BY_NAME = {metric.name: metric for metric in METRICS}


def status_of(value, warning, critical, unknown=Severity.WARNING):
    """Return the status of a value: above `critical` critical, above `warning` warning."""
    if value is None:
        return unknown
    size = abs(value)
    if critical is not None and size > critical:
        return Severity.CRITICAL
    if warning is not None and size > warning:
        return Severity.WARNING
    return Severity.OK


# Measurements: each returns (value, note); the note goes into alerts.

def order_lag(now, client):
    """Return Shopify's order count (every status) minus the ERP's live orders."""
    shopify = client.count("orders", status="any")
    erp = Order.select().where(Order.deleted_at.is_null()).count()
    return shopify - erp, f"Shopify {shopify}, ERP {erp}"


def error_rate(now, client=None):
    """Return failed / total of the (non-ignored) webhooks received in the last hour."""
    recent = (WebhookLog.received_at >= now - WINDOW) & (WebhookLog.status != WebhookStatus.IGNORED)
    total = WebhookLog.select().where(recent).count()
    failed = WebhookLog.select().where(recent & (WebhookLog.status == WebhookStatus.FAILED)).count()
    return (failed / total if total else 0.0), f"{failed} of {total} webhooks failed in the last hour"


def percentile(values, share):
    """Return the nearest-rank percentile of `values` (None when empty)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def webhook_latency(now, client=None):
    """Return the 95th percentile of received → processed over the last hour's webhooks."""
    rows = (WebhookLog.select(WebhookLog.received_at, WebhookLog.processed_at)
            .where((WebhookLog.status == WebhookStatus.PROCESSED)
                   & (WebhookLog.processed_at >= now - WINDOW)).tuples())
    seconds = [(done - got).total_seconds() for got, done in rows if got and done]
    return percentile(seconds, 0.95), f"{len(seconds)} webhooks processed in the last hour"


def dlq_size(now, client=None):
    """Return how many failed items are unresolved."""
    size = FailedSyncItem.open().count()
    return size, f"{size} unresolved failed items"


def _when(moment):
    """Format a time for an alert: to the second, in UTC."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _age(now, moment):
    return None if moment is None else max(0.0, (now - moment).total_seconds())


def oldest_pending_webhook(now, client=None):
    """Return the age in seconds of the oldest pending webhook (0 when none is pending)."""
    oldest = (WebhookLog.select(fn.MIN(WebhookLog.received_at))
              .where(WebhookLog.status == WebhookStatus.PENDING).scalar())
    return _age(now, oldest) or 0.0, f"oldest pending since {_when(oldest)}" if oldest else "none pending"


def last_webhook_age(now, client=None):
    """Return the seconds since the last webhook arrived (None if none ever did)."""
    last = WebhookLog.select(fn.MAX(WebhookLog.received_at)).scalar()
    return _age(now, last), f"last webhook at {_when(last)}" if last else "no webhook ever received"


def missing_webhook_topics(now, client):
    """Return how many required topics this app's address is not subscribed to."""
    missing = subscriptions.missing_topics(client, current_app.config.get("SHOPSYNC_WEBHOOK_ADDRESS"))
    return len(missing), f"missing: {', '.join(missing)}" if missing else "all topics subscribed"


ACCESS_KEY = "shopify_access"  # SyncState: the access problems the Health page shows


def shopify_access_problems(now, client):
    """Return how many required scopes are not granted (1 when Shopify refuses the credentials);
    the Health page shows what they are."""
    problems = []
    try:
        for scope in REQUIRED_SCOPES:
            try:
                client.require_scope(scope)
            except ShopifyAccessError as exc:
                if exc.status != 403:
                    raise
                problems.append(f"{scope} not granted")
    except ShopifyAccessError as exc:
        problems = [str(exc)]
    text = "; ".join(problems)
    if problems:
        text += ": grant the scopes to the app in the Dev Dashboard, release and reinstall"
    SyncState.insert(key=ACCESS_KEY, value=text, updated_at=now).on_conflict(
        conflict_target=[SyncState.key], update={SyncState.value: text, SyncState.updated_at: now}
    ).execute()
    return len(problems), text or "every required scope granted"


def access_problem():
    """Return what the last health check found wrong with the Shopify credentials, or None."""
    state = SyncState.get_or_none(SyncState.key == ACCESS_KEY)
    return state.value if state and state.value else None


MEASURES = {
    "order_lag": order_lag, "error_rate": error_rate, "webhook_latency_seconds": webhook_latency,
    "dlq_size": dlq_size, "oldest_pending_webhook_seconds": oldest_pending_webhook,
    "last_webhook_age_seconds": last_webhook_age, "missing_webhook_topics": missing_webhook_topics,
    "shopify_access_problems": shopify_access_problems,
}


def applies(metric, client):
    """Tell whether a metric can be read: Shopify's need a store, subscriptions an address."""
    if metric.needs_shopify and client is None:
        return False
    if metric.name == "missing_webhook_topics":
        return bool(current_app.config.get("SHOPSYNC_WEBHOOK_ADDRESS"))
    return True


def compute_health(client=None, now=None):
    """Read every metric, store the readings, alert on state changes; return the readings."""
    now = now or utcnow()
    config = current_app.config
    with db.connection_context():
        if client is None and shopify.is_configured(config):
            client = shopify.app_client()
        readings = []
        for metric in METRICS:
            if not applies(metric, client):
                continue
            try:
                value, note = MEASURES[metric.name](now, client)
            except INFRASTRUCTURE_ERRORS:
                raise
            except Exception as exc:  # e.g. Shopify unreachable: an unknown reading, not a crash
                log.warning("health metric %s could not be read: %s", metric.name, exc)
                value, note = None, f"could not be read: {type(exc).__name__}: {exc}"
            warning, critical = metric.thresholds(config)
            status = status_of(value, warning, critical, metric.unknown)
            readings.append(SyncHealthMetric.create(
                metric_name=metric.name, value=value, status=status, threshold_warning=warning,
                threshold_critical=critical, recorded_at=now))
            reading = metric_value(value, metric.name) if value is not None else "unknown"
            alerts.notify(metric.name, status, f"{reading} ({note}; warning above "
                                               f"{metric_value(warning, metric.name)}, critical "
                                               f"above {metric_value(critical, metric.name)})", now=now)
        stats.take_snapshot(now)  # what /metrics serves until the next run
        retention = config["HEALTH_RETENTION_DAYS"]
        SyncHealthMetric.delete().where(
            SyncHealthMetric.recorded_at < now - dt.timedelta(days=retention)).execute()
    return readings


def latest_reading(name):
    """Return the latest reading of the metric `name`, or None."""
    return (SyncHealthMetric.select().where(SyncHealthMetric.metric_name == name)
            .order_by(SyncHealthMetric.recorded_at.desc(), SyncHealthMetric.id.desc()).first())


def latest_metrics():
    """Return the latest reading of every metric, in the order of METRICS."""
    readings = [latest_reading(metric.name) for metric in METRICS]
    return [reading for reading in readings if reading is not None]


def overall(readings):
    """Return the worst status among readings, or None when there are none."""
    if not readings:
        return None
    return max((reading.status for reading in readings), key=SEVERITY_RANK.__getitem__)


def reading_json(reading):
    """Serialise one reading."""
    metric = METRICS_BY_NAME.get(reading.metric_name)
    return {"value": reading.value, "status": reading.status.value,
            "threshold_warning": reading.threshold_warning,
            "threshold_critical": reading.threshold_critical,
            "recorded_at": reading.recorded_at.isoformat(),
            "description": metric.description if metric else None}


def summary():
    """Return the body of GET /api/admin/health: the worst status and every latest reading."""
    readings = latest_metrics()
    status = overall(readings)
    return {"status": status.value if status else "unknown",
            "checked_at": max(r.recorded_at for r in readings).isoformat() if readings else None,
            "metrics": {reading.metric_name: reading_json(reading) for reading in readings}}
