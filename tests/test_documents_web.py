"""The document pages and downloads over HTTP: what a browser (or the PDF viewer) gets."""

from __future__ import annotations

import io
from urllib.parse import quote

from flask import render_template
from pypdf import PdfReader
from sqlalchemy import func, select

from cabinet.documents import service
from cabinet.documents.models import Document, DocumentStatus
from cabinet.extensions import db
from cabinet.users import service as users_service
from tests.conftest import PASSWORD, csrf_token, login
from tests.test_documents import (
    blank_pdf,
    docx_bytes,
    make_meeting,
    published,
    stored_blobs,
    text_pdf,
    upload,
)


def _staff(make_user):
    return make_user("thuky", role="secretariat", clearance="tuyet_mat", full_name="Trần Thị Thu Hà",
                     organisation="Văn phòng Chính phủ", locale="en")


def _form(client, path: str, **fields):
    return {"csrf_token": csrf_token(client, path), **fields}


def test_staff_upload_a_document_through_the_page(app, client, make_user):
    staff = _staff(make_user)
    meeting = make_meeting(items=1)
    item = meeting.agenda_items[0]
    login(client, "thuky")
    new = f"/meetings/{meeting.id}/documents/new"
    page = client.get(new)
    assert page.status_code == 200
    assert 'enctype="multipart/form-data"' in page.get_data(as_text=True)

    response = client.post(new, content_type="multipart/form-data", data=_form(
        client, new, title="Tờ trình dự án Luật Đất đai (sửa đổi)", doc_type="to_trinh", secrecy="mat",
        urgency="khan", agenda_item_id=str(item.id), file=(io.BytesIO(blank_pdf(2)), "Tờ trình.pdf")))
    assert response.status_code == 302
    document = db.session.scalars(select(Document)).one()
    assert response.headers["Location"].endswith(f"/documents/{document.id}")
    assert (document.secrecy, document.urgency, document.agenda_item_id) == ("mat", "khan", item.id)
    assert document.created_by_id == staff.id and document.status == DocumentStatus.DRAFT

    html = client.get(f"/documents/{document.id}").get_data(as_text=True)
    assert "Tờ trình dự án Luật Đất đai (sửa đổi)" in html
    assert "MẬT" in html and "Draft (not published)" in html and "Urgent (Khẩn)" in html
    assert f'data-url="/documents/{document.id}/content"' in html  # the PDF viewer
    assert f"/documents/{document.id}/publish" in html


def test_the_upload_page_refuses_a_fake_pdf_with_422_and_says_why(app, client, make_user):
    _staff(make_user)
    meeting = make_meeting()
    login(client, "thuky")
    new = f"/meetings/{meeting.id}/documents/new"
    response = client.post(new, content_type="multipart/form-data", data=_form(
        client, new, title="Giả mạo", doc_type="to_trinh", secrecy="none", urgency="none", agenda_item_id="",
        file=(io.BytesIO(b"<html>not a pdf</html>" * 50), "to-trinh.pdf")))
    assert response.status_code == 422
    assert "Only PDF and Word (DOCX) files are accepted" in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(Document)) == 0

    response = client.post(new, content_type="multipart/form-data", data=_form(
        client, new, title="Không có tệp", doc_type="to_trinh", secrecy="none", urgency="none"))
    assert response.status_code == 400
    assert "Choose a file to upload." in response.get_data(as_text=True)


def test_members_may_not_open_the_upload_page(app, client, make_user):
    make_user("bt.tuphap", role="member")
    meeting = make_meeting()
    login(client, "bt.tuphap")
    assert client.get(f"/meetings/{meeting.id}/documents/new").status_code == 403


