"""Long jobs (backfills, full and deep reconciliations) run on a queue of their own, so webhooks
are applied while one runs: `python worker.py` works both queues."""

import glob
import os
import signal
import socket
import subprocess
import time

import pytest
import requests
from rq import Worker

from shopsync import backfill, bulk_backfill, outbox, periodic, scheduler, worker_process
from shopsync.db import db, utcnow
from shopsync.models import BackfillRun, Customer, Heartbeat, RunStatus
from shopsync.queue import get_long_queue, get_queue
from shopsync.reconciliation import runs
from shopsync.testing.processes import wait_until
from tests.helpers import ADMIN_TOKEN, encode, headers, order


def _functions(rq_queue):
    return [job.func_name.rsplit(".", 1)[-1] for job in rq_queue.get_jobs()]


@pytest.mark.parametrize("start, function", [
    (lambda: backfill.start_backfill("orders"), "run_backfill"),
    (lambda: bulk_backfill.start("orders"), "run_bulk_backfill"),
    (lambda: runs.start_reconciliation("orders"), "run_full"),
])
def test_long_jobs_are_queued_on_the_long_queue(app, start, function):
    with db.connection_context():
        start()
    assert _functions(get_long_queue()) == [function]
    assert get_queue().count == 0


def test_drains_are_queued_on_the_short_queue(app):
    assert outbox.wake(get_queue())
    assert _functions(get_queue()) == ["drain"] and get_long_queue().count == 0


def test_long_periodic_jobs_are_scheduled_on_the_long_queue(app):
    sched = scheduler.make_scheduler(get_queue(), scheduler.ThreadScheduler)
    scheduler.register(sched)
    origins = {job.id: job.origin for job in sched.get_jobs()}
    for job in periodic.JOBS:
        assert origins[job.id] == (get_long_queue() if job.long else get_queue()).name, job.name
    assert {job.name for job in periodic.JOBS if job.long} == {"reconcile-full", "reconcile-deep"}


def test_a_schedule_of_the_previous_version_moves_to_the_long_queue(app):
    sched = scheduler.make_scheduler(get_queue(), scheduler.ThreadScheduler)
    full = periodic.JOBS_BY_NAME["reconcile-full"]
    sched.schedule(scheduled_time=utcnow(), func="shopsync.attempts.run", args=[full.name],
                   interval=full.every(), id=full.id, queue_name=get_queue().name)  # as it was
    scheduler.register(sched)
    [job] = [job for job in sched.get_jobs() if job.id == full.id]
    assert job.origin == get_long_queue().name


def test_worker_refuses_an_unknown_queue():
    with pytest.raises(SystemExit, match="usage: python worker.py"):
        worker_process.main(["everything"])


def _erp_order(url, shopify_id):
    response = requests.get(f"{url}/api/admin/orders/{shopify_id}",
                            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=5)
    return response.status_code == 200


@pytest.mark.services
def test_a_webhook_is_applied_while_a_long_backfill_runs(processes, serve):
    # A store behind a slow rate limit: its backfill takes about a minute.
    shop = serve(bucket_size=1, leak_rate=0.2)
    url = processes.web()
    processes.worker(SHOPIFY_SHOP=shop.shop, SHOPIFY_API_BASE_URL=shop.base_url,
                     SHOPIFY_ACCESS_TOKEN=shop.access_token, SHOPIFY_ADMIN_API="rest")
    with db.connection_context():
        run = backfill.start_backfill("orders")

    def begun():
        with db.connection_context():
            return BackfillRun.get_by_id(run.id).expected is not None

    wait_until(begun, message="the worker to start the backfill")
    body = encode(order())
    response = requests.post(f"{url}/webhooks/shopify", data=body,
                             headers=headers(body, "orders/create"), timeout=10)
    assert response.json()["status"] == "accepted"
    wait_until(lambda: _erp_order(url, order()["id"]), timeout=20,
               message="the webhook's order in the ERP while the backfill runs")
    with db.connection_context():
        assert BackfillRun.get_by_id(run.id).status is RunStatus.RUNNING
        backfill.cancel(run.id, "the test")


