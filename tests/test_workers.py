"""The Workers page and GET /api/admin/workers: the queue, the drains, each worker's heartbeat
and current job, and the scheduler's next run of each periodic job; without Redis, what the
database knows."""

import datetime as dt

import pytest

from shopsync import liveness, periodic, scheduler
from shopsync.db import db, utcnow
from shopsync.models import Heartbeat
from shopsync.outbox import JOB_PREFIX
from shopsync.queue import ThreadWorker, enqueue, get_long_queue, get_queue
from tests.helpers import ADMIN_TOKEN
from tests.test_dashboard import HTMX
from tests.test_no_double_runs import redis_down  # noqa: F401 (a fixture)

# What the job below saw of the page and the API while a worker ran it.
SEEN = {}


def look_at_the_workers():
    """A job that reads the Workers page and the API while it runs."""
    client = SEEN.pop("client")
    SEEN["page"] = client.get("/workers").get_data(as_text=True)
    SEEN["api"] = client.get("/api/admin/workers",
                             headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}).get_json()


@pytest.fixture
def long_worker(app):
    """Register an idle worker on the long queue, which holds a job; yield the worker."""
    long_queue = get_long_queue()
    assert enqueue(long_queue, utcnow, job_id="long-waiting")
    worker = ThreadWorker([long_queue], connection=long_queue.connection)
    worker.register_birth()
    yield worker
    worker.register_death()


@pytest.fixture
def busy_worker(admin_client, long_worker):
    """Run a worker on a queue holding a drain that reads the page while another waits."""
    with db.connection_context():
        liveness.beat("worker", "web.1:42", utcnow())
    scheduler.register(scheduler.make_scheduler(get_queue(), scheduler.ThreadScheduler))
    rq_queue = get_queue()
    SEEN["client"] = admin_client
    assert enqueue(rq_queue, look_at_the_workers, job_id=f"{JOB_PREFIX}looking")
    assert enqueue(rq_queue, utcnow, job_id=f"{JOB_PREFIX}waiting")
    worker = ThreadWorker([rq_queue], connection=rq_queue.connection)
    worker.work(burst=True)
    return worker


def test_the_page_shows_the_queue_workers_and_schedule(busy_worker, long_worker):
    page = SEEN["page"]
    assert '<nav aria-label="Dashboard">' in page and 'href="/workers" aria-current="page"' in page
    for label, value in (("Jobs queued", 1), ("Drains queued", 1), ("Drains running", 1),
                         ("Long jobs queued", 1), ("Long jobs running", 0)):
        assert f'data-count="{label}"><div class="n">{value}</div>' in page
    assert f'data-worker="{busy_worker.name}"' in page and f'data-worker="{long_worker.name}"' in page
    assert f'<td data-label="Queue">{get_long_queue().name}</td>' in page
    assert f"{JOB_PREFIX}looking" in page  # the worker's current job
    assert 'data-process="worker web.1:42"' in page  # its heartbeat in the database
    for job in periodic.JOBS:
        assert f'data-job="{job.name}"' in page
    assert "not scheduled" not in page and "Redis cannot be reached" not in page


def test_the_api_gives_the_same(busy_worker, long_worker):
    data = SEEN["api"]
    assert data["redis"] == {"reachable": True, "error": None}
    assert data["queue"] == {"queued": 1, "drains_queued": 1, "drains_running": 1,
                             "long_queued": 1, "long_running": 0}
    worker, idle = sorted(data["workers"], key=lambda w: w["name"] != busy_worker.name)
    assert worker["name"] == busy_worker.name and worker["current_job"] == f"{JOB_PREFIX}looking"
    assert worker["state"] == "busy" and worker["last_heartbeat"]
    assert worker["queues"] == [get_queue().name]
    assert idle["name"] == long_worker.name and idle["queues"] == [get_long_queue().name]
    assert idle["current_job"] is None
    assert [p["name"] for p in data["processes"]["worker"]] == ["web.1:42"]
    now = utcnow()
    for job, entry in zip(periodic.JOBS, data["periodic_jobs"], strict=True):
        assert entry["name"] == job.name and entry["every_seconds"] == job.every()
        assert entry["next_run"] is not None
        assert dt.datetime.fromisoformat(entry["next_run"]) <= now + dt.timedelta(seconds=job.every())


def test_the_poll_brings_every_widget_alone(admin_client):
    html = admin_client.get("/workers", headers=HTMX).get_data(as_text=True)
    assert "<html" not in html
    assert 'id="workers-queue"' in html and 'hx-trigger="every 10s"' in html
    assert html.count('hx-swap-oob="true"') == 2  # the workers and the schedule come along
    assert html.count("every 10s") == 1  # one poll for the whole page


def test_without_redis_the_page_shows_the_database_heartbeats(admin_client, api, redis_down):  # noqa: F811
    with db.connection_context():
        liveness.beat("scheduler", "clock.1", utcnow())
        Heartbeat.touch(periodic.ROLE, "sweep-outbox", started_at=utcnow(), seen_at=utcnow())
    response = admin_client.get("/workers")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Redis cannot be reached" in page
    assert 'data-process="scheduler clock.1"' in page
    assert 'data-count="Jobs queued"><div class="n">unknown</div>' in page
    assert "Unknown: Redis cannot be reached." in page
    data = api("workers").get_json()
    assert data["redis"]["reachable"] is False and data["redis"]["error"]
    assert data["queue"] == {"queued": None, "drains_queued": None, "drains_running": None,
                             "long_queued": None, "long_running": None}
    assert [p["name"] for p in data["processes"]["scheduler"]] == ["clock.1"]
    sweep = data["periodic_jobs"][0]
    assert sweep["name"] == "sweep-outbox" and sweep["last_run"] and sweep["next_run"] is None


def test_viewers_see_it_and_strangers_do_not(viewer_client, client):
    assert viewer_client.get("/workers").status_code == 200
    assert client.get("/workers").status_code == 302
    assert client.get("/api/admin/workers").status_code == 401
