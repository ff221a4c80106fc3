"""Logging in through the pages: passwords, lockout, two-step verification, CSRF, sessions."""

from __future__ import annotations

from datetime import timedelta

import pyotp
import pytest
from sqlalchemy import select

from cabinet.audit.models import AuditEntry
from cabinet.auth import service as auth_service
from cabinet.core.timeutil import utcnow
from cabinet.extensions import db
from tests.conftest import PASSWORD, csrf_token, login
from tests.test_sessions import age_browser_sessions


def actions() -> list[str]:
    return list(db.session.scalars(select(AuditEntry.action).order_by(AuditEntry.seq)))


def enrol_totp(user) -> pyotp.TOTP:
    secret = pyotp.random_base32()
    totp = pyotp.TOTP(secret)
    auth_service.enable_totp(user, secret, totp.now())
    return totp


def test_login_success_lands_on_home_and_is_audited(client, member):
    response = login(client, "bt.tuphap")
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    home = client.get("/")
    assert home.status_code == 200
    assert member.full_name in home.get_data(as_text=True)
    assert "auth.login" in actions()


def test_username_is_case_insensitive(client, member):
    assert login(client, "BT.TuPhap").status_code == 302


def test_wrong_password_is_refused_with_a_clear_message(client, member):
    response = login(client, "bt.tuphap", "not-the-password")
    assert response.status_code == 401
    assert "Sai tên đăng nhập hoặc mật khẩu" in response.get_data(as_text=True) or \
        "Wrong username or password" in response.get_data(as_text=True)
    assert client.get("/").status_code == 302  # still not logged in
    assert "auth.login_failed" in actions()


def test_unknown_user_gets_the_same_answer_as_a_wrong_password(client, member):
    wrong_password = login(client, "bt.tuphap", "not-the-password")
    unknown = login(client, "nobody-here", "not-the-password")
    assert unknown.status_code == wrong_password.status_code == 401
    flash = lambda r: r.get_data(as_text=True).split('class="flash flash-error"')[1][:120]  # noqa: E731
    assert flash(unknown) == flash(wrong_password)


def test_account_locks_after_repeated_failures_even_for_the_right_password(app, client, member):
    threshold = app.config["CABINET_LOCKOUT_THRESHOLD"]
    statuses = [login(client, "bt.tuphap", f"wrong-{i}").status_code for i in range(threshold)]
    assert statuses[:-1] == [401] * (threshold - 1)
    assert statuses[-1] == 429
    locked = login(client, "bt.tuphap", PASSWORD)
    assert locked.status_code == 429
    text = locked.get_data(as_text=True)
    assert "15" in text  # tells how many minutes to wait
    assert client.get("/").status_code == 302
    assert "auth.lockout" in actions()
    assert "auth.login_refused_locked" in actions()


def test_lock_expires_after_the_configured_time(client, member):
    for i in range(5):
        login(client, "bt.tuphap", f"wrong-{i}")
    member.locked_until = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert login(client, "bt.tuphap").status_code == 302


def test_success_resets_the_failure_counter(client, member):
    for i in range(4):
        login(client, "bt.tuphap", f"wrong-{i}")
    assert login(client, "bt.tuphap").status_code == 302
    db.session.refresh(member)
    assert member.failed_logins == 0


def test_disabled_account_cannot_log_in(client, member, admin):
    from cabinet.users import service as users_service

    users_service.set_active(admin, member.id, False)
    response = login(client, "bt.tuphap")
    assert response.status_code == 403
    assert client.get("/").status_code == 302


def test_login_form_without_csrf_token_is_rejected(client, member):
    response = client.post("/login", data={"username": "bt.tuphap", "password": PASSWORD})
    assert response.status_code == 400
    assert client.get("/").status_code == 302


def test_logout_requires_csrf_and_ends_the_session(client, member):
    login(client, "bt.tuphap")
    assert client.post("/logout").status_code == 400
    assert client.get("/").status_code == 200
    token = csrf_token(client, "/")
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/").status_code == 302
    assert "auth.logout" in actions()


