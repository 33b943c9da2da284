"""Backfills through bulk operations: Shopify runs the query, shopsync streams and applies the JSONL.

A run starts each bulk query of its resource in turn (`shopify.bulk.PARTS`); while another
bulk query holds the shop's limit it waits its turn (queued) instead of failing. It learns
that an operation ended from the `bulk_operations/finish` webhook, and asks Shopify every
BULK_POLL_SECONDS in case the webhook is lost. The result is read as a stream and applied a
page at a time through the one apply path; the orders a bulk query cannot read whole (those
with refunds or fulfillments: `Part.whole`) get those fetched by id and put in (`Part.fill`;
an order of which some no longer come back is fetched whole by id), and are applied in the
same page. After each page the run
stores the lines and bytes applied, so a run that stops resumes at that line while the URL is
valid (7 days), and starts the operation again after that; the records of lines an earlier
operation already applied are applied again but not counted again in the run's totals. A
worker asked to stop hands the run over at the next page, or at once while it waits for the
operation, which goes on in Shopify (backfill.hand_over). The
next page is read, joined, mapped (and its whole orders fetched) in a thread while the
current one is written.
"""

import contextlib
import datetime as dt
import logging
import time

from flask import current_app

from shopsync import backfill, queue
from shopsync.bulk_run import ACTIVE, BulkRun, BulkStatus
from shopsync.db import db, utcnow, write_transaction
from shopsync.models import BackfillRun, RunStatus
from shopsync.shopify import AdminClient, ShopifyError, app_client, mapping
from shopsync.shopify.bulk import PARTS, BulkClient, ResultGone, nodes, record
from shopsync.topics import RESOURCES

log = logging.getLogger(__name__)
STEP_SECONDS = 0.5  # how often the run looks for the webhook's word, or a cancel
PAGE = 250  # records applied per transaction
URL_LIFETIME = dt.timedelta(days=7)
URL_MARGIN = dt.timedelta(hours=1)  # a URL this close to expiring is not started on
CANCEL_WAIT = dt.timedelta(seconds=30)  # how long a cancelled run waits to see Shopify stop
RESTART = (BulkStatus.FAILED, BulkStatus.CANCELED, BulkStatus.EXPIRED)


def start(resource, since=None):
    """Create (or reopen) a bulk backfill of `resource` and queue it; return the run."""
    run = prepare_run(resource, since)
    if not backfill.enqueue(run_bulk_backfill, run.id):
        backfill.close(run, RunStatus.INTERRUPTED, "could not be queued: Redis is unreachable")
    return run


def prepare_run(resource, since=None):
    """Return the unfinished bulk backfill of `resource` and `since`, or a new one."""
    if resource not in RESOURCES:
        raise ValueError(f"cannot backfill {resource!r}: choose {', '.join(RESOURCES)}")
    resumable = backfill.unfinished(resource, since, bulk=True)
    if resumable is not None:
        return backfill.reopen(resumable)
    with db.atomic():
        run = BackfillRun.create(entity_type=resource, since=since)
        for part in PARTS[resource]:
            BulkRun.create(backfill=run, part=part.name)
    return run


def parts(run):
    """Return the BulkRuns of a run, in the order they run (a part since dropped, such as the
    orders' former `books`, which Shopify refused, is left out)."""
    names = [part.name for part in PARTS[run.entity_type]]
    return sorted((row for row in BulkRun.select().where(BulkRun.backfill == run)
                   if row.part in names), key=lambda r: names.index(r.part))


