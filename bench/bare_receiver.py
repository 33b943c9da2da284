"""The ingest floor: the least a receiver that stores before it answers can do.

It checks the HMAC, reads the payload's id as the endpoint does, commits one INSERT through
a connection it keeps open, sets one Redis key and answers: no pool, no query builder, no
dedupe bookkeeping, no headers kept. Its
throughput bounds what any receiver keeping the first guarantee of docs/ARCHITECTURE.md reaches here.
"""

import base64
import hashlib
import hmac
import os

from flask import Flask, jsonify, request
from playhouse.db_url import connect
from redis import Redis

from shopsync.webhooks import shopify_id

app = Flask(__name__)
SECRET = os.environ["SHOPIFY_WEBHOOK_SECRET"].encode()
database = connect(os.environ["DATABASE_URL"])  # one connection per (single-threaded) worker
redis = Redis.from_url(os.environ["REDIS_URL"]) if os.environ.get("REDIS_URL") else None
# Stored as ignored, so the benchmark's workers leave these rows alone.
PARAMS = ", ".join([database.param] * 4)
INSERT = ("INSERT INTO webhook_log (id, topic, raw_body, shopify_id, received_at, status, "
          f"attempts, duplicates) VALUES ({PARAMS}, CURRENT_TIMESTAMP, 'ignored', 0, 0) "
          "ON CONFLICT DO NOTHING")


@app.post("/webhooks/shopify")
def receive():
    """Verify, store and answer."""
    body = request.get_data(cache=False)
    digest = base64.b64encode(hmac.new(SECRET, body, hashlib.sha256).digest()).decode()
    if not hmac.compare_digest(digest, request.headers.get("X-Shopify-Hmac-Sha256", "")):
        return jsonify(error="invalid X-Shopify-Hmac-Sha256"), 401
    webhook_id = request.headers["X-Shopify-Webhook-Id"]
    database.execute_sql(INSERT, (webhook_id, request.headers["X-Shopify-Topic"], body,
                                  shopify_id(body)))
    if redis is not None:
        redis.set(f"bare-receiver:{os.getpid()}", 1, ex=30)
    return jsonify(status="accepted", id=webhook_id)


@app.get("/healthz")
def healthz():
    """Answer liveness probes."""
    return jsonify(status="ok")
