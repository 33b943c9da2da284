"""The runs of reconciliation: full and deep (by windows), catch-up (by watermark), queued runs."""

import datetime as dt
import logging
from typing import Any

from flask import current_app
from redis.exceptions import RedisError

from shopsync import alerts, queue, shopify
from shopsync.db import INFRASTRUCTURE_ERRORS, db, utcnow
from shopsync.failed_items import payload_updated_at
from shopsync.models import ReconciliationReport, Severity, SyncState
from shopsync.reconciliation import Entity, entities, severity
from shopsync.reconciliation.heal import Healing, heal
from shopsync.reconciliation.windows import PAGE, WindowComparison, shopify_time
from shopsync.schemas import record_id
from shopsync.shopify import Client

log = logging.getLogger(__name__)
# Ids kept per list in a report's details; the counts stay exact beyond it.
MAX_IDS = 10_000


def _setting(name):
    """Return a tuning setting (defaults: config.TUNING)."""
    return current_app.config[name]


def _ids(values):
    """Return ids sorted, cut to MAX_IDS."""
    return sorted(values)[:MAX_IDS]


def reconcile(entity: Entity, client: Client, until: dt.datetime | None = None,
              deep: bool = False) -> ReconciliationReport:
    """Compare one entity, heal what differs, write and return its report."""
    start, cost = client.request_count, getattr(client, "actual_cost", None)
    found = WindowComparison(client, entity.model, entity.name, entity.compared(client),
                             entity.books).run(until, deep=deep)
    heal_error = None
    try:
        done = heal(entity, client, found.missing | found.stale, found.extra)
    except INFRASTRUCTURE_ERRORS:
        raise
    except Exception as exc:  # keep what was found; the next run heals the rest
        log.exception("healing %s failed", entity.name)
        done, heal_error = Healing(), f"{type(exc).__name__}: {exc}"
    discrepancy = len(found.missing) + len(found.extra) + len(found.stale)
    status = severity(entity, discrepancy)
    report = ReconciliationReport.create(
        entity_type=entity.name, kind="deep" if deep else "full",
        shopify_count=found.shopify_count, erp_count=found.erp_count, discrepancy=discrepancy,
        status=status, api_calls=client.request_count - start, details={
            "missing": _ids(found.missing), "extra": _ids(found.extra),
            "stale": _ids(found.stale), "lacking_transactions": _ids(found.lacking),
            "totals_differ": _ids(found.totals), "healed": _ids(done.healed + done.deleted),
            "unchanged": _ids(done.unchanged), "failed": _ids(done.failed),
            "vanished": _ids(done.vanished), "deleted": _ids(done.deleted),
            "missing_count": len(found.missing), "extra_count": len(found.extra),
            "until": until.isoformat() if until else None,
            "search_calls": found.calls, "windows_counted": found.counted,
            "windows_listed": found.listed, "heal_error": heal_error,
            "cost_points": None if cost is None else getattr(client, "actual_cost", 0) - cost,
        })
    log.info("reconciled %s: %d missing, %d stale (%d lacking transactions, %d other totals), "
             "%d extra (%d healed, %d deleted, %d failed), %d API calls", entity.name,
             len(found.missing), len(found.stale), len(found.lacking), len(found.totals),
             len(found.extra), len(done.healed), len(done.deleted), len(done.failed),
             report.api_calls)
    alerts.notify(f"reconciliation_{entity.name}", status,
                  f"reconciliation of {entity.name}: {len(found.missing)} missing, "
                  f"{len(found.stale)} stale{_books_part(found)}, {len(found.extra)} extra; "
                  f"{len(done.healed)} "
                  f"healed, {len(done.deleted)} deleted, {len(done.failed)} failed "
                  f"(Shopify {found.shopify_count}, ERP {found.erp_count})")
    return report


def _books_part(found):
    """Return " (n lacking transactions, n other totals)" of the stale, or "" when none are."""
    if not (found.lacking or found.totals):
        return ""
    return f" ({len(found.lacking)} lacking transactions, {len(found.totals)} other totals)"


def _error_report(entity, kind, exc, calls):
    """Record a run that stopped on an error."""
    return ReconciliationReport.create(
        entity_type=entity.name, kind=kind, status=Severity.WARNING, api_calls=calls,
        details={"error": f"{type(exc).__name__}: {exc}"})


def _each(entity_type, kind, work, client, job=None):
    """Run `work(entity, client)` per entity inside a connection; return the report ids.

    With `job` (run_full or run_deep), a worker asked to stop hands the entities not yet
    reconciled over to the next worker, each queued as `job(name)`, the one under way afresh.
    """
    client = client or shopify.app_client()
    report_ids = []
    todo = entities(entity_type)
    with db.connection_context():
        for index, entity in enumerate(todo):
            start = client.request_count
            try:
                if job is not None:
                    queue.hand_over_point()
                report = work(entity, client)
            except queue.Stopping:
                if job is None:
                    raise  # nothing to hand over to: the caller decides
                _hand_over(job, [left.name for left in todo[index:]], kind)
                break
            except INFRASTRUCTURE_ERRORS:
                raise
            except Exception as exc:  # the API failed: record it and go on with the next entity
                log.exception("%s reconciliation of %s failed", kind, entity.name)
                report = _error_report(entity, kind, exc, client.request_count - start)
            if report is not None:
                report_ids.append(report.id)
    return report_ids


def _hand_over(job, names, kind):
    """Queue `job(name)` per entity name for the next worker, this one stopping."""
    if all(start_reconciliation(name, job) for name in names):
        log.warning("%s reconciliation of %s handed over: its worker is stopping", kind,
                    ", ".join(names))
    else:
        log.error("%s reconciliation of %s stops with its worker and could not be queued again: "
                  "the next scheduled run does it", kind, ", ".join(names))