def test_login_starts_a_new_session(client, member):
    """Session fixation: whatever the session held before login is gone after it."""
    with client.session_transaction() as session:
        session["planted"] = "by-an-attacker"
    login(client, "bt.tuphap")
    with client.session_transaction() as session:
        assert "planted" not in session
        assert session.get("_user_id")


def test_next_parameter_cannot_redirect_to_another_site(client, member):
    token = csrf_token(client, "/login")
    response = client.post("/login?next=https://evil.example/x",
                           data={"username": "bt.tuphap", "password": PASSWORD, "csrf_token": token})
    assert response.headers["Location"] == "/"


def test_next_parameter_keeps_a_local_path(client, member):
    token = csrf_token(client, "/login")
    response = client.post("/login?next=/account/",
                           data={"username": "bt.tuphap", "password": PASSWORD, "csrf_token": token})
    assert response.headers["Location"] == "/account/"


# --- two-step verification -----------------------------------------------------------


def test_once_enrolled_a_code_is_required_at_login(client, member):
    totp = enrol_totp(member)
    response = login(client, "bt.tuphap")
    assert response.headers["Location"] == "/login/verify"
    assert client.get("/").status_code == 302  # the password alone does not log in
    token = csrf_token(client, "/login/verify")
    wrong = client.post("/login/verify", data={"code": "000000", "csrf_token": token})
    assert wrong.status_code == 401
    assert client.get("/").status_code == 302
    # A code from the next time step (one step of drift is allowed; the enrolment code was used).
    code = totp.at(utcnow() + timedelta(seconds=30))
    ok = client.post("/login/verify", data={"code": code, "csrf_token": token})
    assert ok.status_code == 302 and ok.headers["Location"] == "/"
    assert client.get("/").status_code == 200


def test_a_totp_code_cannot_be_replayed(client, member):
    totp = enrol_totp(member)
    code = totp.at(utcnow() + timedelta(seconds=30))
    login(client, "bt.tuphap")
    token = csrf_token(client, "/login/verify")
    assert client.post("/login/verify", data={"code": code, "csrf_token": token}).status_code == 302
    token = csrf_token(client, "/")
    client.post("/logout", data={"csrf_token": token})
    login(client, "bt.tuphap")
    token = csrf_token(client, "/login/verify")
    assert client.post("/login/verify", data={"code": code, "csrf_token": token}).status_code == 401


def test_verify_page_without_a_password_step_sends_back_to_login(client):
    response = client.get("/login/verify")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


def test_wrong_codes_count_towards_the_lockout(client, member):
    enrol_totp(member)
    login(client, "bt.tuphap")
    token = csrf_token(client, "/login/verify")
    statuses = [client.post("/login/verify", data={"code": "000000", "csrf_token": token}).status_code
                for _ in range(5)]
    assert statuses[-1] == 302  # locked: sent back to the login page
    assert login(client, "bt.tuphap").status_code == 429


def test_enrolment_page_shows_a_qr_code_and_needs_a_valid_code(client, member):
    login(client, "bt.tuphap")
    page = client.get("/account/two-step").get_data(as_text=True)
    assert 'src="data:image/svg+xml;base64,' in page
    with client.session_transaction() as session:
        secret = session["totp_pending"]
    token = csrf_token(client, "/account/two-step")
    bad = client.post("/account/two-step", data={"code": "123456", "csrf_token": token})
    assert bad.status_code == 422
    db.session.refresh(member)
    assert not member.totp_enabled
    good = client.post("/account/two-step", data={"code": pyotp.TOTP(secret).now(), "csrf_token": token})
    assert good.status_code == 302
    db.session.refresh(member)
    assert member.totp_enabled
    assert "user.totp_enabled" in actions()


