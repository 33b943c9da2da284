"""Bad requests to the admin API and the dashboard get a clear 400/404/405, never a 500."""

import pytest

from tests.helpers import ADMIN_TOKEN

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
HUGE = 2**63


@pytest.mark.parametrize("query", ["limit=-1", "limit=0", "limit=501", "limit=abc", "limit=%C2%B2",
                                   f"before_id={HUGE}", "before_id=-5"])
def test_bad_failed_item_listing_arguments_get_400(client, query):
    response = client.get(f"/api/admin/failed-items?{query}", headers=AUTH)
    assert response.status_code == 400 and "must be a whole number" in response.json["error"]


def test_good_listing_arguments_still_work(client, dashboard_data):
    response = client.get("/api/admin/failed-items?limit=1&before_id=9223372036854775807", headers=AUTH)
    assert response.status_code == 200 and len(response.json["items"]) == 1
    assert client.get("/api/admin/reconciliation?limit=200", headers=AUTH).status_code == 200
    assert client.get("/api/admin/reconciliation?limit=-1", headers=AUTH).status_code == 400


@pytest.mark.parametrize("body", [b'{"entity": ["orders"]}', b'{"entity": 5}', b"{not json",
                                  b'["orders"]', b'"orders"'])
def test_a_reconciliation_request_that_is_not_understood_gets_400_and_starts_nothing(
        client, body, monkeypatch):
    from shopsync.reconciliation import runs

    started = []
    monkeypatch.setattr(runs, "start_reconciliation", lambda e: started.append(e) or [])
    response = client.post("/api/admin/reconciliation", data=body, headers=AUTH,
                           content_type="application/json")
    assert response.status_code == 400 and response.json["error"]
    assert started == []


@pytest.mark.parametrize("body, entities", [(b"", ["orders", "products", "customers"]),
                                            (b'{"entity": "orders"}', ["orders"]),
                                            (b"{}", ["orders", "products", "customers"])])
def test_a_reconciliation_request_that_is_understood_starts(client, body, entities):
    response = client.post("/api/admin/reconciliation", data=body, headers=AUTH,
                           content_type="application/json")
    assert response.status_code == 202 and response.json["entities"] == entities


@pytest.mark.parametrize("method, path", [
    ("get", f"/api/admin/orders/{HUGE}"), ("get", f"/api/admin/products/{HUGE}"),
    ("get", f"/api/admin/customers/{HUGE}"), ("post", f"/api/admin/failed-items/{HUGE}/retry"),
    ("post", f"/api/admin/failed-items/{HUGE}/abandon"), ("get", "/api/admin/nothing-here"),
])
def test_ids_past_bigint_and_unknown_paths_get_a_json_404(client, method, path):
    response = getattr(client, method)(path, headers=AUTH)
    assert response.status_code == 404 and response.json["error"]


@pytest.mark.parametrize("method, path", [("post", "/api/admin/stats"),
                                          ("get", "/api/admin/failed-items/1/retry"),
                                          ("delete", "/api/admin/orders/1")])
def test_a_wrong_method_on_the_api_gets_a_json_405(client, method, path):
    response = getattr(client, method)(path, headers=AUTH)
    assert response.status_code == 405 and response.is_json and response.json["error"]


@pytest.mark.parametrize("method, path", [
    ("get", f"/failed-items/{HUGE}"), ("get", f"/reconciliation/{HUGE}"),
    ("post", f"/backfills/{HUGE}/cancel"), ("post", f"/failed-items/{HUGE}/retry"),
    ("post", f"/failed-items/{HUGE}/abandon"), ("get", f"/records/order/{HUGE}"),
    ("get", f"/reconciliation/{HUGE}/ids.csv"), ("post", f"/reconciliation/{HUGE}/extras"),
])
def test_ids_past_bigint_on_the_dashboard_get_its_404_page(admin_client, method, path):
    data = {"csrf_token": admin_client.csrf_token} if method == "post" else None
    response = getattr(admin_client, method)(path, data=data)
    assert response.status_code == 404 and response.mimetype == "text/html"
    assert f"{HUGE} not found" in response.get_data(as_text=True)


def test_a_non_ascii_digit_in_a_dashboard_page_argument_is_ignored(admin_client):
    assert admin_client.get("/failed-items?before=%C2%B2").status_code == 200
