"""Server-side browser sessions: logout really ends them (even a copied cookie), one's devices on
the account page, and sockets closed when their session ends."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select, update

from cabinet import jobs
from cabinet.audit.models import AuditEntry
from cabinet.auth import sessions
from cabinet.auth.models import BrowserSession
from cabinet.core.timeutil import utcnow
from cabinet.extensions import db
from cabinet.live import events
from cabinet.users import service as users_service
from cabinet.users.models import User
from tests.conftest import PASSWORD, csrf_token, login
from tests.test_socket import connect, fresh_context

CHROME_WINDOWS = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
                  "Chrome/131.0.0.0 Safari/537.36")
SAFARI_IPAD = ("Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
               "Version/17.5 Mobile/15E148 Safari/604.1")
FIREFOX_LINUX = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"


def age_browser_sessions(age: timedelta) -> None:
    """Make every browser session look as if it was opened ``age`` ago."""
    db.session.execute(update(BrowserSession).values(created_at=utcnow() - age))
    db.session.commit()


def browser(app, username: str = "bt.tuphap", user_agent: str = CHROME_WINDOWS):
    """A new browser (test client) with its own user agent, logged in as ``username``."""
    client = app.test_client()
    client.environ_base["HTTP_USER_AGENT"] = user_agent
    assert login(client, username).status_code == 302
    # English pages, whatever the translations say (the session keeps the choice).
    client.post("/language/en", data={"csrf_token": csrf_token(client, "/account/"), "next": "/"})
    return client


def rows(user_id: int) -> list[BrowserSession]:
    db.session.commit()
    return list(db.session.scalars(select(BrowserSession).where(BrowserSession.user_id == user_id)
                                   .order_by(BrowserSession.id)))


def post(client, path: str, data: dict | None = None):
    return client.post(path, data={"csrf_token": csrf_token(client, "/account/"), **(data or {})})


def audit_entries(action: str) -> list[AuditEntry]:
    db.session.commit()
    return list(db.session.scalars(select(AuditEntry).where(AuditEntry.action == action)))


def socket_events(sio) -> list[dict]:
    """What the server sent this test socket (readable even after the server closed it)."""
    return list(sio.queue)


# --- logout ends the session on the server ------------------------------------------------------------


def test_a_cookie_copied_before_logout_gets_the_login_page_afterwards(app, client, member):
    login(client, "bt.tuphap")
    copied = client.get_cookie("cabinet_session").value
    assert client.get("/account/").status_code == 200

    assert post(client, "/logout").status_code == 302

    thief = app.test_client()
    thief.set_cookie("cabinet_session", copied)
    response = thief.get("/account/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")
    assert rows(member.id)[0].revoked_reason == "logout"


def test_a_cookie_copied_before_logout_opens_no_socket(app, client, member):
    login(client, "bt.tuphap")
    copied = client.get_cookie("cabinet_session").value
    assert connect(app, flask_test_client=client).is_connected()  # the allowed case, before

    post(client, "/logout")

    thief = app.test_client()
    thief.set_cookie("cabinet_session", copied)
    assert not connect(app, flask_test_client=thief).is_connected()


def test_login_records_the_device(app, member):
    long_agent = CHROME_WINDOWS + " x" * 300
    browser(app, user_agent=long_agent)
    [row] = rows(member.id)
    assert row.user_agent == long_agent[:255]
    assert row.ip == "127.0.0.1"
    assert row.revoked_at is None
    assert len(row.token_hash) == 64  # only the digest is stored, never the cookie's token


def test_last_seen_is_written_every_few_minutes_not_at_every_page(app, member):
    laptop = browser(app)
    [row] = rows(member.id)
    first_seen = row.last_seen_at
    laptop.get("/account/")
    assert rows(member.id)[0].last_seen_at == first_seen
    db.session.execute(update(BrowserSession).values(last_seen_at=first_seen - timedelta(minutes=6)))
    db.session.commit()
    laptop.get("/account/")
    assert rows(member.id)[0].last_seen_at > first_seen - timedelta(minutes=1)


def test_a_session_ends_at_its_maximum_age_whatever_the_activity(app, member):
    laptop = browser(app)
    age_browser_sessions(timedelta(hours=11, minutes=59))
    assert laptop.get("/account/").status_code == 200
    age_browser_sessions(timedelta(hours=12, minutes=1))
    response = laptop.get("/account/")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    follow = laptop.get(response.headers["Location"])
    # The session (and its language) is gone: the login page says so in Vietnamese.
    assert "Phiên làm việc đã kết thúc" in follow.get_data(as_text=True)


# --- your devices -----------------------------------------------------------------------------------


def test_the_account_page_lists_ones_devices_and_marks_this_one(app, member, make_user):
    make_user("bt.khac")
    browser(app, "bt.khac", user_agent=FIREFOX_LINUX)  # someone else's: not listed
    browser(app, user_agent=SAFARI_IPAD)
    laptop = browser(app, user_agent=CHROME_WINDOWS)

    page = laptop.get("/account/").get_data(as_text=True)

    assert "Your devices" in page
    assert "Chrome on Windows" in page and "Safari on iPad" in page
    assert "Firefox on Linux" not in page
    assert page.count("This device") == 1
    assert "Log out all other devices" in page


def test_logging_out_another_device_ends_it_and_is_audited(app, member):
    tablet = browser(app, user_agent=SAFARI_IPAD)
    laptop = browser(app)
    tablet_row = rows(member.id)[0]

    response = post(laptop, f"/account/sessions/{tablet_row.id}/revoke")

    assert response.status_code == 302
    assert tablet.get("/account/").headers["Location"].startswith("/login")
    assert laptop.get("/account/").status_code == 200
    assert rows(member.id)[0].revoked_reason == "logout_other_device"
    [entry] = audit_entries("auth.session_revoked")
    assert entry.actor_id == member.id and entry.details["count"] == 1


def test_nobody_can_log_out_another_persons_device(app, member, make_user):
    other = make_user("bt.khac")
    victim = browser(app, "bt.khac")
    [victim_row] = rows(other.id)
    laptop = browser(app)

    response = post(laptop, f"/account/sessions/{victim_row.id}/revoke")

    assert response.status_code == 404
    assert victim.get("/account/").status_code == 200
    assert rows(other.id)[0].revoked_at is None
    assert audit_entries("auth.session_revoked") == []
    assert post(laptop, "/account/sessions/999999/revoke").status_code == 404


def test_revoking_a_device_needs_the_csrf_token(app, member):
    tablet = browser(app, user_agent=SAFARI_IPAD)
    laptop = browser(app)
    response = laptop.post(f"/account/sessions/{rows(member.id)[0].id}/revoke")
    assert response.status_code == 400
    assert tablet.get("/account/").status_code == 200


def test_log_out_all_other_devices_keeps_this_one(app, member):
    phone, tablet = browser(app, user_agent=SAFARI_IPAD), browser(app, user_agent=FIREFOX_LINUX)
    laptop = browser(app)

    response = post(laptop, "/account/sessions/revoke-others")

    assert response.status_code == 302
    assert "2 other devices were logged out" in laptop.get("/account/").get_data(as_text=True)
    for other in (phone, tablet):
        assert other.get("/account/").status_code == 302
    assert [row.revoked_reason for row in rows(member.id)] == ["logout_all_others"] * 2 + [None]
    [entry] = audit_entries("auth.session_revoked")
    assert entry.details["count"] == 2


def test_disabling_a_user_revokes_all_their_sessions(app, admin, member):
    laptop, tablet = browser(app), browser(app, user_agent=SAFARI_IPAD)
    users_service.set_active(admin, member.id, False)
    assert {row.revoked_reason for row in rows(member.id)} == {"disabled"}
    assert laptop.get("/").status_code == 302 and tablet.get("/").status_code == 302


def test_a_password_reset_revokes_all_sessions(app, admin, member):
    browser(app)
    users_service.reset_password(admin, member.id)
    assert {row.revoked_reason for row in rows(member.id)} == {"password_reset"}


def test_lowering_someones_role_revokes_their_sessions(app, admin, member):
    laptop = browser(app)
    users_service.update_user(admin, member.id, users_service.UserData(role="guest"))
    assert {row.revoked_reason for row in rows(member.id)} == {"access_changed"}
    assert laptop.get("/").status_code == 302


def test_changing_ones_password_ends_the_other_devices_and_keeps_this_one(app, member):
    tablet = browser(app, user_agent=SAFARI_IPAD)
    laptop = browser(app)
    response = post(laptop, "/account/password", {"current_password": PASSWORD,
                                                  "new_password": "another-long-passphrase",
                                                  "confirm": "another-long-passphrase"})
    assert response.status_code == 302
    assert laptop.get("/account/").status_code == 200
    assert tablet.get("/account/").status_code == 302
    reasons = [row.revoked_reason for row in rows(member.id)]
    assert reasons == ["password_changed", "password_changed", None]  # this device: a new session


# --- sockets --------------------------------------------------------------------------------------------


def test_logging_out_a_device_closes_its_open_socket_at_once(app, member):
    tablet, laptop = browser(app, user_agent=SAFARI_IPAD), browser(app)
    tablet_socket = connect(app, flask_test_client=tablet)
    laptop_socket = connect(app, flask_test_client=laptop)
    assert tablet_socket.is_connected() and laptop_socket.is_connected()

    post(laptop, f"/account/sessions/{rows(member.id)[0].id}/revoke")

    assert not tablet_socket.is_connected()
    ended = [m for m in socket_events(tablet_socket) if m["name"] == "session.ended"]
    assert ended and ended[0]["args"][0] == {"reason": "logout_other_device"}
    assert laptop_socket.is_connected()  # the device that asked keeps its socket
    assert not any(m["name"] == "session.ended" for m in socket_events(laptop_socket))


def test_logging_out_closes_the_sockets_of_this_browser(app, member):
    laptop = browser(app)
    sio = connect(app, flask_test_client=laptop)
    post(laptop, "/logout")
    assert not sio.is_connected()
    assert any(m["name"] == "session.ended" for m in socket_events(sio))


def test_disabling_a_user_closes_their_sockets_at_once(app, admin, member):
    admin_id, member_id = admin.id, member.id  # read now: the test's session must hold no lock below
    sio = connect(app, flask_test_client=browser(app))
    with fresh_context(app):
        users_service.set_active(db.session.get(User, admin_id), member_id, False)
    assert not sio.is_connected()
    assert any(m["name"] == "session.ended" for m in socket_events(sio))


def test_a_session_revoked_in_another_process_refuses_the_next_event(app, member):
    """Another worker revoked the row (its message did not reach this process): the shared guard
    refuses the socket's next event and closes it."""
    sio = connect(app, flask_test_client=browser(app))
    db.session.execute(update(BrowserSession).values(revoked_at=utcnow(), revoked_reason="logout"))
    db.session.commit()
    with fresh_context(app):
        ack = sio.emit("session.whoami", callback=True)
    assert not ack["ok"] and ack["error"]["code"] == "unauthenticated"
    assert not sio.is_connected()


