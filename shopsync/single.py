"""No double runs: a second identical run is refused while one is queued or running.

`claim()` holds a short Redis lock around check-then-queue, so two quick submits cannot both
find nothing running; `in_flight()` looks for a queued or running job of the same function.
"""

import contextlib

from rq.job import Job
from rq.registry import StartedJobRegistry

# Long enough to cover one check-then-queue; the lock expires on its own if its holder dies.
CLAIM_SECONDS = 30


@contextlib.contextmanager
def claim(rq_queue, key):
    """Yield True if this caller holds `key` for the block, False if another caller does.

    Raises RedisError when Redis cannot be reached.
    """
    name = f"shopsync:claim:{rq_queue.name}:{key}"
    held = bool(rq_queue.connection.set(name, 1, nx=True, ex=CLAIM_SECONDS))
    try:
        yield held
    finally:
        if held:
            rq_queue.connection.delete(name)


def in_flight(rq_queue, func, *leading_args, started=True):
    """Tell whether a job calling `func` (with these first arguments) is queued or (unless
    `started` is False) running."""
    ids = rq_queue.get_job_ids()
    if started:
        ids += StartedJobRegistry(queue=rq_queue).get_job_ids()
    name = f"{func.__module__}.{func.__name__}"
    for job in Job.fetch_many(ids, connection=rq_queue.connection):
        if job is not None and job.func_name == name \
                and tuple(job.args[:len(leading_args)]) == leading_args:
            return True
    return False
