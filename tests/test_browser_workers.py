"""The Workers page in a real headless Chromium, with a real worker running in a thread."""

import datetime as dt
import threading
import time

import pytest
from rq import SimpleWorker, Worker

from shopsync import liveness, periodic, scheduler
from shopsync.dashboard import utc
from shopsync.db import db, utcnow
from shopsync.models import Heartbeat
from shopsync.queue import ThreadWorker, enqueue, get_queue
from tests import test_browser
from tests.test_browser import assert_not_reloaded, mark_page, shoot

# The browser module's fixtures: one Chromium per module, a fresh page, an admin signed in.
browser, page, admin = test_browser.browser, test_browser.page, test_browser.admin

pytestmark = pytest.mark.browser


def _registered(rq_queue, name):
    return any(w.name == name for w in Worker.all(queue=rq_queue))


def _beaten(name):
    with db.connection_context():
        return Heartbeat.select().where(Heartbeat.name == name).exists()


@pytest.fixture
def worker_thread(app):
    """Return a function starting a real worker on the app's queue, its heartbeat beating.

    The worker takes one job and quits: the fixture queues that job to stop it.
    """
    rq_queue, threads = get_queue(), []

    def start(name):
        worker = ThreadWorker([rq_queue], connection=rq_queue.connection, name=name)

        def run():
            with app.app_context(), liveness.beating("worker", name=name):
                SimpleWorker.work(worker, max_jobs=1)  # RQ's own loop: it ends after one job

        threads.append(threading.Thread(target=run, daemon=True))
        threads[-1].start()
        until = time.monotonic() + 30  # a deadline, not a timing assertion
        while not (_registered(rq_queue, name) and _beaten(name)) and time.monotonic() < until:
            time.sleep(0.05)

    yield start
    for thread in threads:
        assert enqueue(rq_queue, utcnow)
        thread.join(timeout=30)
        assert not thread.is_alive()


def test_the_workers_page_shows_a_running_worker_and_the_schedule(live_server, admin, worker_thread):
    from playwright.sync_api import expect

    page = admin
    last_run = utcnow().replace(microsecond=0) - dt.timedelta(seconds=20)
    with db.connection_context():
        Heartbeat.touch(periodic.ROLE, "sweep-outbox", started_at=last_run, seen_at=last_run)
    scheduler.register(scheduler.make_scheduler(get_queue(), scheduler.ThreadScheduler))
    page.clock.install()
    page.goto(live_server + "/")
    page.get_by_role("link", name="Workers").click()
    expect(page.locator("#workers-table")).to_contain_text("No worker is taking jobs from the queue.")
    mark_page(page)

    worker_thread("browser-worker")
    page.clock.run_for(10_000)  # the page's one poll brings the worker in
    row = page.locator('tr[data-worker="browser-worker"]')
    expect(row.locator("td[data-label='Current job']")).to_have_text("idle")
    expect(row.locator("td[data-label='Last heartbeat']")).to_contain_text(" UTC")
    beat = page.locator('tr[data-process="worker browser-worker"]')
    expect(beat.locator("td[data-label=Status]")).to_have_text("ok")
    expect(beat.locator("td[data-label='Last heartbeat']")).to_contain_text(" UTC")

    sweep = page.locator('tr[data-job="sweep-outbox"]')
    expect(sweep.locator("td[data-label='Last run']")).to_have_text(utc(last_run))
    expect(sweep.locator("td[data-label='Next run']")).to_have_text(
        utc(last_run + dt.timedelta(seconds=periodic.JOBS_BY_NAME["sweep-outbox"].every())))
    for job in periodic.JOBS[1:]:  # never run: due now
        expect(page.locator(f'tr[data-job="{job.name}"] td[data-label="Next run"]')).to_contain_text(" UTC")
    for label in ("Jobs queued", "Drains queued", "Drains running"):
        expect(page.locator(f'[data-count="{label}"] .n')).to_have_text("0")
    assert_not_reloaded(page)
    shoot(page, "workers")
