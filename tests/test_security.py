"""Security review, as tests: headers, cookies, session fixation, CSRF on every form route, cookie-free
API, rate limits, and the virus scanner every upload passes through. Each rule is tested for the
refused case as well as the allowed one."""

from __future__ import annotations

import io
import re
import stat
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from flask import Flask
from sqlalchemy import func, select

from cabinet.audit.models import AuditEntry
from cabinet.ballots.models import BallotDocument
from cabinet.documents.models import Document, DocumentVersion
from cabinet.extensions import db, socketio
from cabinet.minutes.models import SigningKey
from tests.conftest import PASSWORD, api_token, csrf_token, login
from tests.test_ballots import draft as draft_ballot
from tests.test_documents import blank_pdf, published, stored_blobs
from tests.test_sessions import age_browser_sessions

PROJECT = Path(__file__).resolve().parent.parent
TEMPLATES = PROJECT / "templates"

# ClamAV's (and every scanner's) harmless test signature.
EICAR = rb"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"


def audit_actions(prefix: str = "") -> list[str]:
    stmt = select(AuditEntry.action).order_by(AuditEntry.seq)
    if prefix:
        stmt = stmt.where(AuditEntry.action.startswith(prefix))
    return list(db.session.scalars(stmt))


def logged_in(app: Flask, username: str):
    client = app.test_client()
    response = login(client, username)
    assert response.status_code == 302, response.get_data(as_text=True)
    return client


# --- headers ---------------------------------------------------------------------------------------


def assert_security_headers(response, *, hsts: bool = False) -> None:
    csp = response.headers.get("Content-Security-Policy", "")
    directives = dict((d.strip().split(" ", 1) + [""])[:2] for d in csp.split(";") if d.strip())
    assert directives.get("frame-ancestors") == "'none'", csp
    assert "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp, csp
    if "script-src" in directives:  # pages; a served PDF has default-src 'none' and no script at all
        assert directives["script-src"] == "'self'" and directives["style-src"] == "'self'", csp
        assert directives["object-src"] == "'none'", csp
        # The socket may reach this host only, never any host (a bare ws:/wss: source).
        assert not {"ws:", "wss:", "*"} & set(directives["connect-src"].split()), csp
    else:
        assert directives.get("default-src") == "'none'", csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert ("Strict-Transport-Security" in response.headers) is hsts


def test_security_headers_are_on_pages_api_static_files_and_errors(app, client, cabinet, meeting):
    document = published(cabinet["thuky"], meeting)
    answers = {
        "login page": client.get("/login"),
        "redirect to login": client.get("/meetings/"),
        "static file": client.get("/static/css/app.css"),
        "missing static file": client.get("/static/nothing-here.css"),
        "page not found": client.get("/no-such-page"),
        "method not allowed": client.delete("/login"),
        "API document": client.get("/api/v1/openapi.json"),
        "API without a token": client.get("/api/v1/me"),
        "API not found": client.get("/api/v1/no-such-thing"),
        "health probe": client.get("/healthz"),
    }
    member = logged_in(app, "bt.tuphap")
    answers["home"] = member.get("/")
    answers["forbidden page"] = member.get(f"/meetings/{meeting.id}/edit")
    answers["document content"] = member.get(f"/documents/{document.id}/content")
    answers["CSRF refusal"] = member.post("/logout")
    token = api_token(client, "bt.tuphap")
    answers["API answer"] = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    expected = {"login page": 200, "redirect to login": 302, "static file": 200, "missing static file": 404,
                "page not found": 404, "method not allowed": 405, "API document": 200,
                "API without a token": 401, "API not found": 404, "health probe": 200, "home": 200,
                "forbidden page": 403, "document content": 200, "CSRF refusal": 400, "API answer": 200}
    for name, response in answers.items():
        assert response.status_code == expected[name], name
        assert_security_headers(response)
    # Personal pages are never cached; static files may be.
    assert answers["home"].headers["Cache-Control"] == "no-store"
    assert answers["document content"].headers["Cache-Control"] == "no-store"
    assert answers["static file"].headers.get("Cache-Control") != "no-store"


