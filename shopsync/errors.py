"""The app's own error pages: a page with the navigation for people, JSON for programs."""

import logging

from flask import jsonify, render_template, request
from werkzeug.exceptions import InternalServerError, NotFound

log = logging.getLogger(__name__)
# Paths programs call: they get JSON errors, never a page.
MACHINE_PREFIXES = ("/api/", "/webhooks/shopify", "/metrics", "/healthz")


def _answer(code, message, for_programs):
    """Answer with JSON for programs, the dashboard's error page for people."""
    if request.path.startswith(MACHINE_PREFIXES):
        return jsonify(error=for_programs), code
    return render_template("error.html", code=code, message=message), code


def not_found(exc):
    """Answer an address that leads nowhere."""
    return _answer(404, "There is no page at this address. Use the navigation or the search box.",
                   exc.description)


def internal_error(exc):
    """Answer an unexpected failure without showing its details."""
    original = getattr(exc, "original_exception", None)
    log.error("unexpected error on %s %s", request.method, request.path, exc_info=original)
    return _answer(500, "Something went wrong on our side; it has been logged. Try again, "
                        "and tell whoever runs shopsync if it keeps happening.", "internal error")


def init_app(app):
    """Register the error pages for the whole app."""
    app.register_error_handler(NotFound, not_found)
    app.register_error_handler(InternalServerError, internal_error)
