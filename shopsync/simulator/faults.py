"""Fault injection for the simulated REST API: errors, slowness, scripted failures."""

import random
import threading
from dataclasses import dataclass, field


@dataclass
class Faults:
    """Knobs read on every REST request; all off by default. Change them at any time."""

    error_rate: float = 0.0  # share of requests answered with error_status
    error_status: int = 500
    slow_rate: float = 0.0  # share of requests that first sleep slow_seconds (client timeouts)
    slow_seconds: float = 0.0
    slow_next: int = 0  # the next N requests sleep slow_seconds, whatever the rates
    fail_next: int = 0  # the next N requests fail with fail_status, whatever the rates
    fail_status: int = 503
    seed: int = 0
    _rng: random.Random = field(init=False, repr=False)
    _lock: threading.Lock = field(init=False, repr=False, default_factory=threading.Lock)

    def __post_init__(self):
        self._rng = random.Random(self.seed)

    def fail_next_requests(self, count, status=503):
        """Make the next `count` requests fail with `status`."""
        with self._lock:
            self.fail_next, self.fail_status = count, status

    def slow_next_requests(self, count, seconds):
        """Make the next `count` requests take `seconds` longer (to trip client timeouts)."""
        with self._lock:
            self.slow_next, self.slow_seconds = count, seconds

    def reset(self):
        """Turn every fault off."""
        with self._lock:
            self.error_rate = self.slow_rate = self.slow_seconds = 0.0
            self.slow_next = self.fail_next = 0

    def draw(self):
        """Return (seconds to sleep, status to fail with or None) for one request."""
        with self._lock:
            slow = self._rng.random() < self.slow_rate or self.slow_next > 0
            self.slow_next = max(0, self.slow_next - 1)
            delay = self.slow_seconds if slow else 0.0
            if self.fail_next > 0:
                self.fail_next -= 1
                return delay, self.fail_status
            if self._rng.random() < self.error_rate:
                return delay, self.error_status
            return delay, None