def test_hsts_only_when_served_over_https(make_app, monkeypatch):
    plain = make_app()
    with plain.app_context():
        assert_security_headers(plain.test_client().get("/login"), hsts=False)
    monkeypatch.setenv("CABINET_HTTPS", "1")
    secure = make_app()
    with secure.app_context():
        response = secure.test_client().get("/login", base_url="https://cabinet.example")
        assert_security_headers(response, hsts=True)
        assert response.headers["Strict-Transport-Security"].startswith("max-age=31536000")
        # Over TLS the socket may use wss:// to this host only.
        assert "wss://cabinet.example" in response.headers["Content-Security-Policy"]
        assert "ws://" not in response.headers["Content-Security-Policy"]


def test_a_forged_host_header_cannot_inject_a_csp_directive(client):
    response = client.get("/login", headers={"Host": "evil.example; script-src *"})
    csp = response.headers["Content-Security-Policy"]
    assert "script-src *" not in csp and "evil" not in csp
    assert "connect-src 'self';" in csp


# --- no inline code: templates and the pages they render ---------------------------------------------

# Rendered by WeasyPrint into PDFs (cabinet/minutes/documents.py, cabinet/ballots/documents.py), never
# sent to a browser: the CSP does not apply to them, and their inline print styles are needed.
PRINT_TEMPLATES = {"_nd30_print.html", "_nd30_macros.html", "ballots/form.html", "ballots/report.html",
                   "minutes/_print.html", "minutes/print.html", "minutes/notice_print.html"}

INLINE_SCRIPT = re.compile(r"<script\b(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>", re.I)
INLINE_CODE = {
    "inline <script>": INLINE_SCRIPT,
    "<style> element": re.compile(r"<style\b", re.I),
    "style= attribute": re.compile(r"\sstyle\s*=", re.I),
    "on*= event handler": re.compile(r"<[^>]*\son[a-z]+\s*=", re.I),
    "javascript: URL": re.compile(r"javascript:", re.I),
}


def inline_code(html: str) -> list[str]:
    return [f"{name}: {match.group(0)[:80]!r}" for name, pattern in INLINE_CODE.items()
            for match in pattern.finditer(html)]


def test_no_template_served_to_a_browser_holds_inline_scripts_styles_or_handlers():
    problems = {}
    for path in sorted(TEMPLATES.rglob("*.html")):
        name = path.relative_to(TEMPLATES).as_posix()
        if name in PRINT_TEMPLATES:
            continue
        found = inline_code(path.read_text())
        if found:
            problems[name] = found
    assert not problems, f"inline code is refused by the CSP; move it to static/: {problems}"


def test_print_templates_are_only_rendered_into_pdfs():
    """The exemption above holds only while no page view renders a print template."""
    for source in (PROJECT / "cabinet").rglob("*.py"):
        text = source.read_text()
        for name in PRINT_TEMPLATES:
            assert f'render_template("{name}"' not in text, f"{source} serves print template {name}"


def test_the_scanner_catches_inline_code():
    """The denied case of the two tests above and below: the patterns do find inline code."""
    assert inline_code('<script>alert(1)</script>')
    assert inline_code('<p style="color: red">')
    assert inline_code('<button onclick="go()">')
    assert inline_code('<a href="javascript:go()">')
    assert not inline_code('<script type="module" src="/static/js/app.js"></script>')
    assert not inline_code('<script type="application/json" id="state">{"a": 1}</script>')
    assert not inline_code('<p class="note" data-onclick="x">')


def test_rendered_pages_hold_no_inline_code(app, cabinet, admin):
    from cabinet.live import service as live
    from tests.meeting_factories import room_meeting
    from tests.test_ballots import issued

    room = room_meeting(cabinet)
    document = published(cabinet["thuky"], room)
    live.open_meeting(cabinet["pm"], room.id)
    ballot = issued(cabinet)
    pages = [
        "/", "/meetings/", f"/meetings/{room.id}", f"/meetings/{room.id}/edit", f"/meetings/{room.id}/live",
        f"/meetings/{room.id}/projector", f"/meetings/{room.id}/board", f"/meetings/{room.id}/minutes",
        f"/meetings/{room.id}/documents/new", f"/documents/{document.id}", "/meetings/new", "/calendar",
        "/ballots", f"/ballots/{ballot.id}", "/ballots/new", "/notifications", "/search?q=Lu%E1%BA%ADt",
        "/account/", "/account/password", "/account/two-step", "/admin/users/", "/admin/users/new",
        "/admin/audit/", "/admin/signing-keys", "/minutes/verify", "/no-such-page",
    ]
    as_admin, as_chair = logged_in(app, "quantri"), logged_in(app, "thutuong")
    problems = {}
    for path in pages:
        response = as_admin.get(path)
        assert response.status_code in (200, 404), (path, response.status_code)
        found = inline_code(response.get_data(as_text=True))
        if found:
            problems[path] = found
    for path in (f"/meetings/{room.id}/live", f"/ballots/{ballot.id}", "/"):
        found = inline_code(as_chair.get(path).get_data(as_text=True))
        if found:
            problems["chair " + path] = found
    anonymous = app.test_client()
    for path in ("/login", "/login/verify"):
        found = inline_code(anonymous.get(path, follow_redirects=True).get_data(as_text=True))
        if found:
            problems[path] = found
    assert not problems, problems


