"""Health page: signs of life, the latest reading of every metric, its thresholds and a 24-hour chart."""

import datetime as dt

from flask import render_template
from peewee import SQL, fn

from shopsync import charts, liveness
from shopsync.auth import login_required
from shopsync.dashboard import bp, render
from shopsync.db import time_bucket, utcnow
from shopsync.health import access_problem, latest_reading
from shopsync.htmx import is_htmx
from shopsync.models import (
    Alert,
    FailedSyncItem,
    ReconciliationReport,
    SyncHealthMetric,
    WebhookLog,
    WebhookStatus,
)

HISTORY = dt.timedelta(hours=24)
# Chart resolution: the highest reading of each 5 minutes, 288 points a day.
BUCKET_SECONDS = 300
# Metric names are found by skipping through the (metric_name, recorded_at) index, one lookup
# per name, instead of a DISTINCT over every reading; this caps how many are shown.
MAX_METRICS = 50
RECENT_ALERTS = 5
# The counts at the top of the page stop here and show "10,000+".
COUNT_CAP = 10_000


def metric_names():
    """Return every metric name, one index lookup each."""
    names, last = [], ""
    while len(names) < MAX_METRICS:
        name = (SyncHealthMetric.select(fn.MIN(SyncHealthMetric.metric_name))
                .where(SyncHealthMetric.metric_name > last).scalar())
        if name is None:
            break
        names.append(name)
        last = name
    return names


def history(name, since):
    """Return [(time, highest value)] of one metric since `since`, one point per BUCKET.

    The database does the bucketing: a day of minute readings comes back as 288 numbers
    instead of 1,440 rows whose timestamps Python would have to parse.
    """
    field = SyncHealthMetric.recorded_at
    bucket = time_bucket(field, BUCKET_SECONDS)
    rows = (SyncHealthMetric.select(bucket.alias("bucket"), fn.MAX(SyncHealthMetric.value))
            .where((SyncHealthMetric.metric_name == name) & (field >= since))
            .group_by(SQL("1")).order_by(SQL("1")).tuples())
    return [(dt.datetime.fromtimestamp(int(b) * BUCKET_SECONDS, dt.UTC), value) for b, value in rows]


def metric_rows(now):
    """Return, per metric, its latest reading and its chart over the last 24 hours."""
    since = now - HISTORY
    rows = []
    for name in metric_names():
        latest = latest_reading(name)
        chart = charts.sparkline(history(name, since), since, now, warning=latest.threshold_warning,
                                 critical=latest.threshold_critical, label=name.replace("_", " "))
        rows.append({"metric": latest, "chart": chart})
    return rows


def capped_count(query):
    """Count the rows of `query`, stopping at COUNT_CAP + 1: the index is read, never a table."""
    return query.select(SQL("1")).limit(COUNT_CAP + 1).count()


def counts(now):
    """Return the figures the page opens with; each reads an index, capped, not a table."""
    return {
        "last_received": WebhookLog.select(fn.MAX(WebhookLog.received_at)).scalar(),
        "pending": capped_count(WebhookLog.select().where(WebhookLog.status == WebhookStatus.PENDING)),
        "failed_last_day": capped_count(WebhookLog.select().where(
            (WebhookLog.status == WebhookStatus.FAILED) & (WebhookLog.received_at >= now - HISTORY))),
        "open_items": capped_count(FailedSyncItem.open()),
        "cap": COUNT_CAP,
    }


@bp.get("/")
@login_required
def health():
    """Show liveness, counts, health metrics and alerts (htmx: all of them, for the 10 s refresh)."""
    now = utcnow()
    alerts = list(Alert.select().order_by(Alert.created_at.desc()).limit(RECENT_ALERTS))
    orders_report = ReconciliationReport.newest(ReconciliationReport.id, entity_types=["orders"]).first()
    return render("dashboard/health.html", "dashboard/_health_live.html", rows=metric_rows(now),
                  now=now, alerts=alerts, counts=counts(now), liveness=liveness.report(now),
                  oob=is_htmx(), access_problem=access_problem(), orders_report=orders_report)


bp.app_template_filter("brief")(liveness.brief)


@bp.get("/liveness", endpoint="liveness")
@login_required
def liveness_widget():
    """Show what is late among processes and periodic jobs (the widget alone)."""
    return render_template("dashboard/_liveness.html", liveness=liveness.report())
