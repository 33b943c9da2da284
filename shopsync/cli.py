"""Command-line tools: `flask --app wsgi <command>`."""

import datetime as dt

import click
from tqdm import tqdm

from shopsync import audit, backfill, bulk_backfill, dlq, migrations
from shopsync.auth import save_user
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
@click.option("--bulk", is_flag=True, help="Through a bulk operation (GraphQL): Shopify runs the "
                                         "query and shopsync streams the result.")
def backfill_command(resource, since, bulk):
    """Copy every RESOURCE record from Shopify into the ERP, resuming an unfinished run."""
    since = since and since.replace(tzinfo=dt.UTC)
    with db.connection_context():
        run = (bulk_backfill if bulk else backfill).prepare_run(resource, since)
    if bulk and run.fetched:
        click.echo(f"resuming bulk backfill #{run.id} after {run.fetched} records")
    elif run.position:
        click.echo(f"resuming backfill #{run.id} after id {run.position}")
    with tqdm(total=run.expected, initial=run.fetched, unit=resource[:-1], disable=None) as bar:
        def on_page(current, size):
            bar.total = current.expected
            bar.update(size)

        if bulk:
            run = bulk_backfill.run_bulk_backfill(run.id, on_progress=on_page)
        else:
            run = backfill.run_backfill(run.id, on_page=on_page)
    click.echo(f"{run.status.value}: fetched {run.fetched}, stored {run.stored}, "
               f"failed {run.failed}" + (f" ({run.error})" if run.error else ""))
    if run.status is not RunStatus.COMPLETED:
        raise SystemExit(1)


@click.command("create-user")
@click.argument("name")
@click.option("--admin", is_flag=True, help="Let the user act (retry, abandon, run jobs), not only read.")
@click.password_option(envvar="SHOPSYNC_NEW_USER_PASSWORD",
                       help="The password (prompted for when not given).")
def create_user_command(name, admin, password):
    """Create a dashboard user, or reset an existing user's password and role."""
    role = "admin" if admin else "viewer"
    try:
        with db.connection_context():
            _, created = save_user(name, password, is_admin=admin)
            audit.record_cli("create user" if created else "update user", name, role)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="password") from exc
    click.echo(f"{'created' if created else 'updated'} {role} {name}")


@click.command("process-dlq")
def process_dlq_command():
    """Retry the failed items that are due, once each."""
    counts = dlq.process_dead_letter_queue()
    click.echo(", ".join(f"{name} {n}" for name, n in counts.items()))


@click.command("reconcile")
@click.argument("entity", required=False, type=click.Choice(sorted(RESOURCES)))
@click.option("--catchup", is_flag=True, help="Only apply what changed since the last catch-up.")
@click.option("--deep", is_flag=True, help="List every id instead of comparing counts first.")
def reconcile_command(entity, catchup, deep):
    """Compare Shopify with the ERP for ENTITY (default: all), heal what is missing, report."""
    from shopsync import reconciliation
    from shopsync.models import ReconciliationReport
    from shopsync.reconciliation.reports import id_count
    from shopsync.reconciliation.runs import run_catchup, run_full

    if catchup:
        report_ids = run_catchup(entity)
    else:
        report_ids = run_full(entity, deep=deep)
    with db.connection_context():
        reports = list(ReconciliationReport.select().where(ReconciliationReport.id.in_(report_ids)))
    for report in reports:
        details = report.details or {}
        if "error" in details:
            click.echo(f"{report.entity_type}: failed: {details['error']}")
            continue
        counts = ", ".join(f"{kind} {id_count(details, kind)}"
                           for kind in ("missing", "extra", "healed", "failed"))
        healing = f", healing stopped: {details['heal_error']}" if details.get("heal_error") else ""
        click.echo(f"{report.entity_type} ({report.kind}): {report.status.value}, "
                   f"Shopify {report.shopify_count}, ERP {report.erp_count}, {counts}, "
                   f"{report.api_calls} API calls{healing}")
    if catchup:
        reported = {report.entity_type for report in reports}
        for name in [e.name for e in reconciliation.entities(entity) if e.name not in reported]:
            click.echo(f"{name} (catchup): nothing missed since the last catch-up")


@click.command("register-webhooks")
@click.option("--address", help="The public URL of /webhooks/shopify "
                                "(default: SHOPSYNC_WEBHOOK_ADDRESS).")
def register_webhooks_command(address):
    """Subscribe the store to every topic shopsync needs, creating only the missing ones."""
    from flask import current_app

    from shopsync import subscriptions
    from shopsync.shopify import app_client

    address = address or current_app.config.get("SHOPSYNC_WEBHOOK_ADDRESS")
    if not address:
        raise click.UsageError("give --address or set SHOPSYNC_WEBHOOK_ADDRESS")
    result = subscriptions.register_webhooks(app_client(), address)
    click.echo(f"{address}: {len(result['present'])} topics already subscribed, "
               f"{len(result['created'])} created"
               + "".join(f"\n  created {topic}" for topic in result["created"]))
    for topic, reason in result["failed"].items():
        click.echo(f"  failed {topic}: {reason}", err=True)
    if result["failed"]:
        raise SystemExit(1)


def init_app(app):
    """Register the commands with the app."""
    app.cli.add_command(init_db_command)
    app.cli.add_command(create_user_command)
    app.cli.add_command(backfill_command)
    app.cli.add_command(process_dlq_command)
    app.cli.add_command(reconcile_command)
    app.cli.add_command(register_webhooks_command)
