"""Dashboard pages and htmx partials, through the Flask test client."""

import datetime as dt
import json
import re

from shopsync import charts, failed_items
from shopsync.db import utcnow
from shopsync.models import (
    BackfillRun,
    FailedSyncItem,
    ReconciliationReport,
    RunStatus,
    Severity,
    SyncHealthMetric,
    WebhookLog,
    WebhookStatus,
)
from shopsync.queue import get_long_queue

HTMX = {"HX-Request": "true"}


def text(response):
    return response.get_data(as_text=True)


def rows(html, selector="<tr"):
    """Count the table rows of a page, header included."""
    return html.count(selector)


def older_link(html):
    """Return the 'Older' link of a keyset pager, or None."""
    found = re.search(r'href="([^"]+)" rel="next"', html)
    return found.group(1).replace("&amp;", "&") if found else None


def post(client, path, htmx=False, **data):
    """POST a dashboard form as a browser would, with the CSRF token."""
    headers = {**HTMX, "X-CSRFToken": client.csrf_token} if htmx else {}
    return client.post(path, data={"csrf_token": client.csrf_token, **data}, headers=headers)


# --- health ---

def test_health_shows_each_metric_with_thresholds_status_and_chart(viewer_client, dashboard_data):
    html = text(viewer_client.get("/"))
    for name in ("order lag seconds", "error rate", "dlq size", "webhook latency p95 seconds"):
        assert name in html
    row = re.search(r'<tr class="status-critical" data-metric="webhook_latency_p95_seconds">.*?</tr>',
                    html, re.S).group(0)
    assert '<span class="badge critical">critical</span>' in row
    assert ">95 s<" in row and ">30 s<" in row and ">60 s<" in row
    assert "<polyline" in row and "spark-crit" in row
    assert 'hx-trigger="every 10s"' in html
    assert "webhook latency p95 is 95 s" in html  # recent alerts
    assert "Open failed items" in html and "Webhooks pending" in html


def test_health_refresh_returns_the_metric_table_alone(viewer_client, dashboard_data):
    html = text(viewer_client.get("/", headers=HTMX))
    assert "<html" not in html and 'id="metrics"' in html and 'hx-trigger="every 10s"' in html
    assert rows(html, "data-metric=") == 4
    # A history restore wants the whole page.
    restore = text(viewer_client.get("/", headers={**HTMX, "HX-History-Restore-Request": "true"}))
    assert "<html" in restore


def test_counts_stop_at_the_cap(viewer_client, dashboard_data, monkeypatch):
    from shopsync.dashboard import failed, health

    monkeypatch.setattr(health, "COUNT_CAP", 2)
    monkeypatch.setattr(failed, "COUNT_CAP", 2)
    for shopify_id in (9001, 9002):
        failed_items.add_to_dead_letter("order", shopify_id, "{}", "boom")
    assert FailedSyncItem.select().count() > 3
    assert health.capped_count(FailedSyncItem.select()) == 3  # cap + 1: "more than the cap"
    assert '<a href="/failed-items">2+</a>' in text(viewer_client.get("/"))
    assert "2+ open items" in text(viewer_client.get("/failed-items"))


def test_health_without_readings_says_so(viewer_client):
    assert "No readings yet" in text(viewer_client.get("/"))


def test_chart_history_keeps_the_highest_reading_of_each_five_minutes(app):
    from shopsync.dashboard.health import history

    start = dt.datetime(2026, 11, 30, 10, 0, tzinfo=dt.UTC)
    for minute, value in [(0, 1.0), (2, 7.0), (4.5, 3.0), (5, 2.0), (9, 4.0), (30, None)]:
        SyncHealthMetric.create(metric_name="lag", value=value, status=Severity.OK,
                                recorded_at=start + dt.timedelta(minutes=minute))
    SyncHealthMetric.create(metric_name="other", value=99.0, status=Severity.OK, recorded_at=start)
    points = history("lag", start)
    assert points[:2] == [(start, 7.0), (start + dt.timedelta(minutes=5), 4.0)]
    assert points[2] == (start + dt.timedelta(minutes=30), None)
    assert history("lag", start + dt.timedelta(minutes=5))[0] == (start + dt.timedelta(minutes=5), 4.0)


def test_sparkline_draws_values_and_thresholds():
    now = utcnow()
    start = now - dt.timedelta(hours=24)
    points = [(start + dt.timedelta(hours=h), float(h)) for h in range(25)] + [(now, None)]
    svg = charts.sparkline(points, start, now, warning=10, critical=20, label="lag <s>")
    assert svg.startswith("<svg") and svg.count("<line") == 2 and "<polyline" in svg
    assert "lag &lt;s&gt;" in svg
    assert "no readings" in charts.sparkline([], start, now, label="x")
    flat = charts.sparkline([(now, 0.0)], start, now)
    assert "<polyline" in flat