def test_turning_totp_off_needs_password_and_code(client, member):
    totp = enrol_totp(member)
    member.totp_last_step = None  # let the test log in with the current code
    db.session.commit()
    login(client, "bt.tuphap")
    token = csrf_token(client, "/login/verify")
    client.post("/login/verify", data={"code": totp.now(), "csrf_token": token})
    token = csrf_token(client, "/account/two-step")
    refused = client.post("/account/two-step/disable",
                          data={"password": "wrong-password", "code": totp.now(), "csrf_token": token})
    assert refused.status_code == 401
    db.session.refresh(member)
    assert member.totp_enabled
    ok = client.post("/account/two-step/disable",
                     data={"password": PASSWORD, "code": totp.at(utcnow() + timedelta(seconds=30)),
                           "csrf_token": token})
    assert ok.status_code == 302
    db.session.refresh(member)
    assert not member.totp_enabled


# --- sessions -------------------------------------------------------------------------


def test_session_ends_after_the_maximum_age(client, member):
    login(client, "bt.tuphap")
    age_browser_sessions(timedelta(hours=13))
    response = client.get("/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")
    assert client.get("/account/").status_code == 302


def test_session_cookie_is_httponly_and_expires_when_idle(app, client, member):
    response = login(client, "bt.tuphap")
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "Expires=" in cookie  # a permanent session with the idle lifetime, refreshed per request
    assert app.config["PERMANENT_SESSION_LIFETIME"] == timedelta(minutes=60)


def test_password_change_logs_out_other_devices(app, member):
    laptop, tablet = app.test_client(), app.test_client()
    login(laptop, "bt.tuphap")
    login(tablet, "bt.tuphap")
    token = csrf_token(laptop, "/account/password")
    response = laptop.post("/account/password", data={
        "current_password": PASSWORD, "new_password": "a-brand-new-passphrase",
        "confirm": "a-brand-new-passphrase", "csrf_token": token})
    assert response.status_code == 302
    assert laptop.get("/").status_code == 200  # the device that changed it stays in
    assert tablet.get("/").status_code == 302  # the other one is logged out


@pytest.mark.parametrize("new, message_part", [
    ("short1", "10"),
    ("bt.tuphap-long-pass", "bt.tuphap"),
])
def test_weak_new_password_is_refused(client, member, new, message_part):
    login(client, "bt.tuphap")
    token = csrf_token(client, "/account/password")
    response = client.post("/account/password", data={
        "current_password": PASSWORD, "new_password": new, "confirm": new, "csrf_token": token})
    assert response.status_code == 422
    db.session.refresh(member)
    from cabinet.auth.passwords import verify_password

    assert verify_password(member.password_hash, PASSWORD)


def test_temporary_password_forces_a_change_before_anything_else(client, member, admin):
    from cabinet.users import service as users_service

    temporary = users_service.reset_password(admin, member.id)
    response = login(client, "bt.tuphap", temporary)
    assert response.headers["Location"] == "/account/password"
    assert client.get("/").headers["Location"] == "/account/password"
    token = csrf_token(client, "/account/password")
    client.post("/account/password", data={
        "current_password": temporary, "new_password": "my-own-new-passphrase",
        "confirm": "my-own-new-passphrase", "csrf_token": token})
    assert client.get("/").status_code == 200


def test_security_headers_forbid_framing_and_inline_scripts(client):
    response = client.get("/login")
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert "'unsafe-inline'" not in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "no-store"
    assert "<script>" not in response.get_data(as_text=True)


def test_login_page_rate_limit_per_address(make_app, member):
    app = make_app(RATELIMIT_ENABLED=True, CABINET_LOGIN_RATE_LIMIT="3 per minute")
    with app.app_context():
        client = app.test_client()
        statuses = [login(client, "nobody", "x-wrong-pass").status_code for _ in range(4)]
    assert statuses[:3] == [401, 401, 401]
    assert statuses[3] == 429


def test_a_nul_character_in_the_login_form_is_refused_clearly(client, member):
    token = csrf_token(client, "/login")
    response = client.post("/login", data={"username": "bt.tu\x00phap", "password": PASSWORD,
                                           "csrf_token": token})
    assert response.status_code == 400
    assert "Yêu cầu chứa ký tự không được phép." in response.get_data(as_text=True)
    assert client.get("/").status_code == 302
