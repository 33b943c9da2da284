"""`app/uninstalled`: the store removed the app, so nothing syncs any more until it is reinstalled."""

from shopsync import alerts
from shopsync.models import Severity
from shopsync.schemas import ShopifyId, ShopifySchema, Text

METRIC = "app_uninstalled"


class AppUninstalledSchema(ShopifySchema):
    """The body of `app/uninstalled`: the shop that removed the app."""

    id = ShopifyId(load_default=None)
    name = Text()
    myshopify_domain = Text()
    domain = Text()


def raise_alert(data):
    """Alert the team, critically: webhooks and API access stop until the app is reinstalled."""
    shop = data.get("myshopify_domain") or data.get("domain") or data.get("name") or "the store"
    alerts.send(METRIC, None, Severity.CRITICAL,
                f"[shopsync] CRITICAL: {shop} uninstalled the app. Shopify sends no more webhooks "
                "and the API token stops working; shop/redact follows in 48 hours. Reinstall the "
                "app, then run register-webhooks and a reconciliation.")
    return False
