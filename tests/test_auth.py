"""Dashboard login: users, hashed passwords, locked accounts, roles, CSRF and cookies."""

import datetime as dt

import pytest
from werkzeug.security import check_password_hash

from shopsync import auth, login_guard
from shopsync.db import utcnow
from shopsync.models import FailedSyncItem, User
from tests.conftest import DASHBOARD_PASSWORD, csrf_token_in
from tests.helpers import ADMIN_TOKEN, deliver, order

PAGES = ["/", "/failed-items", "/failed-items/1", "/webhooks", "/reconciliation",
         "/reconciliation/1", "/backfills", "/search", "/records/order/1",
         "/webhooks/w1", "/failed-items/counts", "/audit"]


def sign_in(client, username, password, next_path=None):
    """Post the login form with a valid CSRF token; return the response."""
    token = csrf_token_in(client.get("/login").get_data(as_text=True))
    url = "/login" + (f"?next={next_path}" if next_path else "")
    return client.post(url, data={"username": username, "password": password, "csrf_token": token})


@pytest.mark.parametrize("path", PAGES)
def test_anonymous_visitors_are_sent_to_log_in(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response.headers["Location"] == f"/login?next={path}"


def test_anonymous_htmx_requests_get_a_full_page_redirect(client):
    response = client.get("/", headers={"HX-Request": "true"})
    assert response.status_code == 401
    assert response.headers["HX-Redirect"].startswith("/login")


def test_login_with_the_right_password_goes_where_the_visitor_was_going(app, client):
    auth.save_user("ann", DASHBOARD_PASSWORD)
    response = sign_in(client, "ann", DASHBOARD_PASSWORD, next_path="/webhooks")
    assert response.status_code == 302 and response.headers["Location"] == "/webhooks"
    assert client.get("/webhooks").status_code == 200
    assert User.get(User.username == "ann").last_login_at is not None


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/", "/\\evil.example"])
def test_login_never_redirects_off_site(app, client, target):
    auth.save_user("ann", DASHBOARD_PASSWORD)
    response = sign_in(client, "ann", DASHBOARD_PASSWORD, next_path=target)
    assert response.headers["Location"] == "/"


def test_wrong_password_and_unknown_user_are_refused_alike(app, client):
    auth.save_user("ann", DASHBOARD_PASSWORD)
    for username, password in [("ann", "not the password"), ("nobody", DASHBOARD_PASSWORD)]:
        response = sign_in(client, username, password)
        assert response.status_code == 401
        assert "Wrong username or password" in response.get_data(as_text=True)
    assert client.get("/").status_code == 302


def lock(client, username):
    """Make MAX_FAILED_LOGINS wrong guesses at `username` from `client`."""
    for _ in range(login_guard.MAX_FAILED_LOGINS):
        assert sign_in(client, username, "guess").status_code == 401


def test_repeated_wrong_passwords_lock_the_account_for_a_while(app, client):
    auth.save_user("ann", DASHBOARD_PASSWORD)
    lock(client, "ann")
    user = User.get(User.username == "ann")
    assert user.failed_logins == login_guard.MAX_FAILED_LOGINS
    assert user.locked_until > utcnow() + login_guard.LOCKOUT - dt.timedelta(minutes=1)
    # Locked: even the right password is refused.
    assert sign_in(client, "ann", DASHBOARD_PASSWORD).status_code == 401
    # Once the lock has passed, the right password works and the count starts again.
    User.update(locked_until=utcnow() - dt.timedelta(seconds=1)).execute()
    assert sign_in(client, "ann", DASHBOARD_PASSWORD).status_code == 302
    user = User.get(User.username == "ann")
    assert (user.failed_logins, user.locked_until) == (0, None)


def test_a_wrong_guess_after_a_lock_expired_starts_the_count_afresh(app, client):
    auth.save_user("ann", DASHBOARD_PASSWORD)
    lock(client, "ann")
    User.update(locked_until=utcnow() - dt.timedelta(seconds=1)).execute()
    assert sign_in(client, "ann", "one more guess").status_code == 401
    user = User.get(User.username == "ann")
    assert user.failed_logins == 1 and user.locked_until is None  # not locked again at once
    assert sign_in(app.test_client(), "ann", DASHBOARD_PASSWORD).status_code == 302


def sign_out(client):
    token = csrf_token_in(client.get("/failed-items").get_data(as_text=True))
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302


def test_a_stranger_who_locks_an_account_does_not_lock_out_the_users_own_browser(app, client):
    auth.save_user("ann", DASHBOARD_PASSWORD)
    own = app.test_client()
    assert sign_in(own, "ann", DASHBOARD_PASSWORD).status_code == 302
    sign_out(own)
    lock(client, "ann")
    assert sign_in(client, "ann", DASHBOARD_PASSWORD).status_code == 401  # the stranger's
    assert sign_in(app.test_client(), "ann", DASHBOARD_PASSWORD).status_code == 401  # a new one
    assert sign_in(own, "ann", "still wrong").status_code == 401  # the device lifts no password
    assert sign_in(own, "ann", DASHBOARD_PASSWORD).status_code == 302
    assert own.get("/").status_code == 200


def test_a_known_device_is_forgotten_when_the_password_changes(app, client):
    auth.save_user("ann", DASHBOARD_PASSWORD)
    own = app.test_client()
    assert sign_in(own, "ann", DASHBOARD_PASSWORD).status_code == 302
    auth.save_user("ann", "a brand new password")
    lock(client, "ann")
    assert sign_in(own, "ann", "a brand new password").status_code == 401
    forged = app.test_client()
    forged.set_cookie(login_guard.DEVICE_COOKIE, own.get_cookie(login_guard.DEVICE_COOKIE).value + "x")
    assert sign_in(forged, "ann", "a brand new password").status_code == 401


def test_a_client_guessing_many_accounts_is_throttled_alone(app, client, monkeypatch):
    monkeypatch.setattr(login_guard, "CLIENT_MAX_FAILURES", 3)
    auth.save_user("ann", DASHBOARD_PASSWORD)
    for name in ("bob", "carol", "dave"):
        assert sign_in(client, name, "guess").status_code == 401
    assert sign_in(client, "ann", DASHBOARD_PASSWORD).status_code == 401
    assert User.get(User.username == "ann").failed_logins == 0  # the account is not to blame
    other = app.test_client()
    other.environ_base["REMOTE_ADDR"] = "192.0.2.7"
    assert sign_in(other, "ann", DASHBOARD_PASSWORD).status_code == 302


def test_behind_a_trusted_proxy_the_client_is_the_address_it_saw(app, client, monkeypatch):
    monkeypatch.setattr(login_guard, "CLIENT_MAX_FAILURES", 2)
    app.config["SHOPSYNC_TRUSTED_PROXIES"] = 1
    auth.save_user("ann", DASHBOARD_PASSWORD)
    client.environ_base["HTTP_X_FORWARDED_FOR"] = "6.6.6.6, 198.51.100.9"  # first hop forged
    for _ in range(2):
        assert sign_in(client, "bob", "guess").status_code == 401
    assert sign_in(client, "ann", DASHBOARD_PASSWORD).status_code == 401
    other = app.test_client()  # same proxy, another client behind it
    other.environ_base["HTTP_X_FORWARDED_FOR"] = "6.6.6.6, 198.51.100.10"
    assert sign_in(other, "ann", DASHBOARD_PASSWORD).status_code == 302


def test_every_failed_login_costs_one_password_hash(app, client, monkeypatch):
    monkeypatch.setattr(login_guard, "CLIENT_MAX_FAILURES", 8)
    hashes = []
    real = auth.check_password_hash
    monkeypatch.setattr(auth, "check_password_hash", lambda h, p: hashes.append(h) or real(h, p))
    auth.save_user("ann", DASHBOARD_PASSWORD)
    auth.save_user("bob", DASHBOARD_PASSWORD)
    attempts = [("nobody", DASHBOARD_PASSWORD), ("ann", "wrong"), ("ann", "")]
    lock(app.test_client(), "bob")
    attempts += [("bob", DASHBOARD_PASSWORD), ("bob", "wrong")]  # locked
    attempts += [("ann", "wrong")] * 3 + [("ann", DASHBOARD_PASSWORD)]  # the client is throttled
    for username, password in attempts:
        hashes.clear()
        assert sign_in(client, username, password).status_code == 401
        assert len(hashes) == 1, (username, password)


def test_passwords_are_stored_hashed(app):
    user, created = auth.save_user("ann", DASHBOARD_PASSWORD)
    assert created and DASHBOARD_PASSWORD not in user.password_hash
    assert check_password_hash(user.password_hash, DASHBOARD_PASSWORD)
    with pytest.raises(ValueError):
        auth.save_user("bob", "short")


def test_logout_is_a_post_and_ends_the_session(admin_client):
    assert admin_client.get("/logout").status_code == 405
    response = admin_client.post("/logout", data={"csrf_token": admin_client.csrf_token})
    assert response.headers["Location"] == "/login"
    assert admin_client.get("/").status_code == 302


def copy_of(app, client):
    """Return a new client holding `client`'s session cookie, as a thief would."""
    thief = app.test_client()
    thief.set_cookie("session", client.get_cookie("session").value)
    assert thief.get("/").status_code == 200
    return thief


def test_logout_ends_the_users_sessions_everywhere(app, admin_client, login):
    thief = copy_of(app, admin_client)
    elsewhere = copy_of(app, admin_client)
    assert admin_client.post("/logout", data={"csrf_token": admin_client.csrf_token}).status_code == 302
    assert thief.get("/").status_code == 302 and elsewhere.get("/failed-items").status_code == 302


@pytest.mark.parametrize("password, is_admin", [("a brand new password", True),
                                                (DASHBOARD_PASSWORD, False)])
def test_a_password_or_role_change_ends_the_users_sessions(app, admin_client, password, is_admin):
    thief = copy_of(app, admin_client)
    auth.save_user("admin", password, is_admin=is_admin)
    assert thief.get("/").status_code == 302 and admin_client.get("/").status_code == 302


def test_session_cookie_is_http_only_lax_and_secure_when_asked(app, client):
    auth.save_user("ann", DASHBOARD_PASSWORD)
    cookie = sign_in(client, "ann", DASHBOARD_PASSWORD).headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    app.config["SESSION_COOKIE_SECURE"] = True
    cookie = sign_in(app.test_client(), "ann", DASHBOARD_PASSWORD).headers["Set-Cookie"]
    assert "Secure" in cookie


def test_pages_carry_security_headers(admin_client):
    headers = admin_client.get("/").headers
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert headers["X-Frame-Options"] == "DENY"
    assert "HX-Request" in headers["Vary"]


# --- CSRF ---

def test_login_without_a_csrf_token_is_refused(app, client):
    auth.save_user("ann", DASHBOARD_PASSWORD)
    response = client.post("/login", data={"username": "ann", "password": DASHBOARD_PASSWORD})
    assert response.status_code == 400
    assert client.get("/").status_code == 302


def test_actions_without_a_csrf_token_are_refused(admin_client, dashboard_data):
    item_id = dashboard_data["broken_item"]
    for path in [f"/failed-items/{item_id}/abandon", "/failed-items/retry-all", "/reconciliation/run",
                 "/backfills", "/logout"]:
        assert admin_client.post(path).status_code == 400, path
        assert admin_client.post(path, data={"csrf_token": "forged"}).status_code == 400, path
    htmx = admin_client.post(f"/failed-items/{item_id}/abandon", headers={"HX-Request": "true"})
    assert htmx.status_code == 400 and "reload the page" in htmx.get_data(as_text=True)
    assert FailedSyncItem.get_by_id(item_id).resolved_at is None


def test_the_csrf_token_may_come_in_the_htmx_header(admin_client, dashboard_data):
    item_id = dashboard_data["broken_item"]
    response = admin_client.post(f"/failed-items/{item_id}/abandon",
                                 headers={"HX-Request": "true", "X-CSRFToken": admin_client.csrf_token})
    assert response.status_code == 200
    assert FailedSyncItem.get_by_id(item_id).resolution.value == "abandoned"


def test_webhooks_and_the_admin_api_need_no_csrf_token(client, dashboard_data):
    assert deliver(client, "orders/create", order()).status_code == 200
    response = client.post(f"/api/admin/failed-items/{dashboard_data['broken_item']}/abandon",
                           headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    assert response.status_code == 200


# --- roles ---

def test_a_viewer_reads_but_cannot_act(viewer_client, dashboard_data):
    item_id = dashboard_data["fixable_item"]
    page = viewer_client.get("/failed-items").get_data(as_text=True)
    assert f"#{item_id}" in page
    assert "Retry" not in page and "Abandon" not in page
    assert "Run now" not in viewer_client.get("/reconciliation").get_data(as_text=True)
    assert "Start backfill" not in viewer_client.get("/backfills").get_data(as_text=True)
    token = viewer_client.csrf_token
    for path in [f"/failed-items/{item_id}/retry", f"/failed-items/{item_id}/abandon",
                 "/failed-items/retry-all", "/reconciliation/run", "/backfills"]:
        response = viewer_client.post(path, data={"csrf_token": token, "entity": "orders"})
        assert response.status_code == 403, path
    htmx = viewer_client.post(f"/failed-items/{item_id}/retry",
                              headers={"HX-Request": "true", "X-CSRFToken": token})
    assert htmx.status_code == 403 and "Only admins" in htmx.get_data(as_text=True)
    assert FailedSyncItem.get_by_id(item_id).resolved_at is None


# --- create-user ---

def test_create_user_command_makes_and_resets_users(app):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["create-user", "carol", "--admin"],
                           input=f"{DASHBOARD_PASSWORD}\n{DASHBOARD_PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert "created admin carol" in result.output
    carol = User.get(User.username == "carol")
    assert carol.is_admin and check_password_hash(carol.password_hash, DASHBOARD_PASSWORD)

    result = runner.invoke(args=["create-user", "carol", "--password", "another password"])
    assert result.exit_code == 0 and "updated viewer carol" in result.output
    carol = User.get(User.username == "carol")
    assert not carol.is_admin and check_password_hash(carol.password_hash, "another password")

    result = runner.invoke(args=["create-user", "dave", "--password", "short"])
    assert result.exit_code != 0 and "at least" in result.output
    assert User.get_or_none(User.username == "dave") is None


def test_demo_admin_can_log_in(app, client):
    username, password = auth.demo_admin()
    assert sign_in(client, username, password).status_code == 302
    assert User.get(User.username == username).is_admin


def test_a_request_without_a_session_cookie_builds_no_signer(app, client, monkeypatch):
    def refuse(application):
        raise AssertionError("a signer was built")

    monkeypatch.setattr(auth.CookieSessions, "get_signing_serializer", refuse)
    assert deliver(client, "orders/create", order()).status_code == 200
