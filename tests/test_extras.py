"""Extra records: ids the ERP holds but Shopify does not are checked one by one in Shopify
(real HTTP to the simulator) and only those Shopify lacks are marked deleted."""

import pytest

from shopsync import extras
from shopsync.models import AuditEntry, Order, ReconciliationReport, Severity, SyncHealthMetric
from shopsync.simulator import SimulatorServer, Store
from tests.test_dashboard import post


def text(response):
    return response.get_data(as_text=True)


@pytest.fixture
def shop(app):
    """Serve a small simulated store and point the app's client at it."""
    store = Store.generate(seed=3, orders=5, products=2, customers=3)
    server = SimulatorServer(store, bucket_size=1000, leak_rate=10_000.0).start()
    app.config.update(SHOPIFY_API_BASE_URL=server.base_url, SHOPIFY_ACCESS_TOKEN=server.access_token)
    yield store
    server.stop()


def test_only_ids_shopify_lacks_are_marked_deleted(app, admin_client, run_jobs, shop):
    kept = shop.ids("orders", status="any")[0]
    Order.insert_many([{"shopify_id": kept}, {"shopify_id": 9_000_001},
                       {"shopify_id": 9_000_002}]).execute()
    report = ReconciliationReport.create(entity_type="orders", status=Severity.CRITICAL,
                                         details={"extra": [kept, 9_000_001, 9_000_002]})
    confirm = post(admin_client, f"/reconciliation/{report.id}/extras")
    assert "Check 3 extra orders in Shopify?" in text(confirm)
    post(admin_client, f"/reconciliation/{report.id}/extras", confirm="yes")
    again = post(admin_client, f"/reconciliation/{report.id}/extras", confirm="yes")
    assert "being checked already" in text(admin_client.get(again.headers["Location"]))
    run_jobs()
    deleted = {o.shopify_id for o in Order.select().where(Order.deleted_at.is_null(False))}
    assert deleted == {9_000_001, 9_000_002}
    outcome = AuditEntry.get(AuditEntry.action == "settle extra records")
    assert outcome.username == "admin" and outcome.target == f"report #{report.id} (orders)"
    assert outcome.detail.startswith("2 not in Shopify, marked deleted (9000001, 9000002); "
                                     "1 still in Shopify, kept")


def test_a_negative_order_lag_reads_as_extra_and_links_to_the_report(app, viewer_client):
    report = ReconciliationReport.create(entity_type="orders", status=Severity.WARNING,
                                         details={"extra": [1, 2, 3]})
    SyncHealthMetric.create(metric_name="order_lag", value=-3, status=Severity.CRITICAL,
                            threshold_warning=50, threshold_critical=200)
    html = text(viewer_client.get("/"))
    assert "3 extra in the ERP" in html
    assert f'href="/reconciliation/{report.id}"' in html


def test_settling_stops_cleanly_when_shopify_fails(app, shop, monkeypatch):
    from shopsync.shopify import APIS, ShopifyUnavailable

    def unavailable(self, resource, record_id, fields=None):
        raise ShopifyUnavailable("503 Service Unavailable", status=503)

    for client_class in APIS.values():  # GraphQL or REST, whichever is configured
        monkeypatch.setattr(client_class, "get", unavailable)
    report = ReconciliationReport.create(entity_type="orders", details={"extra": [5]})
    assert extras.settle_report(report.id, "admin") is None
    assert AuditEntry.get().detail.startswith("stopped: Shopify answered 503")
    assert Order.select().count() == 0
