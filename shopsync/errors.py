"""Every error answer of the app: a page with the navigation for people, JSON for programs."""

import logging

import peewee as pw
from flask import jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import InternalServerError, MethodNotAllowed, NotFound

from shopsync.htmx import is_htmx

log = logging.getLogger(__name__)
# Paths programs call: they get JSON errors, never a page.
MACHINE_PREFIXES = ("/api/", "/webhooks/shopify", "/metrics", "/healthz")
# The admin API's paths: a wrong method there is answered in JSON too.
API_PREFIX = "/api/admin/"
# The blueprints of pages, whose errors name what went wrong in the page's own words.
PAGE_BLUEPRINTS = ("dashboard", "auth")


def _page(code, message):
    """Answer a person: the error page, or only the message when htmx swaps it into a page."""
    if is_htmx():
        return render_template("_message.html", message=message, kind="error"), code
    return render_template("error.html", code=code, message=message), code


def _answer(code, message, for_programs):
    """Answer with JSON for programs, the dashboard's error page for people."""
    if request.path.startswith(MACHINE_PREFIXES):
        return jsonify(error=for_programs), code
    return render_template("error.html", code=code, message=message), code


def not_found(exc):
    """Answer an address that leads nowhere, or a dashboard item, report or run that is gone."""
    if request.blueprint == "dashboard":
        return _page(404, exc.description or "Not found.")
    return _answer(404, "There is no page at this address. Use the navigation or the search box.",
                   exc.description)


def method_not_allowed(exc):
    """Answer a wrong method under the API in JSON (elsewhere, Flask's own answer)."""
    if not request.path.startswith(API_PREFIX):
        return exc
    return jsonify(error=exc.description), exc.code


def forbidden(exc):
    """Answer a viewer trying to act (other blueprints keep Flask's default page)."""
    if request.blueprint not in PAGE_BLUEPRINTS:
        return exc
    return _page(403, exc.description or "Forbidden.")


def csrf_failed(exc):
    """Answer a POST without a valid CSRF token."""
    return _page(400, "The form expired or did not come from this site; reload the page and try again.")


def database_unavailable(exc):
    """Answer 503 when the database cannot be reached, so callers retry."""
    return jsonify(unreachable_database(exc)), 503


def unreachable_database(exc):
    """Log that the database cannot be reached; return the JSON of the 503 that answers it."""
    log.error("database unavailable: %s", exc)
    return {"error": "database unavailable, retry later"}


def internal_error(exc):
    """Answer an unexpected failure without showing its details."""
    answer = unexpected(request.method, request.path, getattr(exc, "original_exception", None))
    return _answer(500, "Something went wrong on our side; it has been logged. Try again, "
                        "and tell whoever runs shopsync if it keeps happening.", answer["error"])


def unexpected(method, path, exc):
    """Log an unexpected failure of a request; return the JSON of the 500 that answers it."""
    log.error("unexpected error on %s %s", method, path, exc_info=exc)
    return {"error": "internal error"}


def init_app(app):
    """Register the error answers for the whole app."""
    app.register_error_handler(NotFound, not_found)
    app.register_error_handler(MethodNotAllowed, method_not_allowed)
    app.register_error_handler(403, forbidden)
    app.register_error_handler(CSRFError, csrf_failed)
    app.register_error_handler(pw.OperationalError, database_unavailable)
    app.register_error_handler(pw.InterfaceError, database_unavailable)
    app.register_error_handler(InternalServerError, internal_error)
