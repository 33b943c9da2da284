"""Payloads and signed deliveries built from Shopify's own sample data."""

import copy
import json
import pathlib
import random
import secrets
import uuid
from collections import Counter

from shopsync.signing import sign
from shopsync.simulator import Store, random_change

FIXTURES = pathlib.Path(__file__).resolve().parent / "fixtures" / "shopify"
SECRET = "test-webhook-secret"
ADMIN_TOKEN = "test-admin-token"
# Spawned services refuse a short session key; each run makes its own.
SESSION_KEY = secrets.token_hex(32)


def changed_store(seed, changes, created=0):
    """Return a store of 300 orders with `created` more, after `changes` random changes, and
    the Counter of the changes made."""
    store, rng = Store.generate(seed=seed, orders=300, products=20, customers=30), random.Random(seed)
    for _ in range(created):
        store.create_order()
    return store, Counter(random_change(store, rng) for _ in range(changes))


def fixture(name):
    """Return the bare resource of a fixture file (`order`, `product`, `customer`)."""
    return json.loads((FIXTURES / f"{name}.json").read_text())[name]


def hmac_vectors():
    """Return Shopify's HMAC known-answer vectors."""
    return json.loads((FIXTURES / "hmac_vectors.json").read_text())["vectors"]


def order(**changes):
    """Return the sample order with `changes` applied."""
    payload = copy.deepcopy(fixture("order"))
    payload.update(changes)
    return payload


def encode(payload):
    """Serialise a payload as Shopify does (UTF-8 JSON)."""
    return json.dumps(payload, ensure_ascii=False).encode()


def headers(body, topic, webhook_id=None, secret=SECRET, **extra):
    """Return the headers of a Shopify delivery of `body`."""
    out = {
        "Content-Type": "application/json",
        "X-Shopify-Topic": topic,
        "X-Shopify-Hmac-Sha256": sign(body, secret),
        "X-Shopify-Shop-Domain": "sim-shop.myshopify.com",
        "X-Shopify-API-Version": "2025-10",
        "X-Shopify-Webhook-Id": webhook_id or str(uuid.uuid4()),
        "X-Shopify-Event-Id": str(uuid.uuid4()),
        "X-Shopify-Triggered-At": "2026-11-30T10:00:00.000000Z",
    }
    out.update(extra)
    return out


def deliver(client, topic, payload, webhook_id=None, **extra):
    """POST a signed webhook through a Flask test client and return the response."""
    body = payload if isinstance(payload, bytes) else encode(payload)
    return client.post("/webhooks/shopify", data=body,
                       headers=headers(body, topic, webhook_id, **extra))
