"""Polish for the secretariat's desktops and the members' tablets, told from the server's side:
uploads sent by the progress-bar script get clear JSON answers (and nothing half-written when they
are refused), list pages say what to do when they are empty, and Vietnamese pages show dates the
Vietnamese way, never as ISO dates."""

from __future__ import annotations

import io
import re
from datetime import timedelta
from html.parser import HTMLParser

from sqlalchemy import func, select

from cabinet.documents.models import Document, DocumentVersion
from cabinet.extensions import db
from tests.conftest import csrf_token, login
from tests.test_documents import blank_pdf, make_meeting, stored_blobs, upload

JSON = {"Accept": "application/json", "X-Requested-With": "XMLHttpRequest"}


def _staff(make_user, locale: str = "en"):
    return make_user("thuky", role="secretariat", clearance="tuyet_mat", full_name="Trần Thị Thu Hà",
                     organisation="Văn phòng Chính phủ", locale=locale)


def _upload_form(client, path: str, data: bytes, filename: str = "to-trinh.pdf", **fields):
    return {"csrf_token": csrf_token(client, path), "title": "Tờ trình dự án Luật Đất đai",
            "doc_type": "to_trinh", "secrecy": "none", "urgency": "none", "agenda_item_id": "",
            "file": (io.BytesIO(data), filename), **fields}


def _post_upload(client, path: str, form: dict):
    return client.post(path, content_type="multipart/form-data", data=form, headers=JSON)


def _nothing_kept() -> None:
    assert db.session.scalar(select(func.count()).select_from(Document)) == 0
    assert db.session.scalar(select(func.count()).select_from(DocumentVersion)) == 0
    assert stored_blobs() == []


def _error(response) -> dict:
    assert response.mimetype == "application/json", response.get_data(as_text=True)[:300]
    return response.get_json()["error"]


# --- uploads answered in JSON for the progress bar ---------------------------------------------------


def test_an_upload_sent_by_the_script_gets_the_document_page_to_go_to(app, client, make_user):
    _staff(make_user)
    meeting = make_meeting()
    login(client, "thuky")
    new = f"/meetings/{meeting.id}/documents/new"
    response = _post_upload(client, new, _upload_form(client, new, blank_pdf(2)))
    assert response.status_code == 201
    document = db.session.scalars(select(Document)).one()
    assert response.get_json() == {"redirect": f"/documents/{document.id}"}
    # The success message waits on the page the script goes to.
    assert "Document uploaded as a draft" in client.get(f"/documents/{document.id}").get_data(as_text=True)


def test_a_file_of_the_wrong_type_gets_422_naming_the_file_field_and_nothing_is_kept(app, client, make_user):
    _staff(make_user)
    meeting = make_meeting()
    login(client, "thuky")
    new = f"/meetings/{meeting.id}/documents/new"
    response = _post_upload(client, new, _upload_form(client, new, b"<html>not a pdf</html>" * 50))
    assert response.status_code == 422
    error = _error(response)
    assert error["code"] == "unsupported_type"
    assert "Only PDF and Word (DOCX) files are accepted" in error["message"]
    assert error["details"]["fields"] == [{"field": "file", "message": error["message"]}]
    _nothing_kept()


def test_a_file_past_the_limit_gets_413_saying_the_limit_and_nothing_is_kept(make_app, make_user):
    app = make_app(MAX_CONTENT_LENGTH=64 * 1024)
    with app.app_context():
        _staff(make_user)
        meeting = make_meeting()
        client = app.test_client()
        login(client, "thuky")
        new = f"/meetings/{meeting.id}/documents/new"
        response = _post_upload(client, new, _upload_form(client, new, blank_pdf(1) + b"\0" * (200 * 1024)))
        assert response.status_code == 413
        error = _error(response)
        assert error["code"] == "payload_too_large"
        assert error["message"] == "The file is larger than the limit of 0.0625 MB."
        _nothing_kept()
        # The page itself says the limit to the script, which refuses bigger files before sending.
        assert f'data-max-bytes="{64 * 1024}"' in client.get(new).get_data(as_text=True)


def test_a_form_without_a_file_gets_400_with_the_field_message(app, client, make_user):
    _staff(make_user)
    meeting = make_meeting()
    login(client, "thuky")
    new = f"/meetings/{meeting.id}/documents/new"
    form = _upload_form(client, new, b"", title="")
    del form["file"]
    response = _post_upload(client, new, form)
    assert response.status_code == 400
    fields = {f["field"]: f["message"] for f in _error(response)["details"]["fields"]}
    assert fields["file"] == "Choose a file to upload."
    assert fields["title"] == "This field is required."
    _nothing_kept()


