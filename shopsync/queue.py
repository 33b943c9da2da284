"""The RQ queues on Redis, or on an in-process stand-in (fakeredis) in embedded mode.

Two queues: RQ_QUEUE takes the webhooks' drains and every other short job; jobs that may run
for hours (backfills, full and deep reconciliations) go to the long queue beside it, so that
no webhook waits for one to finish. `python worker.py` works both (shopsync.worker_process).
A worker asked to stop sets `stopping`, and the long job it runs hands its work over to the
next worker (queued again on the long queue) instead of running on until it is killed.
"""

import logging
import ssl
import threading
import time
from urllib.parse import urlsplit

import fakeredis
from flask import current_app
from redis import Redis
from redis.connection import SSLConnection
from redis.exceptions import RedisError
from rq import Queue, SimpleWorker
from rq.exceptions import StopRequested
from rq.timeouts import TimerDeathPenalty

log = logging.getLogger(__name__)

# Shared by the web, worker and scheduler threads of one embedded process.
EMBEDDED_SERVER = fakeredis.FakeServer()
# Seconds a failed RQ job is kept in its registry for inspection.
FAILURE_TTL = 24 * 3600
# A worker that lost Redis tries again after 1 s, then 2, 4, then every this many seconds: an
# attempt costs little, and the worker is back within seconds of Redis.
RECONNECT_MAX_SECONDS = 5
# The long queue is named after RQ_QUEUE with this suffix, e.g. "shopsync-long".
LONG_SUFFIX = "-long"
# Set once this process's worker is asked to stop (SIGTERM, SIGINT): a long job running here
# hands its work over to the next worker at its next step instead of running on
# (hand_over_point).
stopping = threading.Event()


class Stopping(Exception):
    """This process's worker is asked to stop: the long job raising it hands its work over."""


def hand_over_point():
    """Raise Stopping if this process's worker is asked to stop (a long job's safe place to end)."""
    if stopping.is_set():
        raise Stopping


class TLSVerificationError(RedisError):
    """Redis presented a TLS certificate that cannot be verified; the message says what to set."""


class TLSConnection(SSLConnection):
    """A TLS connection to Redis whose certificate failures name the setting that fixes them."""

    def _connect(self):
        try:
            return super()._connect()
        except ssl.SSLCertVerificationError as exc:
            raise TLSVerificationError(
                f"Redis at {self.host}:{self.port} presented a TLS certificate that cannot be verified "
                f"({exc.verify_message}). If this Redis is known to use a self-signed certificate, as "
                "Heroku's Key-Value Store does, set REDIS_TLS_VERIFY=0: the connection stays "
                "encrypted, its certificate is no longer checked") from exc


def connect(redis_url, tls_verify=True):
    """Return a Redis connection for `redis_url`, or the embedded stand-in when it is unset.

    Every process (web, worker, scheduler) reaches Redis through here. A `rediss://` URL is
    encrypted, and its certificate verified unless `tls_verify` is False.
    """
    if not redis_url:
        return fakeredis.FakeRedis(server=EMBEDDED_SERVER)
    tls = {}
    if urlsplit(redis_url).scheme == "rediss":
        tls = {"connection_class": TLSConnection, "ssl_cert_reqs": "required" if tls_verify else "none"}
    return Redis.from_url(redis_url, socket_connect_timeout=1, socket_timeout=5, **tls)


def make_queue(config):
    """Return the RQ queue described by a settings mapping."""
    return Queue(config["RQ_QUEUE"], connection=connect(config["REDIS_URL"], config["REDIS_TLS_VERIFY"]))


def long_queue(short_queue):
    """Return the long queue beside `short_queue`, on the same connection."""
    return Queue(short_queue.name + LONG_SUFFIX, connection=short_queue.connection)


def init_app(app):
    """Attach the queue to the app."""
    app.extensions["shopsync.queue"] = make_queue(app.config)


def get_queue(app=None):
    """Return the queue of `app` (by default the current app): drains and every other short job."""
    return (app or current_app).extensions["shopsync.queue"]


def get_long_queue():
    """Return the current app's long queue: backfills and full and deep reconciliations."""
    return long_queue(get_queue())


def enqueue(queue, func, *args, **options):
    """Enqueue `func(*args)`; return False instead of raising when Redis is unreachable."""
    try:
        queue.enqueue(func, *args, result_ttl=0, failure_ttl=FAILURE_TTL, **options)
    except RedisError as exc:
        log.warning("enqueue of %s%r failed, left for the sweeper: %s", func.__name__, args, exc)
        return False
    return True


class Worker(SimpleWorker):
    """RQ's SimpleWorker that never quits on its own.

    RQ waits out a Redis outage only while it waits for a job; one that strikes anywhere else
    (making the worker, finishing a job, a maintenance task, registering at start) ends
    `work()`. This worker then waits for Redis and starts over, however long that takes, until
    asked to stop.
    """

    max_connection_wait_time = RECONNECT_MAX_SECONDS  # RQ's backoff while waiting for a job

    def _set_ip_address(self, connection):
        """Name the connection and learn this worker's address, left unknown while Redis is down.

        RQ does this as the worker is made, so a worker (re)started during an outage would exit;
        this one goes on to `work()`, which waits for Redis.
        """
        try:
            super()._set_ip_address(connection)
        except RedisError as exc:
            log.warning("worker started while Redis is unreachable, waiting for it: %s", exc)
            self.ip_address = "unknown"

    def request_stop(self, signum, frame):
        """Tell a long job running here to hand over (`stopping`), then stop after it."""
        stopping.set()
        super().request_stop(signum, frame)

    def work(self, burst=False, **options):
        """Work until asked to stop (or, with `burst`, until the queue is empty)."""
        if burst:
            return super().work(burst=True, **options)
        delay = 1.0
        try:
            while True:
                began = time.monotonic()
                try:
                    super().work(**options)
                except StopRequested:
                    return True
                except RedisError as exc:
                    self.log.warning("Worker %s: lost Redis: %s", self.name, exc)
                except Exception:  # RQ logs and returns on most errors; this catches the rest
                    self.log.exception("Worker %s: stopped on an error", self.name)
                if self._shutdown_requested_date is not None:
                    return True
                if time.monotonic() - began > RECONNECT_MAX_SECONDS:
                    delay = 1.0  # a long run since the last failure: start the backoff afresh
                delay = self._wait_for_redis(delay)
        except StopRequested:  # asked to stop while waiting for Redis
            return True

    def _wait_for_redis(self, delay):
        """Sleep, doubling `delay`, until Redis takes this worker's death; return the next delay."""
        while True:
            self.log.warning("Worker %s: starting over in %.0f s", self.name, delay)
            time.sleep(delay)
            delay = min(delay * 2, RECONNECT_MAX_SECONDS)
            try:
                self.register_death()  # so that the next run may register its birth
                return delay
            except RedisError as exc:
                self.log.warning("Worker %s: Redis still unreachable: %s", self.name, exc)

    def teardown(self):
        """Let go of Redis without raising when it is gone, and stop listening for commands."""
        try:
            super().teardown()
        except RedisError as exc:
            self.log.warning("Worker %s: could not register its death: %s", self.name, exc)
            if self.pubsub_thread:
                self.pubsub_thread.stop()


class ThreadWorker(Worker):
    """A Worker that can run outside the main thread (embedded mode, tests)."""

    death_penalty_class = TimerDeathPenalty

    def _install_signal_handlers(self):
        """Leave signals to the host process."""
