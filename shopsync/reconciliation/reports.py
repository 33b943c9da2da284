"""Reconciliation reports read back: the newest ones, their id counts and errors, as JSON."""

from typing import Any

from shopsync.models import ReconciliationReport
from shopsync.reconciliation import entities


def id_count(details: dict[str, Any], kind: str) -> int:
    """Return how many ids of `kind` a report's details name, counting those beyond runs.MAX_IDS."""
    return max(len(details.get(kind) or []), details.get(f"{kind}_count") or 0)


def problem(report: ReconciliationReport) -> str | None:
    """Return the error a run stopped on (or met while healing), if any."""
    details: dict[str, Any] = report.details or {}
    return details.get("error") or details.get("heal_error")


def latest_reports(entity_type: str | None = None, kind: str | None = None,
                   limit: int = 20) -> list[ReconciliationReport]:
    """Return the newest reports, newest first, optionally of one entity and kind."""
    names = [entity.name for entity in entities(entity_type)] if entity_type else None
    return list(ReconciliationReport.newest(entity_types=names, kind=kind).limit(limit))


def report_json(report: ReconciliationReport, with_details: bool = True) -> dict[str, Any]:
    """Serialise one report."""
    out = {"id": report.id, "entity_type": report.entity_type, "kind": report.kind,
           "shopify_count": report.shopify_count, "erp_count": report.erp_count,
           "discrepancy": report.discrepancy, "status": report.status.value,
           "api_calls": report.api_calls, "created_at": report.created_at.isoformat()}
    if with_details:
        out["details"] = report.details
    return out