def test_an_upload_over_the_limit_gets_413(make_app):
    small = make_app(MAX_CONTENT_LENGTH=8 * 1024)
    with small.app_context():
        users_service.create_user(None, users_service.UserData(
            username="thuky", full_name="Trần Thị Thu Hà", role="secretariat", clearance="none",
            title="", organisation="", locale="en"), PASSWORD)
        meeting = make_meeting()
        client = small.test_client()
        login(client, "thuky")
        new = f"/meetings/{meeting.id}/documents/new"
        response = client.post(new, content_type="multipart/form-data", data=_form(
            client, new, title="Phụ lục lớn", doc_type="to_trinh", secrecy="none", urgency="none",
            file=(io.BytesIO(blank_pdf(1) + b"%" + b"0" * 20_000), "phu-luc.pdf")))
        assert response.status_code == 413
        assert db.session.scalar(select(func.count()).select_from(Document)) == 0
        assert stored_blobs() == []


def test_a_classified_pdf_is_served_watermarked_and_never_cached(app, client, make_user):
    staff = _staff(make_user)
    reader = make_user("bt.congan", role="member", clearance="toi_mat", full_name="Lương Tam Quang",
                       organisation="Bộ Công an")
    meeting = make_meeting(reader)
    document = published(staff, meeting, data=text_pdf("Trang 1", "Trang 2"), secrecy="toi_mat",
                         filename="Báo cáo\r\n an ninh.pdf")
    login(client, "bt.congan")

    response = client.get(f"/documents/{document.id}/content")
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("inline;") and "\r" not in disposition and "\n" not in disposition
    assert f"filename*=UTF-8''{quote('Báo cáo an ninh.pdf')}" in disposition
    assert "Accept-Ranges" not in response.headers
    pages = PdfReader(io.BytesIO(response.data)).pages
    assert len(pages) == 2
    assert all("Lương Tam Quang" in page.extract_text() for page in pages)

    download = client.get(f"/documents/{document.id}/download")
    assert download.headers["Content-Disposition"].startswith("attachment;")
    assert download.headers["Cache-Control"] == "no-store"
    assert "Lương Tam Quang" in PdfReader(io.BytesIO(download.data)).pages[0].extract_text()


def test_unclassified_content_is_the_stored_file_with_no_store(app, client, make_user):
    staff = _staff(make_user)
    reader = make_user("bt.tuphap", role="member")
    meeting = make_meeting(reader)
    original = text_pdf("Cong khai")
    document = published(staff, meeting, data=original)
    login(client, "bt.tuphap")
    response = client.get(f"/documents/{document.id}/content")
    assert response.status_code == 200 and response.data == original
    assert response.headers["Cache-Control"] == "no-store"
    assert int(response.headers["Content-Length"]) == len(original)


def test_http_answers_404_for_the_unknown_and_403_for_the_refused(app, client, make_user):
    staff = _staff(make_user)
    reader = make_user("bt.tuphap", role="member", clearance="none")
    make_user("bt.yte", role="member", clearance="tuyet_mat")
    meeting = make_meeting(reader)
    other = make_meeting(title="Phiên họp khác")
    draft = upload(staff, meeting, title="Nháp")
    secret = published(staff, meeting, secrecy="mat", title="Mật")
    recalled = published(staff, meeting, title="Đã thu hồi")
    elsewhere = published(staff, other, title="Phiên khác")
    service.recall(staff, recalled.id, "")

    login(client, "bt.tuphap")
    for document, status in ((draft, 404), (elsewhere, 404), (secret, 403), (recalled, 403)):
        for suffix in ("", "/content", "/download"):
            answer = client.get(f"/documents/{document.id}{suffix}")
            assert answer.status_code == status, (document.title, suffix)
    assert client.get("/documents/99999999999/content").status_code == 404
    # The viewer asks for JSON errors.
    answer = client.get(f"/documents/{recalled.id}/content", headers={"Accept": "application/json"})
    assert answer.status_code == 403 and answer.get_json()["error"]["code"] == "recalled"

    outsider = app.test_client()
    login(outsider, "bt.yte")  # cleared for everything, but not invited
    assert outsider.get(f"/documents/{secret.id}").status_code == 404


