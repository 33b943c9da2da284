"""Webhook subscriptions: which required topics the store sends to shopsync, and subscribing the rest."""

from shopsync.topics import REQUIRED_TOPICS


def missing_topics(client, address=None):
    """Return the required topics with no subscription (to `address`, when given)."""
    covered = {item.get("topic") for item in client.list_webhooks()
               if not address or item.get("address") == address}
    return [topic for topic in REQUIRED_TOPICS if topic not in covered]


def register_webhooks(client, address):
    """Subscribe `address` to every required topic it lacks; return what was done per topic."""
    missing = missing_topics(client, address)
    result = {"present": [t for t in REQUIRED_TOPICS if t not in missing], "created": [],
              "failed": {}}
    for topic in missing:
        try:
            client.create_webhook(topic, address)
            result["created"].append(topic)
        except Exception as exc:
            result["failed"][topic] = f"{type(exc).__name__}: {exc}"
    return result
