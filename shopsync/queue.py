"""The RQ queue on Redis, or on an in-process stand-in (fakeredis) in embedded mode."""

import logging
import ssl
from urllib.parse import urlsplit

import fakeredis
from flask import current_app
from redis import Redis
from redis.connection import SSLConnection
from redis.exceptions import RedisError
from rq import Queue, SimpleWorker
from rq.timeouts import TimerDeathPenalty

log = logging.getLogger(__name__)

# Shared by the web, worker and scheduler threads of one embedded process.
EMBEDDED_SERVER = fakeredis.FakeServer()
# Seconds a failed RQ job is kept in its registry for inspection.
FAILURE_TTL = 24 * 3600


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


def init_app(app):
    """Attach the queue to the app."""
    app.extensions["shopsync.queue"] = make_queue(app.config)


def get_queue():
    """Return the current app's queue."""
    return current_app.extensions["shopsync.queue"]


def enqueue(queue, func, *args, **options):
    """Enqueue `func(*args)`; return False instead of raising when Redis is unreachable."""
    try:
        queue.enqueue(func, *args, result_ttl=0, failure_ttl=FAILURE_TTL, **options)
    except RedisError as exc:
        log.warning("enqueue of %s%r failed, left for the sweeper: %s", func.__name__, args, exc)
        return False
    return True


class ThreadWorker(SimpleWorker):
    """A SimpleWorker that can run outside the main thread (embedded mode, tests)."""

    death_penalty_class = TimerDeathPenalty

    def _install_signal_handlers(self):
        """Leave signals to the host process."""