# --- failed items ---

def test_failed_items_list_shows_what_is_needed_to_decide(viewer_client, dashboard_data):
    html = text(viewer_client.get("/failed-items"))
    assert "820982911946154508" in html and "OperationalError: database is locked" in html
    assert "0 of 5" in html and "not retried automatically" in html
    assert "3 open items" in html and "Retry all open" not in html  # a viewer


def test_failed_items_filter_by_status_and_entity(admin_client, dashboard_data):
    html = text(admin_client.get("/failed-items?entity=product"))
    assert "777" in html and "820982911946154508" not in html
    post(admin_client, f"/failed-items/{dashboard_data['broken_item']}/abandon")
    abandoned = text(admin_client.get("/failed-items?status=abandoned"))
    assert f"#{dashboard_data['broken_item']}<" in abandoned
    assert f"#{dashboard_data['fixable_item']}<" not in abandoned
    everything = text(admin_client.get("/failed-items?status=all&entity=order"))
    assert rows(everything, "<tr id=") == 2
    assert "No resolved failed items" in text(admin_client.get("/failed-items?status=resolved"))
    # Unknown filters fall back to the defaults instead of failing.
    assert admin_client.get("/failed-items?status=bogus&entity=bogus&before=x").status_code == 200


def test_failed_items_filter_form_gets_the_table_alone(viewer_client, dashboard_data):
    html = text(viewer_client.get("/failed-items?entity=order", headers=HTMX))
    assert html.lstrip().startswith('<div id="failed-table"') and "<html" not in html


def test_failed_items_are_paged_by_keyset(viewer_client):
    for n in range(60):
        FailedSyncItem.create(entity_type="order", shopify_id=10_000 + n, raw_data="{}",
                              error_message=f"error {n}")
    first = text(viewer_client.get("/failed-items"))
    assert rows(first, "<tr id=") == 50 and "error 59" in first and "error 10<" in first
    second = text(viewer_client.get(older_link(first)))
    assert rows(second, "<tr id=") == 10 and "error 9<" in second and "error 10<" not in second
    assert older_link(second) is None and "Newest" in second


def test_failed_item_detail_shows_payload_and_stack_trace(viewer_client, dashboard_data):
    html = text(viewer_client.get(f"/failed-items/{dashboard_data['fixable_item']}"))
    assert '&#34;id&#34;: 820982911946154508' in html  # pretty-printed JSON
    assert "Traceback (most recent call last)" in html
    missing = viewer_client.get("/failed-items/999999")
    assert missing.status_code == 404 and "failed item 999999 not found" in text(missing)


def test_retry_with_htmx_returns_the_row_resolved(admin_client, dashboard_data):
    item_id = dashboard_data["fixable_item"]
    response = post(admin_client, f"/failed-items/{item_id}/retry", htmx=True, next="/failed-items")
    html = text(response)
    assert response.status_code == 200
    assert html.lstrip().startswith(f'<tr id="item-{item_id}"') and "<html" not in html
    assert 'data-state="resolved"' in html and "synced" in html and "Retry</button>" not in html
    item = FailedSyncItem.get_by_id(item_id)
    assert item.resolution.value == "manual"


def test_retry_that_fails_again_shows_the_new_error_and_count(admin_client, dashboard_data):
    item_id = dashboard_data["broken_item"]
    html = text(post(admin_client, f"/failed-items/{item_id}/retry", htmx=True))
    assert "failed again" in html and "1 of 5" in html and "total price must be a number" in html
    assert 'data-state="open"' in html


def test_abandon_with_htmx_returns_the_row_abandoned(admin_client, dashboard_data):
    item_id = dashboard_data["product_item"]
    html = text(post(admin_client, f"/failed-items/{item_id}/abandon", htmx=True))
    assert 'data-state="abandoned"' in html and "Abandon</button>" not in html
    assert "Retry</button>" in html  # an abandoned item can still be retried


def test_buttons_work_without_javascript(admin_client, dashboard_data):
    item_id = dashboard_data["product_item"]
    response = post(admin_client, f"/failed-items/{item_id}/abandon", next="/failed-items?entity=product")
    assert response.status_code == 302 and response.headers["Location"] == "/failed-items?entity=product"
    assert f"Item {item_id} abandoned." in text(admin_client.get("/failed-items?entity=product"))
    response = post(admin_client, f"/failed-items/{item_id}/retry", next="https://evil.example/")
    assert response.headers["Location"] == "/"


