"""Dashboard login for a small team: hashed passwords, locked accounts, viewers and admins."""

import functools
import secrets
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    abort,
    flash,
    g,
    has_request_context,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.sessions import SecureCookieSessionInterface
from werkzeug.security import check_password_hash, generate_password_hash

from shopsync import login_guard
from shopsync.db import db, utcnow
from shopsync.htmx import is_htmx
from shopsync.models import User

bp = Blueprint("auth", __name__)

MIN_PASSWORD_LENGTH = 8
# Checked against when the user does not exist, so every failed login costs one hash.
_DUMMY_HASH = generate_password_hash("not-a-password")



def set_password(user, password):
    """Store a salted hash of `password` on `user` (not saved)."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"password must have at least {MIN_PASSWORD_LENGTH} characters")
    user.password_hash = generate_password_hash(password)


def save_user(username, password, is_admin=False):
    """Create the user, or reset its password and role, ending its sessions; return (user, created)."""
    user = User.get_or_none(User.username == username)
    created = user is None
    if created:
        user = User(username=username)
    else:
        user.session_version += 1
    set_password(user, password)
    user.is_admin = is_admin
    user.failed_logins = 0
    user.locked_until = None
    user.save()
    return user, created


def demo_admin(username="admin", password=None):
    """Create (or reset) an admin, with a fresh random password unless given; return both."""
    password = password or secrets.token_urlsafe(12)
    with db.connection_context():
        save_user(username, password, is_admin=True)
    return username, password


def authenticate(username, password):
    """Return the user if the password is right and no guessing limit stands; count failures.

    Every failed login costs one password hash, whether the user exists, is locked or
    the client is throttled, so the answer's timing tells nothing.
    """
    user = User.get_or_none(User.username == username) if username else None
    now = utcnow()
    trusted = user is not None and login_guard.is_known_device(user)
    blocked = not trusted and (login_guard.client_is_throttled()
                               or (user is not None and login_guard.is_locked(user, now)))
    right = check_password_hash(user.password_hash if user else _DUMMY_HASH, password)
    if user is None or not right:
        login_guard.count_client_failure()
        if user is not None:
            login_guard.count_account_failure(user, now)
        return None
    if blocked:
        return None
    User.update(failed_logins=0, locked_until=None, last_login_at=now).where(
        User.id == user.id).execute()
    return user


def current_user():
    """Return the signed-in user, or None (also when its sessions were ended since)."""
    if "user" not in g:
        user_id = session.get("user_id")
        user = User.get_or_none(User.id == user_id) if user_id else None
        g.user = user if user and session.get("version") == user.session_version else None
    return g.user


@bp.before_app_request
def _forget_request_state():
    """Look up the user and the CSRF token afresh in each request.

    Both are cached on `g`, which lives as long as the app context: a caller that keeps one
    open across requests (the test suite does) would otherwise see the previous request's.
    """
    g.pop("user", None)
    g.pop("csrf_token", None)


def safe_next(target):
    """Return `target` if it is a path on this site, else the dashboard's home."""
    parts = urlsplit(target or "")
    if target and target.startswith("/") and not target.startswith("//") and not parts.netloc \
            and "\\" not in target:
        return target
    return url_for("dashboard.health")


def _to_login():
    """Send an anonymous visitor to the login page (htmx: a full-page redirect)."""
    target = url_for("auth.login", next=request.full_path.rstrip("?") if request.method == "GET"
                     else None)
    if is_htmx():
        response = make_response("", 401)
        response.headers["HX-Redirect"] = target
        return response
    return redirect(target)


def login_required(view):
    """Let signed-in users through; send others to the login page."""

    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        if current_user() is None:
            return _to_login()
        return view(*args, **kwargs)

    return wrapped


def admin_required(view):
    """Let admins through; refuse viewers with 403 and send anonymous visitors to log in."""

    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        user = current_user()
        if user is None:
            return _to_login()
        if not user.is_admin:
            abort(403, "Only admins can do this; viewers can read.")
        return view(*args, **kwargs)

    return wrapped


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Show the login form, or sign a user in."""
    if request.method == "POST":
        username = request.form.get("username", "").strip()
        password = request.form.get("password", "")
        user = authenticate(username, password)
        if user is not None:
            session.clear()
            session.permanent = True
            session["user_id"] = user.id
            session["version"] = user.session_version
            response = redirect(safe_next(request.args.get("next")))
            login_guard.remember_device(response, user)
            return response
        flash("Wrong username or password, or the account is locked for a while.", "error")
        return render_template("auth/login.html", username=username), 401
    if current_user() is not None:
        return redirect(safe_next(request.args.get("next")))
    return render_template("auth/login.html", username="")


@bp.post("/logout")
def logout():
    """Sign the user out everywhere: every session of the user, on any browser, ends."""
    user = current_user()
    if user is not None:
        User.update(session_version=User.session_version + 1).where(User.id == user.id).execute()
    session.clear()
    flash("Signed out.", "info")
    return redirect(url_for("auth.login"))


@bp.app_context_processor
def _template_globals():
    """Give every template rendered for a request the signed-in user."""
    return {"current_user": current_user()} if has_request_context() else {}


class CookieSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, without building a signer for a request with no cookie.

    Building it (a key derivation) cost every webhook delivery 45 µs, and Shopify never sends
    a session cookie.
    """

    def open_session(self, app, request):
        """Return an empty session when the request has no session cookie, else Flask's."""
        if app.secret_key and not request.cookies.get(self.get_cookie_name(app)):
            return self.session_class()
        return super().open_session(app, request)


def init_app(app):
    """Register the login views and the sessions."""
    app.session_interface = CookieSessions()
    app.register_blueprint(bp)
