"""The RQ queue on Redis, or on an in-process stand-in (fakeredis) in embedded mode."""

import logging

import fakeredis
from flask import current_app
from redis import Redis
from redis.exceptions import RedisError
from rq import Queue, SimpleWorker
from rq.timeouts import TimerDeathPenalty

log = logging.getLogger(__name__)

# Shared by the web, worker and scheduler threads of one embedded process.
EMBEDDED_SERVER = fakeredis.FakeServer()
# Seconds a failed RQ job is kept in its registry for inspection.
FAILURE_TTL = 24 * 3600


def connect(redis_url):
    """Return a Redis connection for `redis_url`, or the embedded stand-in when it is unset."""
    if redis_url:
        return Redis.from_url(redis_url, socket_connect_timeout=1, socket_timeout=5)
    return fakeredis.FakeRedis(server=EMBEDDED_SERVER)


def make_queue(config):
    """Return the RQ queue described by a settings mapping."""
    return Queue(config["RQ_QUEUE"], connection=connect(config["REDIS_URL"]))


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
