"""`make run`'s demo: each start gets a fresh database and keeps the same login."""

import os
import stat

from werkzeug.security import check_password_hash

from shopsync import demo
from shopsync.db import db
from shopsync.models import User


def test_the_demo_database_starts_empty_each_time(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    os.makedirs("instance")
    for suffix in ("", "-wal", "-shm"):
        (tmp_path / f"instance/demo.db{suffix}").write_text("old run")
    (tmp_path / "instance/shopsync.db").write_text("someone's real data")
    assert demo.fresh_database() == "sqlite:///instance/demo.db"
    assert sorted(os.listdir("instance")) == ["shopsync.db"]


def test_the_demo_login_survives_a_restart(app, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    username, first = demo.admin()
    assert stat.S_IMODE(os.stat("instance/demo-login").st_mode) == 0o600
    assert demo.admin() == (username, first)  # the next start
    with db.connection_context():
        assert check_password_hash(User.get(User.username == username).password_hash, first)
    (tmp_path / "instance/demo-login").write_text("short\n")  # damaged: a new one is made
    assert demo.password() != "short" and len(demo.password()) >= 8
