"""Applying a page of pulled records: one statement per table, one failure fails alone."""

import dataclasses
import json

import pytest

from shopsync import failed_items, ingest, sync, topics
from shopsync.models import FailedSyncItem, Order, OrderLineItem, Resolution
from tests.helpers import order

pytestmark = pytest.mark.usefixtures("app")


def _page(n, **changes):
    """Return n sample orders with ids 1000… and line items of their own."""
    page = [order(id=1000 + i, **changes) for i in range(n)]
    for document in page:
        for k, item in enumerate(document["line_items"]):
            item["id"] = document["id"] * 10 + k
    return page


def test_a_page_lands_whole_with_its_line_items():
    page = _page(5)
    page[2]["line_items"] = page[2]["line_items"][:1]
    assert ingest.apply_records("order", page) == [True] * 5
    assert Order.select().count() == 5
    assert OrderLineItem.select().count() == 4 * 3 + 1
    assert ingest.apply_records("order", page) == [True] * 5  # same version again: rewritten
    older = _page(5, updated_at="2000-01-01T00:00:00Z")
    assert ingest.apply_records("order", older) == [False] * 5  # stale: nothing changes


def test_invalid_records_fail_alone():
    page = _page(3)
    page[1]["total_price"] = "a lot"
    assert ingest.apply_records("order", page) == [True, None, True]
    item = FailedSyncItem.get(FailedSyncItem.entity_type == "order")
    assert item.shopify_id == 1001 and not item.retryable


def test_a_page_resolves_the_failed_items_it_supersedes():
    stale = order(id=1000, updated_at="2000-01-01T00:00:00Z")
    failed_items.add_to_dead_letter("order", 1000, json.dumps(stale), "boom",
                           data_updated_at=failed_items.payload_updated_at(stale))
    ingest.apply_records("order", _page(2))
    assert FailedSyncItem.get(FailedSyncItem.entity_type == "order").resolution is Resolution.SUCCESS


def test_a_page_leaves_open_the_failed_items_of_newer_data():
    newer = order(id=1000, updated_at="2099-01-01T00:00:00Z")
    failed_items.add_to_dead_letter("order", 1000, json.dumps(newer), "boom",
                           data_updated_at=failed_items.payload_updated_at(newer))
    ingest.apply_records("order", _page(2))
    assert FailedSyncItem.get(FailedSyncItem.entity_type == "order").resolved_at is None


def test_when_the_bulk_statement_fails_each_record_is_tried_alone(monkeypatch):
    def bulk_fails(loaded):
        raise RuntimeError("bulk statement refused")

    def one_fails(data):
        if data["id"] == 1001:
            raise RuntimeError("this record breaks the ERP")
        return sync.upsert_order(data)

    flaky = dataclasses.replace(topics.ORDER, apply=one_fails, apply_many=bulk_fails)
    monkeypatch.setitem(ingest.ENTITIES, "order", flaky)
    assert ingest.apply_records("order", _page(3)) == [True, None, True]
    assert sorted(o.shopify_id for o in Order.select()) == [1000, 1002]
    item = FailedSyncItem.get(FailedSyncItem.entity_type == "order")
    assert item.shopify_id == 1001 and item.retryable and "breaks the ERP" in item.error_message
