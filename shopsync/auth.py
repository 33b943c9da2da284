"""Dashboard login for a small team: hashed passwords, locked accounts, viewers and admins."""

import functools
import secrets
from urllib.parse import urlsplit

import click
from flask import (
    Blueprint,
    abort,
    current_app,
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
from flask_wtf.csrf import CSRFError
from werkzeug.security import check_password_hash, generate_password_hash

from shopsync import login_guard
from shopsync.db import db, utcnow
from shopsync.models import User

bp = Blueprint("auth", __name__)

MIN_PASSWORD_LENGTH = 8
# Checked against when the user does not exist, so every failed login costs one hash.
_DUMMY_HASH = generate_password_hash("not-a-password")

SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; "
                               "form-action 'self'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def is_htmx():
    """Tell whether htmx made the request for a fragment (a history restore wants a whole page)."""
    return (request.headers.get("HX-Request") == "true"
            and request.headers.get("HX-History-Restore-Request") != "true")


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


# Sent when SESSION_COOKIE_SECURE=1, i.e. the site is served over HTTPS: browsers then
# refuse plain HTTP to it for a year, so no cookie can leak over a downgraded connection.
HSTS = "max-age=31536000; includeSubDomains"


@bp.after_app_request
def _security_headers(response):
    """Add browser security headers to HTML pages, which differ for htmx and for browsers."""
    if current_app.config["SESSION_COOKIE_SECURE"]:
        response.headers.setdefault("Strict-Transport-Security", HSTS)
    if response.mimetype == "text/html":
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        response.vary.add("HX-Request")
    return response


@bp.app_context_processor
def _template_globals():
    """Give every template rendered for a request the signed-in user."""
    return {"current_user": current_user()} if has_request_context() else {}


def _csrf_failed(exc):
    """Answer a POST without a valid CSRF token."""
    message = "The form expired or did not come from this site; reload the page and try again."
    if is_htmx():
        return render_template("_message.html", message=message, kind="error"), 400
    return render_template("error.html", code=400, message=message), 400


def _forbidden(exc):
    """Answer a viewer trying to act (other blueprints keep Flask's default page)."""
    if request.blueprint not in ("dashboard", "auth"):
        return exc
    message = exc.description or "Forbidden."
    if is_htmx():
        return render_template("_message.html", message=message, kind="error"), 403
    return render_template("error.html", code=403, message=message), 403


@click.command("create-user")
@click.argument("name")
@click.option("--admin", is_flag=True, help="Let the user act (retry, abandon, run jobs), not only read.")
@click.password_option(envvar="SHOPSYNC_NEW_USER_PASSWORD",
                       help="The password (prompted for when not given).")
def create_user_command(name, admin, password):
    """Create a dashboard user, or reset an existing user's password and role."""
    from shopsync import audit

    role = "admin" if admin else "viewer"
    try:
        with db.connection_context():
            _, created = save_user(name, password, is_admin=admin)
            audit.record_cli("create user" if created else "update user", name, role)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="password") from exc
    click.echo(f"{'created' if created else 'updated'} {role} {name}")


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
    """Register the login views, sessions, error pages and the create-user command."""
    app.session_interface = CookieSessions()
    app.register_blueprint(bp)
    app.register_error_handler(CSRFError, _csrf_failed)
    app.register_error_handler(403, _forbidden)
    app.cli.add_command(create_user_command)