def test_too_many_uploads_get_429_with_a_message_and_retry_after(make_app, make_user):
    app = make_app(RATELIMIT_ENABLED=True, CABINET_UPLOAD_RATE_LIMIT="1 per minute")
    with app.app_context():
        _staff(make_user)
        meeting = make_meeting()
        client = app.test_client()
        login(client, "thuky")
        new = f"/meetings/{meeting.id}/documents/new"
        assert _post_upload(client, new, _upload_form(client, new, blank_pdf(1))).status_code == 201
        response = _post_upload(client, new, _upload_form(client, new, blank_pdf(1)))
        assert response.status_code == 429
        assert "Too many uploads" in _error(response)["message"]
        assert int(response.headers["Retry-After"]) >= 1
        assert db.session.scalar(select(func.count()).select_from(Document)) == 1


def test_a_member_who_posts_to_the_upload_gets_403_in_json(app, client, make_user):
    _staff(make_user)
    minister = make_user("bt.tuphap", full_name="Phan Thị Ngọc Diệp")
    meeting = make_meeting(minister)
    login(client, "bt.tuphap")
    new = f"/meetings/{meeting.id}/documents/new"
    response = _post_upload(client, new, _upload_form(client, "/", blank_pdf(1)))
    assert response.status_code == 403
    assert _error(response)["message"]
    _nothing_kept()


def test_a_new_version_sent_by_the_script_redirects_or_says_what_is_wrong(app, client, make_user):
    staff = _staff(make_user)
    meeting = make_meeting()
    document = upload(staff, meeting, blank_pdf(1))
    login(client, "thuky")
    path = f"/documents/{document.id}/versions"
    page = f"/documents/{document.id}"
    html = client.get(page).get_data(as_text=True)
    assert "data-upload-progress" in html and 'data-role="upload-bar"' in html

    bad = {"csrf_token": csrf_token(client, page), "file": (io.BytesIO(b"plain text " * 100), "v2.pdf")}
    response = _post_upload(client, path, bad)
    assert response.status_code == 422
    assert _error(response)["details"]["fields"][0]["field"] == "file"
    assert db.session.scalar(select(func.count()).select_from(DocumentVersion)) == 1

    good = {"csrf_token": csrf_token(client, page), "file": (io.BytesIO(blank_pdf(3)), "v2.pdf")}
    response = _post_upload(client, path, good)
    assert response.status_code == 201
    assert response.get_json() == {"redirect": page}
    assert db.session.scalar(select(func.count()).select_from(DocumentVersion)) == 2


def test_without_the_script_the_forms_still_answer_with_pages(app, client, make_user):
    _staff(make_user)
    meeting = make_meeting()
    login(client, "thuky")
    new = f"/meetings/{meeting.id}/documents/new"
    form = _upload_form(client, new, b"not a pdf" * 100)
    response = client.post(new, content_type="multipart/form-data", data=form)
    assert response.status_code == 422 and response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    assert "Tờ trình dự án Luật Đất đai" in html  # the fields are kept
    response = client.post(new, content_type="multipart/form-data",
                           data=_upload_form(client, new, blank_pdf(1)))
    assert response.status_code == 302


# --- empty states: what is missing and what to do next, for the role ---------------------------------


