"""Schema versions: a new database gets every table at once, an old one the steps it lacks.

To change the schema, change the model and append a step to MIGRATIONS that brings a
database of the previous version to the new one (playhouse.migrate helps). Steps are never
edited or removed once released.
"""

import peewee as pw
from peewee import fn
from playhouse.migrate import PostgresqlMigrator, SqliteMigrator, migrate

from shopsync.bulk_run import BulkRun
from shopsync.db import UTCDateTimeField, db, is_sqlite, utcnow
from shopsync.ledger import LEDGER_MODELS
from shopsync.models import (
    ALL_MODELS,
    AuditEntry,
    BackfillRun,
    DataRequestAnswer,
    Heartbeat,
    Order,
    OrderLineItem,
    WebhookLog,
)


class SchemaMigration(pw.Model):
    """One applied schema step."""

    name = pw.CharField(max_length=128, primary_key=True)
    applied_at = UTCDateTimeField(default=utcnow)

    class Meta:
        database = db
        table_name = "schema_migration"


def _initial(migrator):
    db.create_tables(ALL_MODELS, safe=True)


def _index_live_records_by_creation(migrator):
    migrate(*(migrator.add_index(table, ("deleted_at", "created_at"))
              for table in ("customer", "product", "order")))


def _user_session_version(migrator):
    migrate(migrator.add_column("user", "session_version", pw.IntegerField(default=0)))


def _heartbeats(migrator):
    db.create_tables([Heartbeat], safe=True)


# Order columns added with the books, in the order they were added.
BOOK_ORDER_COLUMNS = (
    "presentment_currency", "taxes_included", "total_line_items_price", "total_shipping_price",
    "subtotal_price_presentment", "total_tax_presentment", "total_discounts_presentment",
    "total_price_presentment", "current_subtotal_price", "current_total_tax",
    "current_total_discounts", "current_total_price", "current_total_price_presentment",
    "total_outstanding", "total_refunded", "total_refunded_presentment")


def _books(migrator):
    fields = Order._meta.fields
    migrate(*(migrator.add_column("order", fields[name].column_name, fields[name])
              for name in BOOK_ORDER_COLUMNS),
            migrator.add_column("order_line_item", "total_discount",
                                OrderLineItem._meta.fields["total_discount"]))
    db.create_tables(LEDGER_MODELS, safe=True)


def _one_delivery_per_event_and_topic(migrator):
    # Deliveries stored twice for one event before this index keep their rows; the later ones
    # lose their event id, which only deduplication reads.
    first = (WebhookLog.select(fn.MIN(WebhookLog.id)).where(WebhookLog.event_id.is_null(False))
             .group_by(WebhookLog.event_id, WebhookLog.topic))
    (WebhookLog.update(event_id=None)
     .where(WebhookLog.event_id.is_null(False) & WebhookLog.id.not_in(first)).execute())
    migrate(migrator.add_index("webhook_log", ("event_id", "topic"), unique=True))


def _operations_tables(migrator):
    db.create_tables([AuditEntry, DataRequestAnswer], safe=True)


def _bulk_runs(migrator):
    db.create_tables([BulkRun], safe=True)


def _bulk_lines_counted(migrator):
    migrate(migrator.add_column(BulkRun._meta.table_name, "lines_counted", BulkRun.lines_counted))


def _periodic_attempts(migrator):
    fields = Heartbeat._meta.fields
    migrate(*(migrator.add_column("heartbeat", name, fields[name]) for name in ("failures", "reason")))


def _backfill_resumes(migrator):
    fields = BackfillRun._meta.fields
    migrate(*(migrator.add_column(BackfillRun._meta.table_name, name, fields[name])
              for name in ("resumes", "resumed_at")))


def _backfill_hand_overs(migrator):
    migrate(migrator.add_column(BackfillRun._meta.table_name, "handed_over_at",
                                BackfillRun.handed_over_at))


# (name, step) in order; each step takes a playhouse.migrate migrator.
MIGRATIONS = [
    ("0001_initial", _initial),
    ("0002_index_live_records_by_creation", _index_live_records_by_creation),
    ("0003_user_session_version", _user_session_version),
    ("0004_heartbeats", _heartbeats),
    ("0005_books", _books),
    ("0006_one_delivery_per_event_and_topic", _one_delivery_per_event_and_topic),
    ("0007_audit_log_and_data_request_answers", _operations_tables),
    ("0008_bulk_runs", _bulk_runs),
    ("0009_bulk_lines_counted", _bulk_lines_counted),
    ("0010_periodic_attempts", _periodic_attempts),
    ("0011_backfill_resumes", _backfill_resumes),
    ("0012_backfill_hand_overs", _backfill_hand_overs),
]


def migrator():
    """Return a playhouse.migrate migrator for the bound database."""
    return SqliteMigrator(db.obj) if is_sqlite() else PostgresqlMigrator(db.obj)


def upgrade():
    """Create or upgrade the schema; return the names of the steps applied."""
    fresh = not db.table_exists(SchemaMigration._meta.table_name)
    db.create_tables([SchemaMigration], safe=True)
    done = {m.name for m in SchemaMigration.select()}
    applied = []
    with db.atomic():
        if fresh:
            db.create_tables(ALL_MODELS, safe=True)
        for name, step in MIGRATIONS:
            if name in done:
                continue
            if not fresh:
                step(migrator())
            SchemaMigration.create(name=name)
            applied.append(name)
    return applied
