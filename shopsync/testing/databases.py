"""A database of a run's own beside a shared server, so that runs never see each other's rows."""

import contextlib
import os
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import psycopg2


@contextlib.contextmanager
def own_database(server_url: str | None, workdir: str, suffix: str) -> Iterator[str]:
    """Yield the URL of a new database beside `server_url` (SQLite in `workdir` if None), dropped after."""
    if not server_url or server_url.startswith("sqlite"):
        yield f"sqlite:///{workdir}/{suffix}.db"
        return
    parts = urlsplit(server_url)
    name = f"{parts.path.lstrip('/') or 'postgres'}_{suffix}_{os.getpid()}"
    admin = psycopg2.connect(server_url)
    admin.autocommit = True
    try:
        with admin.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            cursor.execute(f'CREATE DATABASE "{name}"')
        yield urlunsplit(parts._replace(path=f"/{name}"))
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()
