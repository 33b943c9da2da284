"""The worker never quits on its own: when Redis ends RQ's work loop, it waits and starts over."""

import fakeredis
from redis.exceptions import ConnectionError as RedisConnectionError
from rq import Queue, SimpleWorker
from rq.utils import now

from shopsync import queue


def _worker():
    server = fakeredis.FakeServer()
    connection = fakeredis.FakeRedis(server=server)
    return server, queue.ThreadWorker([Queue("q", connection=connection)], connection=connection)


def test_worker_starts_over_once_redis_is_back(monkeypatch):
    server, worker = _worker()
    runs, sleeps = [], []

    def work(self, **options):  # RQ's loop: the first run ends as Redis goes, the second on a stop
        runs.append(options)
        if len(runs) == 1:
            server.connected = False
            raise RedisConnectionError("Connection closed by server.")
        self._shutdown_requested_date = now()
        return True

    def sleep(seconds):
        sleeps.append(seconds)
        server.connected = len(sleeps) == 3  # Redis is back after the third wait

    monkeypatch.setattr(SimpleWorker, "work", work)
    monkeypatch.setattr(queue.time, "sleep", sleep)
    assert worker.work() is True
    assert len(runs) == 2 and sleeps == [1.0, 2.0, 4.0]


def test_teardown_without_redis_does_not_raise():
    server, worker = _worker()
    server.connected = False
    worker.teardown()
