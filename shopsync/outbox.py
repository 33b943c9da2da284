"""The outbox: stored webhooks wait as pending rows until a drain job applies them.

A webhook row is committed before anything reaches Redis. The delivery then only makes sure
a drain job is queued, which costs one Redis command while one already is; a drain applies
pending webhooks a batch at a time until none is left. A Redis outage, a lost job or a
worker killed mid-batch leaves rows pending, and the sweeper queues a drain for them.

Why no delivery is left behind: a drain lowers the "drain queued" flag before it claims
anything, so a delivery that finds the flag raised was committed before a queued drain
starts, and that drain will see it; a delivery that finds it lowered queues a drain itself.
"""

import datetime as dt
import logging
import time
import uuid

from flask import current_app
from redis.exceptions import RedisError
from rq import Queue

from shopsync import pause, pending, periodic, queue
from shopsync.db import INFRASTRUCTURE_ERRORS, db, utcnow
from shopsync.models import WebhookLog, WebhookStatus

log = logging.getLogger(__name__)
# A pending webhook younger than this (times SHOPSYNC_SCHEDULE_SCALE) is left to the drain its
# delivery queued.
GRACE = dt.timedelta(minutes=1)
# A drain hands over to a fresh job after this many seconds, well inside its RQ timeout.
DRAIN_SECONDS = 10
DRAIN_TIMEOUT = 300
# The flag expires on its own, so a drain job lost before it started delays the next by this much.
FLAG_TTL = 30
# Attempts at one batch before a drain gives up (a deadlock with another drain, a dropped connection).
BATCH_ATTEMPTS = 3
JOB_PREFIX = "drain-"


def _flag(rq_queue):
    """Return the Redis key raised while a drain job is queued and not yet started."""
    return f"shopsync:drain-queued:{rq_queue.name}"


def wake(rq_queue: Queue) -> bool:
    """Make sure a drain job is queued; False when Redis cannot take it."""
    try:
        if not rq_queue.connection.set(_flag(rq_queue), 1, nx=True, ex=FLAG_TTL):
            return True
    except RedisError as exc:
        log.warning("could not reach Redis, webhooks left for the sweeper: %s", exc)
        return False
    if _enqueue_drain(rq_queue):
        return True
    _lower_flag(rq_queue)  # so that the next delivery tries again
    return False


def _enqueue_drain(rq_queue):
    """Queue one drain job; False when Redis cannot take it."""
    return queue.enqueue(rq_queue, drain, job_id=f"{JOB_PREFIX}{uuid.uuid4().hex}",
                         job_timeout=DRAIN_TIMEOUT)


def _lower_flag(rq_queue):
    """Lower the "drain queued" flag, if Redis can be reached."""
    try:
        rq_queue.connection.delete(_flag(rq_queue))
    except RedisError as exc:
        log.warning("could not lower the drain flag: %s", exc)


def drain(batch_size: int = pending.BATCH_SIZE) -> int:
    """Apply pending webhooks a batch at a time until none is left; return how many were claimed."""
    rq_queue = queue.get_queue()
    _lower_flag(rq_queue)  # deliveries from now on queue another drain
    if pause.is_paused():  # held; resuming queues a drain
        return 0
    deadline = time.monotonic() + DRAIN_SECONDS
    # Resting after each batch (SHOPSYNC_DRAIN_REST_RATIO times as long as it took) leaves
    # the database to web processes on the same machine: the worker's niceness does not reach
    # its database backend.
    rest_ratio = current_app.config["DRAIN_REST_RATIO"]
    claimed = 0
    while True:
        began = time.monotonic()
        batch = _apply_batch(batch_size)
        claimed += batch
        if batch < batch_size:
            return claimed
        wake(rq_queue)  # more is waiting: an idle worker can join in, or take over after the deadline
        if time.monotonic() > deadline:
            return claimed
        if rest_ratio:
            time.sleep((time.monotonic() - began) * rest_ratio)


def _apply_batch(batch_size):
    """Apply one batch, trying again after an infrastructure error; return how many were claimed."""
    for attempt in range(1, BATCH_ATTEMPTS + 1):
        try:
            return pending.apply_pending(batch_size)
        except INFRASTRUCTURE_ERRORS as exc:
            if attempt == BATCH_ATTEMPTS:
                raise
            log.warning("batch of webhooks rolled back (%s), trying again", exc)
            time.sleep(0.1 * 2 ** attempt)


def sweep() -> int:
    """Queue a drain if webhooks wait past the grace period and none is queued; return how many wait."""
    cutoff = utcnow() - periodic.scaled(GRACE)
    with db.connection_context():
        waiting = WebhookLog.select().where(
            (WebhookLog.status == WebhookStatus.PENDING) & (WebhookLog.received_at < cutoff)
        ).count()
    rq_queue = queue.get_queue()
    if not waiting or any(job_id.startswith(JOB_PREFIX) for job_id in rq_queue.get_job_ids()):
        return 0
    return waiting if _enqueue_drain(rq_queue) else 0
