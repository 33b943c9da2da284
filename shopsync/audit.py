"""The audit log: every action a person takes, with who, when, what and from which page.

Every successful or refused POST a signed-in person makes to the dashboard is recorded after
the view ran, with the flashed outcome when there is one; a view can add its own outcome with
`outcome()` or leave a step (a confirmation page) out with `skip()`. Commands record
themselves with `record_cli()`.
"""

import logging
from urllib.parse import urlsplit

from flask import g, has_request_context, request, session

from shopsync.auth import current_user
from shopsync.models import AuditEntry

log = logging.getLogger(__name__)
# How actions read in the log, by view; any other view reads as its name.
ACTIONS = {
    "dashboard.retry_item": "retry failed item",
    "dashboard.abandon_item": "abandon failed item",
    "dashboard.retry_all": "retry all open failed items",
    "dashboard.replay_webhook": "replay delivery",
    "dashboard.replay_matching": "replay matching deliveries",
    "dashboard.answer_data_request": "mark data request answered",
    "dashboard.pause_processing": "pause processing",
    "dashboard.resume_processing": "resume processing",
    "dashboard.start_backfill": "start backfill",
    "dashboard.cancel_backfill": "cancel backfill",
    "dashboard.start_reconciliation": "run reconciliation",
    "dashboard.settle_extras": "check extra records",
}
# Form fields that say nothing about the action.
PLUMBING = {"csrf_token", "next", "confirm"}
MAX_TEXT = 500


def record(username, action, target=None, detail=None, page=None):
    """Write one audit entry."""
    return AuditEntry.create(username=username[:64], action=action[:64],
                             target=target and target[:MAX_TEXT], detail=detail and detail[:MAX_TEXT],
                             page=page and page[:MAX_TEXT])


def record_cli(action, target=None, detail=None):
    """Record an action taken at the command line."""
    from shopsync.pause import command_line_user

    return record(command_line_user(), action, target, detail, page="command line")


def outcome(text):
    """Say how the current request's action went, for its audit entry."""
    g.audit_outcome = text


def skip():
    """Leave the current request out of the log (it showed a confirmation, did nothing)."""
    g.audit_skip = True


def _page():
    """Return the dashboard path the action was taken from."""
    for candidate in (request.form.get("next"), request.referrer):
        parts = urlsplit(candidate or "")
        if candidate and (not parts.netloc or parts.netloc == request.host):
            return parts.path + (f"?{parts.query}" if parts.query else "")
    return None


def _detail(response):
    """Describe the form's choices and the outcome."""
    choices = ", ".join(f"{name}={value}" for name, value in request.form.items()
                        if name not in PLUMBING and value)
    said = g.get("audit_outcome")
    if said is None:
        flashes = session.get("_flashes") or []
        said = flashes[-1][1] if flashes else None
    if response.status_code >= 400:
        said = f"refused ({response.status_code}){': ' + said if said else ''}"
    return "; ".join(part for part in (choices, said) if part) or None


def _record_request(response):
    """Record a signed-in person's dashboard POST; never fail the response over it."""
    if not (has_request_context() and request.method == "POST" and request.blueprint == "dashboard"):
        return response
    user = current_user()
    if user is None or g.get("audit_skip"):
        return response
    target = ", ".join(str(value) for value in (request.view_args or {}).values()) or None
    try:
        record(user.username, ACTIONS.get(request.endpoint, (request.endpoint or "?").split(".")[-1]),
               target, _detail(response), _page())
    except Exception:  # the action happened; a lost log line must not turn it into an error
        log.exception("could not write the audit entry of %s", request.endpoint)
    return response


def _forget():
    """Start each request without the previous one's outcome (`g` can outlive a request)."""
    g.pop("audit_outcome", None)
    g.pop("audit_skip", None)


def init_app(app):
    """Record every dashboard action after its view ran."""
    app.before_request(_forget)
    app.after_request(_record_request)
