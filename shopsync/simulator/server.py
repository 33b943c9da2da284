"""SimulatorServer: a Store served as Shopify's Admin APIs on a local port, with webhooks."""

import threading

from werkzeug.serving import WSGIRequestHandler, make_server

from shopsync.simulator.api import RequestStats, create_api
from shopsync.simulator.faults import Faults
from shopsync.simulator.graphql.bulk import BulkOperations
from shopsync.simulator.ratelimit import LeakyBucket
from shopsync.simulator.tokens import DEFAULT_CLIENT_ID, DEFAULT_LIFETIME, Tokens
from shopsync.simulator.webhooks import Subscriptions, WebhookSender

DEFAULT_WEBHOOK_SECRET = "shpss_simulator_secret"  # signs webhooks when no secret is given
# GraphQL cost limits: Shopify's classic bucket of 1,000 points restoring 50 a second.
GRAPHQL_BUCKET, GRAPHQL_RESTORE_RATE = 1000, 50.0
POLL_SECONDS = 0.05  # how often the server loop checks for stop()


class _Handler(WSGIRequestHandler):
    """Werkzeug's handler without the access log."""

    def log_request(self, *args, **kwargs):
        pass


class SimulatorServer:
    """Serve a Store as a Shopify store: REST and GraphQL Admin APIs, client-credentials
    tokens, rate limits, faults, webhooks."""

    def __init__(self, store, host="127.0.0.1", port=0, access_token="shpat_test",
                 api_version="2025-10", shop="sim-shop.myshopify.com", bucket_size=40,
                 leak_rate=2.0, webhook_url=None, webhook_secret=None, webhook_options=None,
                 client_id=DEFAULT_CLIENT_ID, token_lifetime=DEFAULT_LIFETIME, scopes=None,
                 graphql_bucket=GRAPHQL_BUCKET, graphql_restore_rate=GRAPHQL_RESTORE_RATE):
        self.store, self.host, self.shop = store, host, shop
        self.access_token, self.api_version = access_token, api_version  # "": no static token
        self.webhook_url = webhook_url  # receives every topic, like an app's TOML subscription
        # The app's client secret: it signs webhooks and, with client_id, obtains tokens.
        self.webhook_secret = webhook_secret or DEFAULT_WEBHOOK_SECRET
        self.tokens = Tokens(client_id, self.webhook_secret, token_lifetime,
                             **({"scopes": scopes} if scopes is not None else {}))
        self.bucket = LeakyBucket(bucket_size, leak_rate)
        self.graphql_bucket = LeakyBucket(graphql_bucket, graphql_restore_rate)
        self.faults = Faults()
        self.stats = RequestStats()
        self.subscriptions = Subscriptions(api_version)
        self.webhooks = WebhookSender(shop, api_version, self.webhook_secret, webhook_options,
                                      on_give_up=self._give_up)
        self.bulk = BulkOperations(self)
        self.app = create_api(self)
        self._http = make_server(host, port, self.app, threaded=True, request_handler=_Handler)
        self.port = self._http.server_port
        self._thread = None

    @property
    def url(self):
        """Return the server's root URL."""
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self):
        """Return the API base URL, what SHOPIFY_API_BASE_URL should be set to."""
        return f"{self.url}/admin/api/{self.api_version}"

    def start(self):
        """Serve in a background thread and start sending webhooks; return self."""
        if self._thread:
            raise RuntimeError("simulator already started")
        self.store.add_listener(self._on_change)
        self.webhooks.start()
        self._thread = threading.Thread(target=self._http.serve_forever, args=(POLL_SECONDS,),
                                        daemon=True, name=f"shopify-simulator-{self.port}")
        self._thread.start()
        return self

    def stop(self):
        """Stop serving and stop the webhook sender (queued webhooks are abandoned)."""
        self.store.remove_listener(self._on_change)
        if self._thread:
            self._http.shutdown()
            self._thread.join()
        self._http.server_close()
        self.webhooks.stop()
        self.bulk.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def request_count(self):
        """Return how many REST requests were served (401s and 429s included)."""
        return self.stats.total

    @property
    def throttled_count(self):
        """Return how many requests were refused with 429."""
        return self.stats.throttled

    @property
    def requests_by_kind(self):
        """Return request counts per endpoint kind, e.g. {"orders.list": 12}."""
        return dict(self.stats.by_kind)

    @property
    def requests_by_path(self):
        """Return request counts per URL path."""
        return dict(self.stats.by_path)

    @property
    def request_log(self):
        """Return the latest requests (RequestRecord), oldest first."""
        return list(self.stats.log)

    def reset_counters(self):
        """Zero the request counters and the log."""
        self.stats.reset()

    @property
    def deliveries(self):
        """Return the latest webhook Deliveries, oldest first, with their attempts and state."""
        return list(self.webhooks.history)

    def wait_for_webhooks(self, timeout=10.0):
        """Wait until no webhook is queued or in flight; tell whether that happened in time."""
        return self.webhooks.wait_idle(timeout)

    def _on_change(self, event):
        self.webhooks.submit(event, self.targets)

    def targets(self, topic):
        """Return (subscription id, address) pairs to deliver `topic` to, one per address."""
        targets = [(None, self.webhook_url)] if self.webhook_url else []
        for subscription_id, address in self.subscriptions.targets(topic):
            if address not in {target[1] for target in targets}:
                targets.append((subscription_id, address))
        return targets

    def _give_up(self, delivery):
        """Delete an Admin API subscription whose delivery failed every try, as Shopify does."""
        if delivery.subscription_id is not None:
            self.subscriptions.delete(delivery.subscription_id)
