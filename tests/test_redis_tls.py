"""Redis over TLS: verified where the certificate can be verified, Heroku's self-signed one on request."""

import logging
import os
import subprocess
import sys

import pytest

from shopsync import ROOT, queue
from shopsync import scheduler as periodic
from shopsync.models import Order, WebhookLog, WebhookStatus
from shopsync.testing.processes import wait_until
from tests.helpers import SESSION_KEY, deliver, order


def test_verification_refuses_a_self_signed_certificate_and_names_the_setting(tls_redis):
    with pytest.raises(queue.TLSVerificationError) as refused:
        queue.connect(tls_redis.url).ping()
    message = str(refused.value)
    assert f"127.0.0.1:{tls_redis.port}" in message and "self-signed certificate" in message
    assert "set REDIS_TLS_VERIFY=0" in message


def test_verification_off_connects_over_tls(tls_redis):
    connection = queue.connect(tls_redis.url, tls_verify=False)
    connection.set("greeting", "hello")
    assert connection.get("greeting") == b"hello"
    assert connection.connection_pool.connection_class is queue.TLSConnection


def test_verification_on_accepts_a_certificate_it_can_verify(tls_redis):
    connection = queue.connect(f"{tls_redis.url}?ssl_ca_certs={tls_redis.cert}")
    assert connection.ping()
    assert connection.connection_pool.connection_kwargs["ssl_cert_reqs"] == "required"


@pytest.fixture
def queue_on(app):
    """Return a function that points the app's queue at a Redis URL with a verification setting."""
    original = app.extensions["shopsync.queue"]

    def point(url, verify):
        app.extensions["shopsync.queue"] = queue.make_queue(
            {**app.config, "REDIS_URL": url, "REDIS_TLS_VERIFY": verify})

    yield point
    app.extensions["shopsync.queue"] = original


def test_web_worker_and_scheduler_share_the_tls_connection(client, run_jobs, tls_redis, queue_on):
    queue_on(tls_redis.url, False)
    assert deliver(client, "orders/create", order()).json["status"] == "accepted"
    sched = periodic.make_scheduler(queue.get_queue(), periodic.ThreadScheduler)
    periodic.register(sched)
    sched.run(burst=True)
    run_jobs()
    assert WebhookLog.get().status is WebhookStatus.PROCESSED and Order.select().count() == 1
    assert queue.get_queue().connection.exists(sched.scheduled_jobs_key)


def test_a_delivery_refused_by_verification_is_stored_and_the_log_says_why(client, tls_redis, queue_on,
                                                                          caplog):
    queue_on(tls_redis.url, True)
    with caplog.at_level(logging.WARNING):
        assert deliver(client, "orders/create", order()).status_code == 200
    assert WebhookLog.get().status is WebhookStatus.PENDING  # left for the sweeper
    assert "set REDIS_TLS_VERIFY=0" in caplog.text


@pytest.mark.parametrize("command", [["worker.py"], ["-m", "shopsync.scheduler"]])
def test_the_worker_and_scheduler_name_the_setting_when_the_certificate_is_refused(tls_redis, tmp_path,
                                                                                   command):
    env = {**os.environ, "REDIS_URL": tls_redis.url, "DATABASE_URL": f"sqlite:///{tmp_path}/s.db",
           "SECRET_KEY": SESSION_KEY, "SHOPSYNC_ENV_FILE": "/nonexistent"}
    env.pop("REDIS_TLS_VERIFY", None)
    log = tmp_path / "process.log"
    with open(log, "wb") as out:
        child = subprocess.Popen([sys.executable, *command], cwd=ROOT, env=env, stdout=out,
                                 stderr=subprocess.STDOUT)
    try:
        wait_until(lambda: "set REDIS_TLS_VERIFY=0" in log.read_text(errors="replace"), timeout=60,
                   message="the refusal and its fix in the log")
        assert "self-signed certificate" in log.read_text(errors="replace")
    finally:
        child.kill()
        child.wait()
