"""shopsync: keeps an ERP database in step with a Shopify store."""

import logging
import os

import peewee as pw
from flask import Flask, jsonify

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def create_app(test_config=None):
    """Build the Flask app from the environment, or from `test_config` laid over it."""
    from shopsync import api, cli, config, db, queue, webhooks

    app = Flask(__name__, template_folder=os.path.join(ROOT, "templates"),
                static_folder=os.path.join(ROOT, "static"))
    app.config.from_mapping(config.from_environment())
    if test_config:
        app.config.update(test_config)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    db.init_app(app)
    queue.init_app(app)
    app.register_blueprint(webhooks.bp)
    app.register_blueprint(api.bp)
    cli.init_app(app)

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
