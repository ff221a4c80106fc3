"""The administrator's account pages, and who may not reach them."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from cabinet.audit.models import AuditEntry
from cabinet.auth.passwords import verify_password
from cabinet.extensions import db
from cabinet.users.models import User
from tests.conftest import PASSWORD, csrf_token, login

ADMIN_PAGES = ["/admin/users/", "/admin/users/new", "/admin/audit/"]


def audit_actions() -> list[str]:
    return list(db.session.scalars(select(AuditEntry.action).order_by(AuditEntry.seq)))


@pytest.mark.parametrize("path", ADMIN_PAGES)
def test_anonymous_visitor_is_sent_to_login(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


@pytest.mark.parametrize("role", ["member", "secretariat", "guest"])
@pytest.mark.parametrize("path", ADMIN_PAGES)
def test_non_admins_are_forbidden(client, make_user, role, path):
    make_user("someone", role=role)
    login(client, "someone")
    assert client.get(path).status_code == 403


def test_member_cannot_create_an_account_by_posting(client, member):
    login(client, "bt.tuphap")
    token = csrf_token(client, "/")
    response = client.post("/admin/users/new", data={
        "csrf_token": token, "username": "intruder", "full_name": "X", "role": "admin",
        "clearance": "tuyet_mat", "password": "long-enough-password"})
    assert response.status_code == 403
    assert db.session.scalar(select(User).where(User.username == "intruder")) is None


def test_admin_creates_an_account_with_vietnamese_name(client, admin):
    login(client, "quantri")
    token = csrf_token(client, "/admin/users/new")
    response = client.post("/admin/users/new", data={
        "csrf_token": token, "username": "BT.NgoaiGiao", "full_name": "Lý Thị Mai Anh",
        "title": "Bộ trưởng", "organisation": "Bộ Ngoại giao", "email": "", "role": "member",
        "clearance": "toi_mat", "locale": "vi", "password": "tam-thoi-2026-xyz",
        "must_change_password": "y"}, follow_redirects=True)
    assert response.status_code == 200
    assert "Lý Thị Mai Anh" in response.get_data(as_text=True)
    user = db.session.scalar(select(User).where(User.username == "bt.ngoaigiao"))
    assert user.clearance == "toi_mat" and user.must_change_password
    assert "user.created" in audit_actions()


def test_duplicate_username_is_refused_with_409_and_nothing_is_written(client, admin, member):
    login(client, "quantri")
    token = csrf_token(client, "/admin/users/new")
    count = db.session.scalar(select(db.func.count(User.id)))
    response = client.post("/admin/users/new", data={
        "csrf_token": token, "username": "bt.tuphap", "full_name": "Someone Else",
        "role": "member", "clearance": "none", "locale": "", "password": "another-good-password"})
    assert response.status_code == 409
    assert db.session.scalar(select(db.func.count(User.id))) == count


def test_invalid_fields_are_shown_next_to_the_field(client, admin):
    login(client, "quantri")
    token = csrf_token(client, "/admin/users/new")
    response = client.post("/admin/users/new", data={
        "csrf_token": token, "username": "bad name!", "full_name": "A", "role": "member",
        "clearance": "none", "locale": "", "email": "not-an-email", "password": "long-enough-pass"})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'id="username-err"' in html and 'id="email-err"' in html


def test_admin_edits_role_and_clearance_and_the_user_is_logged_out(app, admin, member):
    admin_client, member_client = app.test_client(), app.test_client()
    login(admin_client, "quantri")
    login(member_client, "bt.tuphap")
    token = csrf_token(admin_client, f"/admin/users/{member.id}")
    response = admin_client.post(f"/admin/users/{member.id}", data={
        "csrf_token": token, "full_name": member.full_name, "title": "Bộ trưởng",
        "organisation": "Bộ Tư pháp", "email": "", "role": "guest", "clearance": "none",
        "locale": "vi"})
    assert response.status_code == 302
    db.session.refresh(member)
    assert member.role == "guest"
    assert member_client.get("/").status_code == 302  # rights lowered: sessions ended
    changes = db.session.scalars(
        select(AuditEntry).where(AuditEntry.action == "user.updated")).one().details["changes"]
    assert changes["role"] == ["member", "guest"]


def test_admin_disables_an_account_and_its_session_ends_at_once(app, admin, member):
    admin_client, member_client = app.test_client(), app.test_client()
    login(admin_client, "quantri")
    login(member_client, "bt.tuphap")
    assert member_client.get("/").status_code == 200
    token = csrf_token(admin_client, f"/admin/users/{member.id}")
    admin_client.post(f"/admin/users/{member.id}/disable", data={"csrf_token": token})
    assert member_client.get("/").status_code == 302
    assert login(member_client, "bt.tuphap").status_code == 403
    admin_client.post(f"/admin/users/{member.id}/enable", data={"csrf_token": token})
    assert login(member_client, "bt.tuphap").status_code == 302
    assert audit_actions().count("user.disabled") == 1 and "user.enabled" in audit_actions()


def test_admin_cannot_disable_or_demote_themselves(client, admin):
    login(client, "quantri")
    token = csrf_token(client, f"/admin/users/{admin.id}")
    client.post(f"/admin/users/{admin.id}/disable", data={"csrf_token": token})
    response = client.post(f"/admin/users/{admin.id}", data={
        "csrf_token": token, "full_name": admin.full_name, "title": "", "organisation": "",
        "email": "", "role": "member", "clearance": "none", "locale": ""})
    assert response.status_code == 422
    db.session.refresh(admin)
    assert admin.active and admin.role == "admin"


def test_password_reset_shows_a_temporary_password_once(client, admin, member):
    login(client, "quantri")
    token = csrf_token(client, f"/admin/users/{member.id}")
    response = client.post(f"/admin/users/{member.id}/reset-password", data={"csrf_token": token})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    temporary = html.split('class="temp-password"><code>')[1].split("</code>")[0]
    db.session.refresh(member)
    assert verify_password(member.password_hash, temporary)
    assert not verify_password(member.password_hash, PASSWORD)
    assert member.must_change_password
    assert temporary not in str(db.session.scalars(select(AuditEntry.details)).all())


def test_unknown_user_id_is_404(client, admin):
    login(client, "quantri")
    assert client.get("/admin/users/99999").status_code == 404


def test_search_filters_the_list(client, admin, make_user):
    make_user("bt.yte", full_name="Tôn Nữ Thanh Thủy", organisation="Bộ Y tế")
    make_user("bt.xaydung", full_name="Tạ Minh Tuấn", organisation="Bộ Xây dựng")
    login(client, "quantri")
    html = client.get("/admin/users/?q=y+t").get_data(as_text=True)
    assert "Tôn Nữ Thanh Thủy" in html and "Tạ Minh Tuấn" not in html


def test_admin_unlocks_a_locked_account(client, admin, member, app):
    other = app.test_client()
    for i in range(5):
        login(other, "bt.tuphap", f"wrong-{i}")
    assert login(other, "bt.tuphap").status_code == 429
    login(client, "quantri")
    token = csrf_token(client, f"/admin/users/{member.id}")
    assert client.post(f"/admin/users/{member.id}/unlock", data={"csrf_token": token}).status_code == 302
    assert login(other, "bt.tuphap").status_code == 302
