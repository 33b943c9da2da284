"""Heartbeats and last runs are kept in the database and judged when read: banner, API, metrics."""

import datetime as dt

import peewee as pw
import pytest

from shopsync import attempts, config, liveness, periodic
from shopsync.db import utcnow
from shopsync.models import Heartbeat
from shopsync.testing.processes import wait_until
from tests.test_metrics import scrape

NOW = None  # when the running test started: the API, metrics and pages judge at the real time
ALL_LATE = ["scheduler never seen", "no worker ever seen",
            "sweep-outbox never run (every 60 s)", "process-dlq never run (every 5 min)",
            "compute-health never run (every 60 s)", "reconcile-catchup never run (every 5 min)",
            "reconcile-full never run (every 24 h)", "reconcile-deep never run (every 7 d)",
            "drop-expired-bodies never run (every 60 min)"]


@pytest.fixture(autouse=True)
def now():
    """Set NOW to the start of each test."""
    global NOW
    NOW = utcnow().replace(microsecond=0)


def ago(**delta):
    return NOW - dt.timedelta(**delta)


def seen(role, name, at=None, stopped=False):
    """Store the latest beat of a process (now, unless told)."""
    at = at or NOW
    Heartbeat.touch(role, name, started_at=ago(hours=1), seen_at=at, stopped_at=at if stopped else None)


def ran(name, at=None):
    """Store the start of a job's last successful run (now, unless told)."""
    at = at or NOW
    Heartbeat.touch(periodic.ROLE, name, started_at=at, seen_at=at + dt.timedelta(seconds=1))


def all_alive():
    seen("scheduler", "scheduler.1")
    seen("worker", "worker.1")
    for job in periodic.JOBS:
        ran(job.name)


def test_a_new_install_has_everything_late(app):
    assert liveness.report(NOW).late() == ALL_LATE


def test_recent_signs_are_not_late(app):
    all_alive()
    assert liveness.report(NOW + dt.timedelta(seconds=59)).late() == []


def test_late_processes_and_jobs_are_named_with_how_long(app):
    all_alive()
    seen("scheduler", "scheduler.1", ago(minutes=3))
    seen("worker", "worker.2", ago(minutes=5))  # killed: it never said it stopped
    seen("worker", "worker.3", ago(minutes=50), stopped=True)  # scaled down: not late
    ran("compute-health", ago(minutes=5))
    ran("reconcile-full", ago(hours=30))
    assert liveness.report(NOW).late() == [
        "scheduler not seen for 3 min", "worker worker.2 not seen for 5 min",
        "compute-health not run for 5 min (every 60 s)"]  # the daily job has until 36 h

    seen("worker", "worker.1", ago(minutes=4))
    assert liveness.report(NOW).late()[1] == "no worker seen for 4 min"  # the cause, not each one


def test_a_periodic_run_is_recorded_only_when_it_succeeds(app, monkeypatch):
    monkeypatch.setattr("shopsync.health.compute_health", lambda: "read")
    assert attempts.run("compute-health") == "read"
    first = periodic.last_runs()["compute-health"]
    assert first <= utcnow()

    def broken():
        raise RuntimeError("boom")

    monkeypatch.setattr("shopsync.health.compute_health", broken)
    with pytest.raises(RuntimeError):
        attempts.run("compute-health")
    assert periodic.last_runs() == {"compute-health": first}


def test_a_process_beats_while_it_runs_and_notes_a_clean_stop(app):
    seen("worker", "gone-for-days", ago(days=2))
    with liveness.beating("worker", name="worker.9"):
        wait_until(lambda: Heartbeat.get_or_none(Heartbeat.name == "worker.9"), message="a beat")
        assert Heartbeat.get(Heartbeat.name == "worker.9").stopped_at is None
    row = Heartbeat.get(Heartbeat.name == "worker.9")
    assert row.stopped_at is not None and row.seen_at == row.stopped_at
    assert not Heartbeat.select().where(Heartbeat.name == "gone-for-days").exists()  # forgotten


def test_a_heartbeat_that_cannot_reach_the_database_does_not_stop_the_process(app, monkeypatch):
    calls = []

    def unreachable(*args, **fields):
        calls.append(args)
        raise pw.OperationalError("connection refused")

    monkeypatch.setattr(Heartbeat, "touch", unreachable)
    with liveness.beating("scheduler", name="scheduler.1"):
        wait_until(lambda: calls, message="a beat attempt")
    assert len(calls) >= 2  # the beats, then the stop: each logged, none raised