def _gone(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


@pytest.mark.services
def test_worker_runs_one_worker_per_queue_restarts_its_child_and_passes_sigterm_on(processes):
    worker = processes.worker()
    long_queue = get_long_queue()
    [child] = wait_until(lambda: Worker.all(queue=long_queue), message="the long queue's worker")
    assert wait_until(lambda: Worker.all(queue=get_queue()), message="the short queue's worker")
    assert child.pid != worker.pid

    os.kill(child.pid, signal.SIGKILL)  # dies on its own: started again
    [restarted] = wait_until(lambda: [w for w in Worker.all(queue=long_queue) if w.pid != child.pid],
                             timeout=worker_process.RESTART_SECONDS + 30, message="a new long worker")

    def beats():
        with db.connection_context():
            return {(row.name, row.stopped_at is not None) for row in Heartbeat.select()
                    .where(Heartbeat.role == "worker")}

    name = f"{socket.gethostname()}:{worker.pid}"
    assert wait_until(lambda: {(name, False), (f"{name}-long", False)} <= beats(),
                      message="both workers' heartbeats")

    worker.send_signal(signal.SIGTERM)  # to the parent alone: it passes it on
    assert worker.wait(timeout=30) == 0
    assert _gone(restarted.pid)
    assert {(name, True), (f"{name}-long", True)} <= beats()


@pytest.mark.services
def test_the_long_worker_stops_when_its_parent_is_killed_outright(processes):
    worker = processes.worker()
    wait_until(lambda: Worker.all(queue=get_long_queue()), message="the long queue's worker")
    worker.kill()
    wait_until(lambda: not Worker.all(queue=get_long_queue()), timeout=15,
               message="the orphaned long worker to stop")


def _long_worker(own_processes, parent_pid):
    """Start `python worker.py long` as worker.py starts it, told its parent is `parent_pid`."""
    return own_processes.spawn("worker.py", "long", **{worker_process.PARENT_NAME: "worker.9",
                                                       worker_process.PARENT_PID: str(parent_pid)})


def _long_beats():
    """Return, for each heartbeat of that long worker, whether it notes a clean stop."""
    with db.connection_context():
        return [(row.stopped_at is not None) for row in Heartbeat.select()
                .where((Heartbeat.role == "worker") & (Heartbeat.name == "worker.9-long"))]


def test_the_long_worker_stops_at_once_when_its_parent_died_while_it_started(own_processes):
    gone = subprocess.Popen(["true"])  # the parent: killed before its child could look at it
    gone.wait()
    child = _long_worker(own_processes, gone.pid)  # adopted by another (here, this test)
    assert child.wait(timeout=30) == 0
    assert _long_beats() == []  # it never worked


def test_the_long_worker_keeps_working_while_its_parent_lives(own_processes):
    child = _long_worker(own_processes, os.getpid())
    wait_until(lambda: _long_beats() == [False], message="the long worker's heartbeat")
    time.sleep(3 * worker_process.ORPHAN_CHECK_SECONDS)
    assert child.poll() is None
    child.terminate()
    assert child.wait(timeout=30) == 0 and _long_beats() == [True]


def _children(pid):
    """Return the pids of the processes whose parent is `pid`."""
    found = []
    for stat in glob.glob("/proc/[0-9]*/stat"):
        try:
            with open(stat) as file:
                fields = file.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # gone meanwhile
        if int(fields[1]) == pid:
            found.append(int(stat.split("/")[2]))
    return found


def _running(pid):
    """Tell whether `pid` runs (a zombie left to a parent that does not reap it does not)."""
    try:
        with open(f"/proc/{pid}/stat") as file:
            return file.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="reads the process table in /proc (Linux)")
def test_the_long_worker_stops_when_its_parent_is_killed_while_it_starts(own_processes):
    worker = own_processes.worker()
    [child] = wait_until(lambda: _children(worker.pid), interval=0.01, message="the long worker")
    worker.kill()  # long before the child's imports are done
    try:
        wait_until(lambda: not _running(child), timeout=30, message="the orphaned long worker to stop")
    finally:
        if _running(child):
            os.kill(child, signal.SIGKILL)


@pytest.mark.services
def test_a_backfill_cut_with_its_worker_resumes_on_the_next(processes, serve):
    from shopsync.simulator import Store

    # 300 customers: two pages, about 5 s apart.
    shop = serve(Store.generate(seed=1, orders=0, products=0, customers=300), bucket_size=1, leak_rate=0.2)
    env = {"SHOPIFY_SHOP": shop.shop, "SHOPIFY_API_BASE_URL": shop.base_url,
           "SHOPIFY_ACCESS_TOKEN": shop.access_token, "SHOPIFY_ADMIN_API": "rest"}
    worker = processes.worker(**env)
    [child] = wait_until(lambda: Worker.all(queue=get_long_queue()), message="the long queue's worker")
    with db.connection_context():
        run = backfill.start_backfill("customers")

    def position():
        with db.connection_context():
            return BackfillRun.get_by_id(run.id).position

    wait_until(position, message="the first page applied")
    for pid in (worker.pid, child.pid):  # Heroku's SIGKILL at the end of the grace
        os.kill(pid, signal.SIGKILL)
    with db.connection_context():
        BackfillRun.update(updated_at=utcnow() - backfill.STALE_AFTER).where(
            BackfillRun.id == run.id).execute()  # as the dyno's restart finds it, minutes later
        assert backfill.start_backfill("customers").id == run.id
    processes.worker(**env)

    def completed():
        with db.connection_context():
            return BackfillRun.get_by_id(run.id).status is RunStatus.COMPLETED

    wait_until(completed, timeout=60, message="the resumed backfill to complete")
    with db.connection_context():
        done = BackfillRun.get_by_id(run.id)
        assert done.fetched == done.stored == Customer.select().count() == 300
