"""Words for people: metric names with units, values a person reads at a glance, and
validation errors as sentences (the raw detail stays available beside them)."""

import json
import re

# How each metric reads on the dashboard; others read as their name.
LABELS = {
    "order_lag": "Order lag",
    "error_rate": "Error rate",
    "webhook_latency_seconds": "Webhook latency (95th percentile)",
    "dlq_size": "Open failed items",
    "oldest_pending_webhook_seconds": "Oldest pending webhook",
    "last_webhook_age_seconds": "Time since the last webhook",
    "missing_webhook_topics": "Missing webhook topics",
}
# Marshmallow's messages, as the end of a sentence about the field.
MESSAGES = {
    "Not a valid integer.": "must be a whole number",
    "Not a valid number.": "must be a number",
    "Missing data for required field.": "is missing",
    "Field may not be null.": "must not be empty",
    "Not a valid string.": "must be text",
    "Not a valid datetime.": "must be a date and time",
    "Not a valid list.": "must be a list",
    "Not a valid boolean.": "must be true or false",
    "Invalid input type.": "has the wrong type",
    "Unknown field.": "is not expected",
}
PAYLOAD_ERROR = re.compile(r"invalid (\w+) payload: (\{.*\})\Z", re.S)


def metric_label(name):
    """Return a metric's name as a person reads it."""
    return LABELS.get(name, name.replace("_", " ").capitalize())


def metric_meaning(name):
    """Return the one-line meaning of a metric, or an empty string."""
    from shopsync.health import METRICS_BY_NAME  # health words its alerts with this module

    metric = METRICS_BY_NAME.get(name)
    return metric.description if metric else ""


def duration_words(seconds):
    """Format seconds briefly: 850 ms, 2.5 s, 95 s, 4 min, 2.5 h, 3 h, 3 days."""
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 120:
        return f"{seconds:.0f} s" if seconds >= 10 or float(seconds).is_integer() else f"{seconds:.1f} s"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.1f} h".replace(".0 h", " h")
    return f"{seconds / 86400:.0f} days"


def metric_value(value, name):
    """Format a metric's value or threshold in its unit: %, a duration, or a count."""
    if value is None:
        return "—"
    if name == "error_rate":
        return f"{value * 100:.1f}%".replace(".0%", "%")
    if name.endswith("_seconds"):
        return duration_words(value)
    if name == "order_lag" and value < 0:
        return f"{-value:,.0f} extra in the ERP"
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


def _field(path):
    """Name a field by its path, e.g. ["line_items", "0", "quantity"] → line item 1: quantity."""
    words = []
    for step in path:
        if step.isdigit() and words:
            words[-1] = f"{words[-1].removesuffix('s')} {int(step) + 1}"
        else:
            words.append(step.replace("_", " "))
    if len(words) > 1:
        return f"{': '.join(words[:-1])}: {words[-1]}"
    return words[0] if words else "the payload"


def _predicate(message):
    """Turn one of marshmallow's messages into the end of a sentence about its field."""
    if message in MESSAGES:
        return MESSAGES[message]
    text = message.rstrip(".")
    text = text[:1].lower() + text[1:]  # keep "UTC" and names as they are
    return f"is {text}" if text.startswith("not ") else text


def _sentences(messages, path=()):
    """Yield one sentence per problem in marshmallow's nested messages."""
    if isinstance(messages, dict):
        for key, inner in messages.items():
            yield from _sentences(inner, (*path, str(key)))
    elif isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        for message in messages:
            yield f"{_field(path)} {_predicate(message)}"
    else:
        yield f"{_field(path)}: {messages}"


def reason(text):
    """Return a failure reason as sentences, or unchanged when it is not a validation error."""
    found = PAYLOAD_ERROR.match(text or "")
    if not found:
        return text or ""
    try:
        messages = json.loads(found.group(2))
    except ValueError:
        return text
    return f"The {found.group(1)} data is not valid: " + "; ".join(_sentences(messages)) + "."


def init_app(app):
    """Make the wording available to every template."""
    app.add_template_filter(metric_label)
    app.add_template_filter(metric_meaning)
    app.add_template_filter(metric_value)
    app.add_template_filter(reason)
