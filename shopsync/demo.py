"""`make run`'s demo: a fresh database for each fresh simulated store, and a login that lasts.

The simulated store is generated anew at every start, so the data synced from the previous
one (and its orders made since) would stay in the ERP as extra records and keep the order lag
red for ever. A simulated run therefore gets a database of its own, emptied at each start.
The demo admin's password is kept in the instance folder, so it survives restarts.
"""

import contextlib
import os
import secrets

from shopsync.auth import MIN_PASSWORD_LENGTH, demo_admin

INSTANCE = "instance"
DATABASE = os.path.join(INSTANCE, "demo.db")
LOGIN = os.path.join(INSTANCE, "demo-login")


def fresh_database():
    """Empty the demo database (its -wal and -shm too) and return its URL."""
    for suffix in ("", "-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError):
            os.remove(DATABASE + suffix)
    return f"sqlite:///{DATABASE}"


def password():
    """Return the demo admin's password, made once and kept readable by its owner only."""
    with contextlib.suppress(FileNotFoundError):
        with open(LOGIN, encoding="utf-8") as kept:
            value = kept.read().strip()
        if len(value) >= MIN_PASSWORD_LENGTH:
            return value
    value = secrets.token_urlsafe(12)
    os.makedirs(INSTANCE, exist_ok=True)
    with os.fdopen(os.open(LOGIN, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w",
                   encoding="utf-8") as kept:
        kept.write(value + "\n")
    return value


def admin():
    """Create (or reset) the demo admin with the kept password; return (username, password)."""
    return demo_admin(password=password())
