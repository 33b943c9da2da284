"""The outbox sweeper: stored webhooks that never reached a worker are queued again.

A webhook row is committed before its job is enqueued, so a Redis outage, a failed
enqueue or a worker killed mid-job leaves it pending. Each job has an id derived from its
webhook, so the sweeper can see whether one is still queued or running and never puts a
second copy beside it.
"""

import datetime as dt
import hashlib
import re

from rq.job import Job, JobStatus

from shopsync import queue
from shopsync.db import db, utcnow
from shopsync.jobs import process_webhook
from shopsync.models import WebhookLog, WebhookStatus

# A pending webhook younger than this is left to the enqueue that stored it.
GRACE = dt.timedelta(minutes=1)
# A webhook job is stopped after this many seconds; one "started" for longer lost its worker.
JOB_TIMEOUT = 60
SAFE_ID = re.compile(r"^[A-Za-z0-9_-]{1,100}$")


def job_id(webhook_id):
    """Return the RQ job id of a webhook's processing job."""
    if SAFE_ID.match(webhook_id):
        return f"webhook-{webhook_id}"
    return "webhook-" + hashlib.sha256(webhook_id.encode()).hexdigest()[:40]


def enqueue_webhook(rq_queue, webhook_id):
    """Queue the processing of a stored webhook; False when Redis cannot take it."""
    return queue.enqueue(rq_queue, process_webhook, webhook_id, job_id=job_id(webhook_id),
                         job_timeout=JOB_TIMEOUT)


def _is_alive(job, queued, now):
    """Tell whether a job is still in the queue, or running within its timeout.

    A job whose status says queued but whose id is not in the queue was lost between
    queue and worker (a worker killed mid-dequeue): it counts as dead.
    """
    if job is None:
        return False
    if job.id in queued:
        return True
    started = job.started_at and job.started_at.replace(tzinfo=dt.UTC)
    return job.get_status(refresh=False) == JobStatus.STARTED and started is not None and (
        now - started < dt.timedelta(seconds=JOB_TIMEOUT) + GRACE)


def sweep(batch_size=1000):
    """Queue every webhook pending past the grace period whose job is not queued or running."""
    rq_queue = queue.get_queue()
    cutoff = utcnow() - GRACE
    with db.connection_context():
        pending = [hook_id for (hook_id,) in WebhookLog.select(WebhookLog.id).where(
            (WebhookLog.status == WebhookStatus.PENDING) & (WebhookLog.received_at < cutoff)
        ).order_by(WebhookLog.received_at).limit(batch_size).tuples()]
    if not pending:
        return 0
    jobs = Job.fetch_many([job_id(h) for h in pending], connection=rq_queue.connection)
    queued = set(rq_queue.get_job_ids())
    requeued = 0
    now = utcnow()
    for hook_id, job in zip(pending, jobs, strict=True):
        if not _is_alive(job, queued, now):
            requeued += enqueue_webhook(rq_queue, hook_id)
    return requeued
