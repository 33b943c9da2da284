"""Pause and resume processing from the dashboard."""

from flask import flash, redirect, request

from shopsync import pause
from shopsync.auth import admin_required, current_user, safe_next
from shopsync.dashboard import bp


@bp.post("/processing/pause")
@admin_required
def pause_processing():
    """Hold the drains: webhooks are still stored and answered, not applied."""
    if pause.pause(current_user().username):
        flash("Processing paused: webhooks are stored and answered 200, and wait until you "
              "resume.", "info")
    else:
        flash("Processing was already paused.", "info")
    return redirect(safe_next(request.form.get("next")))


@bp.post("/processing/resume")
@admin_required
def resume_processing():
    """Let the drains run again; the webhooks stored meanwhile are applied oldest first."""
    was_paused, queued = pause.resume()
    if not was_paused:
        flash("Processing was not paused.", "info")
    elif queued:
        flash("Processing resumed: the webhooks stored meanwhile are being applied.", "info")
    else:
        flash("Processing resumed, but Redis cannot be reached: nothing was queued. The sweeper "
              "queues the waiting webhooks within a minute or two of Redis coming back.", "error")
    return redirect(safe_next(request.form.get("next")))