def test_staff_publish_recall_and_add_versions_from_the_pages(app, client, make_user):
    staff = _staff(make_user)
    reader = make_user("bt.tuphap", role="member")
    meeting = make_meeting(reader, items=2)
    document = upload(staff, meeting, agenda_item_id=meeting.agenda_items[1].id)
    page = f"/documents/{document.id}"
    login(client, "thuky")

    response = client.post(f"{page}/publish", data=_form(client, page), follow_redirects=True)
    assert response.status_code == 200
    assert "Published: the participants can now read it." in response.get_data(as_text=True)
    response = client.post(f"{page}/publish", data=_form(client, page), follow_redirects=True)
    assert "already published" in response.get_data(as_text=True)

    response = client.post(f"{page}/versions", content_type="multipart/form-data",
                           data=_form(client, page, file=(io.BytesIO(blank_pdf(3)), "v2.pdf")))
    assert response.status_code == 302
    assert [v.number for v in db.session.get(Document, document.id).versions] == [1, 2]
    response = client.post(f"{page}/versions", content_type="multipart/form-data",
                           data=_form(client, page, file=(io.BytesIO(b"not a pdf"), "v3.pdf")))
    assert response.status_code == 422

    response = client.post(f"{page}/recall", data=_form(client, page, reason="Sau phiên họp"))
    assert response.status_code == 302
    assert db.session.get(Document, document.id).recall_reason == "Sau phiên họp"
    html = client.get(page).get_data(as_text=True)
    assert "Recalled on" in html and "Sau phiên họp" in html

    other_item_draft = upload(staff, meeting, agenda_item_id=meeting.agenda_items[0].id, title="Mục 1")
    whole = f"/meetings/{meeting.id}/documents/publish"
    response = client.post(whole, data=_form(client, page, agenda_item_id=str(meeting.agenda_items[0].id)))
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/meetings/{meeting.id}#documents")
    assert db.session.get(Document, other_item_draft.id).status == DocumentStatus.PUBLISHED

    member = app.test_client()
    login(member, "bt.tuphap")
    assert member.post(f"/documents/{other_item_draft.id}/recall", data=_form(member, "/")).status_code == 403


def test_the_page_of_an_unconverted_docx_explains_and_offers_the_download(app, client, make_user,
                                                                         monkeypatch):
    monkeypatch.setattr(service.shutil, "which", lambda name: None)
    staff = _staff(make_user)
    meeting = make_meeting()
    data = docx_bytes("Dự thảo")
    document = upload(staff, meeting, data, filename="du-thao.docx")
    login(client, "thuky")
    html = client.get(f"/documents/{document.id}").get_data(as_text=True)
    assert "LibreOffice is not installed on the server" in html
    assert "data-pdf-viewer" not in html
    download = client.get(f"/documents/{document.id}/download")
    assert download.data == data and download.mimetype == service.DOCX_MEDIA_TYPE
    assert client.get(f"/documents/{document.id}/content").status_code == 409


def test_the_meeting_partial_lists_documents_with_their_marks(app, make_user):
    staff = _staff(make_user)
    reader = make_user("bt.congan", role="member", clearance="mat")
    meeting = make_meeting(reader, items=1)
    upload(staff, meeting, title="Bản nháp")
    published(staff, meeting, title="Báo cáo khẩn", urgency="hoa_toc", secrecy="mat",
              agenda_item_id=meeting.agenda_items[0].id)

    def render(user, is_staff):
        with app.test_request_context("/"):
            return render_template("documents/_meeting_documents.html", meeting=meeting, is_staff=is_staff,
                                   documents=service.documents_for_meeting(user, meeting))

    as_reader = render(reader, False)
    assert "Báo cáo khẩn" in as_reader and "Bản nháp" not in as_reader
    assert "MẬT" in as_reader and "is-unread" in as_reader and "badge-urgent" in as_reader
    assert "/documents/new" not in as_reader
    as_staff = render(staff, True)
    assert "Bản nháp" in as_staff and f"/meetings/{meeting.id}/documents/new" in as_staff
    assert f"/meetings/{meeting.id}/documents/publish" in as_staff
