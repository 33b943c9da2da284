"""Pause and resume processing: deliveries are still stored and answered 200, drains hold.

The switch is a SyncState row, so every web, worker and scheduler process sees it. A drain
that starts while paused returns at once, leaving the webhooks pending; resuming queues a
drain, which applies them oldest first.
"""

import getpass
import json

import click
from flask import has_request_context, request

from shopsync import outbox, queue
from shopsync.db import db, utcnow
from shopsync.models import SyncState

KEY = "processing_paused"


def state():
    """Return {"by": who, "at": when (ISO 8601)} while processing is paused, else None."""
    row = SyncState.get_or_none(SyncState.key == KEY)
    return json.loads(row.value) if row is not None and row.value else None


def is_paused():
    """Tell whether processing is paused (opens its own connection, for jobs)."""
    with db.connection_context():
        return state() is not None


def pause(by):
    """Hold every drain from now on; False if processing was already paused."""
    if state() is not None:
        return False
    now = utcnow()
    SyncState.insert(key=KEY, value=json.dumps({"by": by, "at": now.isoformat()}),
                     updated_at=now).on_conflict_ignore().execute()
    return True


def resume():
    """Let drains run again and queue one; return (was paused, a drain was queued)."""
    was_paused = SyncState.delete().where(SyncState.key == KEY).execute() > 0
    return was_paused, outbox.wake(queue.get_queue()) if was_paused else True


def command_line_user():
    """Name the person at the command line, as the audit log shows them."""
    try:
        return f"{getpass.getuser()} (command line)"
    except (KeyError, OSError):
        return "command line"


@click.command("pause")
def pause_command():
    """Pause processing: webhooks are still stored and answered, but not applied."""
    from shopsync import audit

    with db.connection_context():
        paused = pause(command_line_user())
        audit.record_cli("pause processing", detail=None if paused else "already paused")
    click.echo("processing paused: webhooks are stored and answered, not applied"
               if paused else "processing was already paused")


@click.command("resume")
def resume_command():
    """Resume processing: the webhooks stored meanwhile are applied, oldest first."""
    from shopsync import audit

    with db.connection_context():
        was_paused, queued = resume()
        audit.record_cli("resume processing", detail=None if was_paused else "was not paused")
    if not was_paused:
        click.echo("processing was not paused")
    elif queued:
        click.echo("processing resumed: a drain is queued")
    else:
        click.echo("processing resumed, but Redis cannot be reached: the sweeper queues a drain "
                   "once it is back")


def init_app(app):
    """Register the commands and give every page the pause state for its banner."""
    app.cli.add_command(pause_command)
    app.cli.add_command(resume_command)

    @app.context_processor
    def _paused():
        """Tell dashboard pages whether processing is paused, and by whom."""
        return {"paused": state()} if has_request_context() and request.blueprint == "dashboard" \
            else {}
