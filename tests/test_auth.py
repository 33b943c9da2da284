"""Dashboard login: users, hashed passwords, locked accounts, roles, CSRF and cookies."""

import datetime as dt

import pytest
from werkzeug.security import check_password_hash

from shopsync import auth
from shopsync.db import utcnow
from shopsync.models import FailedSyncItem, User
from tests.conftest import DASHBOARD_PASSWORD, csrf_token_in
from tests.helpers import ADMIN_TOKEN, deliver, order

PAGES = ["/", "/failed-items", "/failed-items/1", "/webhooks", "/reconciliation",
         "/reconciliation/1", "/backfills", "/backfills/1/progress"]


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


def test_repeated_wrong_passwords_lock_the_account_for_a_while(app, client):
    auth.save_user("ann", DASHBOARD_PASSWORD)
    for _ in range(auth.MAX_FAILED_LOGINS):
        assert sign_in(client, "ann", "guess").status_code == 401
    user = User.get(User.username == "ann")
    assert user.failed_logins == auth.MAX_FAILED_LOGINS
    assert user.locked_until > utcnow() + auth.LOCKOUT - dt.timedelta(minutes=1)
    # Locked: even the right password is refused.
    assert sign_in(client, "ann", DASHBOARD_PASSWORD).status_code == 401
    # Once the lock has passed, the right password works and the count starts again.
    User.update(locked_until=utcnow() - dt.timedelta(seconds=1)).execute()
    assert sign_in(client, "ann", DASHBOARD_PASSWORD).status_code == 302
    user = User.get(User.username == "ann")
    assert (user.failed_logins, user.locked_until) == (0, None)


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
