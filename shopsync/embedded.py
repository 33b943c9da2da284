"""`make run`: the whole service in one process, for a first look and for development.

Web server, RQ workers (one per queue, short and long) and rq-scheduler run as threads. With
REDIS_URL unset the queues are on an in-process Redis stand-in; with SHOPIFY_SHOP unset a
simulated store is started too, is backfilled, and keeps changing, so webhooks flow and the
dashboard shows live data.
"""

import logging
import os
import secrets
import threading

from dotenv import load_dotenv
from werkzeug.serving import make_server

from shopsync import (
    backfill,
    create_app_or_exit,
    demo,
    liveness,
    migrations,
    queue,
    scheduler,
    worker_process,
)
from shopsync.db import db

HOST = "127.0.0.1"
# Size of the simulated store and how many changes per second it makes.
DEMO_ORDERS, DEMO_CHANGES_PER_SECOND = 300, 0.5
# GraphQL points restored per second: a Shopify Plus store's, so the demo backfill is quick.
DEMO_RESTORE_RATE = 1000.0


def _start_thread(target, name):
    thread = threading.Thread(target=target, name=name, daemon=True)
    thread.start()
    return thread


def _start_simulator(webhook_url):
    """Start a simulated store that sends webhooks to `webhook_url`; connect to it as a Dev
    Dashboard app does: client id and secret only, the secret also signing webhooks."""
    from shopsync.simulator import Activity, SimulatorServer, Store

    store = Store.generate(seed=1, orders=DEMO_ORDERS)
    server = SimulatorServer(store, access_token="", webhook_url=webhook_url,
                             webhook_secret=os.environ["SHOPIFY_CLIENT_SECRET"],
                             graphql_restore_rate=DEMO_RESTORE_RATE)
    server.start()
    os.environ["SHOPIFY_API_BASE_URL"] = server.base_url
    os.environ["SHOPIFY_CLIENT_ID"] = server.tokens.client_id
    return store, server, Activity(store, rate=DEMO_CHANGES_PER_SECOND)


def _run_worker(app, kind):
    with app.app_context():
        worker_process.serve(kind, queue.ThreadWorker, logging_level="WARNING")


def _run_scheduler(app):
    with app.app_context(), liveness.beating("scheduler"):
        scheduler.make_scheduler(queue.get_queue(), scheduler.ThreadScheduler).run()


def main():
    """Run web, worker and scheduler (and a simulated store when no shop is set)."""
    load_dotenv(os.environ.get("SHOPSYNC_ENV_FILE", ".env"))  # before deciding what to simulate
    port = int(os.environ.get("PORT", "5000"))
    for name in ("SHOPSYNC_ADMIN_TOKEN", "SECRET_KEY"):
        if not os.environ.get(name):
            os.environ[name] = secrets.token_urlsafe(24)
    simulated = not (os.environ.get("SHOPIFY_SHOP") or os.environ.get("SHOPIFY_API_BASE_URL"))
    if simulated:
        os.environ.setdefault("SHOPIFY_CLIENT_SECRET", f"shpss_{secrets.token_hex(16)}")
        store, shop, activity = _start_simulator(f"http://{HOST}:{port}/webhooks/shopify")
        if not os.environ.get("DATABASE_URL"):  # a fresh store needs a fresh ERP
            os.environ["DATABASE_URL"] = demo.fresh_database()

    app = create_app_or_exit()
    with app.app_context(), db.connection_context():
        migrations.upgrade()
    username, password = demo.admin()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # keep the login below in sight
    server = make_server(HOST, port, app, threaded=True)
    for kind in worker_process.KINDS:
        _start_thread(lambda kind=kind: _run_worker(app, kind), f"rq-worker-{kind}")
    _start_thread(lambda: _run_scheduler(app), "rq-scheduler")
    if simulated:
        with app.app_context():
            for resource in ("customers", "products", "orders"):
                backfill.start_backfill(resource)
        activity.start()

    print(f"""
shopsync is running on http://{HOST}:{port}/
  log in as {username} / {password}
  admin API: curl -H 'Authorization: Bearer {os.environ["SHOPSYNC_ADMIN_TOKEN"]}' \\
             http://{HOST}:{port}/api/admin/stats
  mode: {"embedded queue (no REDIS_URL)" if not app.config["REDIS_URL"] else "Redis queue"}, """
          f"""{"simulated store at " + shop.url if simulated else os.environ.get("SHOPIFY_SHOP")}
  webhook secret: {app.config["SHOPIFY_WEBHOOK_SECRET"]}
Press Ctrl+C to stop.
""", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
