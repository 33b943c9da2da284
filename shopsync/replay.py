"""Replay: stored deliveries applied again through the normal path, where the newest data wins.

A replayed delivery goes back to pending and a drain applies it like a new one: every write is
an upsert that ignores data older than what the ERP holds, so replaying old deliveries after
newer ones changes nothing, and replaying a delivery that failed (after a fix) applies it.
"""

from shopsync import outbox, queue
from shopsync.models import WebhookLog, WebhookStatus
from shopsync.topics import TOPICS


def replayable(conditions):
    """Return the conditions of the deliveries meeting `conditions` that can be applied again."""
    return [WebhookLog.topic.in_(list(TOPICS)), *conditions]


def count(conditions):
    """Return how many deliveries meeting `conditions` a replay would apply again."""
    return WebhookLog.select().where(*replayable(conditions)).count()


def replay(conditions):
    """Put every replayable delivery meeting `conditions` back to pending and wake a drain.

    Returns (how many, queued): `queued` is False when Redis could not take the drain; the
    sweeper then queues one within a minute or two.
    """
    replayed = WebhookLog.update(status=WebhookStatus.PENDING, error=None, processed_at=None).where(
        *replayable(conditions)).execute()
    return replayed, (outbox.wake(queue.get_queue()) if replayed else True)
