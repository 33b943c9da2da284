"""Every setting and its default: read from the environment (and `.env` when present)."""

import datetime as dt
import logging
import os

from dotenv import load_dotenv

DEFAULT_API_VERSION = "2025-10"
# "graphql" or "rest" (the legacy REST Admin API): both bring an order with its books (current
# totals, presentment money, lines, refunds, fulfillments) in the same record.
DEFAULT_ADMIN_API = "graphql"
DEFAULT_EMAIL_FROM = "shopsync@localhost"
DEFAULT_DATABASE_URL = "sqlite:///instance/shopsync.db"
# Shopify order payloads rarely exceed a few hundred KB; anything past this is refused with 413.
DEFAULT_MAX_WEBHOOK_BYTES = 5 * 1024 * 1024
# Personal data in stored webhook bodies lives no longer than this.
DEFAULT_WEBHOOK_RETENTION_DAYS = 30
# Session cookies are signed with SECRET_KEY: a shorter key is refused, as it could be guessed.
MIN_SECRET_KEY_LENGTH = 32
# SHOPSYNC_SCHEDULE_SCALE multiplies every periodic interval (and the allowances judged from
# them); tests run the minute jobs every 3 s with 0.05.
DEFAULT_SCHEDULE_SCALE = 1.0
# After each full batch a drain rests this many times as long as the batch took. No rest by
# default: a drain alone on its machine (a worker dyno) runs at full speed. Where web and
# workers share a machine, 1 keeps the web's answers fast while a backlog drains
# (docs/BENCHMARKS.md, Burst).
DEFAULT_DRAIN_REST_RATIO = 0.0
SECRET_KEY_HELP = ("set SECRET_KEY to a long random value, e.g. "
                   "SECRET_KEY=$(python3 -c 'import secrets; print(secrets.token_hex(32))')")


class ConfigError(RuntimeError):
    """A setting is missing or unsafe; the message says how to fix it."""


# Numeric tuning settings pass through under these prefixes, e.g. HEALTH_ORDER_LAG_WARNING,
# RECONCILE_THRESHOLD_ORDERS, CATCHUP_OVERLAP_SECONDS, ALERT_REPEAT_MINUTES, BULK_POLL_SECONDS.
TUNING_PREFIXES = ("HEALTH_", "RECONCILE_", "CATCHUP_", "ALERT_REPEAT_", "BULK_")
# Their defaults.
TUNING = {
    # Health thresholds: a metric's value above one reaches its level (health.METRICS).
    "HEALTH_ORDER_LAG_WARNING": 50, "HEALTH_ORDER_LAG_CRITICAL": 200,
    "HEALTH_ERROR_RATE_WARNING": 0.05, "HEALTH_ERROR_RATE_CRITICAL": 0.15,
    "HEALTH_WEBHOOK_LATENCY_SECONDS_WARNING": 5, "HEALTH_WEBHOOK_LATENCY_SECONDS_CRITICAL": 30,
    "HEALTH_DLQ_SIZE_WARNING": 20, "HEALTH_DLQ_SIZE_CRITICAL": 100,
    "HEALTH_OLDEST_PENDING_WEBHOOK_SECONDS_WARNING": 120,
    "HEALTH_OLDEST_PENDING_WEBHOOK_SECONDS_CRITICAL": 900,
    "HEALTH_LAST_WEBHOOK_AGE_SECONDS_WARNING": 3 * 3600,
    "HEALTH_LAST_WEBHOOK_AGE_SECONDS_CRITICAL": 24 * 3600,
    "HEALTH_MISSING_WEBHOOK_TOPICS_WARNING": 0, "HEALTH_MISSING_WEBHOOK_TOPICS_CRITICAL": 0,
    "HEALTH_SHOPIFY_ACCESS_PROBLEMS_WARNING": 0, "HEALTH_SHOPIFY_ACCESS_PROBLEMS_CRITICAL": 0,
    # Health readings are kept this many days.
    "HEALTH_RETENTION_DAYS": 30,
    # Reconciliation: more differing ids than this is critical, fewer a warning.
    "RECONCILE_THRESHOLD_ORDERS": 100, "RECONCILE_THRESHOLD_PRODUCTS": 10,
    "RECONCILE_THRESHOLD_CUSTOMERS": 100,
    # A full run compares records created until this long ago: newer ones are still in flight.
    "RECONCILE_SETTLE_SECONDS": 300,
    # A queued full run is stopped after this many seconds.
    "RECONCILE_JOB_TIMEOUT": 3600,
    # Catch-up: re-read this much before the watermark (clock skew, Shopify's indexing delay),
    # leave the last CATCHUP_SETTLE_SECONDS to webhooks, and start this far back.
    "CATCHUP_OVERLAP_SECONDS": 300, "CATCHUP_SETTLE_SECONDS": 60, "CATCHUP_LOOKBACK_SECONDS": 86400,
    # A metric that stays critical alerts again this often (0: never).
    "ALERT_REPEAT_MINUTES": 60,
    # How often a bulk backfill asks Shopify how its operation stands, in case the webhook is lost.
    "BULK_POLL_SECONDS": 10.0,
}
# Dashboard session cookie: not readable by scripts, not sent on cross-site POSTs, good for 12
# hours; a CSRF token lives as long as its session.
SESSION = {"SESSION_COOKIE_HTTPONLY": True, "SESSION_COOKIE_SAMESITE": "Lax",
           "PERMANENT_SESSION_LIFETIME": dt.timedelta(hours=12), "WTF_CSRF_TIME_LIMIT": None}
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def _number(text):
    """Read an int when the text is integral, else a float."""
    value = float(text)
    return int(value) if value.is_integer() else value


