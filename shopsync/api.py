"""The JSON admin API, behind `Authorization: Bearer $SHOPSYNC_ADMIN_TOKEN`."""

import hmac

from flask import Blueprint, abort, current_app, jsonify, make_response, request

from shopsync import dlq, health, liveness, reconciliation, stats, workers
from shopsync.ledger import books_of
from shopsync.models import Customer, FailedSyncItem, Order, OrderLineItem, Product, ProductVariant
from shopsync.reconciliation import reports as reconciliation_reports
from shopsync.reconciliation import runs as reconciliation_runs
from shopsync.schemas import MAX_BIGINT
from shopsync.serializers import customer_json, failed_item_json, order_json, product_json

bp = Blueprint("api", __name__, url_prefix="/api/admin")


def fail(status, message):
    """Stop the request with a JSON error."""
    abort(make_response(jsonify(error=message), status))


@bp.before_request
def require_token():
    """Refuse requests without the admin bearer token."""
    expected = current_app.config["SHOPSYNC_ADMIN_TOKEN"]
    if not expected:
        fail(401, "admin API disabled: set SHOPSYNC_ADMIN_TOKEN")
    given = request.headers.get("Authorization", "")
    if not hmac.compare_digest(given.encode(), f"Bearer {expected}".encode()):
        fail(401, "missing or wrong bearer token")


def _int_arg(name, default, low, high):
    """Return an integer query argument within [low, high], its default when absent, else 400."""
    text = request.args.get(name)
    if text is None:
        return default
    if not (text.isascii() and text.isdigit()) or not low <= int(text) <= high:
        fail(400, f"{name} must be a whole number from {low} to {high}")
    return int(text)


def _get_or_404(field, value, what):
    """Return the row whose `field` equals `value`, or answer 404 naming `what`."""
    record = field.model.get_or_none(field == value) if value <= MAX_BIGINT else None
    if record is None:
        fail(404, f"{what} {value} not found")
    return record


@bp.get("/stats")
def get_stats():
    """Return counts of ERP records, webhooks and failed items."""
    return jsonify(stats.summary())


@bp.get("/orders/<int:shopify_id>")
def get_order(shopify_id):
    """Return one ERP order with its line items and books."""
    order = _get_or_404(Order.shopify_id, shopify_id, "order")
    lines = order.line_items.order_by(OrderLineItem.id)
    return jsonify(order_json(order, lines, books_of(order)))


@bp.get("/products/<int:shopify_id>")
def get_product(shopify_id):
    """Return one ERP product with its variants."""
    product = _get_or_404(Product.shopify_id, shopify_id, "product")
    variants = (ProductVariant.select().where(ProductVariant.product_shopify_id == shopify_id)
                .order_by(ProductVariant.position, ProductVariant.id))
    return jsonify(product_json(product, variants))


@bp.get("/customers/<int:shopify_id>")
def get_customer(shopify_id):
    """Return one ERP customer."""
    return jsonify(customer_json(_get_or_404(Customer.shopify_id, shopify_id, "customer")))


@bp.get("/failed-items")
def list_failed_items():
    """List failed items, newest first: `?status=open|needs_person|resolved|abandoned&entity=&before_id=`."""
    status = request.args.get("status", "open")
    if status not in FailedSyncItem.FILTERS:
        fail(400, f"status must be one of {', '.join(FailedSyncItem.FILTERS)}")
    items = dlq.find_items(status, entity_type=request.args.get("entity"),
                           before_id=_int_arg("before_id", None, 1, MAX_BIGINT),
                           limit=_int_arg("limit", 50, 1, 500))
    return jsonify(items=[failed_item_json(item) for item in items])


@bp.post("/failed-items/<int:item_id>/retry")
def retry_failed_item(item_id):
    """Retry one failed item now and return it."""
    _get_or_404(FailedSyncItem.id, item_id, "failed item")
    return jsonify(failed_item_json(dlq.retry_item(item_id)))


@bp.post("/failed-items/<int:item_id>/abandon")
def abandon_failed_item(item_id):
    """Give up on one failed item and return it."""
    _get_or_404(FailedSyncItem.id, item_id, "failed item")
    return jsonify(failed_item_json(dlq.abandon_item(item_id)))


@bp.get("/reconciliation")
def list_reconciliation_reports():
    """List reconciliation reports, newest first: `?entity=&kind=full|catchup|deep&limit=`."""
    entity = request.args.get("entity")
    if entity:
        try:
            reconciliation.entities(entity)
        except ValueError as exc:
            fail(400, str(exc))
    reports = reconciliation_reports.latest_reports(entity, request.args.get("kind"),
                                            _int_arg("limit", 20, 1, 200))
    return jsonify(reports=[reconciliation_reports.report_json(report) for report in reports])


@bp.post("/reconciliation")
def start_reconciliation():
    """Queue a full reconciliation of one entity (`?entity=` or JSON `entity`) or of all; 202."""
    body = request.get_json(force=True, silent=True) if request.get_data() else {}
    if not isinstance(body, dict):
        fail(400, 'the body must be a JSON object such as {"entity": "orders"}, or empty')
    entity = request.args.get("entity") or body.get("entity")
    if entity is not None and not isinstance(entity, str):
        fail(400, 'entity must be one name, such as "orders"')
    try:
        names = [e.name for e in reconciliation.entities(entity)]
    except ValueError as exc:
        fail(400, str(exc))
    job_ids = reconciliation_runs.start_reconciliation(entity)
    if job_ids is None:
        fail(503, "the job queue is unreachable, retry later")
    return jsonify(status="queued", entities=names, jobs=job_ids), 202


@bp.get("/health")
def get_health():
    """Return the latest health readings, their worst status, and what is late among processes and jobs."""
    return jsonify({**health.summary(), "liveness": liveness.report().json()})


@bp.get("/workers")
def get_workers():
    """Return the queue, the drains, each worker's heartbeat and current job, and the schedule."""
    return jsonify(workers.view().json())
