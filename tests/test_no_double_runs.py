"""No double runs: a second identical run is refused while one is queued or running, and a
queue that Redis cannot take says so instead of "Queued"."""

import pytest
from redis import Redis
from rq import Queue

from shopsync import backfill, dlq
from shopsync.dashboard import failed
from shopsync.models import BackfillRun, FailedSyncItem, RunStatus
from shopsync.queue import get_long_queue, get_queue
from shopsync.testing.processes import free_port
from tests.test_dashboard import HTMX, post


def text(response):
    return response.get_data(as_text=True)


@pytest.fixture
def redis_down(app):
    """Point the app's queue at a port where nothing listens."""
    live = app.extensions["shopsync.queue"]
    app.extensions["shopsync.queue"] = Queue(live.name, connection=Redis(
        port=free_port(), socket_connect_timeout=0.5, socket_timeout=0.5))
    yield
    app.extensions["shopsync.queue"] = live


def _queued(func):
    name = f"{func.__module__}.{func.__name__}"
    return [job for job in get_queue().get_jobs() + get_long_queue().get_jobs() if job.func_name == name]


def test_a_second_retry_all_is_refused_while_one_is_queued(admin_client, dashboard_data):
    first = post(admin_client, "/failed-items/retry-all", htmx=True, next="/failed-items")
    assert "Queued a retry of 3 open items" in text(first)
    second = post(admin_client, "/failed-items/retry-all", htmx=True, next="/failed-items")
    assert "already queued or running" in text(second)
    assert len(_queued(dlq.retry_open_items)) == 1


def test_retry_all_says_so_when_redis_is_down(admin_client, dashboard_data, redis_down):
    response = post(admin_client, "/failed-items/retry-all", next="/failed-items")
    html = text(admin_client.get(response.headers["Location"]))
    assert "the queue (Redis) is unreachable" in html and "Queued a retry" not in html


def test_retry_all_open_reports_a_queue_that_failed(app, dashboard_data, redis_down):
    assert dlq.retry_all_open() == (3, False)


def test_a_retry_racing_another_for_the_same_item_does_nothing(admin_client, dashboard_data):
    item_id = dashboard_data["broken_item"]
    stale = FailedSyncItem.get_by_id(item_id)  # what a second, concurrent click read
    post(admin_client, f"/failed-items/{item_id}/retry", htmx=True)
    assert failed._take(stale) is False
    assert FailedSyncItem.get_by_id(item_id).retry_count == 1


def test_a_second_backfill_of_an_entity_is_refused_while_one_runs(admin_client):
    post(admin_client, "/backfills", entity="products")
    response = post(admin_client, "/backfills", entity="products")
    html = text(admin_client.get(response.headers["Location"]))
    assert "A backfill of products is already queued or running" in html
    assert BackfillRun.select().where(BackfillRun.entity_type == "products").count() == 1
    assert len(_queued(backfill.run_backfill)) == 1
    post(admin_client, "/backfills", entity="customers")  # another entity may run beside it
    assert len(_queued(backfill.run_backfill)) == 2


def test_a_backfill_redis_cannot_take_is_left_to_resume(app, admin_client, redis_down):
    response = post(admin_client, "/backfills", entity="orders")
    assert "Could not queue the backfill" in text(admin_client.get(response.headers["Location"]))
    run = backfill.start_backfill("orders")
    assert run.status is RunStatus.INTERRUPTED and "Redis" in run.error


def test_a_second_reconciliation_is_refused_while_one_is_queued(admin_client):
    from shopsync.reconciliation import runs

    assert post(admin_client, "/reconciliation/run", htmx=True).status_code == 200
    second = post(admin_client, "/reconciliation/run", htmx=True)
    assert second.status_code == 409 and "already queued or running" in text(second)
    assert len(_queued(runs.run_full)) == 3


def test_row_actions_tell_the_counts_to_follow(admin_client, dashboard_data):
    response = post(admin_client, f"/failed-items/{dashboard_data['broken_item']}/abandon",
                    htmx=True, next="/failed-items")
    assert response.headers["HX-Trigger"] == "failed-items-changed"
    counts = text(admin_client.get("/failed-items/counts?next=/failed-items", headers=HTMX))
    assert "2 open items" in counts and "Retry all open (2)" in counts


def test_the_live_failed_table_brings_the_counts_along(viewer_client, dashboard_data):
    html = text(viewer_client.get("/failed-items", headers=HTMX))
    assert 'hx-trigger="every 10s"' in html
    assert 'id="failed-counts" class="bar" hx-swap-oob="true"' in html and "3 open items" in html


def test_the_health_poll_refreshes_cards_and_alerts_too(viewer_client, dashboard_data):
    html = text(viewer_client.get("/", headers=HTMX))
    assert 'id="metrics"' in html
    assert 'id="health-cards" class="cards" aria-label="Counts" hx-swap-oob="true"' in html
    assert 'id="alerts" hx-swap-oob="true"' in html


def test_one_entity_can_be_reconciled_beside_another(admin_client):
    from shopsync.reconciliation import runs

    assert post(admin_client, "/reconciliation/run", htmx=True, entity="orders").status_code == 200
    assert post(admin_client, "/reconciliation/run", htmx=True, entity="orders").status_code == 409
    assert post(admin_client, "/reconciliation/run", htmx=True, entity="products").status_code == 200
    assert post(admin_client, "/reconciliation/run", htmx=True).status_code == 409  # orders runs
    assert [job.args[0] for job in _queued(runs.run_full)] == ["orders", "products"]
    assert post(admin_client, "/reconciliation/run", entity="invoices").status_code == 400


def test_a_running_backfill_can_be_cancelled_from_its_row(admin_client, dashboard_data):
    run_id = dashboard_data["running_run"]
    html = admin_client.get("/backfills").get_data(as_text=True)
    assert f'action="/backfills/{run_id}/cancel"' in html and "data-confirm=" in html
    response = post(admin_client, f"/backfills/{run_id}/cancel")
    assert f"Backfill #{run_id} cancelled" in text(admin_client.get(response.headers["Location"]))
    assert BackfillRun.get_by_id(run_id).error == "cancelled by admin"
    again = post(admin_client, f"/backfills/{run_id}/cancel")
    assert "was not running" in text(admin_client.get(again.headers["Location"]))