def test_the_sweep_closes_sockets_whose_session_reached_its_maximum_age(app, member, make_user):
    make_user("bt.khac")
    old = connect(app, flask_test_client=browser(app))
    young = connect(app, flask_test_client=browser(app, "bt.khac"))
    db.session.execute(update(BrowserSession).where(BrowserSession.user_id == member.id)
                       .values(created_at=utcnow() - timedelta(hours=13)))
    db.session.commit()

    with fresh_context(app):
        closed = events.end_stale_sockets()

    assert closed == 1
    assert not old.is_connected()
    assert {"name": "session.ended", "args": [{"reason": "expired"}], "namespace": "/"} \
        in socket_events(old)
    assert young.is_connected()


def test_the_sweep_closes_sockets_of_sessions_revoked_elsewhere(app, member):
    sio = connect(app, flask_test_client=browser(app))
    db.session.execute(update(BrowserSession).values(revoked_at=utcnow(), revoked_reason="logout"))
    db.session.commit()
    with fresh_context(app):
        assert events.end_stale_sockets() == 1
    assert not sio.is_connected()
    assert any(m["args"] == [{"reason": "logout"}] for m in socket_events(sio))


def test_a_token_socket_is_not_swept(app, client, member):
    from tests.conftest import api_token

    sio = connect(app, auth={"token": api_token(client, "bt.tuphap")})
    with fresh_context(app):
        assert events.end_stale_sockets() == 0
    assert sio.is_connected()


