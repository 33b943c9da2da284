"""Client-credentials tokens over real HTTP: shared by processes, refreshed, scopes checked."""

import os
import subprocess
import sys
import time

import pytest

from shopsync import backfill
from shopsync.health import compute_health
from shopsync.models import FailedSyncItem, Order, ReconciliationReport, RunStatus, SyncState
from shopsync.reconciliation import runs
from shopsync.shopify import AdminClient, ClientCredentials, ShopifyAccessError, connect
from shopsync.simulator import SimulatorServer, Store
from tests.helpers import SESSION_KEY

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture
def shop():
    """A store that only grants expiring tokens (no static one), two seconds each."""
    store = Store.generate(seed=21, orders=700, products=10, customers=40)
    with SimulatorServer(store, access_token="", token_lifetime=2, bucket_size=1000,
                         leak_rate=1000.0, graphql_restore_rate=100_000.0) as server:
        yield server


def configure(app, shop, **settings):
    app.config.update({"SHOPIFY_API_BASE_URL": shop.base_url, "SHOPIFY_ACCESS_TOKEN": "",
                       "SHOPIFY_CLIENT_ID": shop.tokens.client_id,
                       "SHOPIFY_CLIENT_SECRET": shop.webhook_secret,
                       "RECONCILE_SETTLE_SECONDS": 0, **settings})


@pytest.mark.parametrize("api", ["graphql", "rest"])
def test_backfill_and_reconciliation_outlive_several_token_expiries(app, shop, api):
    configure(app, shop, SHOPIFY_ADMIN_API=api)
    # Tokens last a second; every call takes long enough that the run outlives several. REST
    # fetches 700 orders in 3 pages and each order's transactions with a call of its own, so
    # each page outlasts a token by itself.
    shop.tokens.lifetime = 1
    shop.faults.slow_rate, shop.faults.slow_seconds = 1.0, {"rest": 0.01, "graphql": 0.12}[api]
    run = backfill.run_backfill(backfill.prepare_run("orders").id)
    assert run.status is RunStatus.COMPLETED, run.error
    assert run.fetched == run.stored == 700 and run.failed == 0
    assert shop.tokens.issued >= 3  # expiries crossed

    store = shop.store
    ids = sorted(store.ids("orders", status="any"))
    missing, extra = ids[10:500:100], ids[50:550:100]
    Order.delete().where(Order.shopify_id.in_(missing)).execute()
    for shopify_id in extra:
        store.delete_order(shopify_id)
    issued = shop.tokens.issued
    time.sleep(1)  # the shared token has expired meanwhile
    [report_id] = runs.run_full("orders")
    details = ReconciliationReport.get_by_id(report_id).details
    assert details["missing"] == missing and details["extra"] == extra
    assert details["healed"] == sorted(missing + extra) and details["failed"] == []
    assert shop.tokens.issued > issued and FailedSyncItem.select().count() == 0


def test_a_token_refused_with_401_is_replaced_once(app, shop):
    configure(app, shop)
    client = connect(app.config)
    assert client.count("customers") == 40
    shop.tokens.expire_all()  # e.g. revoked, or the clocks disagree
    assert client.count("customers") == 40
    assert shop.tokens.issued == 2 and client.tokens.grants == 2
    stored = SyncState.get_by_id(f"token:{shop.tokens.client_id}").value
    assert client.tokens.get() in stored  # shared with every other process


def test_processes_share_one_token_without_a_stampede(app, shop):
    configure(app, shop)
    shop.tokens.lifetime, shop.tokens.delay = 3600, 0.5  # the grant is slow: requests overlap
    token_url = f"{shop.url}/admin/oauth/access_token"
    code = (
        "import sys, time\n"
        "from shopsync import create_app\n"
        "from shopsync.shopify.tokens import ClientCredentials\n"
        "app = create_app({'DATABASE_URL': sys.argv[1], 'SECRET_KEY': sys.argv[2], 'REDIS_URL': None})\n"
        "time.sleep(max(0, float(sys.argv[3]) - time.time()))\n"
        "with app.app_context():\n"
        "    print(ClientCredentials(sys.argv[4], sys.argv[5], sys.argv[6]).get())\n")
    start = time.time() + 3
    processes = [subprocess.Popen(
        [sys.executable, "-c", code, app.config["DATABASE_URL"], SESSION_KEY, str(start),
         token_url, shop.tokens.client_id, shop.webhook_secret],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(4)]
    outputs = [process.communicate(timeout=60) for process in processes]
    assert all(process.returncode == 0 for process in processes), outputs
    tokens = {out.strip() for out, _ in outputs}
    assert len(tokens) == 1 and shop.tokens.issued == 1


def test_wrong_credentials_are_a_clear_error(app, shop):
    configure(app, shop, SHOPIFY_CLIENT_SECRET="shpss_wrong")
    run = backfill.run_backfill(backfill.prepare_run("customers").id)
    assert run.status is RunStatus.FAILED
    assert "SHOPIFY_CLIENT_ID and SHOPIFY_CLIENT_SECRET" in run.error and "401" in run.error
    with pytest.raises(ShopifyAccessError):
        ClientCredentials(f"{shop.url}/admin/oauth/access_token", "sim-client-id", "nope").get()


@pytest.mark.parametrize("api", ["graphql", "rest"])
def test_a_scope_not_granted_is_named_on_the_cli_and_the_health_page(app, admin_client, api):
    store = Store.generate(seed=22, orders=20, products=3, customers=5)
    with SimulatorServer(store, access_token="", scopes=("read_products", "read_customers"),
                         graphql_restore_rate=100_000.0) as shop:
        configure(app, shop, SHOPIFY_ADMIN_API=api)
        result = app.test_cli_runner().invoke(args=["backfill", "orders"])
        assert result.exit_code == 1
        assert "read_orders not granted" in result.output
        readings = {r.metric_name: r for r in compute_health()}
        assert readings["shopify_access_problems"].value == 1
        page = admin_client.get("/").get_data(as_text=True)
        assert "Shopify access: read_orders not granted" in page


def test_a_static_token_keeps_working_and_its_scopes_are_asked(app):
    store = Store.generate(seed=23, orders=20, products=3, customers=5)
    with SimulatorServer(store, access_token="shpat_legacy", scopes=("read_orders",),
                         graphql_restore_rate=100_000.0) as shop:
        client = AdminClient(shop.base_url, "shpat_legacy")
        assert client.count("orders") == 20
        with pytest.raises(ShopifyAccessError, match="read_products not granted"):
            client.count("products")