# --- cookies ----------------------------------------------------------------------------------------


def session_cookie(response, name: str = "cabinet_session") -> str:
    cookies = [c for c in response.headers.getlist("Set-Cookie") if c.startswith(name + "=")]
    assert cookies, response.headers.getlist("Set-Cookie")
    return cookies[-1]


def test_the_session_cookie_is_httponly_and_samesite_and_no_remember_cookie_is_set(client, member):
    response = login(client, "bt.tuphap")
    cookie = session_cookie(response)
    attributes = {part.strip().split("=")[0].lower(): part for part in cookie.split(";")[1:]}
    assert "httponly" in attributes
    assert attributes["samesite"].strip().lower() in ("samesite=lax", "samesite=strict")
    assert "secure" not in attributes  # plain HTTP (development): a Secure cookie would never come back
    assert not [c for c in response.headers.getlist("Set-Cookie") if c.startswith("remember_token")]


def test_behind_https_the_session_cookie_is_secure_and_host_only(make_app, monkeypatch, make_user):
    monkeypatch.setenv("CABINET_HTTPS", "1")
    app = make_app()
    with app.app_context():
        assert app.config["REMEMBER_COOKIE_SECURE"] and app.config["REMEMBER_COOKIE_HTTPONLY"]
        make_user("bt.tuphap")
        client = app.test_client()
        token = csrf_token(client, "https://cabinet.example/login")
        form = {"username": "bt.tuphap", "password": PASSWORD, "csrf_token": token}
        # Over HTTPS a form must also come from a page of this site (Flask-WTF's Referer check).
        assert client.post("/login", base_url="https://cabinet.example", data=form).status_code == 400
        response = client.post("/login", base_url="https://cabinet.example", data=form,
                               headers={"Referer": "https://cabinet.example/login"})
        assert response.status_code == 302
        cookie = session_cookie(response, "__Host-cabinet_session")
        parts = [p.strip().lower() for p in cookie.split(";")[1:]]
        assert "secure" in parts and "httponly" in parts and "path=/" in parts
        assert not [p for p in parts if p.startswith("domain=")]  # "__Host-": this host only
        assert client.get("/", base_url="https://cabinet.example").status_code == 200


# --- session fixation -------------------------------------------------------------------------------


def cookie_value(client, name: str = "cabinet_session") -> str | None:
    cookie = client.get_cookie(name)
    return cookie.value if cookie else None


def test_a_session_from_before_login_is_worthless_after_it(app, client, member):
    """Session fixation: a cookie (and its CSRF token) handed out before login, e.g. planted by an
    attacker, identifies nobody once the user has logged in: login starts a new session."""
    old_token = csrf_token(client, "/login")
    before = cookie_value(client)
    with client.session_transaction() as session:
        session["planted"] = "by-an-attacker"
    planted = cookie_value(client)
    assert login(client, "bt.tuphap").status_code == 302
    after = cookie_value(client)
    assert after not in (before, planted)
    with client.session_transaction() as session:
        assert "planted" not in session and session.get("_user_id")
        assert session.get("csrf_token") is None  # a new CSRF secret is made on the next form
    new_token = csrf_token(client, "/account/password")
    assert new_token != old_token

    # The pre-login CSRF token no longer passes (denied) …
    assert client.post("/logout", data={"csrf_token": old_token}).status_code == 400
    assert client.get("/").status_code == 200
    # … and the attacker's copy of the pre-login cookie is still anonymous (denied).
    attacker = app.test_client()
    attacker.set_cookie("cabinet_session", planted)
    assert attacker.get("/").status_code == 302
    # The new token works (allowed).
    assert client.post("/logout", data={"csrf_token": new_token}).status_code == 302


