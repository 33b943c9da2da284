"""Run a simulated Shopify store until interrupted; print its API base URL first.

    python -m shopsync.simulator --port 8081 --orders 10000 [--seed 1]
        [--webhook-url URL --webhook-secret S] [--access-token T] [--activity 2]
        [--client-id ID --token-lifetime SECONDS] [--graphql-restore-rate 50]
"""

import argparse
import signal
import sys
import threading

from shopsync.simulator import Activity, SimulatorServer, Store, WebhookOptions
from shopsync.simulator.server import GRAPHQL_BUCKET, GRAPHQL_RESTORE_RATE
from shopsync.simulator.tokens import DEFAULT_CLIENT_ID, DEFAULT_LIFETIME


def parse_args(argv=None):
    """Parse the command line."""
    parser = argparse.ArgumentParser(prog="python -m shopsync.simulator",
                                     description="Serve a simulated Shopify store.")
    add = parser.add_argument
    add("--host", default="127.0.0.1")
    add("--port", type=int, default=8081, help="0 picks a free port")
    add("--seed", type=int, default=1, help="the generated data is a function of the seed")
    add("--orders", type=int, default=1000)
    add("--products", type=int, default=50)
    add("--customers", type=int, default=200)
    add("--access-token", default="shpat_test",
        help="a static X-Shopify-Access-Token accepted ('' for none: tokens granted only)")
    add("--client-id", default=DEFAULT_CLIENT_ID,
        help="the app's client id; its client secret is the webhook secret")
    add("--token-lifetime", type=float, default=DEFAULT_LIFETIME,
        help="seconds a client-credentials token lasts")
    add("--graphql-bucket", type=int, default=GRAPHQL_BUCKET, help="GraphQL cost bucket depth")
    add("--graphql-restore-rate", type=float, default=GRAPHQL_RESTORE_RATE,
        help="GraphQL cost points restored per second")
    add("--api-version", default="2025-10")
    add("--shop", default="sim-shop.myshopify.com")
    add("--bucket-size", type=int, default=40, help="rate limit: bucket depth")
    add("--leak-rate", type=float, default=2.0, help="rate limit: requests per second")
    add("--webhook-url", help="deliver every topic to this URL")
    add("--webhook-secret", help="HMAC secret for webhooks")
    add("--activity", type=float, default=0.0, help="random store changes per second")
    add("--duplicate-rate", type=float, default=0.0, help="chance a webhook is sent twice")
    add("--drop-rate", type=float, default=0.0, help="chance a webhook is lost")
    add("--reorder-window", type=float, default=0.0, help="seconds of webhook shuffling")
    return parser.parse_args(argv)


def main(argv=None):
    """Start the simulator and serve until Ctrl-C or SIGTERM."""
    args = parse_args(argv)
    store = Store.generate(args.seed, args.orders, args.products, args.customers)
    options = WebhookOptions(duplicate_rate=args.duplicate_rate, drop_rate=args.drop_rate,
                             reorder_window=args.reorder_window, seed=args.seed)
    server = SimulatorServer(store, args.host, args.port, args.access_token, args.api_version,
                             args.shop, args.bucket_size, args.leak_rate, args.webhook_url,
                             args.webhook_secret, options, client_id=args.client_id,
                             token_lifetime=args.token_lifetime,
                             graphql_bucket=args.graphql_bucket,
                             graphql_restore_rate=args.graphql_restore_rate).start()
    activity = Activity(store, args.activity, args.seed).start() if args.activity else None
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(server.base_url, flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        if activity:
            activity.stop()
        server.stop()


if __name__ == "__main__":
    main()
