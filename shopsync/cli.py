"""Command-line tools: `flask --app wsgi <command>`."""

import datetime as dt

import click
from tqdm import tqdm

from shopsync import backfill, dlq, migrations
from shopsync.db import db
from shopsync.models import RunStatus
from shopsync.topics import RESOURCES


@click.command("init-db")
def init_db_command():
    """Create the database schema, or upgrade it to the current version."""
    with db.connection_context():
        applied = migrations.upgrade()
    click.echo(f"schema up to date ({', '.join(applied) or 'nothing to apply'})")


@click.command("backfill")
@click.argument("resource", type=click.Choice(sorted(RESOURCES)))
@click.option("--since", type=click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"]),
              help="Only records created on or after this date (UTC).")
def backfill_command(resource, since):
    """Copy every RESOURCE record from Shopify into the ERP, resuming an unfinished run."""
    since = since and since.replace(tzinfo=dt.UTC)
    with db.connection_context():
        run = backfill.prepare_run(resource, since)
    if run.position:
        click.echo(f"resuming backfill #{run.id} after id {run.position}")
    with tqdm(total=run.expected, initial=run.fetched, unit=resource[:-1], disable=None) as bar:
        def on_page(current, size):
            bar.total = current.expected
            bar.update(size)

        run = backfill.run_backfill(run.id, on_page=on_page)
    click.echo(f"{run.status.value}: fetched {run.fetched}, stored {run.stored}, "
               f"failed {run.failed}" + (f" ({run.error})" if run.error else ""))
    if run.status is not RunStatus.COMPLETED:
        raise SystemExit(1)


@click.command("process-dlq")
def process_dlq_command():
    """Retry the failed items that are due, once each."""
    counts = dlq.process_dead_letter_queue()
    click.echo(", ".join(f"{name} {n}" for name, n in counts.items()))


def init_app(app):
    """Register the commands with the app."""
    app.cli.add_command(init_db_command)
    app.cli.add_command(backfill_command)
    app.cli.add_command(process_dlq_command)
