"""The document API as clients see it: the secretariat uploads (multipart) and publishes, members
read the PDF only once it is published, never after a recall, never above their clearance.

Every answer is checked against the OpenAPI document (status documented, body fits its schema, or
the declared media type for the PDF).
"""

from __future__ import annotations

import io

import pytest
from pypdf import PdfReader, PdfWriter
from sqlalchemy import func, select

from cabinet.audit.models import AuditEntry
from cabinet.documents.models import Document
from cabinet.extensions import db
from cabinet.meetings import service as meetings_service
from tests.meeting_factories import schedule
from tests.test_api_meetings import api_caller, error, fields

HUGE_IDS = [2**31, 10**20]


def pdf_bytes(pages: int = 2) -> bytes:
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(595, 842)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


@pytest.fixture
def people(make_user):
    return {
        "thuky": make_user("thuky", role="secretariat", clearance="tuyet_mat",
                           full_name="Trần Thị Thu Hà", organisation="Văn phòng Chính phủ"),
        "pm": make_user("thutuong", full_name="Phạm Quốc Hưng", clearance="tuyet_mat"),
        "tuphap": make_user("bt.tuphap", full_name="Phan Thị Ngọc Diệp", clearance="none"),
        "congan": make_user("bt.congan", full_name="Lương Tam Quang", clearance="toi_mat",
                            organisation="Bộ Công an"),
        "outsider": make_user("bt.khac", full_name="Người Không Mời", clearance="tuyet_mat"),
    }


@pytest.fixture
def meeting(people):
    meeting = schedule(people["thuky"], chair=people["pm"], members=[people["tuphap"], people["congan"]],
                       secretaries=[people["thuky"]])
    meetings_service.add_item(people["thuky"], meeting.id,
                              meetings_service.AgendaItemData(title="Dự án Luật Đất đai (sửa đổi)"))
    return meeting


@pytest.fixture
def openapi(client):
    return client.get("/api/v1/openapi.json").get_json()


@pytest.fixture
def api(client, people, openapi):
    return api_caller(client, openapi)


def form(**changes) -> dict:
    data = {"file": (io.BytesIO(pdf_bytes()), "to-trinh-du-an-luat.pdf"),
            "title": "Tờ trình dự án Luật Đất đai (sửa đổi)", "doc_type": "to_trinh",
            "secrecy": "none", "urgency": "khan"}
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def upload(api, meeting, username="thuky", **changes):
    return api(username, "POST", f"/api/v1/meetings/{meeting.id}/documents", data=form(**changes),
               content_type="multipart/form-data")


def uploaded(api, meeting, **changes) -> dict:
    response = upload(api, meeting, **changes)
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()


def listed(api, username, meeting) -> dict[int, bool]:
    response = api(username, "GET", f"/api/v1/meetings/{meeting.id}/documents")
    assert response.status_code == 200
    return {d["id"]: d["unread"] for d in response.get_json()["documents"]}


def count_documents() -> int:
    return db.session.scalar(select(func.count()).select_from(Document))


# --- the story ------------------------------------------------------------------------------


