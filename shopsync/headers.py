"""Browser security headers on every page the app serves."""

from flask import current_app

SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; "
                               "form-action 'self'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
# Sent when SESSION_COOKIE_SECURE=1, i.e. the site is served over HTTPS: browsers then
# refuse plain HTTP to it for a year, so no cookie can leak over a downgraded connection.
HSTS = "max-age=31536000; includeSubDomains"


def add_security_headers(response, config):
    """Add browser security headers to HTML pages, which differ for htmx and for browsers."""
    if config["SESSION_COOKIE_SECURE"]:
        response.headers.setdefault("Strict-Transport-Security", HSTS)
    if response.mimetype == "text/html":
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        response.vary.add("HX-Request")
    return response


def init_app(app):
    """Add the headers to every answer."""
    app.after_request(lambda response: add_security_headers(response, current_app.config))
