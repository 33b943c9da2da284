"""Poisoned deliveries: each is stored, answered 200 and failed alone, waiting for a person,
while the deliveries behind it are applied."""

import dataclasses
import json

import pytest

from shopsync import dlq, failed_items, ingest
from shopsync.models import FailedSyncItem, Order, WebhookLog, WebhookStatus
from shopsync.reconciliation import ENTITIES as RECONCILED
from shopsync.reconciliation.runs import stale_records
from shopsync.topics import TOPICS
from tests.helpers import deliver, encode, order
from tests.test_dashboard import post

pytestmark = pytest.mark.usefixtures("app")

# A time Python can hold that overflows once converted to UTC.
OVERFLOWING_TIME = "9999-12-31T23:59:59-23:00"
POISON_ID = 777


def deep_body(levels, record_id=POISON_ID):
    """Return an order whose `note_attributes` nests `levels` arrays deep."""
    return (encode(order(id=record_id))[:-1] + b', "note_attributes": ' + b"[" * levels
            + b"]" * levels + b"}")


def _order(record_id, **changes):
    """Return the body of the sample order with `changes`."""
    return json.dumps(order(id=record_id, **changes)).encode()  # lone surrogates escaped


def _line(record_id, **changes):
    """Return the body of the sample order with its first line item changed."""
    payload = order(id=record_id)
    payload["line_items"][0].update(changes)
    return encode(payload)


# name: (the body of a poisoned order given its id, what the failure's reason names)
POISONS = {
    "updated_at past year 9999 in UTC": (lambda i: _order(i, updated_at=OVERFLOWING_TIME),
                                         "updated_at"),
    "created_at before year 1 in UTC": (
        lambda i: _order(i, created_at="0001-01-01T00:00:00+01:00"), "created_at"),
    "nested 1,000 levels deep": (lambda i: deep_body(1000, i), "nested"),
    "id past bigint": (lambda i: _order(2**63 + i), "id"),
    "line item id past bigint": (lambda i: _line(i, id=2**64), "line_items"),
    "quantity past bigint": (lambda i: _line(i, quantity=2**63), "quantity"),
    "quantity past its column": (lambda i: _line(i, quantity=2**31), "quantity"),
    "NUL byte in a string": (lambda i: _order(i, name="#1001\x00"), "name"),
    "lone surrogate in a string": (lambda i: _order(i, email="a\ud800@b.c"), "email"),
    "string past its column": (lambda i: _order(i, currency="EUR" * 3), "currency"),
    "NaN money": (lambda i: _order(i, total_price=float("nan")), "total_price"),
    "Infinity money": (lambda i: _order(i, total_price="Infinity"), "total_price"),
    "money with too many digits": (lambda i: _order(i, total_price="1e200000"), "total_price"),
    "address nested too deep": (lambda i: _order(i, shipping_address=json.loads(
        '{"a": ' * 100 + "1" + "}" * 100)), "shipping_address"),
}
GOOD_IDS = [1001, 1002, 1003]


def _deliver_poison_then_good(client, body):
    """Deliver the poison, then good orders; return the answers."""
    answers = [deliver(client, "orders/create", body, webhook_id="poison")]
    answers += [deliver(client, "orders/create", order(id=i)) for i in GOOD_IDS]
    return answers


def assert_waits_for_a_person(webhook_id, body, named):
    """Check the webhook is failed with its raw body and an open item no retry will pick up."""
    hook = WebhookLog.get_by_id(webhook_id)
    assert hook.status is WebhookStatus.FAILED and bytes(hook.raw_body) == body
    item = FailedSyncItem.get(FailedSyncItem.webhook == webhook_id)
    assert named in item.error_message, item.error_message
    assert item.retryable is False and item.next_retry_at is None and item.resolved_at is None
    assert dlq.process_dead_letter_queue()["retried"] == 0


@pytest.mark.parametrize("name", POISONS)
def test_a_poisoned_delivery_fails_alone_and_waits_for_a_person(client, run_jobs, name):
    make, named = POISONS[name]
    body = make(POISON_ID)
    answers = _deliver_poison_then_good(client, body)
    assert [a.status_code for a in answers] == [200] * 4
    assert answers[0].json == {"status": "accepted", "id": "poison"}
    run_jobs()
    assert sorted(o.shopify_id for o in Order.select()) == GOOD_IDS
    assert_waits_for_a_person("poison", body, named)


@pytest.mark.parametrize("value", [OVERFLOWING_TIME, "0001-01-01T00:00:00+00:01", "yesterday",
                                   "2026-13-45T99:99:99Z", "9" * 200])
def test_an_unreadable_triggered_at_header_is_stored_and_applied(client, run_jobs, value):
    response = deliver(client, "orders/create", order(), webhook_id="odd-header",
                       **{"X-Shopify-Triggered-At": value})
    assert response.status_code == 200 and response.json["status"] == "accepted"
    run_jobs()
    hook = WebhookLog.get_by_id("odd-header")
    assert hook.status is WebhookStatus.PROCESSED and hook.triggered_at is None
    assert Order.select().count() == 1


def test_nul_characters_in_headers_are_dropped_not_refused(client, run_jobs):
    response = deliver(client, "orders/create\x00", order(), webhook_id="nul\x00id",
                       **{"X-Shopify-Event-Id": "event\x00", "X-Shopify-API-Version": "\x00"})
    assert response.status_code == 200 and response.json == {"status": "accepted", "id": "nulid"}
    run_jobs()
    hook = WebhookLog.get_by_id("nulid")
    assert hook.status is WebhookStatus.PROCESSED and hook.event_id == "event"
    assert hook.api_version is None and Order.select().count() == 1


