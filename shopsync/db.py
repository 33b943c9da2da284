"""The database: a Peewee proxy bound from DATABASE_URL, plus the field types money and time need."""

import datetime as dt
import json
import os
import time
from decimal import Decimal

import peewee
from flask import g
from playhouse.db_url import connect, register_database
from playhouse.pool import PooledPostgresqlDatabase

db = peewee.DatabaseProxy()
# Errors that mean the database is unreachable: the caller retries later, no failed item.
INFRASTRUCTURE_ERRORS = (peewee.OperationalError, peewee.InterfaceError)

# Money is stored exactly: TEXT on SQLite (its DECIMAL affinity would turn "2.20" into REAL 2.2),
# unconstrained NUMERIC on PostgreSQL (keeps the scale Shopify sent: "2.20" stays "2.20").
MONEY_TYPES = {"sqlite": "TEXT", "postgres": "NUMERIC"}
SQLITE_PRAGMAS = {"journal_mode": "wal", "busy_timeout": 10000, "foreign_keys": 1, "synchronous": 1}


class PostgresPool(PooledPostgresqlDatabase):
    """A connection pool that tests a connection with a round trip only after it sat idle.

    Peewee's pool sends `SELECT 1` at every checkout, which doubled the round trips of a
    webhook delivery. A connection back within IDLE_PING_SECONDS is handed out as it is: if
    the server went away in that moment, its first statement fails and the caller's retry
    (Shopify's, or a drain's) gets a new one.
    """

    IDLE_PING_SECONDS = 5

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._returned_at = {}
        self._kept_at = {}  # connections a thread keeps between requests, since when

    def _close(self, conn, close_conn=False):
        """Return a connection to the pool, noting since when it is idle."""
        kept_at = self._kept_at.pop(self.conn_key(conn), None)
        if not close_conn:
            self._returned_at[self.conn_key(conn)] = kept_at or time.monotonic()
        super()._close(conn, close_conn)

    def keep(self):
        """Keep this thread's connection for its next request instead of returning it now."""
        self._kept_at[self.conn_key(self._state.conn)] = time.monotonic()

    def resume(self):
        """Take up this thread's kept connection, or return it to the pool if it idled too
        long or outlived the pool's stale timeout (the pool tests it before handing it out)."""
        key = self.conn_key(self._state.conn)
        kept_at = self._kept_at.pop(key, None)
        if kept_at is not None and (time.monotonic() - kept_at > self.IDLE_PING_SECONDS
                                    or self._is_stale(self._in_use[key].timestamp)):
            self._kept_at[key] = kept_at  # the idle time the pool judges by
            self.close()

    def _is_closed(self, conn):
        """Tell whether a pooled connection is unusable, asking the server only after idling."""
        idle = time.monotonic() - self._returned_at.pop(self.conn_key(conn), 0)
        return bool(conn.closed) or (idle > self.IDLE_PING_SECONDS and super()._is_closed(conn))


register_database(PostgresPool, "postgresql+pool", "postgres+pool")


class MoneyField(peewee.Field):
    """A Decimal amount that round-trips exactly on SQLite and PostgreSQL."""

    field_type = "MONEY"

    def db_value(self, value):
        return None if value is None else str(Decimal(value))

    def python_value(self, value):
        return None if value is None else Decimal(str(value))


class UTCDateTimeField(peewee.DateTimeField):
    """A timezone-aware datetime stored as naive UTC, read back as UTC-aware."""

    def db_value(self, value):
        if isinstance(value, dt.datetime) and value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return super().db_value(value)

    def python_value(self, value):
        value = super().python_value(value)
        if isinstance(value, dt.datetime) and value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value


def utcnow():
    """Return the current time, UTC-aware."""
    return dt.datetime.now(dt.UTC)


def is_sqlite():
    """Tell whether the bound database is SQLite."""
    return isinstance(db.obj, peewee.SqliteDatabase)


def time_bucket(field, seconds):
    """Return an SQL expression numbering the `seconds`-long interval a time column falls in.

    Interval n starts n * `seconds` after the Unix epoch, on either database.
    """
    if is_sqlite():
        return peewee.fn.strftime("%s", field).cast("INTEGER") / seconds  # integer division
    return peewee.fn.floor(peewee.fn.date_part("epoch", field) / seconds)


def bind(url):
    """Bind the proxy to the database at `url` and return it."""
    if url.startswith("sqlite:///"):
        path = url.removeprefix("sqlite:///")
        if path and path != ":memory:":
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        database = connect(url, pragmas=SQLITE_PRAGMAS, field_types={"MONEY": MONEY_TYPES["sqlite"]})
    else:
        # A pool keeps connections across requests and jobs; peewee hands one to each thread.
        scheme, rest = url.split("://", 1)
        if scheme in ("postgres", "postgresql"):
            url = f"postgresql+pool://{rest}"
        database = connect(url, field_types={"MONEY": MONEY_TYPES["postgres"]},
                           max_connections=32, stale_timeout=300)
    db.initialize(database)
    return database


def incoming_values(model, row, keys=("shopify_id",)):
    """Map each column of an upserted `row` but its conflict `keys` to the incoming value."""
    fields = model._meta.fields
    return {fields[name]: getattr(peewee.EXCLUDED, fields[name].column_name)
            for name in row if name not in keys}


def write_transaction():
    """Open a transaction that takes the write lock at once (IMMEDIATE on SQLite)."""
    if is_sqlite():
        return db.obj.atomic("IMMEDIATE")
    return db.atomic()


def keep_connection():
    """Keep this request's pooled connection for the thread's next request.

    For webhook deliveries: checking a connection out of the pool and back cost each one
    70 µs. A kept connection idle past IDLE_PING_SECONDS goes back to the pool, which tests
    it before handing it out.
    """
    g.keep_connection = True


def open_connection():
    """Connect this thread for a request, taking up the connection it kept if still fresh."""
    if not db.is_closed() and isinstance(db.obj, PostgresPool):
        db.obj.resume()
    db.connect(reuse_if_open=True)


def end_connection(keep=False):
    """End a request's use of this thread's connection: keep it (`keep`, pooled and outside a
    transaction) for the thread's next request, else close it (a pooled one goes back)."""
    if db.is_closed():
        return
    if keep and isinstance(db.obj, PostgresPool) and not db.in_transaction():
        db.obj.keep()
    else:
        db.close()


def init_app(app):
    """Bind the database from app config and open a connection around each request."""
    bind(app.config["DATABASE_URL"])
    app.before_request(open_connection)

    @app.teardown_request
    def _end(exc):
        end_connection(keep=exc is None and g.pop("keep_connection", False))


class JSONField(peewee.TextField):
    """A JSON document stored as text, so it works the same on every database."""

    def db_value(self, value):
        return None if value is None else json.dumps(value, ensure_ascii=False)

    def python_value(self, value):
        return None if value is None else json.loads(value)


class EnumField(peewee.CharField):
    """A `str` Enum stored by value."""

    def __init__(self, enum, **kwargs):
        self.enum = enum
        kwargs.setdefault("max_length", 32)
        super().__init__(**kwargs)

    def db_value(self, value):
        return None if value is None else self.enum(value).value

    def python_value(self, value):
        return None if value is None else self.enum(value)
