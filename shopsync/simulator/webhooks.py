"""Webhook subscriptions (webhooks.json) and a sender that delivers like Shopify, faults and all."""

import dataclasses
import heapq
import itertools
import json
import random
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field

import requests

from shopsync.signing import sign
from shopsync.simulator.data import iso

TOPICS = (
    "orders/create", "orders/updated", "orders/paid", "orders/cancelled", "orders/fulfilled",
    "orders/partially_fulfilled", "orders/delete", "products/create", "products/update",
    "products/delete", "customers/create", "customers/update", "customers/enable",
    "customers/disable", "customers/delete", "app/uninstalled", "refunds/create",
    "order_transactions/create", "fulfillments/create", "fulfillments/update",
    "bulk_operations/finish",
)
FIRST_SUBSCRIPTION_ID = 1_047_000_000_000


class SubscriptionError(Exception):
    """A subscription Shopify would refuse with 422; `errors` is the body's "errors" value."""

    def __init__(self, errors):
        super().__init__(errors)
        self.errors = errors


class Subscriptions:
    """The webhook subscriptions made through the Admin API."""

    def __init__(self, api_version, clock=time.time):
        self.api_version, self.clock = api_version, clock
        self._items = {}
        self._ids = itertools.count(FIRST_SUBSCRIPTION_ID, 7)
        self._lock = threading.Lock()

    def list(self):
        """Return every subscription, by id."""
        with self._lock:
            return [dict(item) for _, item in sorted(self._items.items())]

    def get(self, subscription_id):
        """Return one subscription, or None."""
        with self._lock:
            item = self._items.get(subscription_id)
            return dict(item) if item else None

    def create(self, topic, address, format="json"):
        """Add a subscription and return it, or raise SubscriptionError as Shopify would."""
        errors = {}
        if not topic:
            errors["topic"] = ["can't be blank"]
        elif topic not in TOPICS:
            errors["topic"] = [f"Invalid topic specified: {topic}. Topics allowed: "
                               f"{', '.join(TOPICS)}"]
        if not address:
            errors["address"] = ["can't be blank"]
        elif not str(address).startswith(("https://", "http://")):
            errors["address"] = ["is not a valid URL"]
        if format != "json":
            errors["format"] = ["is not included in the list"]
        with self._lock:
            if not errors and any(item["topic"] == topic and item["address"] == address
                                  for item in self._items.values()):
                errors["address"] = ["for this topic has already been taken"]
            if errors:
                raise SubscriptionError(errors)
            now = iso(int(self.clock()))
            item = {"id": next(self._ids), "address": address, "topic": topic,
                    "created_at": now, "updated_at": now, "format": "json", "fields": [],
                    "metafield_namespaces": [], "api_version": self.api_version,
                    "private_metafield_namespaces": []}
            self._items[item["id"]] = item
            return dict(item)

    def update(self, subscription_id, address):
        """Point a subscription at another address and return it, or raise SubscriptionError."""
        if not str(address or "").startswith(("https://", "http://")):
            raise SubscriptionError({"address": ["is not a valid URL"]})
        with self._lock:
            item = self._items.get(subscription_id)
            if item is None:
                raise SubscriptionError({"id": ["Webhook subscription does not exist"]})
            item.update(address=address, updated_at=iso(int(self.clock())))
            return dict(item)

    def delete(self, subscription_id):
        """Remove a subscription; tell whether it existed."""
        with self._lock:
            return self._items.pop(subscription_id, None) is not None

    def targets(self, topic):
        """Return (subscription id, address) of every subscription to `topic`."""
        with self._lock:
            return [(item["id"], item["address"]) for item in self._items.values()
                    if item["topic"] == topic]


@dataclass
class WebhookOptions:
    """How deliveries misbehave and retry. Shopify: 8 tries over 4 hours, 1 s/5 s timeouts."""

    duplicate_rate: float = 0.0  # chance a delivery is sent twice with the same webhook id
    drop_rate: float = 0.0  # chance a delivery is lost
    delay: float = 0.0  # seconds between a change and its first delivery attempt
    reorder_window: float = 0.0  # random extra delay up to this, shuffling nearby deliveries
    retry_delays: tuple = (0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 6.4)  # 8 tries, compressed schedule
    connect_timeout: float = 1.0
    timeout: float = 5.0
    workers: int = 4
    history: int = 10_000  # deliveries kept for inspection
    seed: int = 0


@dataclass
class Delivery:
    """One webhook sent (and maybe retried) to one address, and what became of it."""

    webhook_id: str
    event_id: str
    topic: str
    address: str
    body: bytes
    triggered_at: str
    subscription_id: int | None = None
    duplicate: bool = False  # a resend of a delivery already queued, same webhook id
    attempts: list = field(default_factory=list)  # status code or error name, per try
    state: str = "pending"  # pending, delivered, failed (retries spent) or dropped

    @property
    def payload(self):
        """Return the decoded body."""
        return json.loads(self.body)


