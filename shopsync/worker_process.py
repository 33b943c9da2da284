"""`python worker.py`: a worker on the short queue in this process, one on the long queue in a child.

No webhook waits behind a backfill or a reconciliation that runs for hours: those jobs go to
the long queue (shopsync.queue), which the child works while this process applies webhooks.
`python worker.py short` or `python worker.py long` works one queue alone, for deployments
that scale them apart.

SIGTERM or SIGINT asks this worker to stop after its current job and is passed on to the
child, which does the same, its long job handing its work over to the next worker at its next
step (queue.stopping); the process exits once both have. Heroku sends SIGTERM to every
process of a dyno, so the child may get it twice: RQ takes a repeat within a second as one.
A child that dies on its own is started again after RESTART_SECONDS; a child whose parent was
killed outright stops as on SIGTERM, leaving no worker behind. The parent hands the child its
pid, so a parent killed while the child was still starting is noticed too: such a child has
been adopted by pid 1 (or a subreaper) before it could look. A queue's worker started alone
(`python worker.py long`) watches no parent: it works until asked to stop.
"""

import functools
import logging
import os
import signal
import subprocess
import sys
import threading
import time

from shopsync import ROOT, liveness, queue

log = logging.getLogger(__name__)

KINDS = ("short", "long")
# A long queue's worker that died on its own is started again after this many seconds.
RESTART_SECONDS = 5
USAGE = "usage: python worker.py [short|long]  (both queues when none is named)"
# How often the child looks whether its parent is still there.
ORPHAN_CHECK_SECONDS = 1
# Set for the child: its parent's name, which the child's heartbeat carries (and a restarted child too).
PARENT_NAME = "SHOPSYNC_WORKER_PARENT"
# Set for the child: its parent's pid; the child stops once its parent is another process.
PARENT_PID = "SHOPSYNC_WORKER_PARENT_PID"


def heartbeat_name(kind):
    """Name the worker of queue `kind` in heartbeats: the process's (or its parent's) name, with
    "-long" for the long queue, e.g. worker.1 and worker.1-long."""
    name = os.environ.get(PARENT_NAME) or liveness.process_name()
    return name if kind == "short" else f"{name}-long"


def serve(kind, worker_class=queue.Worker, **options):
    """Work the queue `kind` until asked to stop, the worker's heartbeat recorded meanwhile."""
    with liveness.beating("worker", heartbeat_name(kind)):
        rq_queue = queue.get_queue() if kind == "short" else queue.get_long_queue()
        worker = worker_class([rq_queue], connection=rq_queue.connection)
        worker.work(**options)


def _orphaned(parent_pid):
    """Tell whether this process's parent, `parent_pid`, is gone (killed outright, never to
    forward a SIGTERM), and say so."""
    if os.getppid() == parent_pid:
        return False
    log.warning("the worker's parent process %d is gone: stopping", parent_pid)
    return True


def _stop_when_orphaned(parent_pid):
    """Send this process SIGTERM once its parent is gone: it stops after the current job."""
    while not _orphaned(parent_pid):
        time.sleep(ORPHAN_CHECK_SECONDS)
    os.kill(os.getpid(), signal.SIGTERM)


class Child:
    """`python worker.py long` in a child process, started again when it dies on its own."""

    def __init__(self):
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self.process = self._start()
        self._watcher = threading.Thread(target=self._watch, name="long-worker-watch", daemon=True)
        self._watcher.start()

    @staticmethod
    def _start():
        return subprocess.Popen([sys.executable, os.path.join(ROOT, "worker.py"), "long"],
                                env={**os.environ, PARENT_NAME: heartbeat_name("short"),
                                     PARENT_PID: str(os.getpid())})

    def _watch(self):
        while True:
            code = self.process.wait()
            if self._stopping.is_set():
                return
            log.warning("the long queue's worker (pid %d) exited with %s; starting it again in %d s",
                        self.process.pid, code, RESTART_SECONDS)
            if self._stopping.wait(RESTART_SECONDS):
                return
            with self._lock:
                if self._stopping.is_set():
                    return
                self.process = self._start()

    def stop(self):
        """Ask the child to stop after its current job (once; later calls do nothing)."""
        with self._lock:
            if self._stopping.is_set():
                return
            self._stopping.set()
            if self.process.poll() is None:
                self.process.send_signal(signal.SIGTERM)

    def wait(self):
        """Wait for the child to exit."""
        self._watcher.join()
        self.process.wait()


class ParentWorker(queue.Worker):
    """The short queue's worker, passing a request to stop on to the long queue's."""

    def __init__(self, *args, child, **options):
        super().__init__(*args, **options)
        self.child = child

    def request_stop(self, signum, frame):
        """Ask the child to stop too, then stop after the current job."""
        self.child.stop()
        super().request_stop(signum, frame)


def main(argv):
    """Work the queue named in `argv`, or both: the short one here, the long one in a child."""
    if len(argv) > 1 or (argv and argv[0] not in KINDS):
        raise SystemExit(USAGE)
    if argv:
        if os.environ.get(PARENT_PID):
            parent_pid = int(os.environ[PARENT_PID])
            if _orphaned(parent_pid):  # killed while this process started: it never works
                return
            threading.Thread(target=_stop_when_orphaned, args=(parent_pid,), name="orphan-watch",
                             daemon=True).start()
        serve(argv[0])
        return
    child = Child()
    try:
        serve("short", functools.partial(ParentWorker, child=child))
    finally:
        child.stop()
        child.wait()
