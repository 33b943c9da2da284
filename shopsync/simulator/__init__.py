"""A local Shopify store: REST and GraphQL Admin APIs, client-credentials tokens, rate limits,
faults and signed webhooks, for tests and demos.

    store = Store.generate(seed=1, orders=1000)
    with SimulatorServer(store, webhook_url=..., webhook_secret=...) as server:
        ShopifyClient(server.base_url, server.access_token) ...
        store.create_order()          # emits orders/create to webhook_url
        server.wait_for_webhooks()
"""

from shopsync.simulator.activity import Activity, random_change
from shopsync.simulator.api import RequestRecord
from shopsync.simulator.faults import Faults
from shopsync.simulator.ratelimit import LeakyBucket
from shopsync.simulator.server import DEFAULT_WEBHOOK_SECRET, SimulatorServer
from shopsync.simulator.store import Event, Store
from shopsync.simulator.webhooks import TOPICS, Delivery, WebhookOptions

__all__ = [
    "DEFAULT_WEBHOOK_SECRET", "TOPICS", "Activity", "Delivery", "Event", "Faults", "LeakyBucket",
    "RequestRecord", "SimulatorServer", "Store", "WebhookOptions", "random_change",
]
