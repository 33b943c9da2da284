"""The REST Admin API of a simulated store, as a Flask app: auth, rate limit, faults, resources."""

import hmac
import json
import threading
import time
from collections import Counter, deque
from typing import NamedTuple
from urllib.parse import urlencode

from flask import Blueprint, Flask, Response, current_app, g, request

from shopsync.simulator import graphql, query
from shopsync.simulator.graphql import bulk
from shopsync.simulator.query import BadRequest, Filters
from shopsync.simulator.webhooks import SubscriptionError

bp = Blueprint("admin_api", __name__)
BASE = "/admin/api/<version>"
RESOURCES = "<any(orders, products, customers):kind>"
RETRY_AFTER = "2.0"  # Shopify's Retry-After on 429, in seconds
MESSAGES = {
    401: "[API] Invalid API key or access token (unrecognized login or wrong password)",
    404: "Not Found",
    405: "Method Not Allowed",
    429: "Exceeded 2 calls per second for api client. "
         "Reduce request rates to resume uninterrupted service.",
}


class RequestRecord(NamedTuple):
    """One REST request as the simulator saw it."""

    method: str
    path: str
    args: dict
    status: int
    kind: str  # endpoint kind, e.g. "orders.list", "orders.count", "webhooks.create"


class RequestStats:
    """What the API served: totals, per path and per endpoint kind, 429s, and a recent log."""

    def __init__(self, keep=10_000):
        self._lock = threading.Lock()
        self.keep = keep
        self.reset()

    def reset(self):
        """Forget everything counted so far."""
        with self._lock:
            self.total, self.throttled = 0, 0
            self.by_path, self.by_kind = Counter(), Counter()
            self.log = deque(maxlen=self.keep)

    def record(self, entry):
        """Count one request."""
        with self._lock:
            self.total += 1
            self.throttled += entry.status == 429
            self.by_path[entry.path] += 1
            self.by_kind[entry.kind] += 1
            self.log.append(entry)


def reply(body, status=200, headers=None):
    """Return a JSON response the way Shopify writes it (UTF-8, ids as exact integers)."""
    text = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    return Response(text, status, headers, content_type="application/json; charset=utf-8")


def error(status, message=None):
    """Return Shopify's error body for a status."""
    return reply({"errors": message or MESSAGES.get(status, "Internal Server Error")}, status)


def page_url(token, limit, fields):
    """Return the URL of a neighbouring page, as Shopify puts it in the Link header."""
    params = {"limit": limit, "page_info": token}
    if fields:
        params["fields"] = fields
    return f"{request.host_url.rstrip('/')}{request.path}?{urlencode(params)}"


def _sim():
    """Return the SimulatorServer this app serves."""
    return current_app.extensions["simulator"]


def _endpoint():
    """Return the name of the view serving the request, without its blueprint."""
    return (request.endpoint or "unknown_route").rpartition(".")[2]


@bp.before_app_request
def gatekeeper():
    """Check the token, the version, the rate limit and the injected faults, in that order."""
    sim = _sim()
    g.started, g.authenticated = time.monotonic(), False
    if _endpoint() in ("oauth_token", "bulk_result"):  # no access token asked
        return None
    token = request.headers.get("X-Shopify-Access-Token", "")
    static = bool(sim.access_token) and hmac.compare_digest(token.encode(),
                                                            sim.access_token.encode())
    if not (static or sim.tokens.valid(token)):
        return error(401)
    g.authenticated = True
    if (request.view_args or {}).get("version", sim.api_version) != sim.api_version:
        return error(404)
    if _endpoint() != "graphql_query" and not sim.bucket.take():
        return reply({"errors": MESSAGES[429]}, 429, {"Retry-After": RETRY_AFTER})
    delay, status = sim.faults.draw()
    if delay:
        time.sleep(delay)
    if status:
        return error(status)
    return None


@bp.after_app_request
def stamp(response):
    """Add Shopify's headers and count the request."""
    sim = _sim()
    if g.get("authenticated") and _endpoint() != "graphql_query":
        response.headers["X-Shopify-Shop-Api-Call-Limit"] = f"{sim.bucket.used}/{sim.bucket.size}"
    response.headers["X-Shopify-API-Version"] = sim.api_version
    group, _, verb = _endpoint().partition("_")
    kind = f"{(request.view_args or {}).get('kind', group)}.{verb}"
    sim.stats.record(RequestRecord(request.method, request.path, request.args.to_dict(),
                                   response.status_code, kind))
    return response