def test_the_password_step_of_a_two_step_login_does_not_log_in(app, client, member):
    import pyotp

    from cabinet.auth import service as auth_service

    secret = pyotp.random_base32()
    auth_service.enable_totp(member, secret, pyotp.TOTP(secret).now())
    login(client, "bt.tuphap")
    with client.session_transaction() as session:
        assert session.get("pending_user") and not session.get("_user_id")
    assert client.get("/").status_code == 302  # denied until the code is given


def test_the_verify_step_does_not_log_out_a_logged_in_user(app, client, member):
    """GET /login/verify used to clear the session of whoever opened it: a link or an image on any
    site logged the user out without the CSRF check that POST /logout has."""
    login(client, "bt.tuphap")
    response = client.get("/login/verify")
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert client.get("/").status_code == 200  # still logged in
    anonymous = app.test_client()
    response = anonymous.get("/login/verify")  # no password step: back to the login page
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


@pytest.mark.parametrize("target", ["//evil.example/x", "/\\evil.example/x", "https://evil.example/",
                                    "/\tevil.example", "javascript:alert(1)"])
def test_the_next_parameter_never_leaves_the_site(client, member, target):
    response = login(client, "bt.tuphap", query_string={"next": target})
    location = response.headers["Location"]
    assert response.status_code == 302
    assert location.startswith("/") and not location.startswith("//") and "\\" not in location
    assert urlsplit(location).netloc == ""
    token = csrf_token(client, "/")
    response = client.post("/language/en", data={"csrf_token": token, "next": target})
    assert urlsplit(response.headers["Location"]).netloc == "" and \
        not response.headers["Location"].startswith("//")
    # The allowed case: a path of this site is kept.
    kept = client.post("/language/en", data={"csrf_token": token, "next": "/meetings/"})
    assert kept.headers["Location"] == "/meetings/"


def test_a_temporary_password_opens_no_socket(app, client, cabinet, admin, room):
    """A password reset by an administrator is known to them: until the member has chosen their own,
    the pages and the API allow only the password change — and so do the sockets (before this fix, a
    socket opened with the temporary password could cast the member's vote)."""
    from cabinet.auth import service as auth_service
    from cabinet.live import service as live
    from cabinet.users import service as users_service
    from tests.test_live_socket import fresh_context

    live.open_meeting(cabinet["pm"], room.id)
    live.check_in(cabinet["tuphap"], room.id)
    vote_id = live.open_vote(cabinet["pm"], room.id, question="Thông qua?").id
    temporary = users_service.reset_password(admin, cabinet["tuphap"].id)
    db.session.commit()
    assert login(client, "bt.tuphap", temporary).headers["Location"] == "/account/password"
    raw, _token = auth_service.issue_token(db.session.get(type(admin), cabinet["tuphap"].id))
    with fresh_context(app):
        by_cookie = socketio.test_client(app, flask_test_client=client)
        by_token = socketio.test_client(app, auth={"token": raw})
    assert not by_cookie.is_connected() and not by_token.is_connected()

    token = csrf_token(client, "/account/password")
    client.post("/account/password", data={"current_password": temporary, "csrf_token": token,
                                           "new_password": "my-own-new-passphrase",
                                           "confirm": "my-own-new-passphrase"})
    with fresh_context(app):
        tablet = socketio.test_client(app, flask_test_client=client)
        assert tablet.is_connected()  # the allowed case: with their own password
        ack = tablet.emit("vote.cast", {"vote_id": vote_id, "choice": "for"}, callback=True)
    assert ack["ok"], ack


def test_an_expired_session_opens_no_socket(app, client, member):
    from tests.test_live_socket import fresh_context

    login(client, "bt.tuphap")
    with fresh_context(app):
        fresh = socketio.test_client(app, flask_test_client=client)
    assert fresh.is_connected()
    age_browser_sessions(timedelta(hours=13))
    with fresh_context(app):
        stale = socketio.test_client(app, flask_test_client=client)
    assert not stale.is_connected()


def test_sockets_refuse_another_sites_pages(client):
    """Cross-site WebSocket hijacking: a page of another site cannot open a socket with the user's
    cookie (Socket.IO checks the Origin; only this site's own pages connect)."""
    handshake = "/socket.io/?EIO=4&transport=polling"
    assert client.get(handshake, headers={"Origin": "https://evil.example"}).status_code == 400
    assert client.get(handshake, headers={"Origin": "http://localhost"}).status_code == 200


