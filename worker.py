"""RQ worker entry point: `python worker.py`."""

import os

from shopsync import create_app_or_exit, liveness
from shopsync.queue import Worker, get_queue

# Workers yield the CPU to the web processes they share a machine with: a webhook must be
# answered within Shopify's 5 s however long the queue is (docs/BENCHMARKS.md, ingest).
NICENESS = 10

if __name__ == "__main__":
    os.nice(NICENESS)
    app = create_app_or_exit()
    with app.app_context(), liveness.beating("worker"):
        queue = get_queue()
        # SimpleWorker runs jobs in this process: a third of the forking worker's cost per job,
        # and every job opens its own database connection, so nothing is shared across forks.
        Worker([queue], connection=queue.connection).work()