# --- housekeeping ---------------------------------------------------------------------------------------


def test_the_job_deletes_sessions_ended_more_than_30_days_ago(app, member):
    now = utcnow()
    made = {}
    for name, created, revoked in (
        ("live", now - timedelta(hours=1), None),
        ("logged_out_recently", now - timedelta(days=20), now - timedelta(days=20)),
        ("logged_out_long_ago", now - timedelta(days=31), now - timedelta(days=31)),
        ("expired_recently", now - timedelta(days=29), None),
        ("expired_long_ago", now - timedelta(days=31, hours=13), None),
    ):
        row = BrowserSession(token_hash=f"{name:0<64}"[:64], user_id=member.id, created_at=created,
                             last_seen_at=created, user_agent="", revoked_at=revoked)
        db.session.add(row)
        db.session.flush()
        made[row.id] = name
    db.session.commit()

    deleted = jobs.prune_browser_sessions.call_local(now=now)

    assert deleted == 2
    left = {made[row.id] for row in rows(member.id)}
    assert left == {"live", "logged_out_recently", "expired_recently"}
    assert db.session.scalar(select(func.count()).select_from(BrowserSession)) == 3


def test_devices_are_named_in_plain_words():
    assert sessions.describe_user_agent(CHROME_WINDOWS) == ("Chrome", "Windows")
    assert sessions.describe_user_agent(SAFARI_IPAD) == ("Safari", "iPad")
    assert sessions.describe_user_agent(FIREFOX_LINUX) == ("Firefox", "Linux")
    edge = CHROME_WINDOWS + " Edg/131.0.0.0"
    assert sessions.describe_user_agent(edge) == ("Edge", "Windows")
    assert sessions.describe_user_agent("") == (None, None)