# --- CSRF on every form route -----------------------------------------------------------------------

WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


def _sample_url(app: Flask, rule) -> str:
    values = {}
    for name, converter in rule._converters.items():
        kind = type(converter).__name__
        if kind == "IntegerConverter":
            values[name] = 1
        elif kind == "AnyConverter":
            values[name] = sorted(converter.items)[0] if hasattr(converter, "items") else \
                re.search(r"\(([^|)]+)", converter.regex).group(1)
        else:
            values[name] = "x"
    with app.test_request_context():
        from flask import url_for

        return url_for(rule.endpoint, **values)


def page_write_rules(app: Flask):
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("api.") or rule.endpoint == "static":
            continue
        for method in sorted((rule.methods or set()) & WRITE_METHODS):
            yield rule, method


def test_every_state_changing_page_route_refuses_a_request_without_csrf_token(app, admin):
    client = logged_in(app, "quantri")
    checked = []
    for rule, method in page_write_rules(app):
        url = _sample_url(app, rule)
        response = client.open(url, method=method, data={}, headers={"Accept": "application/json"})
        assert response.status_code == 400, (rule.endpoint, method, response.status_code)
        assert response.get_json()["error"]["code"] == "csrf_failed", (rule.endpoint, method)
        checked.append(rule.endpoint)
        # A token from another session is refused just the same.
        forged = client.open(url, method=method, data={"csrf_token": "forged"},
                             headers={"Accept": "application/json", "X-CSRFToken": "forged"})
        assert forged.status_code == 400, (rule.endpoint, method)
    assert len(checked) > 60 and "auth.logout" in checked and "minutes.autosave" in checked
    # The allowed case: with the session's token the request reaches the view.
    token = csrf_token(client, "/account/")
    assert client.post("/notifications/read-all", data={"csrf_token": token}).status_code == 302
    autosave = client.put("/minutes/1/draft", json={}, headers={"X-CSRFToken": token})
    assert autosave.status_code == 422  # the header token passes; the (empty) body does not
    assert autosave.get_json()["error"]["code"] == "validation_error"
    assert client.get("/").status_code == 200  # still logged in: nothing above logged out


def test_every_api_route_refuses_a_browser_session_cookie(app, client, admin):
    """The API is exempt from CSRF because it never reads the session cookie: a logged-in browser
    gets 401 from every endpoint that needs a user (denied); a bearer token works (allowed)."""
    from cabinet.api.framework import OPERATIONS

    public = {(op.method, "/api/v1" + op.path) for op in OPERATIONS if not op.auth}
    login(client, "quantri")
    assert client.get("/").status_code == 200
    checked = 0
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("api."):
            continue
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            if (method, rule.rule) in public:
                continue
            response = client.open(_sample_url(app, rule), method=method, json={})
            assert response.status_code == 401, (rule.endpoint, method, response.status_code)
            checked += 1
    assert checked > 70
    token = api_token(client, "quantri")
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200


# --- rate limits ------------------------------------------------------------------------------------


def test_the_token_endpoint_is_rate_limited_per_address(make_app, make_user):
    app = make_app(RATELIMIT_ENABLED=True, CABINET_LOGIN_RATE_LIMIT="3 per minute")
    with app.app_context():
        make_user("bt.tuphap")
        client = app.test_client()
        body = {"username": "bt.tuphap", "password": "wrong-password"}
        statuses = [client.post("/api/v1/auth/token", json=body).status_code for _ in range(3)]
        assert statuses == [401, 401, 401]  # allowed to try (and told the password is wrong)
        refused = client.post("/api/v1/auth/token", json={"username": "bt.tuphap", "password": PASSWORD})
        assert refused.status_code == 429 and refused.headers["Retry-After"]
        assert refused.get_json()["error"]["code"] == "too_many_requests"
        other = client.post("/api/v1/auth/token", json={"username": "bt.tuphap", "password": PASSWORD},
                            environ_base={"REMOTE_ADDR": "10.0.0.9"})
        assert other.status_code == 201  # another address is not affected