def test_actions_on_a_missing_item_are_404(admin_client):
    assert post(admin_client, "/failed-items/999999/retry").status_code == 404
    assert post(admin_client, "/failed-items/999999/abandon", htmx=True).status_code == 404


def test_retry_all_open_queues_a_retry_of_every_open_item(admin_client, dashboard_data, run_jobs):
    assert "Retry all open (3)" in text(admin_client.get("/failed-items"))
    response = post(admin_client, "/failed-items/retry-all", next="/failed-items")
    assert response.status_code == 302
    assert "Queued a retry of 3 open items" in text(admin_client.get("/failed-items"))
    run_jobs()
    assert FailedSyncItem.get_by_id(dashboard_data["fixable_item"]).resolution.value == "manual"


# --- webhooks ---

def test_webhooks_show_status_latency_and_duplicates(viewer_client, dashboard_data):
    html = text(viewer_client.get("/webhooks"))
    assert rows(html) == 51
    assert "orders/create" in html and "177 ms" in html and "invalid order payload" in html
    newest = re.search(r"<tr data-webhook=.*?</tr>", html, re.S).group(0)
    assert "1059" in newest and '<td data-label="Duplicates" class="num">2</td>' in newest


def test_webhooks_are_paged_by_keyset(viewer_client, dashboard_data):
    first = text(viewer_client.get("/webhooks"))
    second = text(viewer_client.get(older_link(first)))
    assert rows(second) == 11 and ">1009<" in second and ">1010<" not in second
    assert older_link(second) is None


def test_webhook_pages_do_not_skip_deliveries_received_at_the_same_instant(viewer_client):
    same = utcnow()
    WebhookLog.insert_many([{"id": f"tie-{n:03d}", "topic": "orders/paid", "shopify_id": n,
                             "raw_body": b"{}", "received_at": same} for n in range(75)]).execute()
    seen, url = [], "/webhooks"
    while url:
        html = text(viewer_client.get(url))
        seen += re.findall(r'title="(tie-\d+)"', html)
        url = older_link(html)
    assert sorted(seen) == [f"tie-{n:03d}" for n in range(75)] and len(set(seen)) == 75


def test_webhooks_search_by_shopify_id_and_status(viewer_client, dashboard_data):
    html = text(viewer_client.get("/webhooks?shopify_id=1003"))
    assert rows(html) == 2 and ">1003<" in html
    failed = text(viewer_client.get("/webhooks?status=failed"))
    assert rows(failed) == 11 and "processed</span>" not in failed
    assert "No deliveries for Shopify id 42" in text(viewer_client.get("/webhooks?shopify_id=42"))
    assert "is not a Shopify id" in text(viewer_client.get("/webhooks?shopify_id=abc"))
    partial = text(viewer_client.get("/webhooks?shopify_id=1003", headers=HTMX))
    assert partial.lstrip().startswith('<div id="webhook-table"')
    assert viewer_client.get("/webhooks?before=garbage").status_code == 200


def test_webhook_listing_never_loads_raw_bodies(viewer_client):
    WebhookLog.create(id="big", topic="orders/create", raw_body=b"x" * 1_000_000,
                      status=WebhookStatus.PENDING)
    html = text(viewer_client.get("/webhooks"))
    assert "xxxx" not in html and 'title="big"' in html


# --- reconciliation ---

def test_reconciliation_shows_history_and_the_missing_and_extra_ids(viewer_client, dashboard_data):
    html = text(viewer_client.get("/reconciliation"))
    assert "1,203" in html and "1,201" in html
    assert "missing (2)" in html and "450789470" in html and "extra (1)" in html and ">999<" in html
    report = text(viewer_client.get(f"/reconciliation/{dashboard_data['report']}"))
    assert "Missing ids (2)" in report and "Extra ids (1)" in report and "Healed ids (1)" in report
    assert viewer_client.get("/reconciliation/999999").status_code == 404


def test_reconciliation_report_shows_the_error_a_run_stopped_on(viewer_client):
    ReconciliationReport.create(entity_type="orders", status=Severity.WARNING,
                                details={"error": "ShopifyUnavailable: gave up"})
    assert "Stopped on an error: ShopifyUnavailable: gave up" in text(viewer_client.get("/reconciliation"))


