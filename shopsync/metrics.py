"""GET /metrics: health readings, sync counts and signs of life in Prometheus text format.

Every scrape builds a fresh registry from the database (the latest health readings, the
counts the health job took last, the latest reconciliation per entity, the heartbeats of the
scheduler and workers and the last run of each periodic job), so every gunicorn process
answers the same, and an alert on the timestamps fires even when no worker runs. A scrape
reads a few indexed rows and counts nothing: counting webhook_log on each scrape would cost
as much as the table is large. With SHOPSYNC_METRICS_TOKEN set, a scrape needs
`Authorization: Bearer <token>`.
"""

import hmac

from flask import Blueprint, Response, current_app, jsonify, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily

from shopsync import health, liveness, periodic, stats
from shopsync.models import ReconciliationReport
from shopsync.reconciliation import ENTITIES

bp = Blueprint("metrics", __name__)

STATUS_VALUES = {"ok": 0, "warning": 1, "critical": 2}


def _gauge(name, documentation, labels=None):
    return GaugeMetricFamily(f"shopsync_{name}", documentation, labels=labels)


class DatabaseCollector:
    """Collect shopsync's metrics from the database at scrape time."""

    def collect(self):
        yield from self._health()
        yield from self._counts()
        yield from self._reconciliation()
        yield from self._liveness()

    def _health(self):
        readings = health.latest_metrics()
        status = _gauge("health_status", "Health status per metric: 0 ok, 1 warning, 2 critical",
                        ["metric"])
        thresholds = _gauge("health_threshold", "Health thresholds per metric and level",
                            ["metric", "level"])
        for reading in readings:
            metric = health.METRICS_BY_NAME.get(reading.metric_name)
            if reading.value is not None:
                gauge = _gauge(f"health_{reading.metric_name}",
                               metric.description if metric else reading.metric_name)
                gauge.add_metric([], reading.value)
                yield gauge
            status.add_metric([reading.metric_name], STATUS_VALUES[reading.status.value])
            for level, value in (("warning", reading.threshold_warning),
                                 ("critical", reading.threshold_critical)):
                if value is not None:
                    thresholds.add_metric([reading.metric_name, level], value)
        yield status
        yield thresholds

    def _counts(self):
        counts, taken_at = stats.snapshot()
        if counts is None:  # the health job has not run yet
            return
        when = _gauge("counts_timestamp_seconds", "When the counts below were taken")
        when.add_metric([], taken_at.timestamp())
        yield when
        records = _gauge("erp_records", "Live ERP records per entity", ["entity"])
        for entity in ENTITIES:
            records.add_metric([entity], counts[entity])
        yield records
        webhooks = _gauge("webhooks", "Stored webhook deliveries per status", ["status"])
        for name, value in counts["webhooks"].items():
            if name not in ("received", "duplicates"):
                webhooks.add_metric([name], value)
        yield webhooks
        received = _gauge("webhooks_received", "Webhook deliveries stored")
        received.add_metric([], counts["webhooks"]["received"])
        yield received
        duplicates = _gauge("webhook_duplicates", "Repeated webhook deliveries ignored")
        duplicates.add_metric([], counts["webhooks"]["duplicates"])
        yield duplicates
        failed = _gauge("failed_items", "Failed sync items per state", ["state"])
        for name, value in counts["failed_items"].items():
            failed.add_metric([name], value)
        yield failed

    def _reconciliation(self):
        discrepancy = _gauge("reconciliation_discrepancy",
                             "Ids that differed in the latest full reconciliation", ["entity"])
        when = _gauge("reconciliation_timestamp_seconds",
                      "When the latest full reconciliation ran", ["entity"])
        for entity in ENTITIES:
            report = ReconciliationReport.newest(
                ReconciliationReport.discrepancy, ReconciliationReport.created_at,
                entity_types=[entity], kind="full").first()
            if report is not None:
                discrepancy.add_metric([entity], report.discrepancy)
                when.add_metric([entity], report.created_at.timestamp())
        yield discrepancy
        yield when

    def _liveness(self):
        report = liveness.report()
        scheduler = _gauge("scheduler_last_seen_timestamp_seconds",
                           "Latest heartbeat of any scheduler process")
        if report.roles["scheduler"].seen_at is not None:
            scheduler.add_metric([], report.roles["scheduler"].seen_at.timestamp())
        yield scheduler
        workers = _gauge("worker_last_seen_timestamp_seconds",
                         "Latest heartbeat of each worker process not stopped on request", ["worker"])
        for process in report.processes:
            if process.role == "worker" and process.stopped_at is None:
                workers.add_metric([process.name], process.sign.seen_at.timestamp())
        yield workers
        # Not "job": Prometheus gives every scraped series a `job` label of its own.
        runs = _gauge("periodic_job_last_run_timestamp_seconds",
                      "When the last successful run of each periodic job started", ["periodic_job"])
        every = _gauge("periodic_job_interval_seconds", "How often each periodic job runs",
                       ["periodic_job"])
        late_after = _gauge("periodic_job_late_after_seconds",
                            "How long after its last run a periodic job is late", ["periodic_job"])
        for job in periodic.JOBS:
            sign = report.jobs[job.name]
            if sign.seen_at is not None:
                runs.add_metric([job.name], sign.seen_at.timestamp())
            every.add_metric([job.name], job.every())
            late_after.add_metric([job.name], sign.allowance)
        yield runs
        yield every
        yield late_after
        late = _gauge("liveness_late", "Processes and periodic jobs late now, as on the Health page")
        late.add_metric([], len(report.late()))
        yield late


def _authorised():
    """Tell whether the scrape carries the metrics token, when one is set."""
    expected = current_app.config["SHOPSYNC_METRICS_TOKEN"]
    given = request.headers.get("Authorization", "")
    return not expected or hmac.compare_digest(given.encode(), f"Bearer {expected}".encode())


@bp.get("/metrics")
def metrics():
    """Expose metrics to Prometheus."""
    if not _authorised():
        response = jsonify(error="missing or wrong bearer token (SHOPSYNC_METRICS_TOKEN)")
        response.headers["WWW-Authenticate"] = "Bearer"
        return response, 401
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DatabaseCollector())
    return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)
