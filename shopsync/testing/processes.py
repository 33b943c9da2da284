"""The real web, worker and scheduler processes, and a Redis of one's own, started and stopped together."""

import os
import socket
import subprocess
import sys
import time

import redis
import requests

from shopsync import ROOT


def wait_until(predicate, timeout=30.0, interval=0.1, message="condition"):
    """Poll `predicate` until truthy and return its value; raise after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {message}")


def free_port():
    """Return a TCP port nobody listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Processes:
    """Child processes sharing one environment, logging to files, stopped together."""

    def __init__(self, env, log_dir):
        self.env, self.log_dir, self.children = {**os.environ, **env}, log_dir, []
        self.servers = {}  # gunicorn master process by URL
        self.logs = {}  # log file by child

    def spawn(self, *args, **env):
        """Start `python args...` in the repository root, `env` laid over the shared one."""
        name = f"{len(self.children)}-{os.path.basename(args[-1]).replace(':', '-')}.log"
        path = os.path.join(self.log_dir, name)
        with open(path, "wb") as log:
            child = subprocess.Popen([sys.executable, *args], cwd=ROOT, env={**self.env, **env},
                                     stdout=log, stderr=subprocess.STDOUT)
        self.children.append(child)
        self.logs[child.pid] = path
        return child

    def web(self, app="wsgi:app", workers=2, options=(), **env):
        """Start gunicorn serving `app` on a free port with `workers` sync workers (or as
        `options` say, such as the Procfile's); return its base URL once it answers."""
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        sizing = ("-w", str(workers)) if workers else ()
        self.servers[url] = self.spawn("-m", "gunicorn", *options, *sizing, "-b", f"127.0.0.1:{port}",
                                       "--graceful-timeout", "2", app, **env)

        def up():
            try:
                return requests.get(f"{url}/healthz", timeout=1).ok
            except requests.RequestException:
                return False

        wait_until(up, message=f"gunicorn at {url}")
        return url

    def worker(self, **env):
        """Start `python worker.py`."""
        return self.spawn("worker.py", **env)

    def scheduler(self, **env):
        """Start `python -m shopsync.scheduler`."""
        return self.spawn("-m", "shopsync.scheduler", **env)

    def stop(self, child=None):
        """Terminate `child` (or every child), killing one that lingers."""
        for proc in [child] if child else self.children:
            if proc.poll() is None:
                proc.terminate()
        for proc in [child] if child else self.children:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


class RedisServer:
    """A redis-server of one's own on a free port, without persistence: a restart empties it."""

    def __init__(self, log_dir):
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.log_dir = log_dir
        self.client = redis.Redis(port=self.port, socket_timeout=5)
        self.process = None

    def start(self):
        """Start the server; return self once it answers."""
        with open(os.path.join(self.log_dir, f"redis-{self.port}.log"), "ab") as log:
            self.process = subprocess.Popen(
                ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                 "--appendonly", "no", "--daemonize", "no", "--dir", str(self.log_dir)],
                stdout=log, stderr=subprocess.STDOUT)

        def answers():
            try:
                return self.client.ping()
            except redis.RedisError:
                return False

        wait_until(answers, message="redis-server to answer")
        return self

    def kill(self):
        """Kill the server as a crash would: nothing is saved."""
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
