"""The ingest baseline: a Flask endpoint that reads the body and answers, doing nothing else."""

from flask import Flask, jsonify, request

app = Flask(__name__)


@app.post("/webhooks/shopify")
def receive():
    """Read the delivery and accept it."""
    request.get_data(cache=False)
    return jsonify(status="accepted", id=request.headers.get("X-Shopify-Webhook-Id"))


@app.get("/healthz")
def healthz():
    """Answer liveness probes."""
    return jsonify(status="ok")
