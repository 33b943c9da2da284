"""shopsync: keeps an ERP database in step with a Shopify store."""

import datetime as dt
import logging
import os
import sys

import peewee as pw
from flask import Flask, jsonify
from flask_wtf.csrf import CSRFProtect

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The exit code of a process a setting stops: gunicorn's "App failed to load", on which its
# master stops instead of booting workers again and again.
CONFIG_EXIT_CODE = 4


def create_app(test_config=None):
    """Build the Flask app from the environment, or from `test_config` laid over it."""
    from shopsync import (
        api,
        audit,
        auth,
        cli,
        config,
        dashboard,
        db,
        errors,
        metrics,
        pause,
        queue,
        webhooks,
        wording,
    )

    app = Flask(__name__, template_folder=os.path.join(ROOT, "templates"),
                static_folder=os.path.join(ROOT, "static"))
    app.config.from_mapping(config.from_environment())
    # Dashboard session cookie: not readable by scripts, not sent on cross-site POSTs, HTTPS-only
    # when SESSION_COOKIE_SECURE=1 (off by default so http://127.0.0.1 works), good for 12 hours.
    app.config.update(SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax",
                      SESSION_COOKIE_SECURE=os.environ.get("SESSION_COOKIE_SECURE") == "1",
                      PERMANENT_SESSION_LIFETIME=dt.timedelta(hours=12),
                      WTF_CSRF_TIME_LIMIT=None)  # a CSRF token lives as long as its session
    if test_config:
        app.config.update(test_config)
    if not app.testing:  # `make run` generates a key per run; every deployment must set its own
        config.require_secret_key(app.config)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    db.init_app(app)
    queue.init_app(app)
    app.register_blueprint(webhooks.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(metrics.bp)
    cli.init_app(app)
    auth.init_app(app)
    app.register_blueprint(dashboard.bp)
    audit.init_app(app)
    pause.init_app(app)
    wording.init_app(app)
    errors.init_app(app)
    # Every form POST needs a CSRF token; Shopify and API clients authenticate otherwise.
    csrf = CSRFProtect(app)
    csrf.exempt(webhooks.bp)
    csrf.exempt(api.bp)

    @app.get("/healthz")
    def healthz():
        """Answer liveness probes."""
        return jsonify(status="ok")

    @app.errorhandler(pw.OperationalError)
    @app.errorhandler(pw.InterfaceError)
    def database_unavailable(exc):
        """Answer 503 when the database cannot be reached, so callers retry."""
        app.logger.error("database unavailable: %s", exc)
        return jsonify(error="database unavailable, retry later"), 503

    return app


def create_app_or_exit():
    """Build the app from the environment, or end the process with the setting's message alone."""
    from shopsync.config import ConfigError

    try:
        return create_app()
    except ConfigError as exc:
        print(f"shopsync cannot start: {exc}", file=sys.stderr, flush=True)
        sys.exit(CONFIG_EXIT_CODE)