@pytest.fixture
def limited(make_app):
    """An app with rate limits on and two uploads per minute per user, its secretariat, an
    administrator and a meeting (built here: the usual fixtures belong to another app)."""
    from cabinet.users import service as users_service
    from tests.meeting_factories import schedule

    app = make_app(RATELIMIT_ENABLED=True, CABINET_UPLOAD_RATE_LIMIT="2 per minute")
    with app.app_context():
        people = {}
        for username, role in (("thuky", "secretariat"), ("thuky2", "secretariat"), ("quantri", "admin"),
                               ("thutuong", "member"), ("bt.tuphap", "member")):
            people[username] = users_service.create_user(None, users_service.UserData(
                username=username, full_name=username.title(), role=role), PASSWORD)
        people["meeting"] = schedule(people["thuky"], chair=people["thutuong"],
                                     members=[people["bt.tuphap"]], secretaries=[people["thuky"]])
        app.people = people
        yield app


def upload_page(client, meeting, data: bytes, name: str = "to-trinh.pdf"):
    path = f"/meetings/{meeting.id}/documents/new"
    return client.post(path, content_type="multipart/form-data", data={
        "csrf_token": csrf_token(client, path), "title": "Tờ trình", "doc_type": "to_trinh",
        "secrecy": "none", "urgency": "none", "agenda_item_id": "", "file": (io.BytesIO(data), name)})


def upload_api(client, token, meeting, data: bytes, name: str = "to-trinh.pdf"):
    return client.post(f"/api/v1/meetings/{meeting.id}/documents", content_type="multipart/form-data",
                       headers={"Authorization": f"Bearer {token}", "Accept-Language": "en"},
                       data={"title": "Tờ trình", "doc_type": "to_trinh", "secrecy": "none",
                             "urgency": "none", "file": (io.BytesIO(data), name)})


def add_version_page(client, document, data: bytes):
    path = f"/documents/{document.id}"
    return client.post(f"{path}/versions", content_type="multipart/form-data", data={
        "csrf_token": csrf_token(client, path), "file": (io.BytesIO(data), "v2.pdf")})


def dossier_page(client, ballot, data: bytes):
    return client.post(f"/ballots/{ballot.id}/documents", content_type="multipart/form-data", data={
        "csrf_token": csrf_token(client, f"/ballots/{ballot.id}"), "doc-title": "Dự thảo Nghị định",
        "doc-doc_type": "du_thao", "doc-secrecy": "none", "doc-file": (io.BytesIO(data), "du-thao.pdf")})


def signing_key_page(client, user, data: bytes):
    return client.post("/admin/signing-keys", content_type="multipart/form-data", data={
        "csrf_token": csrf_token(client, "/admin/signing-keys"), "key-user": str(user.id),
        "key-passphrase": "passphrase", "key-file": (io.BytesIO(data), "key.p12")})


def verify_page(client, data: bytes):
    return client.post("/minutes/verify", content_type="multipart/form-data", data={
        "csrf_token": csrf_token(client, "/minutes/verify"), "file": (io.BytesIO(data), "bien-ban.pdf")})


def verify_api(client, token, data: bytes):
    return client.post("/api/v1/verify", content_type="multipart/form-data",
                       headers={"Authorization": f"Bearer {token}", "Accept-Language": "en"},
                       data={"file": (io.BytesIO(data), "bien-ban.pdf")})


def test_uploads_are_rate_limited_per_user_across_pages_and_api(limited):
    meeting = limited.people["meeting"]
    staff = logged_in(limited, "thuky")
    token = api_token(limited.test_client(), "thuky")
    assert upload_page(staff, meeting, blank_pdf(1)).status_code == 302
    assert upload_api(limited.test_client(), token, meeting, blank_pdf(2)).status_code == 201
    # The third upload within the minute, through either door, is refused and nothing is kept.
    refused = upload_api(limited.test_client(), token, meeting, blank_pdf(3))
    assert refused.status_code == 429 and refused.headers["Retry-After"]
    assert refused.get_json()["error"]["code"] == "upload_rate_limited"
    assert upload_page(staff, meeting, blank_pdf(3)).status_code == 429
    assert db.session.scalar(select(func.count()).select_from(Document)) == 2
    # Per user: another member of the secretariat, from the same address, may still upload.
    other = logged_in(limited, "thuky2")
    assert upload_page(other, meeting, blank_pdf(4)).status_code == 302