def _refusing(exc):
    """Return an apply function that raises `exc`, as a database refusing a value would."""
    def refuse(data):
        raise exc

    return refuse


def test_a_failure_the_data_causes_waits_for_a_person(client, run_jobs, monkeypatch):
    refuse = _refusing(ValueError("A string literal cannot contain NUL (0x00) characters."))
    monkeypatch.setitem(TOPICS, "orders/create", dataclasses.replace(
        TOPICS["orders/create"], apply=refuse, apply_many=refuse))
    body = encode(order(id=POISON_ID))
    assert deliver(client, "orders/create", body, webhook_id="poison").status_code == 200
    assert deliver(client, "orders/updated", order(id=GOOD_IDS[0])).status_code == 200
    run_jobs()
    assert [o.shopify_id for o in Order.select()] == GOOD_IDS[:1]
    assert_waits_for_a_person("poison", body, "ValueError: A string literal")


def test_a_failed_item_the_database_refuses_still_fails_its_webhook_alone(client, run_jobs,
                                                                         monkeypatch):
    def refuse(*args, **kwargs):  # writes, then has a statement refused (on both databases)
        FailedSyncItem.insert(entity_type="order", raw_data="{}", error_message="").execute()
        FailedSyncItem.insert(entity_type=None, raw_data="{}", error_message="").execute()

    monkeypatch.setattr(failed_items, "add_to_dead_letter", refuse)
    make, _ = POISONS["updated_at past year 9999 in UTC"]
    _deliver_poison_then_good(client, make(POISON_ID))
    run_jobs()
    assert sorted(o.shopify_id for o in Order.select()) == GOOD_IDS
    hook = WebhookLog.get_by_id("poison")
    assert hook.status is WebhookStatus.FAILED and "updated_at" in hook.error
    assert not FailedSyncItem.select().exists()


def test_failure_text_is_stored_whatever_it_holds():
    failed_items.add_to_dead_letter("order", 1, '{"name": "\x00\ud800"}', "bad \ud800 and \x00",
                           error_stack="at \udcff")
    item = FailedSyncItem.get()
    assert item.raw_data == '{"name": "\ufffd\\ud800"}'
    assert item.error_message == "bad \\ud800 and \ufffd" and item.error_stack == "at \\udcff"


def test_pulled_poison_records_fail_alone():
    documents = [order(id=2**64), order(id=POISON_ID, updated_at=OVERFLOWING_TIME),
                 order(id=GOOD_IDS[0])]
    assert ingest.apply_records("order", documents) == [None, None, True]
    items = {item.shopify_id: item
             for item in FailedSyncItem.select().where(FailedSyncItem.entity_type == "order")}
    assert set(items) == {None, POISON_ID}
    assert all(not item.retryable and item.next_retry_at is None for item in items.values())
    assert items[POISON_ID].data_updated_at is None
    assert [o.shopify_id for o in Order.select()] == GOOD_IDS[:1]


def test_reconciliation_passes_ids_past_bigint_on_to_the_failed_items():
    records = [order(id=2**64), order(id=GOOD_IDS[0])]
    assert stale_records(RECONCILED["orders"], records) == records


def test_the_dashboard_shows_poisons_with_their_reason_and_buttons(admin_client, run_jobs):
    bodies = {"deep": deep_body(1000), "late": encode(order(id=5, updated_at=OVERFLOWING_TIME))}
    for webhook_id, body in bodies.items():
        assert deliver(admin_client, "orders/create", body, webhook_id=webhook_id).status_code == 200
    run_jobs()
    html = admin_client.get("/failed-items").get_data(as_text=True)
    assert html.count("not retried automatically") == 2 and "nested too deeply" in html
    assert "out of range once in UTC" in html
    assert html.count(">Retry</button>") == 2 and html.count(">Abandon</button>") == 2
    deep = FailedSyncItem.get(FailedSyncItem.webhook == "deep")
    page = admin_client.get(f"/failed-items/{deep.id}")
    assert page.status_code == 200 and "[[[[" in page.get_data(as_text=True)
    assert "no: the data itself is wrong" in page.get_data(as_text=True)
    row = post(admin_client, f"/failed-items/{deep.id}/retry", htmx=True).get_data(as_text=True)
    assert "failed again" in row and "not retried automatically" in row
    row = post(admin_client, f"/failed-items/{deep.id}/abandon", htmx=True).get_data(as_text=True)
    assert 'data-state="abandoned"' in row


def test_items_that_need_a_person_are_listed_apart(admin_client, run_jobs, api, monkeypatch):
    deliver(admin_client, "orders/create", _order(POISON_ID, currency="EUR" * 3))
    deliver(admin_client, "orders/create", order(id=GOOD_IDS[0]))
    monkeypatch.setitem(TOPICS, "orders/create", dataclasses.replace(
        TOPICS["orders/create"], apply_many=None, apply=_refusing(RuntimeError("ERP busy"))))
    run_jobs()
    items = {item.shopify_id: item for item in FailedSyncItem.select()}
    assert not items[POISON_ID].retryable and items[GOOD_IDS[0]].retryable
    listed = api("failed-items?status=needs_person").json["items"]
    assert [item["shopify_id"] for item in listed] == [POISON_ID]
    assert api("stats").json["failed_items"] == {"open": 2, "needs_person": 1, "resolved": 0,
                                                  "abandoned": 0}
    html = admin_client.get("/failed-items?status=needs_person").get_data(as_text=True)
    assert f"item-{items[POISON_ID].id}" in html and f"item-{items[GOOD_IDS[0]].id}" not in html
    assert '<option value="needs_person" selected>needs person</option>' in html
