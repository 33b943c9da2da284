"""CSV exports: the failed items a listing shows, and the ids a reconciliation report names."""

import csv
import io

from flask import Response, stream_with_context

from shopsync import dlq
from shopsync.auth import login_required
from shopsync.dashboard import bp, get_or_404
from shopsync.dashboard.failed import LIST_COLUMNS, filters
from shopsync.dashboard.reconcile import id_lists
from shopsync.models import FailedSyncItem, ReconciliationReport
from shopsync.wording import reason

FAILED_COLUMNS = ("id", "entity", "shopify_id", "topic", "status", "retries", "error",
                  "raw_error", "created_at", "updated_at", "next_retry_at")


def _csv(rows, filename):
    """Stream `rows` (the header first) as a CSV download."""
    def lines():
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        for row in rows:
            writer.writerow(row)
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()

    return Response(stream_with_context(lines()), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


def _time(value):
    return value.isoformat() if value else ""


@bp.get("/failed-items.csv")
@login_required
def failed_items_csv():
    """Download every failed item the listing's filters select, newest first."""
    status, entity, text = filters()
    query = dlq.listing(status, entity, text, LIST_COLUMNS).order_by(FailedSyncItem.id.desc())

    def rows():
        yield FAILED_COLUMNS
        for item in query.iterator():
            yield (item.id, item.entity_type, item.shopify_id or "", item.topic or "",
                   item.state, item.retry_count, reason(item.error_message),
                   item.error_message, _time(item.created_at), _time(item.updated_at),
                   _time(item.next_retry_at))

    return _csv(rows(), f"failed-items-{status}.csv")


@bp.get("/reconciliation/<int:report_id>/ids.csv")
@login_required
def report_ids_csv(report_id):
    """Download the missing, extra, healed, failed and vanished ids a report names."""
    report = get_or_404(ReconciliationReport, report_id, "report")
    lists = id_lists(report, limit=None)
    rows = [("kind", "shopify_id")] + [(kind, i) for kind, ids, _ in lists for i in ids]
    return _csv(rows, f"reconciliation-{report.id}-{report.entity_type}.csv")