@pytest.mark.parametrize("kind", ["version", "dossier", "signing_key", "verify_page", "verify_api"])
def test_every_kind_of_upload_counts_towards_the_limit(limited, kind):
    people = limited.people
    admin, document = people["quantri"], published(people["thuky"], people["meeting"])
    ballot = draft_ballot({"thuky": people["thuky"]})
    actor = "quantri" if kind == "signing_key" else "thuky"
    client = logged_in(limited, actor)
    token = api_token(limited.test_client(), actor)

    def send():
        if kind == "version":
            return add_version_page(client, document, blank_pdf(2))
        if kind == "dossier":
            return dossier_page(client, ballot, blank_pdf(1))
        if kind == "signing_key":
            return signing_key_page(client, admin, b"not a key")
        if kind == "verify_page":
            return verify_page(client, blank_pdf(1))
        return verify_api(limited.test_client(), token, blank_pdf(1))

    first, second, third = send(), send(), send()
    assert first.status_code != 429 and second.status_code != 429, (first.status_code, second.status_code)
    assert third.status_code == 429, third.get_data(as_text=True)[:300]


def test_uploads_are_not_limited_when_rate_limits_are_off(app, cabinet, meeting):
    staff = logged_in(app, "thuky")
    assert [upload_page(staff, meeting, blank_pdf(n)).status_code for n in (1, 2, 3)] == [302, 302, 302]


# --- the virus scanner ------------------------------------------------------------------------------

FAKE_SCANNER = """#!/bin/sh
# A stand-in for clamdscan: "finds" a virus in any file holding the EICAR test string.
for file; do :; done  # the last argument
if grep -q 'EICAR-STANDARD-ANTIVIRUS-TEST-FILE' "$file"; then
  echo "$file: Eicar-Test-Signature FOUND"
  exit 1
fi
echo "$file: OK"
exit 0
"""


def script(tmp_path: Path, name: str, body: str) -> Path:
    path = tmp_path / name
    path.write_text(body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


@pytest.fixture
def scanner(app, tmp_path, cabinet):
    """Turn scanning on with the fake scanner; returns a function to swap in another command.
    The cabinet's pages are in English, for the messages checked."""
    for user in cabinet.values():
        user.locale = "en"
    db.session.commit()
    fake = script(tmp_path, "fake-clamdscan", FAKE_SCANNER)
    app.config["CABINET_UPLOAD_SCAN_COMMAND"] = f"{fake} --no-summary {{path}}"

    def use(command: str) -> None:
        app.config["CABINET_UPLOAD_SCAN_COMMAND"] = command

    return use


def infected_pdf() -> bytes:
    """A well-formed PDF carrying the test signature after its end: only a scanner refuses it."""
    return blank_pdf(1) + b"\n%" + EICAR + b"\n"


def test_scanning_is_off_unless_configured(app, cabinet, meeting):
    assert app.config["CABINET_UPLOAD_SCAN_COMMAND"] is None
    staff = logged_in(app, "thuky")
    assert upload_page(staff, meeting, infected_pdf()).status_code == 302


def test_a_clean_upload_passes_the_scanner_and_is_kept(app, cabinet, meeting, scanner):
    staff = logged_in(app, "thuky")
    before = len(stored_blobs())
    assert upload_page(staff, meeting, blank_pdf(2)).status_code == 302
    assert len(stored_blobs()) == before + 1
    assert "upload.infected" not in audit_actions()


def test_an_infected_upload_is_refused_with_422_audited_and_not_kept(app, cabinet, meeting, scanner):
    staff = logged_in(app, "thuky")
    before = len(stored_blobs())
    response = upload_page(staff, meeting, infected_pdf(), name="tai-lieu.pdf")
    assert response.status_code == 422
    assert "The file was refused by the virus scanner." in response.get_data(as_text=True)
    assert len(stored_blobs()) == before
    assert db.session.scalar(select(func.count()).select_from(Document)) == 0
    entry = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "upload.infected")).one()
    assert entry.actor_id == cabinet["thuky"].id
    assert entry.details["what"] == "document" and entry.details["filename"] == "tai-lieu.pdf"
    assert "FOUND" in entry.details["scanner"] and len(entry.details["sha256"]) == 64
    assert not [p for p in (Path(app.config["CABINET_STORAGE_DIR"]) / "tmp").glob("*")]  # no leftovers


def test_the_api_answers_an_infected_upload_with_a_clear_422(app, client, cabinet, meeting, scanner):
    token = api_token(client, "thuky")
    response = upload_api(client, token, meeting, infected_pdf())
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "virus_found"
    assert error["message"] == "The file was refused by the virus scanner."
    assert error["details"]["fields"] == [{"field": "file",
                                           "message": "The file was refused by the virus scanner."}]
    assert upload_api(client, token, meeting, blank_pdf(1)).status_code == 201