def test_run_now_queues_a_run_per_entity_and_polls_until_they_end(app, admin_client, run_jobs,
                                                                   live_server):
    html = text(post(admin_client, "/reconciliation/run", htmx=True))
    assert html.lstrip().startswith('<div id="reconcile-progress"')
    assert 'hx-trigger="every 2s"' in html and "0 of 3" in html
    assert get_long_queue().count == 3
    poll = re.search(r'hx-get="([^"]+)"', html).group(1).replace("&amp;", "&")
    waiting = admin_client.get(poll, headers=HTMX)
    assert "every 2s" in text(waiting) and "HX-Trigger" not in waiting.headers

    app.config["SHOPIFY_API_BASE_URL"] = live_server + "/no-shopify-here"  # a quick 404 per call
    run_jobs()
    done = admin_client.get(poll, headers=HTMX)
    assert "Reconciliation finished" in text(done) and "hx-trigger" not in text(done)
    assert done.headers["HX-Trigger"] == "reconciliation-finished"
    assert ReconciliationReport.select().count() == 3
    refreshed = text(admin_client.get("/reconciliation", headers=HTMX))
    assert refreshed.lstrip().startswith("<div id=\"reports\"") and "customers" in refreshed


def test_run_now_without_javascript_redirects_to_the_page_with_progress(admin_client):
    response = post(admin_client, "/reconciliation/run")
    assert response.status_code == 302 and "jobs=" in response.headers["Location"]
    html = text(admin_client.get(response.headers["Location"]))
    assert "Reconciliation started: 3 runs queued" in html and "Reconciliation running" in html


def test_run_now_says_so_when_the_queue_is_down(admin_client, monkeypatch):
    from shopsync.reconciliation import runs

    monkeypatch.setattr(runs, "start_reconciliation", lambda entity_type=None: None)
    response = post(admin_client, "/reconciliation/run", htmx=True)
    assert response.status_code == 503 and "unreachable" in text(response)


def test_progress_of_unknown_runs(admin_client):
    assert admin_client.get("/reconciliation/progress").status_code == 404
    html = text(admin_client.get("/reconciliation/progress?jobs=nope", headers=HTMX))
    assert "finished" in html and "expired" in html


# --- backfills ---

def test_backfills_show_progress_and_history(viewer_client, dashboard_data):
    html = text(viewer_client.get("/backfills"))
    assert '<progress max="1200" value="450">' in html and "450 / 1,200" in html
    assert "completed" in html and "500 / 500" in html and "10 min" in html
    assert 'hx-get="/backfills" hx-trigger="every 10s"' in html  # one poll for every running row


def test_backfill_table_polls_while_a_run_is_going_and_stops_when_done(viewer_client, dashboard_data):
    run_id = dashboard_data["running_run"]
    html = text(viewer_client.get("/backfills", headers=HTMX))
    assert html.lstrip().startswith('<div id="backfill-table"') and "every 10s" in html
    BackfillRun.update(status=RunStatus.COMPLETED, stored=1200, fetched=1200,
                       finished_at=utcnow()).where(BackfillRun.id == run_id).execute()
    html = text(viewer_client.get("/backfills", headers=HTMX))
    assert "hx-trigger" not in html and 'value="1200"' in html and "completed" in html


def test_start_backfill_queues_a_run_whose_table_polls_until_it_ends(app, admin_client, run_jobs,
                                                                    live_server):
    response = post(admin_client, "/backfills", entity="products", since="2026-11-01")
    assert response.status_code == 302
    run = BackfillRun.get()
    assert (run.entity_type, run.status) == ("products", RunStatus.RUNNING)
    assert run.since == dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    html = text(admin_client.get("/backfills"))
    assert f"Backfill #{run.id} of products started" in html
    assert 'hx-get="/backfills" hx-trigger="every 10s"' in html
    assert get_long_queue().count == 1

    app.config["SHOPIFY_API_BASE_URL"] = live_server + "/no-shopify-here"  # the run fails fast
    run_jobs()
    table = text(admin_client.get("/backfills", headers=HTMX))
    assert "hx-trigger" not in table and "failed" in table and "404" in table


def test_start_backfill_checks_its_form(admin_client):
    response = post(admin_client, "/backfills", entity="invoices")
    assert response.status_code == 302
    assert "Choose what to backfill" in text(admin_client.get("/backfills"))
    post(admin_client, "/backfills", entity="orders", since="30/11/2026")
    assert "The date must look like" in text(admin_client.get("/backfills"))
    assert BackfillRun.select().count() == 0


def test_pages_escape_what_shopify_sent(admin_client):
    FailedSyncItem.create(entity_type="order", shopify_id=1, raw_data=json.dumps({"note": "<script>"}),
                          error_message="<img src=x onerror=alert(1)>")
    html = text(admin_client.get("/failed-items"))
    assert "<img src=x" not in html and "&lt;img src=x" in html
