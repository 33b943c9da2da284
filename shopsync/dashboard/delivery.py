"""One webhook delivery: its headers and body, Replay, and the answer to a data request."""

import json

from flask import flash, redirect, render_template, request, url_for

from shopsync import audit, replay
from shopsync.auth import admin_required, current_user, login_required, safe_next
from shopsync.dashboard import bp, get_or_404
from shopsync.dashboard.webhooks import failed_items_of, read_filters
from shopsync.models import DataRequestAnswer, WebhookLog
from shopsync.topics import ENTITIES, TOPICS

DATA_REQUEST = "customers/data_request"
# Bodies longer than this are shown cut, with the length.
SHOWN_BYTES = 200_000


def headers_of(hook):
    """Return the Shopify headers of a delivery as stored (the signature is checked, not kept)."""
    given = not hook.id.startswith("sha256-")
    return [
        ("X-Shopify-Topic", hook.topic),
        ("X-Shopify-Webhook-Id", hook.id if given else f"none sent (stored as {hook.id})"),
        ("X-Shopify-Event-Id", hook.event_id or "—"),
        ("X-Shopify-Shop-Domain", hook.shop_domain or "—"),
        ("X-Shopify-API-Version", hook.api_version or "—"),
        ("X-Shopify-Triggered-At", hook.triggered_at.isoformat() if hook.triggered_at else "—"),
        ("X-Shopify-Hmac-Sha256", "verified on receipt (not stored)"),
    ]


def body_of(hook):
    """Return (the body as readable text, its length in bytes, whether it was cut)."""
    raw = bytes(hook.raw_body)
    try:
        text = json.dumps(json.loads(raw), indent=2, ensure_ascii=False)
    except (UnicodeDecodeError, ValueError):
        text = raw.decode("utf-8", errors="replace")
    return text[:SHOWN_BYTES], len(raw), len(text) > SHOWN_BYTES


def _id_in_body(hook, *keys):
    """Return the integer id at `keys` in a delivery's JSON body, or None."""
    try:
        value = json.loads(bytes(hook.raw_body))
        for key in keys:
            value = value[key]
    except (UnicodeDecodeError, ValueError, KeyError, TypeError):
        return None
    return value if type(value) is int else None


def record_of(hook, topic):
    """Return (entity, Shopify id) of the record page a delivery belongs on, or (None, None).

    A refund, transaction or fulfillment belongs on its order's page; a privacy delivery on
    the customer it names."""
    if topic is None:
        return None, None
    if topic.is_privacy:
        return "customer", _id_in_body(hook, "customer", "id")
    if ENTITIES[topic.entity_type].model is None:
        return "order", _id_in_body(hook, "order_id")
    return topic.entity_type, hook.shopify_id


@bp.get("/webhooks/<path:webhook_id>")
@login_required
def webhook(webhook_id):
    """Show one delivery with its headers, body, outcome and failed item."""
    hook = get_or_404(WebhookLog, webhook_id, "webhook")
    body, size, cut = body_of(hook)
    topic = TOPICS.get(hook.topic)
    return render_template(
        "dashboard/webhook.html", hook=hook, headers=headers_of(hook), body=body, size=size,
        cut=cut, failed_item=failed_items_of([hook]).get(hook.id),
        record=record_of(hook, topic), replayable=topic is not None,
        answer=DataRequestAnswer.get_or_none(DataRequestAnswer.webhook == hook.id)
        if hook.topic == DATA_REQUEST else None,
        back=request.full_path.rstrip("?"))


def _replayed(count, queued):
    """Tell the person how a replay went."""
    if not queued:
        flash(f"{count} deliver{'y is' if count == 1 else 'ies are'} pending again, but Redis "
              "cannot be reached: nothing was queued. The sweeper queues them within a minute or "
              "two of Redis coming back.", "error")
    else:
        flash(f"Replaying {count} deliver{'y' if count == 1 else 'ies'}: a worker applies "
              f"{'it' if count == 1 else 'them'} again in a moment (newer data in the ERP wins).",
              "info")


@bp.post("/webhooks/<path:webhook_id>/replay")
@admin_required
def replay_webhook(webhook_id):
    """Apply one delivery again through the normal path."""
    hook = get_or_404(WebhookLog, webhook_id, "webhook")
    count, queued = replay.replay([WebhookLog.id == hook.id])
    if count:
        _replayed(count, queued)
    else:
        flash(f"{hook.topic} is not a topic shopsync applies: nothing to replay.", "error")
    return redirect(url_for("dashboard.webhook", webhook_id=hook.id))


@bp.post("/webhooks/replay")
@admin_required
def replay_matching():
    """Apply again every delivery matching a search, after a confirmation."""
    typed, conditions, problems = read_filters(request.form)
    back = safe_next(request.form.get("next"))
    if problems:
        for problem in problems:
            flash(problem, "error")
        return redirect(back)
    if request.form.get("confirm") != "yes":
        audit.skip()
        return render_template("dashboard/replay_confirm.html", typed=typed,
                               count=replay.count(conditions), back=back)
    count, queued = replay.replay(conditions)
    _replayed(count, queued)
    return redirect(back)


@bp.post("/webhooks/<path:webhook_id>/answered")
@admin_required
def answer_data_request(webhook_id):
    """Mark a customer data request answered."""
    hook = get_or_404(WebhookLog, webhook_id, "webhook")
    if hook.topic != DATA_REQUEST:
        flash("Only customer data requests can be marked answered.", "error")
    else:
        DataRequestAnswer.insert(webhook=hook.id, answered_by=current_user().username
                                 ).on_conflict_ignore().execute()
        flash("Data request marked answered.", "info")
    return redirect(url_for("dashboard.webhook", webhook_id=hook.id))
