"""The webhook fast path: deliveries answered before Flask's request machinery, as Flask would.

For each delivery Flask built a request and an app context, matched the URL, opened a
session and ran the app-wide hooks (CSRF, the audit log's, the login state's), none of which
does anything for a webhook. `POST /webhooks/shopify` is answered here instead, by what the
view itself calls (webhooks.read_body and webhooks.handle), between the same connection
hooks (db.open_connection, db.end_connection), with the same JSON, error answers and
security headers. Every other request goes to Flask, and so does a delivery that carries a
cookie (Shopify sends none; Flask would refresh a signed-in person's session).
"""

from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask, Response
from werkzeug.datastructures import EnvironHeaders
from werkzeug.exceptions import HTTPException

from shopsync import errors, webhooks
from shopsync.db import INFRASTRUCTURE_ERRORS, end_connection, open_connection
from shopsync.headers import add_security_headers

METHOD, PATH = "POST", "/webhooks/shopify"
WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class FastPath:
    """WSGI middleware: answer webhook deliveries itself, pass every other request to Flask."""

    def __init__(self, app: Flask, flask_wsgi_app: WSGIApp) -> None:
        self.app = app
        self.flask_wsgi_app = flask_wsgi_app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if (environ.get("PATH_INFO") != PATH or environ.get("REQUEST_METHOD") != METHOD
                or "HTTP_COOKIE" in environ):
            return self.flask_wsgi_app(environ, start_response)
        return self.respond(environ)(environ, start_response)

    def respond(self, environ: dict[str, Any]) -> Response:
        """Return the response to one delivery: the view's, with what Flask adds around it."""
        app, keep = self.app, False
        try:
            open_connection()
            body = webhooks.read_body(environ, app.config["MAX_CONTENT_LENGTH"])
            answer, status = webhooks.handle(app, body, EnvironHeaders(environ))
            keep = status == 200
        except HTTPException as exc:  # 413, a client gone mid-body: werkzeug's page, as in Flask
            return add_security_headers(app.response_class.force_type(exc, environ), app.config)
        except INFRASTRUCTURE_ERRORS as exc:
            answer, status = errors.unreachable_database(exc), 503
        except Exception as exc:
            if _propagates(app):
                raise
            app.logger.error(f"Exception on {PATH} [{METHOD}]", exc_info=exc)  # Flask's own line
            answer, status = errors.unexpected(METHOD, PATH, exc), 500
        finally:
            end_connection(keep)
        response = app.json.response(answer)
        response.status_code = status
        return add_security_headers(response, app.config)


def _propagates(app: Flask) -> bool:
    """Tell whether Flask would let an unexpected exception out (testing, debugging) for the app."""
    propagate = app.config["PROPAGATE_EXCEPTIONS"]
    return app.testing or app.debug if propagate is None else propagate


def init_app(app: Flask) -> None:
    """Put the fast path in front of the app's Flask request handling."""
    app.wsgi_app = FastPath(app, app.wsgi_app)