def run_bulk_backfill(run_id, client=None, on_progress=None, poll=None, step=STEP_SECONDS):
    """Run each bulk query of the run, apply its result, and close the run."""
    poll = poll or current_app.config["BULK_POLL_SECONDS"]
    with db.connection_context():
        run = BackfillRun.get_by_id(run_id)
        if run.status is not RunStatus.RUNNING:  # cancelled while it waited in the queue
            return run
        client = client or app_client()
        if not isinstance(client, AdminClient):
            backfill.close(run, RunStatus.FAILED, "bulk operations need SHOPIFY_ADMIN_API=graphql")
            return run
        bulk = BulkClient(client)
        try:
            if run.expected is None:
                run.expected = client.count(run.entity_type, created_at_min=run.since)
                run.save(only=[BackfillRun.expected])
            for row, part in zip(parts(run), PARTS[run.entity_type], strict=True):
                if row.status is BulkStatus.APPLIED:
                    continue
                row = _finished_operation(run, row, part, bulk, poll, step)
                try:
                    if row is None or (row.url and not _apply(run, row, part, client, bulk,
                                                              on_progress)):
                        return BackfillRun.get_by_id(run.id)  # cancelled
                except ResultGone:
                    _save(row, status=BulkStatus.EXPIRED)  # the next start runs it again
                    raise
                if row.status is not BulkStatus.COMPLETED:
                    if backfill.cancelled(run):  # Shopify stopped it as the run was cancelled
                        return BackfillRun.get_by_id(run.id)
                    backfill.close(run, RunStatus.FAILED, describe(row))
                    return run
                _save(row, status=BulkStatus.APPLIED)
        except queue.Stopping:
            backfill.hand_over(run, run_bulk_backfill)
            return BackfillRun.get_by_id(run.id)
        except (ShopifyError, KeyboardInterrupt) as exc:
            status = RunStatus.INTERRUPTED if isinstance(exc, KeyboardInterrupt) else RunStatus.FAILED
            backfill.close(run, status, f"{type(exc).__name__}: {exc}")
            if isinstance(exc, KeyboardInterrupt):
                raise
            return run
        if run.fetched != run.stored + run.failed:
            backfill.close(run, RunStatus.FAILED, f"fetched {run.fetched} records but stored "
                                                  f"{run.stored} and sent {run.failed} to failed items")
        else:
            backfill.close(run, RunStatus.COMPLETED, None)
        return run


def describe(row):
    """Say why a bulk operation gave no complete result."""
    reason = f"bulk operation {row.operation_id} {row.status.value}"
    if row.error_code:
        reason += f" ({row.error_code})"
    if row.status is BulkStatus.FAILED and row.url:
        reason += f"; the {row.lines_applied} lines of its partial data were applied"
    return reason + "; starting the backfill again runs a new operation"


def _save(row, **changes):
    for name, value in changes.items():
        setattr(row, name, value)
    row.updated_at = utcnow()
    row.save()
    return row


def _record(row, operation):
    """Copy what Shopify says of an operation onto its row."""
    status = BulkStatus(operation["status"].lower())
    url = operation.get("url") or operation.get("partialDataUrl")
    changes = {"operation_id": operation["id"], "status": status,
               "error_code": operation.get("errorCode"),
               "object_count": int(operation.get("objectCount") or 0)}
    if url and url != row.url:
        changes.update(url=url, url_expires_at=utcnow() + URL_LIFETIME)
    if status not in ACTIVE and row.finished_at is None:
        changes["finished_at"] = utcnow()
    return _save(row, **changes)


def _usable(row):
    """Tell whether a row's result can still be read (or its operation is still going)."""
    if row.status in RESTART:
        return False
    if row.status in (BulkStatus.COMPLETED, BulkStatus.FAILED):
        return row.url_expires_at is not None and row.url_expires_at - URL_MARGIN > utcnow()
    return True


def _finished_operation(run, row, part, bulk, poll, step):
    """Start (or find again) the part's operation and wait until it ends; return its row,
    or None when the run was cancelled; raise queue.Stopping at once if this worker is asked to
    stop (the operation goes on, for the next worker to find)."""
    if not _usable(row):  # resuming after a failure, a cancel or an expired URL: run it again
        row = _save(row, operation_id=None, status=BulkStatus.QUEUED, error_code=None,
                    object_count=0, url=None, url_expires_at=None, lines_applied=0,
                    byte_offset=0, finished_at=None)
    asked = None
    while True:
        if backfill.cancelled(run):
            if row.operation_id and row.status in ACTIVE \
                    and BackfillRun.get_by_id(run.id).status is not RunStatus.RUNNING:
                _cancel(row, bulk, step)  # cancelled, not taken over by another job
            return None
        queue.hand_over_point()
        if row.status is BulkStatus.QUEUED:
            operation = bulk.run_query(part, run.since)
            if operation is not None:
                row, asked = _record(row, operation), time.monotonic()
            elif row.operation_id is None:
                log.info("bulk %s of backfill %d queued: another bulk query is running",
                         part.name, run.id)
        elif row.status not in ACTIVE:
            return row
        elif asked is None or row.finished_at or time.monotonic() - asked >= poll:
            row, asked = _record(row, bulk.operation(row.operation_id)), time.monotonic()
            if row.status not in ACTIVE:
                return row
        BackfillRun.update(updated_at=utcnow()).where(BackfillRun.id == run.id).execute()
        queue.stopping.wait(step if row.status is not BulkStatus.QUEUED else poll)
        row = BulkRun.get_by_id(row.id)