@bp.app_errorhandler(BadRequest)
def bad_request(exc):
    return reply({"errors": exc.errors}, 400)


@bp.app_errorhandler(404)
@bp.app_errorhandler(405)
def not_found(exc):
    return error(exc.code)


@bp.post("/admin/oauth/access_token")
def oauth_token():
    """Grant an access token for the app's client id and secret (client credentials)."""
    form = request.form.to_dict() or request.get_json(silent=True) or {}
    status, body = _sim().tokens.grant(form)
    return reply(body, status)


@bp.get(f"{BASE}/{RESOURCES}.json")
def records_list(version, kind):
    """List records by id, a page at a time, linking pages with page_info cursors."""
    store = _sim().store
    args = request.args.to_dict()
    limit, fields = query.parse_limit(args), query.parse_fields(args)
    if "page_info" in args:
        filters, cursor, backwards = query.decode_cursor(kind, args["page_info"], args)
    else:
        filters, cursor, backwards = Filters.parse(kind, args), None, False
    collection = store.collection(kind)
    with store.lock:
        page = query.find_page(collection, filters, limit, cursor, backwards)
        records = [query.render(collection, row, fields) for row in page.rows]
    links = [f'<{page_url(token, limit, args.get("fields"))}>; rel="{rel}"'
             for rel, token in (("previous", page.previous), ("next", page.next)) if token]
    return reply({kind: records}, headers={"Link": ", ".join(links)} if links else None)


@bp.get(f"{BASE}/{RESOURCES}/count.json")
def records_count(version, kind):
    """Count records matching the list filters."""
    store = _sim().store
    filters = Filters.parse(kind, request.args.to_dict())
    with store.lock:
        return reply({"count": query.count(store.collection(kind), filters)})


@bp.get(f"{BASE}/{RESOURCES}/<int:record_id>.json")
def records_get(version, kind, record_id):
    """Return one record, whatever its status."""
    store = _sim().store
    fields = query.parse_fields(request.args)
    collection = store.collection(kind)
    with store.lock:
        row = collection.row(record_id)
        if row is None:
            return error(404)
        return reply({kind[:-1]: query.render(collection, row, fields)})


@bp.get(f"{BASE}/orders/<int:order_id>/transactions.json")
def transactions_list(version, order_id):
    """List every transaction of an order, oldest first."""
    fields = query.parse_fields(request.args)
    found = _sim().store.order_transactions(order_id)
    if found is None:
        return error(404)
    return reply({"transactions": [{k: v for k, v in t.items() if not fields or k in fields}
                                   for t in found]})


@bp.get(f"{BASE}/webhooks.json")
def webhooks_list(version):
    """List webhook subscriptions, optionally by topic or address."""
    items = [item for item in _sim().subscriptions.list()
             if request.args.get("topic", item["topic"]) == item["topic"]
             and request.args.get("address", item["address"]) == item["address"]]
    return reply({"webhooks": items})


@bp.get(f"{BASE}/webhooks/count.json")
def webhooks_count(version):
    """Count webhook subscriptions."""
    return reply({"count": len(_sim().subscriptions.list())})


@bp.post(f"{BASE}/webhooks.json")
def webhooks_create(version):
    """Subscribe an address to a topic (422 when invalid or already subscribed)."""
    spec = (request.get_json(silent=True) or {}).get("webhook")
    if not isinstance(spec, dict):
        raise BadRequest({"webhook": "Required parameter missing or invalid"})
    try:
        item = _sim().subscriptions.create(spec.get("topic"), spec.get("address"),
                                           spec.get("format", "json"))
    except SubscriptionError as exc:
        return reply({"errors": exc.errors}, 422)
    return reply({"webhook": item}, 201)


@bp.get(f"{BASE}/webhooks/<int:webhook_id>.json")
def webhooks_get(version, webhook_id):
    """Return one webhook subscription."""
    item = _sim().subscriptions.get(webhook_id)
    return reply({"webhook": item}) if item else error(404)


@bp.delete(f"{BASE}/webhooks/<int:webhook_id>.json")
def webhooks_delete(version, webhook_id):
    """Delete a webhook subscription."""
    return reply({}) if _sim().subscriptions.delete(webhook_id) else error(404)


def create_api(sim):
    """Return the Flask app serving `sim` (a SimulatorServer) under /admin/api/<version>/."""
    app = Flask(__name__)
    app.extensions["simulator"] = sim
    app.register_blueprint(bp)
    graphql.register(app, sim, reply)
    bulk.register(app, sim)
    return app
