"""Command-line tools: `flask --app wsgi <command>`."""

import click

from shopsync import migrations
from shopsync.db import db


@click.command("init-db")
def init_db_command():
    """Create the database schema, or upgrade it to the current version."""
    with db.connection_context():
        applied = migrations.upgrade()
    click.echo(f"schema up to date ({', '.join(applied) or 'nothing to apply'})")


def init_app(app):
    """Register the commands with the app."""
    app.cli.add_command(init_db_command)
