"""shopsync: keeps an ERP database in step with a Shopify store."""

import os
import sys

from flask import Flask, jsonify
from flask_wtf.csrf import CSRFProtect

# The repository: where worker.py, wsgi.py and the Procfile are (the processes run from here).
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
        headers,
        metrics,
        pause,
        queue,
        webhook_fast,
        webhooks,
        wording,
    )

    app = Flask(__name__)  # pages from shopsync/templates, assets from shopsync/static
    app.config.from_mapping(config.from_environment())
    if test_config:
        app.config.update(test_config)
    if not app.testing:  # `make run` generates a key per run; every deployment must set its own
        config.require_secret_key(app.config)

    db.init_app(app)
    queue.init_app(app)
    app.register_blueprint(webhooks.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(metrics.bp)
    cli.init_app(app)
    auth.init_app(app)
    headers.init_app(app)
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

    webhook_fast.init_app(app)  # last: deliveries are answered before all of the above
    return app


def create_app_or_exit():
    """Build a process's app: its log to stderr, the settings from the environment; or end the
    process with the setting's message alone."""
    from shopsync.config import ConfigError, log_to_stderr

    log_to_stderr()
    try:
        return create_app()
    except ConfigError as exc:
        print(f"shopsync cannot start: {exc}", file=sys.stderr, flush=True)
        sys.exit(CONFIG_EXIT_CODE)
