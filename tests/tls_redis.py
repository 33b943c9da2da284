"""A Redis of the test's own that speaks only TLS, with a self-signed certificate made on the spot.

This is how Heroku's Key-Value Store serves Redis: `rediss://` and a certificate no client can
verify. The certificate names 127.0.0.1, so a client that trusts it (`?ssl_ca_certs=`) can
verify it, hostname included.
"""

import os
import subprocess

import redis

from shopsync.testing.processes import free_port, wait_until


def make_certificate(directory):
    """Write a self-signed certificate for 127.0.0.1 and its key into `directory`; return their paths."""
    cert, key = os.path.join(directory, "redis.crt"), os.path.join(directory, "redis.key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-keyout", key, "-out", cert, "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
                   check=True, capture_output=True)
    return cert, key


class TlsRedis:
    """redis-server as a child process, TLS only, on a free port; `url` has no query string."""

    def __init__(self, directory):
        self.cert, key = make_certificate(directory)
        self.port = free_port()
        self.url = f"rediss://127.0.0.1:{self.port}"
        self.log = os.path.join(directory, "redis-server.log")
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(
                ["redis-server", "--port", "0", "--bind", "127.0.0.1", "--tls-port", str(self.port),
                 "--tls-cert-file", self.cert, "--tls-key-file", key, "--tls-ca-cert-file", self.cert,
                 "--tls-auth-clients", "no", "--save", "", "--appendonly", "no", "--daemonize", "no"],
                stdout=log, stderr=subprocess.STDOUT)
        wait_until(self._answers, timeout=10, message=f"redis-server over TLS (log: {self.log})")

    def _answers(self):
        if self.process.poll() is not None:
            with open(self.log) as log:
                raise RuntimeError(f"redis-server exited: {log.read()[-2000:]}")
        try:
            return redis.Redis(port=self.port, ssl=True, ssl_cert_reqs="none").ping()
        except redis.RedisError:
            return False

    def stop(self):
        """Stop the server."""
        self.process.terminate()
        self.process.wait(timeout=10)