def test_a_document_uploaded_by_api_reaches_members_only_once_published(api, people, meeting):
    item = meeting.agenda_items[0]
    doc = uploaded(api, meeting, agenda_item_id=str(item.id))

    assert doc["status"] == "draft" and doc["published_at"] is None
    assert (doc["meeting_id"], doc["agenda_item_id"]) == (meeting.id, item.id)
    assert (doc["doc_type"], doc["secrecy"], doc["urgency"]) == ("to_trinh", "none", "khan")
    assert doc["version"] | {"uploaded_at": None, "size": None} == {
        "number": 1, "filename": "to-trinh-du-an-luat.pdf", "media_type": "application/pdf",
        "size": None, "page_count": 2, "has_pdf": True, "conversion_note": "", "uploaded_at": None}
    url = f"/api/v1/documents/{doc['id']}"

    assert listed(api, "bt.tuphap", meeting) == {}
    assert error(api("bt.tuphap", "GET", url), 404)["code"] == "not_found"
    assert error(api("bt.tuphap", "GET", f"{url}/content"), 404)["code"] == "not_found"
    assert listed(api, "thuky", meeting) == {doc["id"]: False}

    assert error(api("bt.tuphap", "POST", f"{url}/publish"), 403)["code"] == "forbidden"
    publication = api("thuky", "POST", f"{url}/publish")
    assert publication.status_code == 200
    assert publication.get_json()["status"] == "published"
    assert publication.get_json()["published_at"] is not None
    assert error(api("thuky", "POST", f"{url}/publish"), 409)["code"] == "already_published"

    assert listed(api, "bt.tuphap", meeting) == {doc["id"]: True}
    assert api("bt.tuphap", "GET", url).get_json()["status"] == "published"
    content = api("bt.tuphap", "GET", f"{url}/content")
    assert content.status_code == 200
    assert content.mimetype == "application/pdf"
    assert content.data.startswith(b"%PDF-")
    assert len(PdfReader(io.BytesIO(content.data)).pages) == 2
    assert content.headers["Cache-Control"] == "no-store"
    assert listed(api, "bt.tuphap", meeting) == {doc["id"]: False}
    reads = db.session.scalars(select(AuditEntry.actor_id).where(
        AuditEntry.action == "document.viewed", AuditEntry.object_id == str(doc["id"]))).all()
    assert reads == [people["tuphap"].id]


def test_a_recalled_document_is_refused_to_members_but_the_secretariat_still_reads_it(api, meeting):
    doc = uploaded(api, meeting)
    url = f"/api/v1/documents/{doc['id']}"
    api("thuky", "POST", f"{url}/publish")
    assert api("bt.tuphap", "GET", f"{url}/content").status_code == 200

    refused = api("bt.tuphap", "POST", f"{url}/recall", json={"reason": "Sai số liệu"})
    assert error(refused, 403)["code"] == "forbidden"
    recalled = api("thuky", "POST", f"{url}/recall", json={"reason": "Sai số liệu phụ lục 2"})
    assert recalled.status_code == 200
    assert recalled.get_json()["status"] == "recalled"
    assert recalled.get_json()["recall_reason"] == "Sai số liệu phụ lục 2"

    assert error(api("bt.tuphap", "GET", url), 403)["code"] == "recalled"
    assert error(api("bt.tuphap", "GET", f"{url}/content"), 403)["code"] == "recalled"
    assert listed(api, "bt.tuphap", meeting) == {}
    assert api("thuky", "GET", url).get_json()["status"] == "recalled"
    assert api("thuky", "GET", f"{url}/content").status_code == 200
    assert error(api("thuky", "POST", f"{url}/recall", json={}), 409)["code"] == "already_recalled"
    assert error(api("thuky", "POST", f"{url}/publish"), 409)["code"] == "recalled"


def test_a_classified_document_is_refused_to_the_uncleared_and_watermarked_for_the_cleared(
        api, people, meeting):
    doc = uploaded(api, meeting, secrecy="mat", title="Báo cáo tình hình an ninh")
    url = f"/api/v1/documents/{doc['id']}"
    api("thuky", "POST", f"{url}/publish")

    assert listed(api, "bt.tuphap", meeting) == {}
    assert error(api("bt.tuphap", "GET", url), 403)["code"] == "not_cleared"
    assert error(api("bt.tuphap", "GET", f"{url}/content"), 403)["code"] == "not_cleared"

    assert listed(api, "bt.congan", meeting) == {doc["id"]: True}
    content = api("bt.congan", "GET", f"{url}/content")
    assert content.status_code == 200 and content.mimetype == "application/pdf"
    assert content.headers["Cache-Control"] == "no-store"
    pages = [page.extract_text() for page in PdfReader(io.BytesIO(content.data)).pages]
    assert len(pages) == 2
    for text in pages:
        assert "Lương Tam Quang" in text and "Bộ Công an" in text and "MẬT" in text


