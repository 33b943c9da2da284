"""Settings read from the environment (and `.env` when present)."""

import os

from dotenv import load_dotenv

DEFAULT_API_VERSION = "2025-10"
DEFAULT_DATABASE_URL = "sqlite:///instance/shopsync.db"
# Shopify order payloads rarely exceed a few hundred KB; anything past this is refused with 413.
DEFAULT_MAX_WEBHOOK_BYTES = 5 * 1024 * 1024


def from_environment():
    """Return the settings mapping built from environment variables."""
    load_dotenv(os.environ.get("SHOPSYNC_ENV_FILE", ".env"))
    env = os.environ.get
    return {
        "DATABASE_URL": env("DATABASE_URL", DEFAULT_DATABASE_URL),
        "REDIS_URL": env("REDIS_URL") or None,
        "SHOPIFY_SHOP": env("SHOPIFY_SHOP") or None,
        "SHOPIFY_ACCESS_TOKEN": env("SHOPIFY_ACCESS_TOKEN", ""),
        "SHOPIFY_API_VERSION": env("SHOPIFY_API_VERSION", DEFAULT_API_VERSION),
        "SHOPIFY_API_BASE_URL": env("SHOPIFY_API_BASE_URL") or None,
        "SHOPIFY_WEBHOOK_SECRET": env("SHOPIFY_WEBHOOK_SECRET", ""),
        # Still accepted for an hour or so after a rotation, as Shopify signs with it meanwhile.
        "SHOPIFY_PREVIOUS_WEBHOOK_SECRET": env("SHOPIFY_PREVIOUS_WEBHOOK_SECRET", ""),
        "SHOPSYNC_ADMIN_TOKEN": env("SHOPSYNC_ADMIN_TOKEN", ""),
        "SECRET_KEY": env("SECRET_KEY", "dev-only-change-me"),
        "SLACK_WEBHOOK_URL": env("SLACK_WEBHOOK_URL") or None,
        "SMTP_URL": env("SMTP_URL") or None,
        "ALERT_EMAIL_TO": env("ALERT_EMAIL_TO") or None,
        "MAX_CONTENT_LENGTH": int(env("SHOPSYNC_MAX_WEBHOOK_BYTES", DEFAULT_MAX_WEBHOOK_BYTES)),
        "RQ_QUEUE": env("SHOPSYNC_QUEUE", "shopsync"),
        # Reconciliation (shopsync.reconciliation): differences above the threshold are critical.
        "RECONCILE_THRESHOLD_ORDERS": int(env("RECONCILE_THRESHOLD_ORDERS", 100)),
        "RECONCILE_THRESHOLD_PRODUCTS": int(env("RECONCILE_THRESHOLD_PRODUCTS", 10)),
        "RECONCILE_THRESHOLD_CUSTOMERS": int(env("RECONCILE_THRESHOLD_CUSTOMERS", 100)),
        "RECONCILE_SETTLE_SECONDS": int(env("RECONCILE_SETTLE_SECONDS", 300)),
        "RECONCILE_JOB_TIMEOUT": int(env("RECONCILE_JOB_TIMEOUT", 3600)),
        "CATCHUP_OVERLAP_SECONDS": int(env("CATCHUP_OVERLAP_SECONDS", 300)),
        "CATCHUP_SETTLE_SECONDS": int(env("CATCHUP_SETTLE_SECONDS", 60)),
        "CATCHUP_LOOKBACK_SECONDS": int(env("CATCHUP_LOOKBACK_SECONDS", 86400)),
        # Health (shopsync.health): a reading above a threshold reaches its level.
        "HEALTH_ORDER_LAG_WARNING": float(env("HEALTH_ORDER_LAG_WARNING", 50)),
        "HEALTH_ORDER_LAG_CRITICAL": float(env("HEALTH_ORDER_LAG_CRITICAL", 200)),
        "HEALTH_ERROR_RATE_WARNING": float(env("HEALTH_ERROR_RATE_WARNING", 0.05)),
        "HEALTH_ERROR_RATE_CRITICAL": float(env("HEALTH_ERROR_RATE_CRITICAL", 0.15)),
        "HEALTH_WEBHOOK_LATENCY_SECONDS_WARNING": float(env("HEALTH_WEBHOOK_LATENCY_SECONDS_WARNING", 5)),
        "HEALTH_WEBHOOK_LATENCY_SECONDS_CRITICAL": float(env("HEALTH_WEBHOOK_LATENCY_SECONDS_CRITICAL",
                                                             30)),
        "HEALTH_DLQ_SIZE_WARNING": float(env("HEALTH_DLQ_SIZE_WARNING", 20)),
        "HEALTH_DLQ_SIZE_CRITICAL": float(env("HEALTH_DLQ_SIZE_CRITICAL", 100)),
        "HEALTH_OLDEST_PENDING_WEBHOOK_SECONDS_WARNING": float(
            env("HEALTH_OLDEST_PENDING_WEBHOOK_SECONDS_WARNING", 120)),
        "HEALTH_OLDEST_PENDING_WEBHOOK_SECONDS_CRITICAL": float(
            env("HEALTH_OLDEST_PENDING_WEBHOOK_SECONDS_CRITICAL", 900)),
        "HEALTH_LAST_WEBHOOK_AGE_SECONDS_WARNING": float(
            env("HEALTH_LAST_WEBHOOK_AGE_SECONDS_WARNING", 3 * 3600)),
        "HEALTH_LAST_WEBHOOK_AGE_SECONDS_CRITICAL": float(
            env("HEALTH_LAST_WEBHOOK_AGE_SECONDS_CRITICAL", 24 * 3600)),
        "HEALTH_MISSING_WEBHOOK_TOPICS_WARNING": float(env("HEALTH_MISSING_WEBHOOK_TOPICS_WARNING", 0)),
        "HEALTH_MISSING_WEBHOOK_TOPICS_CRITICAL": float(env("HEALTH_MISSING_WEBHOOK_TOPICS_CRITICAL", 0)),
        "HEALTH_RETENTION_DAYS": int(env("HEALTH_RETENTION_DAYS", 30)),
        # The public URL of /webhooks/shopify: register-webhooks subscribes it, health checks it.
        "SHOPSYNC_WEBHOOK_ADDRESS": env("SHOPSYNC_WEBHOOK_ADDRESS") or None,
        # Alerts (shopsync.alerts): a metric that stays critical alerts again this often.
        "ALERT_REPEAT_MINUTES": float(env("ALERT_REPEAT_MINUTES", 60)),
        "ALERT_EMAIL_FROM": env("ALERT_EMAIL_FROM", "shopsync@localhost"),
    }