def _cancel(row, bulk, step):
    """Cancel an operation in Shopify and wait (CANCEL_WAIT at most) until it has stopped."""
    operation = bulk.cancel(row.operation_id)
    if operation:
        row = _record(row, operation)
    deadline = time.monotonic() + CANCEL_WAIT.total_seconds()
    while row.status in ACTIVE and time.monotonic() < deadline:
        time.sleep(step)
        row = _record(row, bulk.operation(row.operation_id))


def _apply(run, row, part, client, bulk, on_progress):
    """Apply the operation's result from its last applied line on; False if cancelled."""
    with contextlib.closing(backfill.prefetched(_pages(row, part, client, bulk))) as pages:
        for page, lines, offset in pages:
            _apply_page(run, row, page, lines, offset, on_progress)
            if backfill.cancelled(run):
                return False
            queue.hand_over_point()
    return True


def _pages(row, part, client, bulk):
    """Yield the result's pages from its last applied line on: ([(record, counted)], lines
    applied after it, byte offset after it), PAGE records each (the last one fewer).

    A page holds the records of the file and those of the nodes `part` says to fetch whole,
    fetched by id. `counted`: the record's node ends within the lines an earlier operation of
    the part already put in the run's totals (`lines_counted`); those come first.
    """
    base_lines, base_bytes, already = row.lines_applied, row.byte_offset, row.lines_counted
    page, whole = [], []
    for node, count, size in nodes(bulk.lines(row.url, base_bytes, base_lines)):
        counted = base_lines + count <= already
        if part.lacks_items(node):
            whole.append((node, counted))
        else:
            page.append((record(part, node), counted))
        if len(page) + len(whole) >= PAGE:
            yield _with_whole(client, part, page, whole), base_lines + count, base_bytes + size
            page, whole = [], []
    if page or whole:
        yield _with_whole(client, part, page, whole), base_lines + count, base_bytes + size


def _with_whole(client, part, page, whole):
    """Return the page with the records of the nodes `whole` ([(node, counted)]) made whole,
    those counted before first: their lists' items fetched by id and put in, or, for an
    order some of whose items no longer come back (deleted meanwhile), the order fetched whole."""
    if whole:
        counted = {mapping.legacy_id(node): seen for node, seen in whole}
        filled, missing = part.fill(client, [node for node, _ in whole])
        page = page + [(record(part, node), counted[mapping.legacy_id(node)]) for node in filled]
        if missing:
            page += [(found, counted[found["id"]]) for found in
                     client.iter_records(part.resource, ids=missing, limit=PAGE)]
    return sorted(page, key=lambda item: not item[1])


def _apply_page(run, row, page, lines, offset, on_progress):
    """Apply one page of records and record how far the run got, all in one transaction;
    count in the run's totals only the records not counted before."""
    counted = sum(seen for _, seen in page)
    with write_transaction():
        backfill.apply_page(run, RESOURCES[run.entity_type], [record for record, _ in page],
                            counted=counted)
        _save(row, lines_applied=lines, byte_offset=offset,
              lines_counted=max(row.lines_counted, lines))
    if on_progress and len(page) > counted:
        on_progress(run, len(page) - counted)


def cancel_operations(run_id):
    """Ask Shopify to cancel the run's bulk operations still going; return the error, or None.

    The run itself notices its cancel within STEP_SECONDS and does the same; this reaches
    Shopify even when no worker is running it.
    """
    going = [row for row in BulkRun.select().where(BulkRun.backfill == run_id)
             if row.operation_id and row.status in ACTIVE]
    if not going:
        return None
    try:
        bulk = BulkClient(app_client())
        for row in going:
            operation = bulk.cancel(row.operation_id)
            if operation:
                _record(row, operation)
    except (ShopifyError, ValueError) as exc:
        return f"{type(exc).__name__}: {exc}"
    return None
