"""Privacy topics erase personal data wherever shopsync keeps it; stored bodies age out."""

import datetime as dt
import json

from shopsync import failed_items, privacy
from shopsync.db import db, utcnow
from shopsync.models import FailedSyncItem, Resolution, WebhookLog, WebhookStatus
from tests.helpers import deliver, fixture, order

SHOP = "sim-shop.myshopify.com"
EMAIL = "bob.norman@hostmail.com"
PHONE = "+13125551212"


def stored_text():
    """Return every text shopsync keeps about deliveries and failed items, joined."""
    bodies = [bytes(row.raw_body).decode(errors="replace") + str(row.error)
              for row in WebhookLog.select()]
    items = [f"{i.raw_data} {i.error_message} {i.error_stack}" for i in FailedSyncItem.select()]
    return "\n".join(bodies + items)


def redact(client, customer_id=207119551, orders=(450789469,)):
    return deliver(client, "customers/redact", {
        "shop_id": 954889, "shop_domain": SHOP,
        "customer": {"id": customer_id, "email": EMAIL, "phone": PHONE},
        "orders_to_redact": list(orders)}, webhook_id="redact")


def test_customer_redact_erases_the_customer_from_bodies_items_and_errors(client, api, run_jobs):
    deliver(client, "customers/create", fixture("customer"), webhook_id="c1")
    deliver(client, "orders/create", order(), webhook_id="o1")
    deliver(client, "orders/create", order(id=2, customer=None, email="other@example.com"),
            webhook_id="o2")
    deliver(client, "orders/updated", order(id=3, customer=None, total_price="lots"), webhook_id="o3")
    run_jobs()
    # A failed item whose reason copies the row, as PostgreSQL's messages do.
    failed_items.add_to_dead_letter("order", 4, json.dumps(order(id=4, customer=None, phone=PHONE)),
                           f"IntegrityError: Failing row contains (4, {EMAIL})")
    assert EMAIL in stored_text() and PHONE in stored_text()
    assert redact(client, orders=(450789469, 3)).status_code == 200
    run_jobs()
    text = stored_text()
    assert EMAIL not in text and PHONE not in text
    assert api("customers/207119551").json["email"] is None
    assert api("orders/450789469").json["email"] is None
    assert api("orders/2").json["email"] == "other@example.com"  # another customer's order
    assert b"other@example.com" in bytes(WebhookLog.get_by_id("o2").raw_body)
    for hook in ("c1", "o1", "o3", "redact"):
        assert bytes(WebhookLog.get_by_id(hook).raw_body) == b""
    assert WebhookLog.get_by_id("redact").status is WebhookStatus.PROCESSED
    # Nothing left to retry but the money checks, which hold only an order's id, name and figures.
    for item in FailedSyncItem.select().where(FailedSyncItem.entity_type != "money"):
        assert item.resolution is Resolution.ABANDONED and not item.retryable
        assert utcnow() - item.resolved_at < dt.timedelta(minutes=1)


def test_shop_redact_erases_every_stored_body_and_item(client, api, run_jobs):
    deliver(client, "orders/create", order())
    deliver(client, "orders/updated", b"not json")
    run_jobs()
    deliver(client, "shop/redact", {"shop_id": 954889, "shop_domain": SHOP})
    run_jobs()
    assert EMAIL not in stored_text()
    assert all(bytes(row.raw_body) == b"" for row in WebhookLog.select())
    assert FailedSyncItem.get().raw_data == ""
    assert WebhookLog.select().count() == 3  # the rows stay, for the counts


def test_processed_bodies_are_dropped_after_the_retention_period(app, client, run_jobs):
    for n in range(3):
        deliver(client, "orders/create", order(id=n + 1), webhook_id=f"o{n}")
    deliver(client, "app/uninstalled", {"id": 1}, webhook_id="ignored")
    deliver(client, "orders/updated", b"not json", webhook_id="broken")
    run_jobs()
    deliver(client, "orders/create", order(id=9), webhook_id="pending")
    old = utcnow() - dt.timedelta(days=31)
    with db.connection_context():
        WebhookLog.update(received_at=old).where(WebhookLog.id != "o2").execute()
        FailedSyncItem.update(resolved_at=old, resolution=Resolution.ABANDONED).execute()
    assert app.config["SHOPSYNC_WEBHOOK_RETENTION_DAYS"] == 30
    assert privacy.drop_expired_bodies() == 3
    emptied = {row.id for row in WebhookLog.select() if bytes(row.raw_body) == b""}
    assert emptied == {"o0", "o1", "ignored"}  # o2 is recent; failed and pending still wait
    assert FailedSyncItem.get().raw_data == ""
    assert WebhookLog.select().count() == 6
    assert privacy.drop_expired_bodies() == 0


def test_the_scheduler_drops_expired_bodies():
    from shopsync.periodic import JOBS

    assert "shopsync.privacy.drop_expired_bodies" in {job.func for job in JOBS}