def _text(client, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, path
    return " ".join(visible_text(response.get_data(as_text=True)).split())


def test_empty_lists_tell_the_secretariat_what_to_do_next(app, client, make_user):
    _staff(make_user)
    login(client, "thuky")
    meetings = _text(client, "/meetings/")
    assert "No upcoming meetings." in meetings and "Schedule the next meeting" in meetings
    assert 'class="btn" href="/meetings/new"' in client.get("/meetings/").get_data(as_text=True)
    meeting = make_meeting()
    ballots = client.get("/ballots").get_data(as_text=True)
    assert "No ballot yet." in ballots and 'href="/ballots/new">New ballot</a>' in ballots
    page = _text(client, f"/meetings/{meeting.id}")
    assert "The agenda is empty." in page and "Add the first item below" in page
    assert "No documents yet." in page and "Upload the dossier" in page
    filtered = _text(client, "/ballots?q=kh%C3%B4ng-c%C3%B3")
    assert "No ballot matches." in filtered and "Show all ballots" in filtered


def test_empty_lists_tell_a_member_what_will_happen(app, client, make_user):
    _staff(make_user)
    minister = make_user("bt.tuphap", full_name="Phan Thị Ngọc Diệp", locale="en")
    meeting = make_meeting(minister)
    login(client, "bt.tuphap")
    ballots = client.get("/ballots").get_data(as_text=True)
    assert "No ballot yet." in ballots
    assert "You will be notified when a ballot asks for your opinion." in ballots
    assert "/ballots/new" not in ballots  # no action a member cannot take
    page = _text(client, f"/meetings/{meeting.id}")
    assert "No documents have been sent to you for this meeting yet." in page
    assert "You will be notified when the secretariat sends the documents." in page
    assert "The secretariat has not published the agenda yet." in page
    calendar = _text(client, "/calendar")
    assert "No meetings this month or later." in calendar or "See all meetings" not in calendar
    search = _text(client, "/search?q=kh%C3%B4ng%20c%C3%B3%20g%C3%AC")
    assert "No document matches" in search and "Try fewer or other words" in search


def test_empty_admin_lists_offer_to_clear_the_filter(app, client, make_user):
    make_user("quantri", role="admin", locale="en")
    login(client, "quantri")
    users = _text(client, "/admin/users/?q=zzzz-kh%C3%B4ng-ai")
    assert "No account matches." in users and "Show all accounts" in users
    audit = _text(client, "/admin/audit/?action=kh%C3%B4ng.c%C3%B3")
    assert "No entry matches “không.có”." in audit and "Show all entries" in audit


# --- dates: the Vietnamese way, never ISO ------------------------------------------------------------


class _Visible(HTMLParser):
    """The text a reader sees: no attribute values, no script, style or template contents."""

    HIDDEN = {"script", "style", "template", "textarea"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.hidden = 0

    def handle_starttag(self, tag, attrs):
        if tag in self.HIDDEN:
            self.hidden += 1

    def handle_endtag(self, tag):
        if tag in self.HIDDEN and self.hidden:
            self.hidden -= 1

    def handle_data(self, data):
        if not self.hidden:
            self.parts.append(data)


def visible_text(html: str) -> str:
    parser = _Visible()
    parser.feed(html)
    return " ".join(parser.parts)


ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def test_vietnamese_pages_show_no_iso_dates(app, client, cabinet, make_user):
    from cabinet.ballots import service as ballots
    from cabinet.minutes import service as minutes
    from tests.meeting_factories import held_meeting
    from tests.test_ballots import issued

    make_user("quantri", role="admin")
    meeting = held_meeting(cabinet)
    started = minutes.start(cabinet["thuky"], meeting.id)
    document = upload(cabinet["thuky"], meeting, blank_pdf(1))
    ballot = issued(cabinet, deadline=meeting.starts_at + timedelta(days=30))
    ballots.get_ballot(cabinet["thuky"], ballot.id)
    pages = ["/", "/meetings/", f"/meetings/{meeting.id}", "/calendar", f"/documents/{document.id}",
             "/ballots", f"/ballots/{ballot.id}", f"/meetings/{meeting.id}/minutes",
             "/search?q=t%E1%BB%9D", f"/meetings/{meeting.id}/documents/new"]
    assert started.id
    login(client, "thuky")
    for path in pages:
        html = client.get(path).get_data(as_text=True)
        assert '<html lang="vi">' in html, path
        found = ISO_DATE.findall(visible_text(html))
        assert not found, f"{path} shows ISO dates {found}"
    meeting_page = visible_text(client.get(f"/meetings/{meeting.id}").get_data(as_text=True))
    assert re.search(r"ngày \d{2} tháng \d{1,2} năm \d{4}", meeting_page)

    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    login(client, "quantri")
    for path in ("/admin/users/", "/admin/audit/", "/admin/signing-keys"):
        html = client.get(path).get_data(as_text=True)
        # The audit entries' details are the record itself, as JSON (what the hash chain covers):
        # shown exactly as stored; their times are in the "Time" column, formatted.
        html = re.sub(r"<small>\{.*?\}</small>", "", html, flags=re.S)
        found = ISO_DATE.findall(visible_text(html))
        assert not found, f"{path} shows ISO dates {found}"