def test_api_health_says_what_is_late(app, api):
    body = api("health").json["liveness"]
    assert body["status"] == "late" and body["late"] == ALL_LATE
    assert body["scheduler"] == {"last_seen": None, "age_seconds": None, "allowance_seconds": 60,
                                 "late": True, "processes": []}

    all_alive()
    seen("worker", "worker.2", ago(minutes=50), stopped=True)
    body = api("health").json["liveness"]
    assert body["status"] == "ok" and body["late"] == []
    workers = body["worker"]
    assert workers["last_seen"] == NOW.isoformat() and workers["late"] is False
    assert [(p["name"], p["late"], p["stopped_at"]) for p in workers["processes"]] == [
        ("worker.1", False, None), ("worker.2", False, ago(minutes=50).isoformat())]
    health_job = body["periodic_jobs"]["compute-health"]
    assert health_job["last_run"] == NOW.isoformat()
    assert health_job["every_seconds"] == 60 and health_job["allowance_seconds"] == 180
    assert health_job["late"] is False
    assert set(body["periodic_jobs"]) == {job.name for job in periodic.JOBS}


def test_metrics_expose_when_each_process_and_job_was_last_seen(app, client):
    samples = scrape(client)
    assert ("shopsync_scheduler_last_seen_timestamp_seconds", ()) not in samples
    assert samples[("shopsync_liveness_late", ())] == len(ALL_LATE)
    full = (("periodic_job", "reconcile-full"),)
    assert samples[("shopsync_periodic_job_interval_seconds", full)] == 86400
    assert samples[("shopsync_periodic_job_late_after_seconds", full)] == 1.5 * 86400

    all_alive()
    seen("worker", "worker.2", ago(minutes=5))
    seen("worker", "worker.3", ago(minutes=50), stopped=True)
    samples = scrape(client)
    assert samples[("shopsync_scheduler_last_seen_timestamp_seconds", ())] == NOW.timestamp()
    assert samples[("shopsync_worker_last_seen_timestamp_seconds", (("worker", "worker.1"),))] == (
        NOW.timestamp())
    assert samples[("shopsync_worker_last_seen_timestamp_seconds", (("worker", "worker.2"),))] == (
        ago(minutes=5).timestamp())
    assert ("shopsync_worker_last_seen_timestamp_seconds", (("worker", "worker.3"),)) not in samples
    for job in periodic.JOBS:
        key = ("shopsync_periodic_job_last_run_timestamp_seconds", (("periodic_job", job.name),))
        assert samples[key] == NOW.timestamp()
    assert samples[("shopsync_liveness_late", ())] == 1  # worker.2


def test_health_page_shows_a_banner_naming_what_is_late(app, viewer_client):
    seen("scheduler", "scheduler.1", ago(minutes=3))
    page = viewer_client.get("/").get_data(as_text=True)
    assert 'role="alert"' in page
    for message in ["scheduler not seen for 3 min", "no worker ever seen",
                    "compute-health never run (every 60 s)"]:
        assert f"<li>{message}</li>" in page
    assert 'data-process="scheduler scheduler.1"' in page


def test_health_page_has_no_banner_when_all_is_alive(app, viewer_client):
    all_alive()
    page = viewer_client.get("/").get_data(as_text=True)
    assert 'role="alert"' not in page
    assert "Processes and periodic jobs: all seen lately" in page
    assert 'data-job="reconcile-deep"' in page


def test_the_liveness_widget_refreshes_alone(app, viewer_client):
    widget = viewer_client.get("/liveness", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert 'id="liveness"' in widget
    assert "<li>scheduler never seen</li>" in widget and "<h1>" not in widget


def test_schedule_scale_shortens_intervals_and_allowances(app):
    app.config["SCHEDULE_SCALE"] = 0.05
    assert periodic.JOBS_BY_NAME["compute-health"].every() == 3
    assert liveness.job_allowance(3) == 9  # 3 s + max(1.5 s, 120 s × 0.05)
    assert liveness.report(NOW).roles["worker"].allowance == 3


@pytest.mark.parametrize("text", ["0", "-1", "fast", "nan", "inf"])
def test_schedule_scale_must_be_a_positive_number(text):
    with pytest.raises(config.ConfigError, match="SHOPSYNC_SCHEDULE_SCALE"):
        config.schedule_scale(text)
