"""Telling htmx's requests for a fragment from a browser's for a whole page."""

from flask import request


def is_htmx():
    """Tell whether htmx made the request for a fragment (a history restore wants a whole page)."""
    return (request.headers.get("HX-Request") == "true"
            and request.headers.get("HX-History-Restore-Request") != "true")
