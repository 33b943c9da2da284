"""Start the real web, worker and scheduler processes (and a Redis of a test's own) for end-to-end tests."""

import os
import subprocess
import sys

import redis
import requests

from bench.common import free_port, wait_until

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class Processes:
    """A set of child processes sharing one environment, stopped together."""

    def __init__(self, env, log_dir):
        self.env = {**os.environ, **env}
        self.log_dir = log_dir
        self.children = []

    def spawn(self, *args, **env):
        """Start `python args...` in the repo root, `env` laid over the shared one."""
        log = open(os.path.join(self.log_dir, f"{len(self.children)}-{args[-1]}.log"), "wb")
        child = subprocess.Popen([sys.executable, *args], cwd=ROOT, env={**self.env, **env},
                                 stdout=log, stderr=subprocess.STDOUT)
        log.close()
        self.children.append(child)
        return child

    def web(self, workers=2, **env):
        """Start gunicorn on a free port; return its base URL once it answers."""
        port = free_port()
        self.spawn("-m", "gunicorn", "-w", str(workers), "-b", f"127.0.0.1:{port}",
                   "--graceful-timeout", "2", "wsgi:app", **env)
        url = f"http://127.0.0.1:{port}"

        def up():
            try:
                return requests.get(f"{url}/healthz", timeout=1).ok
            except requests.RequestException:
                return False

        wait_until(up, message="gunicorn to answer")
        return url

    def worker(self, **env):
        """Start `python worker.py`."""
        return self.spawn("worker.py", **env)

    def scheduler(self, **env):
        """Start `python -m shopsync.scheduler`."""
        return self.spawn("-m", "shopsync.scheduler", **env)

    def stop(self):
        """Terminate every child, killing those that linger."""
        for child in self.children:
            if child.poll() is None:
                child.terminate()
        for child in self.children:
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()


class RedisServer:
    """A redis-server of a test's own on a free port, without persistence: a restart empties it."""

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