# --- access ---------------------------------------------------------------------------------


def test_an_outsider_learns_nothing_about_the_documents(api, meeting):
    doc = uploaded(api, meeting)
    api("thuky", "POST", f"/api/v1/documents/{doc['id']}/publish")

    for path in ("/api/v1/meetings/{m}/documents", "/api/v1/documents/{d}",
                 "/api/v1/documents/{d}/content"):
        real = api("bt.khac", "GET", path.format(m=meeting.id, d=doc["id"]))
        assert error(real, 404)["code"] == "not_found"
        assert real.get_json() == api("bt.khac", "GET", path.format(m=4040, d=4040)).get_json()
    # Secretariat work is refused before anything is looked up: the same answer for any id.
    for method, path, kwargs in [
            ("POST", "/api/v1/meetings/{m}/documents", {"data": form(),
                                                        "content_type": "multipart/form-data"}),
            ("POST", "/api/v1/documents/{d}/recall", {"json": {"reason": "x"}})]:
        real = api("bt.khac", method, path.format(m=meeting.id, d=doc["id"]), **kwargs)
        assert error(real, 403)["code"] == "forbidden"
        kwargs = {**kwargs, "data": form()} if "data" in kwargs else kwargs
        assert real.get_json() == api("bt.khac", method, path.format(m=4040, d=4040), **kwargs).get_json()
    assert count_documents() == 1


def test_a_member_cannot_upload(api, meeting):
    assert error(upload(api, meeting, username="bt.tuphap"), 403)["code"] == "forbidden"
    assert count_documents() == 0


@pytest.mark.parametrize("huge", HUGE_IDS)
def test_ids_beyond_the_database_range_are_404(api, huge):
    for method, path, kwargs in [
            ("GET", f"/api/v1/meetings/{huge}/documents", {}),
            ("POST", f"/api/v1/meetings/{huge}/documents", {"data": form(),
                                                            "content_type": "multipart/form-data"}),
            ("GET", f"/api/v1/documents/{huge}", {}),
            ("GET", f"/api/v1/documents/{huge}/content", {}),
            ("POST", f"/api/v1/documents/{huge}/publish", {}),
            ("POST", f"/api/v1/documents/{huge}/recall", {"json": {}})]:
        assert error(api("thuky", method, path, **kwargs), 404)["code"] == "not_found", path


# --- uploads refused ------------------------------------------------------------------------


@pytest.mark.parametrize("changes, field", [
    ({"file": None}, "file"),
    ({"file": (io.BytesIO(b""), "")}, "file"),
    ({"file": "not a file"}, "file"),
    ({"file": (io.BytesIO(b"Just some text, not a PDF."), "to-trinh.pdf")}, "file"),
    ({"file": (io.BytesIO(b""), "empty.pdf")}, "file"),
    ({"file": (io.BytesIO(b"%PDF-1.7\n garbage"), "broken.pdf")}, "file"),
    ({"title": None}, "title"),
    ({"title": "   "}, "title"),
    ({"doc_type": "thu_tay"}, "doc_type"),
    ({"secrecy": None}, "secrecy"),
    ({"secrecy": "mat_lam"}, "secrecy"),
    ({"urgency": "gap"}, "urgency"),
    ({"agenda_item_id": "abc"}, "agenda_item_id"),
    ({"agenda_item_id": "4040"}, "agenda_item_id"),
    ({"agenda_item_id": str(10**20)}, "agenda_item_id"),
    ({"status": "published"}, "status"),
], ids=["no-file", "no-name", "text-part", "not-pdf", "empty", "damaged", "no-title", "blank-title",
        "doc-type", "no-secrecy", "secrecy", "urgency", "item-text", "item-unknown", "item-huge",
        "unknown-field"])
