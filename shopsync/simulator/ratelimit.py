"""Shopify's rate limits: a leaky bucket per app and store, of requests (REST) or cost points
(GraphQL)."""

import math
import threading
import time

EPSILON = 1e-9  # float slack, so a client pacing at exactly the leak rate is admitted


class LeakyBucket:
    """A bucket `size` requests deep that leaks `leak_rate` requests per second."""

    def __init__(self, size=40, leak_rate=2.0, clock=time.monotonic):
        self.size, self.leak_rate, self.clock = size, leak_rate, clock
        self._level, self._at = 0.0, clock()
        self._lock = threading.Lock()

    def _leak(self):
        now = self.clock()
        self._level = max(0.0, self._level - (now - self._at) * self.leak_rate)
        self._at = now

    def take(self, amount=1):
        """Admit a request costing `amount` (True) or refuse it as the bucket is full (False)."""
        with self._lock:
            self._leak()
            if self._level + amount > self.size + EPSILON:
                return False
            self._level += amount
            return True

    def give_back(self, amount):
        """Return points taken for a request that cost less than was requested."""
        with self._lock:
            self._leak()
            self._level = max(0.0, self._level - amount)

    @property
    def available(self):
        """Return the room left, as GraphQL's throttleStatus.currentlyAvailable reports it."""
        with self._lock:
            self._leak()
            return math.floor(self.size - self._level + EPSILON)

    @property
    def used(self):
        """Return the level as Shopify reports it: whole requests, rounded up."""
        with self._lock:
            self._leak()
            return min(self.size, math.ceil(self._level - EPSILON))

    def reset(self):
        """Empty the bucket."""
        with self._lock:
            self._level, self._at = 0.0, self.clock()
