"""The Procfile run by honcho, as Heroku runs it, and stopped as Heroku stops a dyno."""

import os
import re
import signal
import subprocess
import sys

from shopsync.testing.processes import wait_until

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.dirname(sys.executable)
# Heroku sends SIGTERM to every process of a dyno it stops, and SIGKILL 30 seconds later.
HEROKU_GRACE = 30


class Honcho:
    """`honcho start TYPE...` in the repository root, its output in a log file."""

    def __init__(self, env, log_path, *process_types):
        self.log_path = log_path
        with open(log_path, "wb") as log:
            self.process = subprocess.Popen(
                [os.path.join(BIN, "honcho"), "--no-colour", "start", *process_types],
                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)

    def output(self):
        """Return what honcho and its processes printed so far."""
        with open(self.log_path, errors="replace") as log:
            return log.read()

    def process_group(self, process_type):
        """Return the process group honcho started for the first process of `process_type`."""
        found = wait_until(lambda: re.search(rf"{process_type}\.1 started \(pid=(\d+)\)", self.output()),
                           message=f"honcho to start {process_type}")
        return int(found.group(1))

    def terminate(self, process_type):
        """Send SIGTERM to every process of `process_type`, as Heroku does to a dyno it stops."""
        os.killpg(self.process_group(process_type), signal.SIGTERM)

    def has_stopped(self, process_type):
        """Tell whether every process of `process_type` has exited."""
        try:
            os.killpg(self.process_group(process_type), 0)
        except ProcessLookupError:
            return True
        return False

    def wait(self, timeout=HEROKU_GRACE):
        """Wait for honcho to exit (it stops everything once one process stops); return its code."""
        return self.process.wait(timeout=timeout)

    def stop(self):
        """Stop honcho and what it runs, killing what lingers."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=HEROKU_GRACE)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