def tuning(environ):
    """Return the numeric tuning settings present in `environ`."""
    return {name: _number(value) for name, value in environ.items()
            if name.startswith(TUNING_PREFIXES)}


# Spellings of a yes/no setting.
TRUE_WORDS, FALSE_WORDS = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def flag(name, value, default):
    """Read a yes/no setting; raise ConfigError for anything but its known spellings."""
    word = (value or "").strip().lower()
    if not word:
        return default
    if word in TRUE_WORDS + FALSE_WORDS:
        return word in TRUE_WORDS
    raise ConfigError(f"{name}={value!r} is neither 1 nor 0 (or true/false, yes/no, on/off)")


def schedule_scale(text):
    """Read SHOPSYNC_SCHEDULE_SCALE: a positive number."""
    try:
        scale = float(text)
    except ValueError:
        scale = 0.0
    if not 0 < scale < float("inf"):
        raise ConfigError(f"SHOPSYNC_SCHEDULE_SCALE must be a positive number, not {text!r}")
    return scale


def rest_ratio(text):
    """Read SHOPSYNC_DRAIN_REST_RATIO: a number, 0 or more."""
    try:
        ratio = float(text)
    except ValueError:
        ratio = -1.0
    if not 0 <= ratio < float("inf"):
        raise ConfigError(f"SHOPSYNC_DRAIN_REST_RATIO must be a number, 0 or more, not {text!r}")
    return ratio


