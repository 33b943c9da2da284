"""A short chaos run on real PostgreSQL and Redis: every fault once, and the ERP ends equal to the store."""

import pytest

from bench.chaos import FAULTS, chaos
from bench.common import own_database

pytestmark = pytest.mark.services


def test_a_minute_of_chaos_ends_with_the_erp_equal_to_the_store(services, tmp_path):
    with own_database(services[0], str(tmp_path), "chaos") as url:
        outcome = chaos(url, minutes=1, seed=4, workdir=str(tmp_path), echo=lambda line: None)
    report = "\n".join([*outcome.timeline, outcome.report()])
    assert set(outcome.faults) == set(FAULTS), report  # seed 4 fits every kind of fault in a minute
    assert outcome.counts["orders"][0] > 50, report  # the store changed meanwhile
    assert outcome.mismatches == [], report
    assert not outcome.webhooks.get("pending") and outcome.late == [], report
    assert outcome.not_run_again == [] and outcome.unexpected_exits == [], report
    assert outcome.passed, report
