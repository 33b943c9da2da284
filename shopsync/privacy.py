"""Personal data: erased on Shopify's privacy topics wherever shopsync keeps it, and aged out.

`customers/redact` erases the customer's and the named orders' personal data from the ERP,
and erases the raw bodies and error texts of every stored delivery and failed item about
them or mentioning the customer's email or phone. `shop/redact` does the same for the whole
shop. Raw bodies of processed deliveries, and the data of failed items resolved as long
ago, are dropped after SHOPSYNC_WEBHOOK_RETENTION_DAYS.
"""

import datetime as dt
import functools
import logging
import operator

import peewee as pw
from flask import current_app
from peewee import Case, fn

from shopsync.db import db, is_sqlite, utcnow
from shopsync.models import (
    Customer,
    FailedSyncItem,
    Order,
    Resolution,
    WebhookLog,
    WebhookStatus,
)

log = logging.getLogger(__name__)

# Personal data erased by the privacy topics (Shopify requires action within 30 days).
CUSTOMER_PERSONAL = {"email": None, "first_name": None, "last_name": None, "phone": None,
                     "default_address": None}
ORDER_PERSONAL = {"email": None, "shipping_address": None}
# What stays of an erased error text.
ERASED = "(erased: personal data)"
EXPIRED = "(erased: older than the retention period)"


def _contains(field, text):
    """Match rows whose `field` (text or raw bytes) contains `text`."""
    if is_sqlite():
        return fn.instr(field, text) > 0
    if isinstance(field, pw.BlobField):  # PostgreSQL's LIKE works on bytea, strpos does not
        escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        return pw.Expression(field, "LIKE", f"%{escaped}%".encode())
    return fn.strpos(field, text) > 0


def _mentioning(fields, texts):
    """Match rows where any of `fields` contains any of `texts` (none when no text is given)."""
    conditions = [_contains(field, text) for field in fields for text in texts]
    return functools.reduce(operator.or_, conditions) if conditions else pw.SQL("1 = 0")


def _erase_stored(hooks, items):
    """Erase raw bodies and error texts of the deliveries and failed items matched.

    A failed item left without its data cannot be retried: an open one is abandoned.
    """
    WebhookLog.update(
        raw_body=b"", error=Case(None, [(WebhookLog.error.is_null(False), ERASED)], None),
    ).where(hooks).execute()
    now = FailedSyncItem.resolved_at.db_value(utcnow())
    still_open = FailedSyncItem.is_open()
    FailedSyncItem.update(
        raw_data="", error_message=ERASED, error_stack=None, retryable=False, next_retry_at=None,
        resolved_at=Case(None, [(still_open, now)], FailedSyncItem.resolved_at),
        resolution=Case(None, [(still_open, Resolution.ABANDONED.value)], FailedSyncItem.resolution),
    ).where(items).execute()


def redact_customer(data):
    """Erase a customer's personal data, and that of the orders Shopify names, everywhere."""
    customer_id = data["customer"]["id"]
    linked = Order.select(Order.shopify_id).where(Order.customer_shopify_id == customer_id)
    order_ids = sorted(set(data["orders_to_redact"]) | {row[0] for row in linked.tuples()})
    Customer.update(**CUSTOMER_PERSONAL).where(Customer.shopify_id == customer_id).execute()
    Order.update(**ORDER_PERSONAL).where(Order.shopify_id.in_(order_ids)).execute()
    texts = [text for text in (data["customer"].get("email"), data["customer"].get("phone")) if text]
    hooks = ((WebhookLog.topic.startswith("customers/") & (WebhookLog.shopify_id == customer_id))
             | (WebhookLog.topic.startswith("orders/") & WebhookLog.shopify_id.in_(order_ids))
             | _mentioning([WebhookLog.raw_body, WebhookLog.error], texts))
    items = (((FailedSyncItem.entity_type == "customer") & (FailedSyncItem.shopify_id == customer_id))
             | ((FailedSyncItem.entity_type == "order") & FailedSyncItem.shopify_id.in_(order_ids))
             | _mentioning([FailedSyncItem.raw_data, FailedSyncItem.error_message,
                            FailedSyncItem.error_stack], texts))
    _erase_stored(hooks, items)
    return True


def redact_shop(data):
    """Erase all personal data in the ERP and every stored body and error, as after an uninstall."""
    Customer.update(**CUSTOMER_PERSONAL).execute()
    Order.update(**ORDER_PERSONAL).execute()
    _erase_stored(pw.SQL("1 = 1"), pw.SQL("1 = 1"))
    return True


def record_data_request(data):
    """Acknowledge a customer data request; the delivery stays listed for the team to answer."""
    log.warning("customer data request for customer %s (orders %s): send their data to the merchant",
                data["customer"]["id"], data["orders_requested"])
    return False


def drop_expired_bodies(now=None):
    """Drop the raw bodies of deliveries applied, and the data of failed items resolved, more than
    SHOPSYNC_WEBHOOK_RETENTION_DAYS ago; the rows stay for counts. Return the deliveries emptied."""
    days = current_app.config["SHOPSYNC_WEBHOOK_RETENTION_DAYS"]
    cutoff = (now or utcnow()) - dt.timedelta(days=days)
    with db.connection_context():
        emptied = WebhookLog.update(raw_body=b"").where(
            WebhookLog.status.in_([WebhookStatus.PROCESSED, WebhookStatus.IGNORED])
            & (WebhookLog.received_at < cutoff) & (fn.LENGTH(WebhookLog.raw_body) > 0)).execute()
        FailedSyncItem.update(raw_data="", error_message=EXPIRED, error_stack=None).where(
            (FailedSyncItem.resolved_at < cutoff) & (FailedSyncItem.raw_data != "")).execute()
    log.info("dropped the raw bodies of %d deliveries older than %d days", emptied, days)
    return emptied
