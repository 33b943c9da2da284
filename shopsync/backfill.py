"""Backfills: page through the Admin API and apply every record through the one sync path.

A run keeps its position (the last Shopify id of the last finished page), so an
interrupted backfill resumes from there: pages are fetched with `since_id`, in id order.
A worker asked to stop (a deploy, a dyno restart) hands its run over at the next page, or
while it waits for one: the run is queued again at once, and the next worker goes on from
its position (`hand_over`).
"""

import datetime as dt
import logging
import threading
from concurrent.futures import Future, wait

from shopsync import queue
from shopsync.bulk_run import BulkRun
from shopsync.db import db, utcnow
from shopsync.ingest import apply_records
from shopsync.models import BackfillRun, RunStatus
from shopsync.shopify import ShopifyError, app_client
from shopsync.topics import RESOURCES

log = logging.getLogger(__name__)
# A running backfill whose progress is older than this has lost its process.
STALE_AFTER = dt.timedelta(minutes=5)
JOB_TIMEOUT = 24 * 3600
# How often a job waiting for its next page looks whether its worker is asked to stop.
WAIT_STEP = 0.5


def start_backfill(resource, since=None):
    """Create (or reopen) a backfill run for `resource` and queue it; return the run.

    When Redis cannot take the job the run is left interrupted, so the next start resumes it.
    """
    run = prepare_run(resource, since)
    if not enqueue(run_backfill, run.id):
        close(run, RunStatus.INTERRUPTED, "could not be queued: Redis is unreachable")
    return run


def enqueue(job, run_id):
    """Queue `job(run_id)` (run_backfill or run_bulk_backfill) on the long queue; return False
    when Redis is unreachable."""
    return queue.enqueue(queue.get_long_queue(), job, run_id, job_timeout=JOB_TIMEOUT)


def running(resource):
    """Return the run of `resource` that is queued or going (progress within STALE_AFTER), or None."""
    return BackfillRun.select().where(
        (BackfillRun.entity_type == resource) & (BackfillRun.status == RunStatus.RUNNING)
        & (BackfillRun.updated_at >= utcnow() - STALE_AFTER)).first()


def prepare_run(resource, since=None):
    """Return the unfinished run of `resource` and `since` to resume, or a new one."""
    if resource not in RESOURCES:
        raise ValueError(f"cannot backfill {resource!r}: choose {', '.join(RESOURCES)}")
    resumable = unfinished(resource, since, bulk=False)
    if resumable is None:
        return BackfillRun.create(entity_type=resource, since=since)
    return reopen(resumable)


def _lost(now):
    """Return the condition of a run still running without progress for STALE_AFTER at `now`:
    its process died."""
    return (BackfillRun.status == RunStatus.RUNNING) & (BackfillRun.updated_at < now - STALE_AFTER)


def _bulk():
    """Return the condition of a run of bulk operations."""
    return BackfillRun.id.in_(BulkRun.select(BulkRun.backfill))


def lost_runs(now):
    """Return the runs whose process died (no progress for STALE_AFTER at `now`), each with
    `bulk`: whether it is a run of bulk operations."""
    return BackfillRun.select(BackfillRun, _bulk().alias("bulk")).where(_lost(now))


def unfinished(resource, since, bulk):
    """Return the latest run of `resource` and `since` that stopped before the end (or whose
    process died), of bulk operations or not, or None."""
    return BackfillRun.select().where(
        (BackfillRun.entity_type == resource)
        & (BackfillRun.since.is_null() if since is None else BackfillRun.since == since)
        & (BackfillRun.status.in_([RunStatus.INTERRUPTED, RunStatus.FAILED]) | _lost(utcnow()))
        & (_bulk() if bulk else ~_bulk())
    ).order_by(BackfillRun.id.desc()).first()


def reopen(run):
    """Mark an unfinished run running again (by a person: its automatic resumes start over)
    and return it."""
    run.status, run.error, run.updated_at = RunStatus.RUNNING, None, utcnow()
    run.resumes, run.resumed_at = 0, None
    run.save()
    return run


def _stored_count(model, ids):
    """Count how many of `ids` the ERP now holds."""
    return model.select().where(model.shopify_id.in_(ids)).count()


