"""Smoke runs of the benchmarks with tiny sizes, so that they never rot: no figure is judged here."""

import contextlib
import math
import time

import psycopg2
import pytest

from bench import __main__ as runner
from bench import backfill, books, bulk, burst, dashboard, ingest, processing, reconciliation
from bench.common import Context, Row, autoanalyzed
from shopsync.testing.databases import own_database
from shopsync.testing.processes import wait_until
from tests.conftest import REDIS_URL


@pytest.fixture
def context(tmp_path, run_database_url):
    """A quick context on a database of its own: beside the test database, or SQLite."""
    with own_database(run_database_url, tmp_path, "smoke") as url:
        yield Context(url, REDIS_URL, str(tmp_path), quick=True)


@pytest.fixture
def services_context(services, tmp_path):
    """A quick context on the real PostgreSQL and Redis, on a database of its own."""
    database_url, redis_url = services
    with own_database(database_url, tmp_path, "smoke") as url:
        yield Context(url, redis_url, str(tmp_path), quick=True)


def _check(rows, benchmark):
    """Every row is a finite figure of this benchmark; return them by measure."""
    assert rows and all(isinstance(row, Row) and row.benchmark == benchmark for row in rows)
    assert all(math.isfinite(row.value) for row in rows)
    return {row.measure: row for row in rows}


def _first(rows, prefix):
    return next(row for measure, row in rows.items() if measure.startswith(prefix))


def test_ingest_smoke(context):
    rows = _check(ingest.run(context), "ingest")
    assert _first(rows, "throughput").value > 0 and _first(rows, "throughput").baseline > 0
    assert rows["non-200 answers"].value == 0
    assert rows["deliveries stored"].met
    assert any("saturated" in measure for measure in rows) == bool(REDIS_URL)


def _no_losses(rows):
    """Every loss row (target 0) of the benchmark counted none; there is at least one."""
    losses = [row for row in rows.values() if row.target == "0"]
    assert losses and all(row.value == 0 for row in losses)


@pytest.mark.services
def test_processing_smoke(services_context):
    rows = _check(processing.run(services_context), "processing")
    _no_losses(rows)
    assert _first(rows, "burst posted").met
    assert _first(rows, "orders/s, 1 worker").baseline > 0


@pytest.mark.services
def test_burst_smoke(services_context):
    rows = _check(burst.run(services_context), "burst")
    _no_losses(rows)
    assert _first(rows, "applied end to end").baseline > 0
    assert _first(rows, "ingest alone, webhook endpoint,").baseline > 0


def test_backfill_smoke(context):
    rows = _check(backfill.run(context), "backfill")
    assert all(row.met for measure, row in rows.items() if measure.startswith("orders stored"))
    assert _first(rows, "peak RSS").value > 0


def test_bulk_smoke(context):
    rows = _check(bulk.run(context), "bulk")
    assert all(row.met for measure, row in rows.items() if measure.startswith("orders stored"))
    assert _first(rows, "orders stored of 100 by the REST backfill").met
    assert _first(rows, "seconds of the REST backfill of 100 orders").baseline > 0
    assert all(row.baseline > 0 and "same orders" in row.baseline_label
               for measure, row in rows.items() if measure.startswith("orders/s applied"))
    ends = [row for measure, row in rows.items() if measure.startswith("seconds end to end")]
    assert [row.baseline_label.split(",")[1].split()[0] for row in ends] == ["measured",
                                                                            "computed"]
    assert _first(rows, "GraphQL cost points spent, 300 orders").value > 0
    books = _first(rows, "GraphQL cost points an order with books")
    assert books.met and 0 < books.value < books.baseline  # the same records, by parts


def test_a_bulk_store_too_large_to_run_over_rest_is_set_beside_a_computed_rest_time():
    assert backfill.ceiling(1_000, 40, 2.0) == 1_000 / ((4 + 1_000 - 40) / 2.0)  # transactions
    reports = {1_000: {"stored": 1_000, "seconds": 482 / 0.9, "requests": 1_004, "throttled": 0}}
    measured, label = backfill._rest_seconds(1_000, reports, 40, 2.0)
    assert measured == 482 / 0.9 and "measured" in label and "0.90× its rate-limit ceiling" in label
    computed, label = backfill._rest_seconds(1_000_000, reports, 40, 2.0)
    assert computed == pytest.approx((4_000 + 1_000_000 - 40) / 2.0 / 0.9)
    assert "computed, not run" in label and "0.90" in label and "1,000" in label


def test_books_smoke(context):
    rows = _check(books.run(context), "books")
    assert _first(rows, "orders/s with books").baseline > 0
    assert rows["generated orders whose money does not add up"].value == 0


def test_reconciliation_smoke(context):
    rows = _check(reconciliation.run(context), "reconciliation")
    assert any(row.baseline for row in rows.values())


def test_dashboard_smoke(context):
    rows = _check(dashboard.run(context), "dashboard")
    pages = [measure for measure in rows if measure.startswith("p95 GET")]
    assert {"p95 GET /", "p95 GET /webhooks", "p95 GET /failed-items"} <= set(pages)


def test_runner_updates_only_its_sections(tmp_path, run_database_url):
    doc = tmp_path / "BENCHMARKS.md"
    doc.write_text("# Benchmarks\n\nHand-written method.\n\n<!-- bench:dashboard:begin -->\nold\n"
                   "<!-- bench:dashboard:end -->\n\n## Profiles\n\nKept.\n")
    args = ["--quick", "--output", str(doc), "--database-url", run_database_url or "sqlite",
            "--redis-url", REDIS_URL or "none", "dashboard"]
    assert runner.main(args) == 0
    text = doc.read_text()
    assert "Hand-written method." in text and "## Profiles\n\nKept." in text and "\nold\n" not in text
    assert "`python -m bench --quick --output" in text and "| dashboard | p95 GET / |" in text


def test_sizes_option_parses_small_then_large():
    assert runner.parse_args(["--sizes", "1000,5000", "bulk"]).sizes == (1000, 5000)
    assert runner.parse_args(["bulk"]).sizes is None
    assert runner.parse_args(["--graphql-restore-rate", "1000", "bulk"]).graphql_restore_rate == 1000
    assert runner.parse_args(["bulk"]).graphql_restore_rate is None
    for bad in ("5000,1000", "10", "a,b", "0,10"):
        with pytest.raises(SystemExit):
            runner.parse_args(["--sizes", bad, "bulk"])


@pytest.mark.services
def test_the_benchmarks_analyze_as_autovacuum_would_where_it_is_off(services_context):
    url = services_context.database_url
    with contextlib.closing(psycopg2.connect(url)) as conn, conn.cursor() as cursor:
        conn.autocommit = True
        cursor.execute("SHOW autovacuum")
        server_analyzes = cursor.fetchone()[0] == "on"
        cursor.execute("CREATE TABLE grown AS SELECT generate_series(1, 1000) AS n")

        def analyzed():
            cursor.execute("SELECT last_analyze FROM pg_stat_user_tables WHERE relname = 'grown'")
            return cursor.fetchone()[0] is not None

        with autoanalyzed(url, every=0.05):
            time.sleep(1)
        if server_analyzes:  # its autoanalyze does it (last_autoanalyze): nothing to add
            assert not analyzed()
        else:
            wait_until(analyzed, timeout=10, message="an ANALYZE of the table")
