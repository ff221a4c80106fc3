"""The JSON API as a client sees it: getting and using tokens, managing accounts, bad input."""

from __future__ import annotations

import hashlib
import io
import time
from datetime import datetime, timedelta

import pyotp
import pytest
import sqlalchemy as sa
from sqlalchemy import select

from cabinet.audit.models import AuditEntry
from cabinet.auth import service as auth_service
from cabinet.auth.models import ApiToken
from cabinet.core.timeutil import utcnow
from cabinet.extensions import db
from cabinet.users import service as users_service
from cabinet.users.models import User
from tests.conftest import PASSWORD, api_token

TOKEN_URL = "/api/v1/auth/token"  # noqa: S105  (a path, not a secret)
NEW_PASSWORD = "Mat-khau-moi-2024"  # noqa: S105
PUBLIC_USER_FIELDS = {"id", "username", "full_name", "title", "organisation", "email", "role",
                      "clearance", "active", "totp_enabled", "must_change_password",
                      "last_login_at", "created_at"}


# --- helpers --------------------------------------------------------------------------------


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def ask_token(client, username: str, password: str = PASSWORD, **extra):
    return client.post(TOKEN_URL, json={"username": username, "password": password, **extra})


def api_error(response, status: int) -> dict:
    """Check the documented error shape ``{"error": {"code", "message", "details"?}}``."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert list(body) == ["error"]
    error = body["error"]
    assert {"code", "message"} <= set(error) <= {"code", "message", "details"}
    assert isinstance(error["code"], str) and error["code"]
    assert isinstance(error["message"], str) and error["message"]
    return error


def named_fields(error: dict) -> set[str]:
    """The fields a 422 names. Pydantic lists them; the services map field to message."""
    fields = (error.get("details") or {}).get("fields", [])
    if isinstance(fields, dict):
        return set(fields)
    return {problem["field"] for problem in fields}


def audit_rows(action: str, object_id: int | None = None):
    stmt = select(AuditEntry.actor_id, AuditEntry.object_id, AuditEntry.details).where(
        AuditEntry.action == action).order_by(AuditEntry.seq)
    if object_id is not None:
        stmt = stmt.where(AuditEntry.object_type == "user", AuditEntry.object_id == str(object_id))
    return db.session.execute(stmt).all()


def enrol_totp(user) -> pyotp.TOTP:
    """Enrol ``user`` in two-step verification as the account page does; returns their app."""
    secret = auth_service.new_totp_secret()
    totp = pyotp.TOTP(secret)
    auth_service.enable_totp(user, secret, totp.now())
    return totp


def next_code(totp: pyotp.TOTP) -> str:
    """The code the app shows next: the current one was spent on enrolment."""
    return totp.at(time.time() + 30)


def wrong_code(totp: pyotp.TOTP) -> str:
    valid = {totp.at(time.time() + drift) for drift in (-30, 0, 30, 60)}
    return next(code for code in ("000000", "123456", "999999") if code not in valid)


@pytest.fixture
def admin_headers(client, admin):
    return bearer(api_token(client, "quantri"))


@pytest.fixture
def member_headers(client, member):
    return bearer(api_token(client, "bt.tuphap"))


# --- POST /auth/token -----------------------------------------------------------------------


def test_member_gets_a_token_that_expires_after_the_configured_hours(app, client, member):
    before = utcnow()
    response = ask_token(client, "bt.tuphap")

    assert response.status_code == 201
    body = response.get_json()
    assert set(body) == {"token", "expires_at", "user"}
    assert isinstance(body["token"], str) and len(body["token"]) >= 32
    expires_at = datetime.fromisoformat(body["expires_at"])
    assert expires_at.tzinfo is not None
    lifetime = timedelta(hours=app.config["CABINET_TOKEN_HOURS"])
    assert before + lifetime - timedelta(seconds=1) <= expires_at <= utcnow() + lifetime
    assert set(body["user"]) == PUBLIC_USER_FIELDS
    assert body["user"]["username"] == "bt.tuphap"
    assert body["user"]["role"] == "member"
    assert body["user"]["last_login_at"] is not None
    assert response.headers["Cache-Control"] == "no-store"


def test_token_answer_never_contains_password_hash_or_totp_secret(client, member):
    totp = enrol_totp(member)
    response = ask_token(client, "bt.tuphap", otp=next_code(totp))

    assert response.status_code == 201
    text = response.get_data(as_text=True)
    for secret in ("password_hash", "totp_secret", "totp_last_step", "failed_logins",
                   "session_version", member.password_hash, member.totp_secret):
        assert secret not in text
    assert response.get_json()["user"]["totp_enabled"] is True


def test_username_is_not_case_sensitive(client, member):
    response = ask_token(client, "BT.TuPhap")
    assert response.status_code == 201
    assert response.get_json()["user"]["username"] == "bt.tuphap"


def test_wrong_password_is_refused_as_invalid_credentials(client, member):
    response = ask_token(client, "bt.tuphap", "not-the-password")

    assert api_error(response, 401)["code"] == "invalid_credentials"
    assert "token" not in response.get_json()


def test_unknown_user_gets_the_same_answer_as_a_wrong_password(client, member):
    wrong_password = ask_token(client, "bt.tuphap", "not-the-password")
    unknown_user = ask_token(client, "nobody-here", "not-the-password")

    assert unknown_user.status_code == wrong_password.status_code == 401
    assert unknown_user.get_json() == wrong_password.get_json()


def test_account_locks_after_repeated_failures_and_refuses_even_the_right_password(
        app, client, member):
    threshold = app.config["CABINET_LOCKOUT_THRESHOLD"]
    for _ in range(threshold - 1):
        assert api_error(ask_token(client, "bt.tuphap", "guess-again"), 401)["code"] == \
            "invalid_credentials"

    locking = ask_token(client, "bt.tuphap", "guess-again")
    assert api_error(locking, 429)["code"] == "account_locked"
    max_wait = app.config["CABINET_LOCKOUT_MINUTES"] * 60
    assert 0 < int(locking.headers["Retry-After"]) <= max_wait

    right_password = ask_token(client, "bt.tuphap")
    assert api_error(right_password, 429)["code"] == "account_locked"
    assert 0 < int(right_password.headers["Retry-After"]) <= max_wait
    assert len(audit_rows("auth.lockout", member.id)) == 1


def test_a_successful_login_starts_the_failure_count_again(app, client, member):
    threshold = app.config["CABINET_LOCKOUT_THRESHOLD"]
    for _ in range(threshold - 1):
        ask_token(client, "bt.tuphap", "guess-again")
    assert ask_token(client, "bt.tuphap").status_code == 201

    for _ in range(threshold - 1):
        assert ask_token(client, "bt.tuphap", "guess-again").status_code == 401
    assert ask_token(client, "bt.tuphap").status_code == 201


def test_two_step_user_must_send_a_valid_code(client, member):
    totp = enrol_totp(member)

    without_code = ask_token(client, "bt.tuphap")
    assert api_error(without_code, 401)["code"] == "otp_required"
    assert "token" not in without_code.get_json()

    wrong = ask_token(client, "bt.tuphap", otp=wrong_code(totp))
    assert api_error(wrong, 401)["code"] == "invalid_otp"

    right = ask_token(client, "bt.tuphap", otp=next_code(totp))
    assert right.status_code == 201
    assert client.get("/api/v1/me", headers=bearer(right.get_json()["token"])).status_code == 200


def test_two_step_user_with_wrong_password_is_not_asked_for_a_code(client, member):
    enrol_totp(member)
    response = ask_token(client, "bt.tuphap", "not-the-password")
    assert api_error(response, 401)["code"] == "invalid_credentials"


def test_a_verification_code_works_only_once(client, member):
    totp = enrol_totp(member)
    code = next_code(totp)
    assert ask_token(client, "bt.tuphap", otp=code).status_code == 201

    replayed = ask_token(client, "bt.tuphap", otp=code)
    assert api_error(replayed, 401)["code"] == "invalid_otp"


def test_disabled_account_is_named_only_to_someone_with_the_right_password(client, admin, member):
    users_service.set_active(admin, member.id, False)

    right_password = ask_token(client, "bt.tuphap")
    assert api_error(right_password, 403)["code"] == "account_disabled"
    wrong_password = ask_token(client, "bt.tuphap", "not-the-password")
    assert api_error(wrong_password, 401)["code"] == "invalid_credentials"


def test_token_requests_are_rate_limited_per_address(make_app):
    app = make_app(RATELIMIT_ENABLED=True, CABINET_LOGIN_RATE_LIMIT="3 per minute")
    client = app.test_client()
    for _ in range(3):
        assert ask_token(client, "nobody-here", "not-the-password").status_code == 401

    limited = ask_token(client, "nobody-here", "not-the-password")
    assert api_error(limited, 429)["code"] == "too_many_requests"
    assert int(limited.headers["Retry-After"]) > 0

    other_address = client.post(TOKEN_URL, json={"username": "nobody-here", "password": "x"},
                                environ_base={"REMOTE_ADDR": "10.1.2.3"})
    assert other_address.status_code == 401


# --- using a token --------------------------------------------------------------------------


def test_token_opens_the_api_as_its_user(client, member):
    token = api_token(client, "bt.tuphap")
    response = client.get("/api/v1/me", headers=bearer(token))

    assert response.status_code == 200
    me = response.get_json()
    assert me["username"] == "bt.tuphap"
    assert me["id"] == member.id
    assert "password_hash" not in response.get_data(as_text=True)


@pytest.mark.parametrize("authorization, code", [
    (None, "token_missing"),
    ("Basic YnQudHVwaGFwOnBhc3N3b3Jk", "token_missing"),
    ("Bearer", "token_missing"),
    ("Bearer not-a-real-token", "token_invalid"),
    ("Bearer cab_" + "A" * 43, "token_invalid"),
])
def test_request_without_a_valid_token_is_refused(client, member, authorization, code):
    headers = {"Authorization": authorization} if authorization else {}
    response = client.get("/api/v1/me", headers=headers)

    assert api_error(response, 401)["code"] == code
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_expired_token_is_refused(client, member):
    token = api_token(client, "bt.tuphap")
    db.session.execute(sa.update(ApiToken).values(expires_at=utcnow() - timedelta(minutes=1)))
    db.session.commit()

    response = client.get("/api/v1/me", headers=bearer(token))
    assert api_error(response, 401)["code"] == "token_invalid"


def test_client_revokes_its_own_token(client, member):
    token = api_token(client, "bt.tuphap")
    other = api_token(client, "bt.tuphap")

    response = client.delete(TOKEN_URL, headers=bearer(token))
    assert response.status_code == 204
    assert response.get_data() == b""

    assert api_error(client.get("/api/v1/me", headers=bearer(token)), 401)["code"] == \
        "token_invalid"
    assert api_error(client.delete(TOKEN_URL, headers=bearer(token)), 401)["code"] == \
        "token_invalid"
    assert client.get("/api/v1/me", headers=bearer(other)).status_code == 200


def test_token_stops_working_when_the_admin_disables_the_account(client, admin_headers, member):
    token = api_token(client, "bt.tuphap")

    response = client.patch(f"/api/v1/users/{member.id}", headers=admin_headers,
                            json={"active": False})
    assert response.status_code == 200

    assert api_error(client.get("/api/v1/me", headers=bearer(token)), 401)["code"] == \
        "token_invalid"


def test_re_enabling_an_account_does_not_revive_its_old_tokens(client, admin_headers, member):
    token = api_token(client, "bt.tuphap")
    client.patch(f"/api/v1/users/{member.id}", headers=admin_headers, json={"active": False})
    client.patch(f"/api/v1/users/{member.id}", headers=admin_headers, json={"active": True})

    assert client.get("/api/v1/me", headers=bearer(token)).status_code == 401
    assert ask_token(client, "bt.tuphap").status_code == 201


def test_token_stops_working_when_the_admin_resets_the_password(client, admin, member):
    token = api_token(client, "bt.tuphap")

    temporary = users_service.reset_password(admin, member.id)

    assert client.get("/api/v1/me", headers=bearer(token)).status_code == 401
    assert ask_token(client, "bt.tuphap").status_code == 401
    assert ask_token(client, "bt.tuphap", temporary).status_code == 201


def test_admin_revokes_every_token_of_an_account(client, admin_headers, member):
    tokens = [api_token(client, "bt.tuphap") for _ in range(2)]

    response = client.delete(f"/api/v1/users/{member.id}/tokens", headers=admin_headers)
    assert response.status_code == 200
    assert response.get_json() == {"revoked": 2}

    for token in tokens:
        assert client.get("/api/v1/me", headers=bearer(token)).status_code == 401
    assert client.get("/api/v1/me", headers=admin_headers).status_code == 200
    assert ask_token(client, "bt.tuphap").status_code == 201
    assert len(audit_rows("auth.tokens_revoked", member.id)) == 1


def test_changing_the_role_ends_the_users_tokens_but_editing_the_title_does_not(
        client, admin_headers, member):
    token = api_token(client, "bt.tuphap")

    client.patch(f"/api/v1/users/{member.id}", headers=admin_headers, json={"title": "Thứ trưởng"})
    assert client.get("/api/v1/me", headers=bearer(token)).status_code == 200

    client.patch(f"/api/v1/users/{member.id}", headers=admin_headers, json={"role": "guest"})
    assert client.get("/api/v1/me", headers=bearer(token)).status_code == 401


def test_the_raw_token_is_not_stored_only_its_sha256(client, member):
    token = api_token(client, "bt.tuphap")
    client.get("/api/v1/me", headers=bearer(token))

    stored = db.session.scalars(select(ApiToken.token_hash)).all()
    assert stored == [hashlib.sha256(token.encode()).hexdigest()]
    for table in db.metadata.sorted_tables:
        for row in db.session.execute(select(table)).all():
            assert token not in repr(tuple(row)), f"raw token found in {table.name}"


# --- users (administrators only) ------------------------------------------------------------


NEW_USER = {"username": "bt.noivu", "full_name": "Trần Thị Nội Vụ", "password": NEW_PASSWORD,
            "title": "Bộ trưởng", "organisation": "Bộ Nội vụ", "email": "noivu@example.gov.vn",
            "role": "member", "clearance": "mat"}


@pytest.mark.parametrize("method, path, body", [
    ("GET", "/api/v1/users", None),
    ("POST", "/api/v1/users", NEW_USER),
    ("GET", "/api/v1/users/{id}", None),
    ("PATCH", "/api/v1/users/{id}", {"role": "admin"}),
    ("DELETE", "/api/v1/users/{id}/tokens", None),
])
def test_member_cannot_manage_accounts(client, member, member_headers, method, path, body):
    response = client.open(path.format(id=member.id), method=method, headers=member_headers,
                           json=body)

    assert api_error(response, 403)["code"] == "forbidden"
    assert db.session.scalar(select(User.role).where(User.id == member.id)) == "member"
    assert db.session.scalar(select(sa.func.count()).select_from(User)) == 1
    assert client.get("/api/v1/me", headers=member_headers).status_code == 200


def test_admin_lists_and_filters_accounts(client, admin_headers, member, make_user):
    make_user("vpcp.thuky", role="secretariat", full_name="Lê Văn Thư Ký",
              organisation="Văn phòng Chính phủ")

    everyone = client.get("/api/v1/users", headers=admin_headers)
    assert everyone.status_code == 200
    assert {u["username"] for u in everyone.get_json()["users"]} == \
        {"quantri", "bt.tuphap", "vpcp.thuky"}
    assert "password_hash" not in everyone.get_data(as_text=True)

    members = client.get("/api/v1/users?role=member", headers=admin_headers).get_json()
    assert [u["username"] for u in members["users"]] == ["bt.tuphap"]
    searched = client.get("/api/v1/users?q=v%C4%83n%20ph%C3%B2ng", headers=admin_headers)
    assert [u["username"] for u in searched.get_json()["users"]] == ["vpcp.thuky"]

    bad_role = client.get("/api/v1/users?role=king", headers=admin_headers)
    assert named_fields(api_error(bad_role, 422)) == {"role"}


def test_admin_creates_an_account_that_can_log_in(client, admin, admin_headers):
    response = client.post("/api/v1/users", headers=admin_headers,
                           json=NEW_USER | {"username": "BT.NoiVu"})

    assert response.status_code == 201
    created = response.get_json()
    assert created["username"] == "bt.noivu"
    for field in ("full_name", "title", "organisation", "email", "role", "clearance"):
        assert created[field] == NEW_USER[field]
    assert created["active"] is True
    assert created["must_change_password"] is True
    assert set(created) == PUBLIC_USER_FIELDS
    assert NEW_PASSWORD not in response.get_data(as_text=True)
    assert "$argon2" not in response.get_data(as_text=True)

    fetched = client.get(f"/api/v1/users/{created['id']}", headers=admin_headers)
    assert fetched.status_code == 200
    assert fetched.get_json() == created
    assert ask_token(client, "bt.noivu", NEW_PASSWORD).status_code == 201

    [(actor_id, _object, details)] = audit_rows("user.created", created["id"])
    assert actor_id == admin.id
    assert details["username"] == "bt.noivu"


@pytest.mark.parametrize("username", ["bt.tuphap", "BT.TUPHAP", "Bt.TuPhap"])
def test_a_taken_username_is_refused_in_any_case(client, admin_headers, member, username):
    response = client.post("/api/v1/users", headers=admin_headers,
                           json=NEW_USER | {"username": username})

    assert api_error(response, 409)["code"] == "username_taken"
    assert db.session.scalar(select(sa.func.count()).select_from(User)) == 2


@pytest.mark.parametrize("method, path, body", [
    ("GET", "/api/v1/users/{id}", None),
    ("PATCH", "/api/v1/users/{id}", {"title": "Thứ trưởng"}),
    ("DELETE", "/api/v1/users/{id}/tokens", None),
])
@pytest.mark.parametrize("user_id", [4040, 2**31, 10**20])
def test_unknown_account_is_404_in_the_error_shape(client, admin_headers, method, path, body,
                                                    user_id):
    response = client.open(path.format(id=user_id), method=method, headers=admin_headers,
                           json=body)
    assert api_error(response, 404)["code"] == "not_found"


def test_admin_edits_an_account_and_the_change_is_audited(client, admin, admin_headers, member):
    changes = {"full_name": "Nguyễn Văn Đổi Tên", "title": "Thứ trưởng",
               "organisation": "Bộ Tài chính", "email": "doiten@example.gov.vn",
               "clearance": "toi_mat"}
    response = client.patch(f"/api/v1/users/{member.id}", headers=admin_headers, json=changes)

    assert response.status_code == 200
    updated = response.get_json()
    for field, value in changes.items():
        assert updated[field] == value
    assert updated["username"] == "bt.tuphap"
    assert client.get(f"/api/v1/users/{member.id}", headers=admin_headers).get_json() == updated

    [(actor_id, _object, details)] = audit_rows("user.updated", member.id)
    assert actor_id == admin.id
    assert details["changes"]["title"] == ["Bộ trưởng", "Thứ trưởng"]
    assert details["changes"]["clearance"] == ["none", "toi_mat"]


def test_admin_disables_and_enables_an_account(client, admin, admin_headers, member):
    disabled = client.patch(f"/api/v1/users/{member.id}", headers=admin_headers,
                            json={"active": False})
    assert disabled.status_code == 200
    assert disabled.get_json()["active"] is False
    assert api_error(ask_token(client, "bt.tuphap"), 403)["code"] == "account_disabled"
    [(actor_id, _object, _details)] = audit_rows("user.disabled", member.id)
    assert actor_id == admin.id

    enabled = client.patch(f"/api/v1/users/{member.id}", headers=admin_headers,
                           json={"active": True})
    assert enabled.get_json()["active"] is True
    assert ask_token(client, "bt.tuphap").status_code == 201
    assert len(audit_rows("user.enabled", member.id)) == 1


def test_admin_cannot_demote_or_disable_their_own_account(client, admin, admin_headers):
    demote = client.patch(f"/api/v1/users/{admin.id}", headers=admin_headers,
                          json={"role": "member"})
    assert api_error(demote, 422)["code"] == "validation_error"
    disable = client.patch(f"/api/v1/users/{admin.id}", headers=admin_headers,
                           json={"active": False})
    assert api_error(disable, 422)["code"] == "validation_error"

    me = client.get("/api/v1/me", headers=admin_headers)
    assert me.status_code == 200
    assert me.get_json()["role"] == "admin"
    assert me.get_json()["active"] is True


@pytest.mark.parametrize("body, field", [
    ({"role": "king"}, "role"),
    ({"role": None, "clearance": "ultra"}, "clearance"),
    ({"active": "maybe"}, "active"),
    ({"email": 42}, "email"),
    ({"full_name": ""}, "full_name"),
    ({"email": "not-an-address"}, "email"),
])
def test_invalid_edit_is_refused_naming_the_field(client, admin_headers, member, body, field):
    response = client.patch(f"/api/v1/users/{member.id}", headers=admin_headers, json=body)

    error = api_error(response, 422)
    assert field in named_fields(error)
    assert client.get(f"/api/v1/users/{member.id}", headers=admin_headers).get_json()["role"] == \
        "member"
    assert audit_rows("user.updated", member.id) == []


@pytest.mark.parametrize("method, path, body, field", [
    ("POST", "/api/v1/users", NEW_USER | {"is_admin": True}, "is_admin"),
    ("POST", "/api/v1/users", NEW_USER | {"password_hash": "$argon2id$v=19$x"}, "password_hash"),
    ("PATCH", "/api/v1/users/{id}", {"title": "Thứ trưởng", "is_admin": True}, "is_admin"),
    ("PATCH", "/api/v1/users/{id}", {"title": "Thứ trưởng", "username": "bt.khac"}, "username"),
    ("PATCH", "/api/v1/users/{id}", {"password": NEW_PASSWORD}, "password"),
])
def test_unknown_fields_are_refused_and_nothing_changes(client, admin_headers, member, method,
                                                        path, body, field):
    response = client.open(path.format(id=member.id), method=method, headers=admin_headers,
                           json=body)

    assert named_fields(api_error(response, 422)) == {field}
    assert db.session.scalar(select(sa.func.count()).select_from(User)) == 2
    assert client.get(f"/api/v1/users/{member.id}", headers=admin_headers).get_json()["title"] == \
        "Bộ trưởng"
    assert ask_token(client, "bt.tuphap").status_code == 201


@pytest.mark.parametrize("password", ["short1!", "aaaaaaaaaaaaaaa", "bt.noivu-2024-xyz"])
def test_weak_password_is_refused(client, admin_headers, password):
    response = client.post("/api/v1/users", headers=admin_headers,
                           json=NEW_USER | {"password": password})

    assert "password" in named_fields(api_error(response, 422))
    assert db.session.scalar(select(User.id).where(User.username == "bt.noivu")) is None
    assert [row.details["username"] for row in audit_rows("user.created")] == ["quantri"]


# --- bad input never gives 500 --------------------------------------------------------------


BODY_ENDPOINTS = [("POST", TOKEN_URL), ("POST", "/api/v1/users"),
                  ("PATCH", "/api/v1/users/{id}")]


@pytest.mark.parametrize("method, path", BODY_ENDPOINTS)
@pytest.mark.parametrize("content_type, data, status, code", [
    ("application/x-www-form-urlencoded", "username=quantri&password=x", 400, "not_json"),
    ("text/plain", '{"username": "quantri"}', 400, "not_json"),
    (None, None, 400, "not_json"),
    ("application/json", '{"username": "quantri", ', 400, "invalid_json"),
    ("application/json", "{'username': 'quantri'}", 400, "invalid_json"),
    ("application/json", b'{"username": "\xff\xfe"}', 400, "invalid_json"),
    ("application/json", "[" * 100_000, 400, "invalid_json"),
    ("application/json", "", 422, "validation_error"),
    ("application/json", "null", 422, "validation_error"),
    ("application/json", "[]", 422, "validation_error"),
    ("application/json", '"username"', 422, "validation_error"),
    ("application/json", "42", 422, "validation_error"),
], ids=["form", "text", "no-body", "truncated", "single-quotes", "bad-utf8", "deep", "empty",
        "null", "list", "string", "number"])
def test_body_that_is_not_a_json_object_is_refused_cleanly(
        client, admin_headers, member, method, path, content_type, data, status, code):
    headers = admin_headers | ({"Content-Type": content_type} if content_type else {})
    response = client.open(path.format(id=member.id), method=method, headers=headers, data=data)

    assert api_error(response, status)["code"] == code


@pytest.mark.parametrize("method, path, body, fields", [
    ("POST", TOKEN_URL, {"username": 5, "password": ["x"]}, {"username", "password"}),
    ("POST", TOKEN_URL, {"username": "quantri", "password": PASSWORD, "otp": 123456}, {"otp"}),
    ("POST", TOKEN_URL, {"username": "quantri"}, {"password"}),
    ("POST", TOKEN_URL, {"username": "x" * 65, "password": "x"}, {"username"}),
    ("POST", "/api/v1/users", NEW_USER | {"role": ["admin"], "must_change_password": "often"},
     {"role", "must_change_password"}),
    ("POST", "/api/v1/users", NEW_USER | {"username": "bad name!"}, {"username"}),
    ("POST", "/api/v1/users", NEW_USER | {"full_name": {"first": "A"}}, {"full_name"}),
    ("PATCH", "/api/v1/users/{id}", {"title": 3.5, "active": None}, {"title"}),
    ("PATCH", "/api/v1/users/{id}", {"organisation": "x" * 201}, {"organisation"}),
], ids=["token-types", "otp-number", "token-missing-field", "token-long-username",
        "create-types", "create-bad-username", "create-object-name", "patch-types",
        "patch-too-long"])
def test_wrong_field_types_are_refused_naming_the_fields(
        client, admin_headers, member, method, path, body, fields):
    response = client.open(path.format(id=member.id), method=method, headers=admin_headers,
                           json=body)

    error = api_error(response, 422)
    assert error["code"] == "validation_error"
    assert named_fields(error) == fields


@pytest.mark.parametrize("method, path, body", [
    ("POST", TOKEN_URL, {"username": "bt.tu\x00phap", "password": PASSWORD}),
    ("POST", TOKEN_URL, {"username": "bt.tuphap", "password": PASSWORD, "label": "a\x00b"}),
    ("POST", "/api/v1/users", NEW_USER | {"full_name": "Trần\x00Thị"}),
    ("PATCH", "/api/v1/users/{id}", {"organisation": "Bộ\x00Nội vụ"}),
])
def test_nul_characters_are_refused_not_stored(client, admin_headers, member, method, path, body):
    response = client.open(path.format(id=member.id), method=method, headers=admin_headers,
                           json=body)

    assert api_error(response, 422)["code"] == "validation_error"


def test_search_with_a_nul_character_is_refused_clearly_instead_of_failing(client, admin_headers):
    response = client.get("/api/v1/users?q=quan%00tri", headers=admin_headers)
    assert api_error(response, 400)["code"] == "invalid_characters"


def test_search_treats_percent_and_underscore_as_plain_characters(client, admin_headers, make_user):
    make_user("bt_congthuong", full_name="Lương Văn Tài")
    make_user("btxcongthuong", full_name="Someone Else")
    everyone = client.get("/api/v1/users?q=%25", headers=admin_headers).get_json()["users"]
    assert everyone == []
    underscore = client.get("/api/v1/users?q=bt_c", headers=admin_headers).get_json()["users"]
    assert [u["username"] for u in underscore] == ["bt_congthuong"]


def test_temporary_password_only_allows_changing_it_through_the_api(client, admin, member):
    temporary = users_service.reset_password(admin, member.id)
    token = api_token(client, "bt.tuphap", temporary)
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    blocked = client.get("/api/v1/users", headers=headers)
    assert api_error(blocked, 403)["code"] == "password_change_required"
    weak = client.post("/api/v1/me/password", headers=headers,
                       json={"current_password": temporary, "new_password": "short"})
    assert api_error(weak, 422)["details"]["fields"][0]["field"] == "new_password"
    changed = client.post("/api/v1/me/password", headers=headers,
                          json={"current_password": temporary, "new_password": "my-own-passphrase-26"})
    assert changed.status_code == 204
    assert client.get("/api/v1/me", headers=headers).status_code == 401  # tokens revoked
    fresh = api_token(client, "bt.tuphap", "my-own-passphrase-26")
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {fresh}"}).get_json()
    assert me["must_change_password"] is False


def test_booleans_must_be_json_booleans(client, admin_headers, member):
    response = client.patch(f"/api/v1/users/{member.id}", headers=admin_headers, json={"active": "yes"})
    assert api_error(response, 422)["details"]["fields"][0]["field"] == "active"


def padded_json(size: int) -> bytes:
    """A valid JSON login body of exactly ``size`` bytes (padded with whitespace)."""
    start, end = b'{"username": "nobody-here", "password": "not-the-password"', b"}"
    return start + b" " * (size - len(start) - len(end)) + end


@pytest.mark.parametrize("sent_as", ["content-length", "chunked"])
def test_body_larger_than_the_json_limit_is_refused_with_413(app, client, sent_as):
    body = padded_json(app.config["CABINET_MAX_JSON_BYTES"] + 1)
    if sent_as == "content-length":
        response = client.post(TOKEN_URL, data=body, content_type="application/json")
    else:
        # No Content-Length: a WSGI server marks a chunked body as terminated by the stream.
        response = client.post(TOKEN_URL, input_stream=io.BytesIO(body),
                               headers={"Content-Type": "application/json",
                                        "Transfer-Encoding": "chunked"},
                               environ_overrides={"wsgi.input_terminated": True})
        assert response.request.content_length is None

    assert api_error(response, 413)["code"] == "payload_too_large"


def test_body_exactly_at_the_json_limit_is_read(app, client):
    body = padded_json(app.config["CABINET_MAX_JSON_BYTES"])
    response = client.post(TOKEN_URL, data=body, content_type="application/json")
    assert api_error(response, 401)["code"] == "invalid_credentials"


@pytest.mark.parametrize("path", ["/api/v1/nothing-here", "/api/v1/users/abc", "/api/v1/",
                                  "/api/v1/users/1/tokens/2", "/api/v2/me"])
def test_unknown_api_route_is_404_in_the_error_shape(client, admin_headers, path):
    response = client.get(path, headers=admin_headers)
    assert api_error(response, 404)["code"] == "not_found"


@pytest.mark.parametrize("method, path, allowed", [
    ("PUT", "/api/v1/me", {"GET"}),
    ("GET", TOKEN_URL, {"POST", "DELETE"}),
    ("DELETE", "/api/v1/users", {"GET", "POST"}),
    ("POST", "/api/v1/users/1", {"GET", "PATCH"}),
    ("POST", "/api/v1/openapi.json", {"GET"}),
])
def test_wrong_method_is_405_in_the_error_shape(client, admin_headers, method, path, allowed):
    response = client.open(path, method=method, headers=admin_headers, json={})

    assert api_error(response, 405)["code"] == "method_not_allowed"
    assert set(response.headers["Allow"].split(", ")) - {"HEAD", "OPTIONS"} == allowed