def run_deep(entity_type: str | None = None, client: Client | None = None) -> list[int]:
    """Reconcile listing every id (N/250 calls), to see pairs that cancel out in counts."""
    return run_full(entity_type, client, deep=True)


def run_full(entity_type: str | None = None, client: Client | None = None,
             until: dt.datetime | None = None, deep: bool = False) -> list[int]:
    """Reconcile one entity (or all): name the differing ids, heal, report; return report ids."""
    if until is None:
        until = utcnow() - dt.timedelta(seconds=_setting("RECONCILE_SETTLE_SECONDS"))
    kind = "deep" if deep else "full"
    return _each(entity_type, kind, lambda entity, c: reconcile(entity, c, until, deep), client,
                 job=run_deep if deep else run_full)


def watermark_key(entity: Entity) -> str:
    """Return the SyncState key of an entity's catch-up watermark."""
    return f"catchup:{entity.name}"


def stale_records(entity: Entity, records: list[dict[str, Any]],
                  differing: tuple[set[int], set[int]] | None = None) -> list[dict[str, Any]]:
    """Return the listed records the ERP lacks, holds an older version of, or (orders) lacks a
    transaction of or holds other totals for (`differing`: entity.books(records) if known)."""
    model = entity.model
    ids = [shopify_id for shopify_id in map(record_id, records) if shopify_id is not None]
    held = dict(model.select(model.shopify_id, model.updated_at)
                .where(model.shopify_id.in_(ids)).tuples()) if ids else {}
    lacking, totals = differing or entity.books(records)
    stale = []
    for record in records:
        mine, theirs = held.get(record.get("id")), payload_updated_at(record)
        if (mine is None or theirs is None or mine < theirs
                or record.get("id") in lacking | totals):
            stale.append(record)  # a bad record goes through too, to reach the DLQ
    return stale


def catch_up(entity: Entity, client: Client,
             now: dt.datetime | None = None) -> ReconciliationReport | None:
    """Apply every record Shopify changed since the watermark that the ERP lacks or holds
    otherwise, and move the watermark on.

    The changed records are listed briefly (ids, times, orders' books checks); only those
    that differ are fetched whole. Returns the report written when something webhooks had
    missed was applied (or failed), else None.
    """
    now = now or utcnow()
    key = watermark_key(entity)
    state = SyncState.get_or_none(SyncState.key == key)
    overlap = dt.timedelta(seconds=_setting("CATCHUP_OVERLAP_SECONDS"))
    if state is not None and state.value:
        since = dt.datetime.fromisoformat(state.value) - overlap
    else:
        since = now - dt.timedelta(seconds=_setting("CATCHUP_LOOKBACK_SECONDS"))
    until = now - dt.timedelta(seconds=_setting("CATCHUP_SETTLE_SECONDS"))
    start = client.request_count
    fetched, done, lacking, totals = 0, Healing(), set[int](), set[int]()
    pages = client.iter_pages(entity.name, limit=PAGE, fields=entity.listed,
                              updated_at_min=shopify_time(since.timestamp()),
                              updated_at_max=shopify_time(until.timestamp()))
    for page in pages:
        fetched += len(page)
        differing = entity.books(page)
        lacking, totals = lacking | differing[0], totals | differing[1]
        healing = heal(entity, client, [i for i in map(record_id, stale_records(
            entity, page, differing)) if i is not None])
        done.healed += healing.healed
        done.failed += healing.failed
    SyncState.insert(key=key, value=until.isoformat(), updated_at=utcnow()).on_conflict(
        conflict_target=[SyncState.key],
        update={SyncState.value: until.isoformat(), SyncState.updated_at: utcnow()}).execute()
    if not (done.healed or done.failed):
        return None  # webhooks missed nothing: the watermark's updated_at says it ran
    log.warning("catch-up of %s applied %d records webhooks had missed (%d failed; %d lacking "
                "transactions, %d other totals)", entity.name, len(done.healed), len(done.failed),
                len(lacking), len(totals))
    return ReconciliationReport.create(
        entity_type=entity.name, kind="catchup", shopify_count=fetched,
        discrepancy=len(done.healed) + len(done.failed),
        status=severity(entity, len(done.healed) + len(done.failed)),
        api_calls=client.request_count - start, details={
            "since": since.isoformat(), "until": until.isoformat(), "fetched": fetched,
            "healed": _ids(done.healed), "failed": _ids(done.failed),
            "lacking_transactions": _ids(lacking), "totals_differ": _ids(totals),
            "missing": [], "extra": []})


def run_catchup(entity_type: str | None = None, client: Client | None = None,
                now: dt.datetime | None = None) -> list[int]:
    """Apply what changed on Shopify since the last catch-up, per entity; return report ids.

    Only entities where webhooks had missed something (or the run failed) get a report.
    """
    return _each(entity_type, "catchup", lambda entity, c: catch_up(entity, c, now), client)


def start_reconciliation(entity_type: str | None = None, job=run_full) -> list[str] | None:
    """Queue a full (or `job`: run_deep) run per entity; return the job ids, or None when
    Redis is unreachable."""
    names = [entity.name for entity in entities(entity_type)]
    target = queue.get_long_queue()
    timeout = _setting("RECONCILE_JOB_TIMEOUT")
    try:
        return [target.enqueue(job, name, job_timeout=timeout, result_ttl=3600,
                               failure_ttl=queue.FAILURE_TTL).id for name in names]
    except RedisError as exc:
        log.warning("could not queue reconciliation: %s", exc)
        return None
