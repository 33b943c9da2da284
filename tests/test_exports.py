"""CSV exports of failed items (as filtered) and of a reconciliation report's ids."""

import csv
import io

from shopsync import failed_items


def rows(response):
    assert response.mimetype == "text/csv" and "attachment" in response.headers["Content-Disposition"]
    return list(csv.reader(io.StringIO(response.get_data(as_text=True))))


def test_failed_items_download_as_filtered(viewer_client, dashboard_data):
    everything = rows(viewer_client.get("/failed-items.csv?status=all"))
    assert everything[0][:5] == ["id", "entity", "shopify_id", "topic", "status"]
    assert len(everything) == 4
    products = rows(viewer_client.get("/failed-items.csv?entity=product"))
    assert [(r[1], r[2]) for r in products[1:]] == [("product", "777")]
    failed_items.add_to_dead_letter("order", 9, "{}",
                                    'invalid order payload: {"id": ["Not a valid integer."]}')
    found = rows(viewer_client.get("/failed-items.csv?q=Not+a+valid"))
    assert found[1][6] == "The order data is not valid: id must be a whole number."
    assert 'href="/failed-items.csv?status=open&amp;entity=product"' in viewer_client.get(
        "/failed-items?entity=product").get_data(as_text=True)


def test_report_ids_download_with_their_kind(viewer_client, dashboard_data):
    found = rows(viewer_client.get(f"/reconciliation/{dashboard_data['report']}/ids.csv"))
    assert found == [["kind", "shopify_id"], ["missing", "450789469"], ["missing", "450789470"],
                     ["extra", "999"], ["healed", "450789469"]]
    assert viewer_client.get("/reconciliation/999999/ids.csv").status_code == 404
