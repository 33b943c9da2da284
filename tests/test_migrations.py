"""`init-db` creates the schema once and upgrades an existing database in place."""

import peewee as pw
import pytest
from playhouse.migrate import migrate

from shopsync import migrations
from shopsync.db import db
from shopsync.models import ALL_MODELS, Order, WebhookLog
from tests.helpers import order


def test_init_db_command_is_idempotent(app):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["init-db"])
    assert result.exit_code == 0 and "nothing to apply" in result.output
    assert all(db.table_exists(m._meta.table_name) for m in ALL_MODELS)


def test_new_step_upgrades_an_existing_database_keeping_its_rows(app, client, run_jobs, monkeypatch):
    from tests.helpers import deliver

    deliver(client, "orders/create", order())
    run_jobs()

    def add_note_column(migrator):
        migrate(migrator.add_column("order", "erp_note", pw.TextField(null=True)))

    monkeypatch.setattr(migrations, "MIGRATIONS",
                        [*migrations.MIGRATIONS, ("0099_order_note", add_note_column)])
    with db.connection_context():
        try:
            assert migrations.upgrade() == ["0099_order_note"]
            assert migrations.upgrade() == []
            assert "erp_note" in {c.name for c in db.get_columns("order")}
            assert Order.select().count() == 1  # nothing dropped
        finally:  # leave the shared test database as it was
            migrate(migrations.migrator().drop_column("order", "erp_note"))
            migrations.SchemaMigration.delete().where(
                migrations.SchemaMigration.name == "0099_order_note").execute()


def test_a_database_with_one_event_stored_twice_gains_the_event_index(app):
    with db.connection_context():  # as a 0002-era database was, with one event stored twice
        migrate(migrations.migrator().drop_index("webhook_log", "webhook_log_event_id_topic"))
        migrations.SchemaMigration.delete().where(
            migrations.SchemaMigration.name == "0006_one_delivery_per_event_and_topic").execute()
        for webhook_id in ("a", "b"):
            WebhookLog.create(id=webhook_id, topic="orders/create", event_id="e1", raw_body=b"{}")
        assert migrations.upgrade() == ["0006_one_delivery_per_event_and_topic"]
        assert WebhookLog.select().count() == 2  # nothing deleted
        assert [w.event_id for w in WebhookLog.select().order_by(WebhookLog.id)] == ["e1", None]
        with pytest.raises(pw.IntegrityError), db.atomic():
            WebhookLog.create(id="c", topic="orders/create", event_id="e1", raw_body=b"{}")


def test_database_from_the_first_release_gains_the_creation_index(app):
    with db.connection_context():
        for table in ("customer", "product", "order"):  # as a 0001-era database was
            migrate(migrations.migrator().drop_index(table, f"{table}_deleted_at_created_at"))
        migrations.SchemaMigration.delete().where(
            migrations.SchemaMigration.name == "0002_index_live_records_by_creation").execute()
        assert "order_deleted_at_created_at" not in {i.name for i in db.get_indexes("order")}
        assert migrations.upgrade() == ["0002_index_live_records_by_creation"]
        for table in ("customer", "product", "order"):
            assert f"{table}_deleted_at_created_at" in {i.name for i in db.get_indexes(table)}


def test_database_before_session_versions_gains_the_column_keeping_its_users(app):
    from shopsync.db import utcnow
    from shopsync.models import User

    with db.connection_context():  # as a 0002-era database was, with a user in it
        migrate(migrations.migrator().drop_column("user", "session_version"))
        migrations.SchemaMigration.delete().where(
            migrations.SchemaMigration.name == "0003_user_session_version").execute()
        db.execute_sql('INSERT INTO "user" (username, password_hash, is_admin, failed_logins, '
                       'created_at) VALUES (%s, %s, %s, %s, %s)'.replace("%s", db.param),
                       ("ann", "hash", True, 0, User.created_at.db_value(utcnow())))
        assert migrations.upgrade() == ["0003_user_session_version"]
        assert User.get(User.username == "ann").session_version == 0


def test_database_without_the_books_gains_their_tables_and_columns(app):
    from shopsync.ledger import LEDGER_MODELS
    from shopsync.migrations import BOOK_ORDER_COLUMNS

    with db.connection_context():
        db.drop_tables(LEDGER_MODELS)  # as a 0004-era database was
        migrate(*(migrations.migrator().drop_column("order", name) for name in BOOK_ORDER_COLUMNS),
                migrations.migrator().drop_column("order_line_item", "total_discount"))
        migrations.SchemaMigration.delete().where(
            migrations.SchemaMigration.name == "0005_books").execute()
        assert migrations.upgrade() == ["0005_books"]
        assert all(db.table_exists(m._meta.table_name) for m in LEDGER_MODELS)
        assert set(BOOK_ORDER_COLUMNS) <= {c.name for c in db.get_columns("order")}
        assert "total_discount" in {c.name for c in db.get_columns("order_line_item")}


def test_database_from_before_the_audit_log_gains_its_tables(app):
    from shopsync.models import AuditEntry, DataRequestAnswer

    with db.connection_context():
        db.drop_tables([AuditEntry, DataRequestAnswer])  # as a 0006-era database was
        migrations.SchemaMigration.delete().where(
            migrations.SchemaMigration.name == "0007_audit_log_and_data_request_answers").execute()
        assert migrations.upgrade() == ["0007_audit_log_and_data_request_answers"]
        assert db.table_exists("audit_entry") and db.table_exists("data_request_answer")
        AuditEntry.create(username="a", action="pause processing")
