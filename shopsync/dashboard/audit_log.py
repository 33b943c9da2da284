"""Audit log page: who did what, when, and from which page, newest first."""

from flask import request

from shopsync.auth import login_required
from shopsync.dashboard import bp, newest_first, render
from shopsync.models import AuditEntry


@bp.get("/audit")
@login_required
def audit_log():
    """List the actions people took, newest first, optionally of one person."""
    who = request.args.get("user", "").strip()[:64]
    query = AuditEntry.select()
    if who:
        query = query.where(AuditEntry.username == who)
    entries, before, older = newest_first(query, AuditEntry)
    return render("dashboard/audit.html", "dashboard/_audit_table.html", entries=entries,
                  before=before, older=older, who=who)