class WebhookSender:
    """Delivers webhooks from background threads with Shopify's headers, retries and faults."""

    def __init__(self, shop, api_version, secret, options=None, on_give_up=None):
        self.shop, self.api_version, self.secret = shop, api_version, secret
        self.options = options or WebhookOptions()
        self.on_give_up = on_give_up  # called with a Delivery whose retries are spent
        self.history = deque(maxlen=self.options.history)
        self._rng = random.Random(self.options.seed)
        self._queue = []  # heap of (due, sequence, Delivery)
        self._sequence = itertools.count()
        self._active = 0
        self._stopping = False
        self._cond = threading.Condition()
        self._threads = []

    def headers(self, delivery):
        """Return the headers Shopify sends with a delivery."""
        return {
            "Content-Type": "application/json", "User-Agent": "Shopify-Captain-Hook",
            "X-Shopify-Topic": delivery.topic,
            "X-Shopify-Hmac-Sha256": sign(delivery.body, self.secret),
            "X-Shopify-Shop-Domain": self.shop, "X-Shopify-API-Version": self.api_version,
            "X-Shopify-Webhook-Id": delivery.webhook_id,
            "X-Shopify-Event-Id": delivery.event_id,
            "X-Shopify-Triggered-At": delivery.triggered_at,
        }

    def submit(self, event, targets):
        """Queue one delivery per topic of `event` and (subscription id, address) target."""
        body = json.dumps(event.payload, ensure_ascii=False, separators=(",", ":")).encode()
        options, now = self.options, time.monotonic()
        with self._cond:
            for topic in event.topics:
                for subscription_id, address in targets(topic):
                    delivery = Delivery(str(uuid.uuid4()), event.id, topic, address, body,
                                        event.triggered_at, subscription_id)
                    self.history.append(delivery)
                    if self._rng.random() < options.drop_rate:
                        delivery.state = "dropped"
                        continue
                    due = now + options.delay + self._rng.uniform(0, options.reorder_window)
                    self._push(due, delivery)
                    if self._rng.random() < options.duplicate_rate:
                        twin = dataclasses.replace(delivery, duplicate=True, attempts=[])
                        self.history.append(twin)
                        self._push(due + self._rng.uniform(0, options.reorder_window), twin)
            self._cond.notify_all()

    def _push(self, due, delivery):
        heapq.heappush(self._queue, (due, next(self._sequence), delivery))

    def start(self):
        """Start the worker threads."""
        self._stopping = False
        self._threads = [threading.Thread(target=self._work, daemon=True,
                                          name=f"webhook-sender-{n}")
                         for n in range(self.options.workers)]
        for thread in self._threads:
            thread.start()

    def stop(self):
        """Stop the workers; deliveries still queued are abandoned."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        for thread in self._threads:
            thread.join()

    def wait_idle(self, timeout=10.0):
        """Wait until nothing is queued or in flight; tell whether that happened in time."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._queue and not self._active, timeout)

    def _next(self):
        """Return the next due delivery, waiting for it, or None when stopping."""
        with self._cond:
            while not self._stopping:
                wait = self._queue[0][0] - time.monotonic() if self._queue else None
                if wait is not None and wait <= 0:
                    self._active += 1
                    return heapq.heappop(self._queue)[2]
                self._cond.wait(wait)
            return None

    def _work(self):
        with requests.Session() as session:
            while (delivery := self._next()) is not None:
                outcome = self._send(session, delivery)
                self._settle(delivery, outcome)

    def _send(self, session, delivery):
        """Try one delivery; return the status code or the name of the error."""
        try:
            response = session.post(
                delivery.address, data=delivery.body, headers=self.headers(delivery),
                timeout=(self.options.connect_timeout, self.options.timeout),
                allow_redirects=False)
        except requests.RequestException as exc:
            return type(exc).__name__
        response.close()
        return response.status_code

    def _settle(self, delivery, outcome):
        """Record a try; schedule the retry or give up."""
        gave_up = False
        with self._cond:
            self._active -= 1
            delivery.attempts.append(outcome)
            tries = len(delivery.attempts)
            if isinstance(outcome, int) and 200 <= outcome < 300:
                delivery.state = "delivered"
            elif tries <= len(self.options.retry_delays):
                self._push(time.monotonic() + self.options.retry_delays[tries - 1], delivery)
            else:
                delivery.state = "failed"
                gave_up = True
            self._cond.notify_all()
        if gave_up and self.on_give_up:
            self.on_give_up(delivery)