def run_backfill(run_id, client=None, on_page=None):
    """Fetch every record from the run's position on, apply each, and close the run."""
    with db.connection_context():
        run = BackfillRun.get_by_id(run_id)
        if run.status is not RunStatus.RUNNING:  # cancelled while it waited in the queue
            return run
        topic = RESOURCES[run.entity_type]
        client = client or app_client()
        try:
            if run.expected is None:
                run.expected = client.count(run.entity_type, created_at_min=run.since)
                run.save()
            pages = client.iter_pages(run.entity_type, since_id=run.position or None,
                                      created_at_min=run.since)
            for page in prefetched(pages):
                apply_page(run, topic, page)
                if on_page:
                    on_page(run, len(page))
                if cancelled(run):
                    return BackfillRun.get_by_id(run.id)
                queue.hand_over_point()
        except queue.Stopping:
            hand_over(run, run_backfill)
            return BackfillRun.get_by_id(run.id)
        except (ShopifyError, KeyboardInterrupt) as exc:
            status = RunStatus.INTERRUPTED if isinstance(exc, KeyboardInterrupt) else RunStatus.FAILED
            close(run, status, f"{type(exc).__name__}: {exc}")
            if isinstance(exc, KeyboardInterrupt):
                raise
            return run
        if run.fetched != run.stored + run.failed:
            close(run, RunStatus.FAILED, f"fetched {run.fetched} records but stored {run.stored} "
                                          f"and sent {run.failed} to failed items")
        else:
            close(run, RunStatus.COMPLETED, None)
        return run


def prefetched(pages):
    """Yield each page while the next one is being fetched in a thread.

    Waiting for a page raises queue.Stopping once this process's worker is asked to stop; a
    fetch then in flight is left to end on its own (it writes nothing), and the process may
    exit before it does.
    """
    upcoming = _fetching(pages)
    try:
        while (page := _awaited(upcoming)) is not None:
            upcoming = _fetching(pages)
            yield page
    finally:
        if not queue.stopping.is_set():
            wait([upcoming])  # the fetch in flight ends before the run goes on or ends


def _fetching(pages):
    """Return a Future of the next page (None after the last), fetched in a daemon thread."""
    future: Future = Future()

    def fetch():
        try:
            future.set_result(next(pages, None))
        except BaseException as exc:  # raised again where the page is awaited
            future.set_exception(exc)

    threading.Thread(target=fetch, name="backfill-fetch", daemon=True).start()
    return future


def _awaited(future):
    """Return the future's result, raising queue.Stopping meanwhile if this worker is asked to stop."""
    while not wait([future], timeout=WAIT_STEP).done:
        queue.hand_over_point()
    return future.result()


def apply_page(run, topic, page, counted=0):
    """Apply one page of records and record the run's progress.

    The first `counted` records are already in the run's totals (a bulk operation run again):
    they are applied but not counted again.
    """
    results = apply_records(topic.entity_type, page)[counted:]
    fresh = [record["id"] for record in page[counted:]]
    failed = sum(result is None for result in results)
    stored = _stored_count(topic.model, fresh) if fresh else 0
    run.fetched += len(fresh)
    run.failed += failed
    run.stored += min(stored, len(fresh) - failed)
    if page:
        run.position = max(record["id"] for record in page)
    run.updated_at = utcnow()
    run.save(only=[BackfillRun.fetched, BackfillRun.failed, BackfillRun.stored,
                   BackfillRun.position, BackfillRun.updated_at])  # never undo a cancel


def cancel(run_id, by):
    """Stop a running backfill after its current page; False if it was not running.

    The run is left interrupted, so starting a backfill of the same records resumes it.
    """
    now = utcnow()
    return BackfillRun.update(status=RunStatus.INTERRUPTED, error=f"cancelled by {by}",
                              finished_at=now, updated_at=now).where(
        (BackfillRun.id == run_id) & (BackfillRun.status == RunStatus.RUNNING)).execute() == 1


def cancelled(run):
    """Tell whether someone cancelled the run since it started, or another job took it over
    (it was resumed, by the sweeper or a person, as if this job's worker had died)."""
    current = BackfillRun.get_by_id(run.id)
    return current.status is not RunStatus.RUNNING or current.resumed_at != run.resumed_at


def hand_over(run, job):
    """Queue `job(run.id)` again for the next worker, this one being asked to stop
    (queue.Stopping) with the run's progress saved; the job then ends.

    The run stays running and its automatic resumes are not counted. If Redis refuses the job,
    the run is left to the sweep, which resumes it as if its worker had died (shopsync.resume).
    """
    if enqueue(job, run.id):
        now = utcnow()
        BackfillRun.update(handed_over_at=now, updated_at=now).where(
            BackfillRun.id == run.id).execute()
        log.warning("backfill #%d of %s handed over at id %d: its worker is stopping", run.id,
                    run.entity_type, run.position)
    else:
        log.error("backfill #%d of %s stops with its worker and could not be queued again: "
                  "the sweep resumes it", run.id, run.entity_type)


def close(run, status, error):
    """Finish a run with `status`."""
    run.status, run.error, run.finished_at = status, error, utcnow()
    run.updated_at = run.finished_at
    run.save()
    log.log(logging.INFO if status is RunStatus.COMPLETED else logging.ERROR,
            "backfill %s %s: fetched %d, stored %d, failed %d%s", run.entity_type, status.value,
            run.fetched, run.stored, run.failed, f" ({error})" if error else "")
