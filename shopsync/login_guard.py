"""Guessing limits for dashboard logins that a stranger cannot turn against a user.

Two limits, and one way through them:
- an account locks for LOCKOUT after MAX_FAILED_LOGINS wrong passwords in a row; the count
  starts again once the lock has passed;
- a client (its address, read behind SHOPSYNC_TRUSTED_PROXIES proxies) is refused after
  CLIENT_MAX_FAILURES wrong logins, of any account, within CLIENT_WINDOW (counted in Redis,
  shared by every web process);
- a browser that signed in as the user before carries a signed *known-device* cookie, and
  the right password from it passes both limits: a stranger who locks `admin` locks out
  new browsers, not the admin's own.
"""

import datetime as dt
import hashlib
import logging

from flask import current_app, request
from itsdangerous import BadSignature, URLSafeTimedSerializer
from peewee import Case
from redis.exceptions import RedisError

from shopsync import queue
from shopsync.models import User

log = logging.getLogger(__name__)

MAX_FAILED_LOGINS = 5
LOCKOUT = dt.timedelta(minutes=15)
CLIENT_MAX_FAILURES = 20
CLIENT_WINDOW = dt.timedelta(minutes=15)
DEVICE_COOKIE = "shopsync_device"
DEVICE_MAX_AGE = dt.timedelta(days=90)


def _serializer():
    return URLSafeTimedSerializer(current_app.secret_key, salt="shopsync-known-device")


def _fingerprint(user):
    """Return what ties a device cookie to the user's current password (a reset revokes it)."""
    return hashlib.sha256(user.password_hash.encode()).hexdigest()[:16]


def device_cookie(user):
    """Return the known-device cookie's value for `user`."""
    return _serializer().dumps([user.id, _fingerprint(user)])


def remember_device(response, user):
    """Mark the browser as one `user` signed in from."""
    response.set_cookie(DEVICE_COOKIE, device_cookie(user), max_age=int(DEVICE_MAX_AGE.total_seconds()),
                        httponly=True, samesite="Lax",
                        secure=current_app.config["SESSION_COOKIE_SECURE"])


def is_known_device(user):
    """Tell whether the request comes from a browser `user` signed in from before."""
    try:
        value = _serializer().loads(request.cookies.get(DEVICE_COOKIE, ""),
                                    max_age=DEVICE_MAX_AGE.total_seconds())
    except BadSignature:
        return False
    return value == [user.id, _fingerprint(user)]


def client_address():
    """Return the client's address; behind SHOPSYNC_TRUSTED_PROXIES proxies, the one the first saw.

    Each proxy appends the address it was reached from to X-Forwarded-For, so the n-th entry
    from the end is the last one a client cannot forge.
    """
    proxies = current_app.config["SHOPSYNC_TRUSTED_PROXIES"]
    hops = [hop.strip() for hop in request.headers.get("X-Forwarded-For", "").split(",") if hop.strip()]
    return hops[-proxies] if proxies and len(hops) >= proxies else request.remote_addr


def _client_key():
    return f"shopsync:{queue.get_queue().name}:login-failures:{client_address()}"


def client_is_throttled():
    """Tell whether this client made too many wrong logins lately (never when Redis is down)."""
    try:
        failures = queue.get_queue().connection.get(_client_key())
    except RedisError as exc:
        log.warning("login throttle unavailable: %s", exc)
        return False
    return int(failures or 0) >= CLIENT_MAX_FAILURES


def count_client_failure():
    """Count a wrong login against this client for CLIENT_WINDOW."""
    try:
        pipe = queue.get_queue().connection.pipeline()
        pipe.set(_client_key(), 0, nx=True, ex=int(CLIENT_WINDOW.total_seconds()))
        pipe.incr(_client_key())
        pipe.execute()
    except RedisError as exc:
        log.warning("login throttle unavailable: %s", exc)


def is_locked(user, now):
    """Tell whether the account is locked at `now`."""
    return user.locked_until is not None and user.locked_until > now


def count_account_failure(user, now):
    """Count a wrong password, locking on the last allowed one; an expired lock starts afresh.

    One statement, so attempts made in parallel cannot slip past the limit between a read
    and a write.
    """
    expired = User.locked_until.is_null(False) & (User.locked_until <= now)
    failures = Case(None, [(expired, 1)], User.failed_logins + 1)
    until = User.locked_until.db_value(now + LOCKOUT)
    User.update(failed_logins=failures, locked_until=Case(
        None, [(failures >= MAX_FAILED_LOGINS, until), (expired, None)], User.locked_until),
    ).where(User.id == user.id).execute()