def test_invalid_uploads_are_refused_naming_the_field_and_nothing_is_kept(api, meeting, changes, field):
    response = upload(api, meeting, **changes)

    assert field in fields(response)
    assert count_documents() == 0


def test_an_agenda_item_of_another_meeting_is_refused(api, people, meeting):
    other = schedule(people["thuky"], chair=people["pm"], title="Phiên khác")
    item = meetings_service.add_item(people["thuky"], other.id,
                                     meetings_service.AgendaItemData(title="Mục của phiên khác"))
    assert fields(upload(api, meeting, agenda_item_id=str(item.id))) == {"agenda_item_id"}


def test_the_uploader_must_be_cleared_for_the_level_they_choose(api, people, meeting, make_user):
    make_user("thuky2", role="secretariat", clearance="mat")
    assert fields(upload(api, meeting, username="thuky2", secrecy="toi_mat")) == {"secrecy"}
    assert upload(api, meeting, username="thuky2", secrecy="mat").status_code == 201


def test_an_upload_that_is_not_multipart_is_refused(api, meeting):
    response = api("thuky", "POST", f"/api/v1/meetings/{meeting.id}/documents",
                   json={"title": "Tờ trình", "doc_type": "to_trinh", "secrecy": "none"})
    assert error(response, 400)["code"] == "not_multipart"


def test_an_upload_over_the_size_limit_is_413(app, api, meeting):
    app.config["MAX_CONTENT_LENGTH"] = 4096
    big = (io.BytesIO(b"%PDF-1.7\n" + b"0" * 10_000), "lon.pdf")
    response = upload(api, meeting, file=big)
    assert error(response, 413)["code"] == "payload_too_large"
    assert count_documents() == 0


def test_a_cancelled_meeting_takes_no_uploads_or_publications_but_recalls(api, people, meeting):
    doc = uploaded(api, meeting)
    published = uploaded(api, meeting, title="Dự thảo Nghị định")
    api("thuky", "POST", f"/api/v1/documents/{published['id']}/publish")
    meetings_service.cancel_meeting(people["thuky"], meeting.id, "Hoãn")

    assert error(upload(api, meeting), 422)["code"] == "meeting_cancelled"
    assert error(api("thuky", "POST", f"/api/v1/documents/{doc['id']}/publish"), 422)["code"] == \
        "meeting_cancelled"
    recall = api("thuky", "POST", f"/api/v1/documents/{published['id']}/recall", json={"reason": "Hoãn"})
    assert recall.get_json()["status"] == "recalled"


def test_a_recall_reason_too_long_is_refused(api, meeting):
    doc = uploaded(api, meeting)
    response = api("thuky", "POST", f"/api/v1/documents/{doc['id']}/recall", json={"reason": "x" * 2001})
    assert fields(response) == {"reason"}
    assert api("thuky", "GET", f"/api/v1/documents/{doc['id']}").get_json()["status"] == "draft"


# --- the OpenAPI document -------------------------------------------------------------------


def test_the_upload_is_documented_as_multipart_with_a_binary_file_part(openapi):
    operation = openapi["paths"]["/api/v1/meetings/{meeting_id}/documents"]["post"]
    [(media_type, content)] = operation["requestBody"]["content"].items()
    assert media_type == "multipart/form-data"
    schema = openapi["components"]["schemas"][content["schema"]["$ref"].rsplit("/", 1)[1]]
    assert schema["properties"]["file"]["type"] == "string"
    assert schema["properties"]["file"]["format"] == "binary"
    assert {"file", "title", "doc_type", "secrecy"} <= set(schema["required"])

    content_op = openapi["paths"]["/api/v1/documents/{document_id}/content"]["get"]
    assert list(content_op["responses"]["200"]["content"]) == ["application/pdf"]
    assert {"401", "403", "404"} <= set(content_op["responses"])