@pytest.mark.parametrize("kind", ["version", "dossier", "signing_key", "verify_page", "verify_api"])
def test_every_kind_of_upload_is_scanned(app, client, make_user, cabinet, meeting, scanner, kind):
    admin = make_user("quantri", role="admin", locale="en")
    document = published(cabinet["thuky"], meeting)
    ballot = draft_ballot(cabinet)
    actor = "quantri" if kind == "signing_key" else "thuky"
    browser = logged_in(app, actor)
    token = api_token(client, actor)

    def send(data: bytes):
        if kind == "version":
            return add_version_page(browser, document, data)
        if kind == "dossier":
            return dossier_page(browser, ballot, data)
        if kind == "signing_key":
            return signing_key_page(browser, admin, data)
        if kind == "verify_page":
            return verify_page(browser, data)
        return verify_api(client, token, data)

    refused = send(infected_pdf())
    assert refused.status_code == 422, refused.get_data(as_text=True)[:500]
    entry = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "upload.infected")).one()
    assert entry.details["what"] == {"version": "document", "dossier": "ballot_document",
                                     "signing_key": "signing_key"}.get(kind, "verify")
    assert len(db.session.get(Document, document.id).versions) == 1
    assert db.session.scalar(select(func.count()).select_from(BallotDocument)) == 0
    assert db.session.scalar(select(func.count()).select_from(SigningKey)) == 0
    assert "minutes.verified" not in audit_actions()

    # The allowed case: a clean file goes on to the usual checks.
    clean = send(blank_pdf(1))
    if kind == "signing_key":
        assert clean.status_code == 422 and "cannot be opened" in clean.get_data(as_text=True)
    else:
        assert clean.status_code in (200, 302), clean.get_data(as_text=True)[:500]
    if kind in ("version", "dossier", "signing_key", "verify_page"):
        assert "The file was refused by the virus scanner." in refused.get_data(as_text=True)
    assert audit_actions("upload.") == ["upload.infected"]


@pytest.mark.parametrize("command, reason", [
    ("exit 2", "exit status 2"),
    ("sleep 5", "timeout"),
    ("missing", "not started"),
])
def test_a_failing_scanner_refuses_the_upload_with_503(app, client, cabinet, meeting, scanner, tmp_path,
                                                      command, reason):
    """Fail closed: when the scanner cannot say the file is clean, the file is not kept."""
    if command == "missing":
        scanner(str(tmp_path / "no-such-scanner") + " {path}")
    else:
        scanner(str(script(tmp_path, "scanner", f"#!/bin/sh\n{command}\n")) + " {path}")
    app.config["CABINET_UPLOAD_SCAN_TIMEOUT"] = 1
    token = api_token(client, "thuky")
    before = len(stored_blobs())
    response = upload_api(client, token, meeting, blank_pdf(1))
    assert response.status_code == 503
    assert response.get_json()["error"]["code"] == "scanner_unavailable"
    assert len(stored_blobs()) == before
    assert db.session.scalar(select(func.count()).select_from(DocumentVersion)) == 0
    entry = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "upload.scan_failed")).one()
    assert reason in entry.details["reason"]

    staff = logged_in(app, "thuky")
    page = upload_page(staff, meeting, blank_pdf(1))
    assert page.status_code == 503 and "virus scanner" in page.get_data(as_text=True)


def test_the_scanner_is_given_the_file_in_place_of_the_path_placeholder(app, cabinet, meeting, scanner,
                                                                        tmp_path):
    seen = tmp_path / "seen.txt"
    recorder = script(tmp_path, "recorder", f'#!/bin/sh\necho "$@" > {seen}\nexit 0\n')
    scanner(f"{recorder} --fdpass {{path}} --no-summary")
    staff = logged_in(app, "thuky")
    assert upload_page(staff, meeting, blank_pdf(1)).status_code == 302
    args = seen.read_text().split()
    assert args[0] == "--fdpass" and args[2] == "--no-summary"
    assert Path(args[1]).parent.name == "tmp" and args[1].endswith(".part")
    scanner(str(recorder))  # no placeholder: the path is appended
    assert upload_page(staff, meeting, blank_pdf(2)).status_code == 302
    assert seen.read_text().split()[0].endswith(".part")