def from_environment():
    """Return every setting: from the environment where set there, else its default."""
    load_dotenv(os.environ.get("SHOPSYNC_ENV_FILE", ".env"))
    env = os.environ.get
    return {
        **TUNING,
        **tuning(os.environ),
        **SESSION,
        # HTTPS-only session cookies, and HSTS, when 1 (off by default so http://127.0.0.1 works).
        "SESSION_COOKIE_SECURE": env("SESSION_COOKIE_SECURE") == "1",
        "DATABASE_URL": env("DATABASE_URL", DEFAULT_DATABASE_URL),
        "REDIS_URL": env("REDIS_URL") or None,
        # Off only for a rediss:// Redis whose self-signed certificate cannot be verified
        # (Heroku's Key-Value Store): the traffic stays encrypted, the server is not authenticated.
        "REDIS_TLS_VERIFY": flag("REDIS_TLS_VERIFY", env("REDIS_TLS_VERIFY"), True),
        "SHOPIFY_SHOP": env("SHOPIFY_SHOP") or None,
        "SHOPIFY_ACCESS_TOKEN": env("SHOPIFY_ACCESS_TOKEN", ""),
        # A Dev Dashboard app: tokens come from the client-credentials grant.
        "SHOPIFY_CLIENT_ID": env("SHOPIFY_CLIENT_ID", ""),
        "SHOPIFY_CLIENT_SECRET": env("SHOPIFY_CLIENT_SECRET", ""),
        "SHOPIFY_ADMIN_API": env("SHOPIFY_ADMIN_API", DEFAULT_ADMIN_API).lower(),
        "SHOPIFY_API_VERSION": env("SHOPIFY_API_VERSION", DEFAULT_API_VERSION),
        "SHOPIFY_API_BASE_URL": env("SHOPIFY_API_BASE_URL") or None,
        # The app's client secret signs webhooks unless another secret is set.
        "SHOPIFY_WEBHOOK_SECRET": env("SHOPIFY_WEBHOOK_SECRET") or env("SHOPIFY_CLIENT_SECRET", ""),
        # Still accepted for an hour or so after a rotation, as Shopify signs with it meanwhile.
        "SHOPIFY_PREVIOUS_WEBHOOK_SECRET": env("SHOPIFY_PREVIOUS_WEBHOOK_SECRET", ""),
        "SHOPSYNC_ADMIN_TOKEN": env("SHOPSYNC_ADMIN_TOKEN", ""),
        # Proxies in front of the web processes (Heroku: 1): login throttling then reads the
        # client's address from X-Forwarded-For.
        "SHOPSYNC_TRUSTED_PROXIES": int(env("SHOPSYNC_TRUSTED_PROXIES", "0")),
        # When set, /metrics wants `Authorization: Bearer` this; unset, it is public.
        "SHOPSYNC_METRICS_TOKEN": env("SHOPSYNC_METRICS_TOKEN", ""),
        "SECRET_KEY": env("SECRET_KEY", ""),
        "SLACK_WEBHOOK_URL": env("SLACK_WEBHOOK_URL") or None,
        "SMTP_URL": env("SMTP_URL") or None,
        "ALERT_EMAIL_TO": env("ALERT_EMAIL_TO") or None,
        "MAX_CONTENT_LENGTH": int(env("SHOPSYNC_MAX_WEBHOOK_BYTES", DEFAULT_MAX_WEBHOOK_BYTES)),
        # Raw bodies of applied deliveries are dropped after this many days (privacy.py).
        "SHOPSYNC_WEBHOOK_RETENTION_DAYS": int(env("SHOPSYNC_WEBHOOK_RETENTION_DAYS",
                                                   DEFAULT_WEBHOOK_RETENTION_DAYS)),
        "RQ_QUEUE": env("SHOPSYNC_QUEUE", "shopsync"),
        # The public URL of /webhooks/shopify: register-webhooks subscribes it, health checks it.
        "SHOPSYNC_WEBHOOK_ADDRESS": env("SHOPSYNC_WEBHOOK_ADDRESS") or None,
        # The sender of alert emails.
        "ALERT_EMAIL_FROM": env("ALERT_EMAIL_FROM", DEFAULT_EMAIL_FROM),
        "SCHEDULE_SCALE": schedule_scale(env("SHOPSYNC_SCHEDULE_SCALE") or DEFAULT_SCHEDULE_SCALE),
        "DRAIN_REST_RATIO": rest_ratio(env("SHOPSYNC_DRAIN_REST_RATIO") or DEFAULT_DRAIN_REST_RATIO),
    }


def require_secret_key(settings):
    """Raise ConfigError unless SECRET_KEY is long enough that nobody can forge a session."""
    key = settings.get("SECRET_KEY") or ""
    if not key:
        raise ConfigError(f"SECRET_KEY is not set: {SECRET_KEY_HELP}")
    if len(key) < MIN_SECRET_KEY_LENGTH:
        raise ConfigError(f"SECRET_KEY is too short ({len(key)} characters, at least "
                          f"{MIN_SECRET_KEY_LENGTH} needed): {SECRET_KEY_HELP}")


def log_to_stderr():
    """Send INFO and above to stderr in one format: what each process does first (not the app)."""
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
