"""A minute of chaos on real processes and services ends with the ERP equal to the store; the judge."""

from decimal import Decimal

import pytest

from bench.chaos import FAULTS, chaos
from bench.truth import compare
from shopsync.ingest import apply_records
from shopsync.models import Order
from shopsync.simulator import Store
from shopsync.testing.databases import own_database


@pytest.mark.services
def test_a_minute_of_chaos_ends_with_the_erp_equal_to_the_store(services, tmp_path):
    with own_database(services[0], str(tmp_path), "chaos") as url:
        outcome = chaos(url, minutes=1, seed=4, workdir=str(tmp_path), echo=lambda line: None)
    report = "\n".join([*outcome.timeline, outcome.report()])
    assert set(outcome.faults) == set(FAULTS), report  # seed 4 fits every kind of fault in a minute
    assert outcome.counts["orders"][0] > 50, report  # the store changed meanwhile
    # Every record and transaction, to the cent: the pull path fetches those whose webhook was lost.
    assert outcome.mismatches == [] and outcome.transactions_missing == [], report
    assert outcome.pending == [] and outcome.open_failed_items == [] and outcome.late == [], report
    assert outcome.not_run_again == [] and outcome.unexpected_exits == [], report


def test_the_judge_names_every_record_that_differs_from_the_store(app):
    store = Store.generate(seed=5, orders=6, products=3, customers=4)
    for kind in ("orders", "products", "customers"):
        ids = store.ids(kind, **({"status": "any"} if kind == "orders" else {}))
        apply_records(kind[:-1], [store.collection(kind).get(i) for i in ids])
    assert compare(store)[1] == []
    first, second, *_ = store.ids("orders", status="any")
    Order.update(total_price=Order.total_price + Decimal("0.01")).where(Order.shopify_id == first).execute()
    Order.delete().where(Order.shopify_id == second).execute()
    store.update_customer(customer := store.ids("customers")[0], tags="vip")
    counts, mismatches = compare(store)
    assert counts["orders"] == (6, 5)
    assert mismatches[0] == f"order {second} missing from the ERP"
    assert mismatches[1].startswith(f"order {first} total_price: store Decimal(")
    assert [m.split(":")[0] for m in mismatches[2:]] == [f"customer {customer} updated_at"]
