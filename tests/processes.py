"""Start the real web and worker processes for end-to-end tests."""

import os
import subprocess
import sys

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
