"""RQ worker entry point: `python worker.py [short|long]` (both queues when none is named)."""

import os
import sys

from shopsync import create_app_or_exit, worker_process

# Workers yield the CPU to the web processes they share a machine with: a webhook must be
# answered within Shopify's 5 s however long the queue is (docs/BENCHMARKS.md, ingest).
NICENESS = 10

if __name__ == "__main__":
    os.nice(max(0, NICENESS - os.nice(0)))  # at least NICENESS; the long queue's child is born niced
    app = create_app_or_exit()
    with app.app_context():
        # SimpleWorker runs jobs in this process: a third of the forking worker's cost per job,
        # and every job opens its own database connection, so nothing is shared across forks.
        worker_process.main(sys.argv[1:])
