"""Dossiers, told as stories: who may read which document, uploads refused and kept, versions,
publication and recall, watermarks, the audit trail and unread marks.

Meetings are built straight with the models (a small factory below): these tests are about the
documents service, not about scheduling.
"""

from __future__ import annotations

import io
import zipfile
from datetime import timedelta
from pathlib import Path

import pytest
from flask_babel import force_locale
from pypdf import PdfReader, PdfWriter
from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject
from sqlalchemy import func, select

from cabinet.audit.models import AuditEntry
from cabinet.core.errors import Conflict, NotFound, PayloadTooLarge, PermissionDenied, ValidationError
from cabinet.core.timeutil import utcnow
from cabinet.documents import service
from cabinet.documents.models import Document, DocumentRead, DocumentStatus, DocumentVersion
from cabinet.extensions import db
from cabinet.meetings.models import AgendaItem, Meeting, Participant
from cabinet.rules import rules
from cabinet.storage import BlobTooLarge, LocalBlobStore, blob_store
from tests.conftest import needs

# --- factories ------------------------------------------------------------------------------


def make_meeting(*participants, starts_in: timedelta = timedelta(days=20), items: int = 0,
                 status: str = "scheduled", title: str = "Phiên họp Chính phủ thường kỳ tháng 3") -> Meeting:
    """A meeting with the given ``(user, role)`` pairs (or users, as members) and agenda items."""
    starts_at = (utcnow() + starts_in).replace(microsecond=0)
    meeting = Meeting(title=title, kind="regular", starts_at=starts_at,
                      ends_at=starts_at + timedelta(hours=3), place="Hà Nội", status=status)
    for entry in participants:
        user, role = entry if isinstance(entry, tuple) else (entry, "member")
        meeting.participants.append(Participant(user_id=user.id, role=role))
    for n in range(1, items + 1):
        meeting.agenda_items.append(AgendaItem(position=n, title=f"Tờ trình số {n}/TTr-BTP"))
    db.session.add(meeting)
    db.session.commit()
    return meeting


def _pdf_bytes(writer: PdfWriter) -> bytes:
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def blank_pdf(pages: int = 2, size=(595, 842)) -> bytes:
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(*size)
    return _pdf_bytes(writer)


def text_pdf(*lines: str, rotate_last: bool = False) -> bytes:
    """One page per line of (ASCII) text in Helvetica; the last page rotated if asked."""
    writer = PdfWriter()
    font = writer._add_object(DictionaryObject({
        NameObject("/Type"): NameObject("/Font"), NameObject("/Subtype"): NameObject("/Type1"),
        NameObject("/BaseFont"): NameObject("/Helvetica")}))
    for n, line in enumerate(lines):
        page = writer.add_blank_page(595, 842)
        stream = DecodedStreamObject()
        stream.set_data(f"BT /F1 16 Tf 72 720 Td ({line}) Tj ET".encode("latin-1"))
        page[NameObject("/Contents")] = writer._add_object(stream)
        page[NameObject("/Resources")] = DictionaryObject({
            NameObject("/Font"): DictionaryObject({NameObject("/F1"): font})})
        if rotate_last and n == len(lines) - 1:
            page.rotate(90)
    return _pdf_bytes(writer)


def encrypted_pdf() -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(595, 842)
    writer.encrypt("mat-khau", algorithm="RC4-128")
    return _pdf_bytes(writer)


def docx_bytes(text: str) -> bytes:
    """A minimal Word document (what python-docx would write, by hand)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" '
            'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/word/document.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>'))
        z.writestr("_rels/.rels", (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
            'relationships/officeDocument" Target="word/document.xml"/></Relationships>'))
        z.writestr("word/document.xml", (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
            f'<w:body><w:p><w:r><w:t>{text}</w:t></w:r></w:p></w:body></w:document>'))
    return buffer.getvalue()


def upload(actor, meeting, data: bytes = b"", *, filename: str = "to-trinh.pdf",
           title: str = "Tờ trình dự án", doc_type: str = "to_trinh", secrecy: str = "none",
           urgency: str = "none", agenda_item_id=None) -> Document:
    return service.upload_document(
        actor, meeting.id, title=title, doc_type=doc_type, secrecy=secrecy, urgency=urgency,
        agenda_item_id=agenda_item_id, stream=io.BytesIO(data or blank_pdf()), filename=filename)


def published(actor, meeting, **kwargs) -> Document:
    document = upload(actor, meeting, **kwargs)
    return service.publish(actor, document.id)


def read_all(content: service.Content) -> bytes:
    if content.path is not None:
        return Path(content.path).read_bytes()
    with content.stream as fh:
        return fh.read()


def page_texts(data: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(data)).pages]


def stored_blobs() -> list[Path]:
    root = blob_store().root
    return [p for p in root.rglob("*") if p.is_file() and "tmp" not in p.relative_to(root).parts]


def staging_leftovers() -> list[Path]:
    tmp = blob_store().staging_dir
    return list(tmp.iterdir()) if tmp.exists() else []


def audit_actions(object_id=None) -> list[str]:
    stmt = select(AuditEntry.action).where(AuditEntry.action.startswith("document.")).order_by(AuditEntry.seq)
    if object_id is not None:
        stmt = stmt.where(AuditEntry.object_id == str(object_id))
    return list(db.session.scalars(stmt))


@pytest.fixture
def staff(make_user):
    return make_user("thuky", role="secretariat", clearance="tuyet_mat", full_name="Trần Thị Thu Hà",
                     organisation="Văn phòng Chính phủ")


@pytest.fixture
def minister(make_user):
    return make_user("bt.tuphap", role="member", clearance="none", full_name="Phan Thị Ngọc Diệp",
                     organisation="Bộ Tư pháp")


@pytest.fixture
def cleared_minister(make_user):
    return make_user("bt.congan", role="member", clearance="toi_mat", full_name="Lương Tam Quang",
                     organisation="Bộ Công an")


# --- access: invited, cleared, draft, recalled ------------------------------------------------


def test_invited_member_reads_a_published_document_and_an_uninvited_one_gets_404(
        app, staff, minister, make_user):
    outsider = make_user("bt.yte", role="member", clearance="tuyet_mat")
    meeting = make_meeting(minister)
    document = published(staff, meeting)

    assert service.get_document(minister, document.id).id == document.id
    with pytest.raises(NotFound):
        service.get_document(outsider, document.id)
    with pytest.raises(NotFound):
        service.open_content(outsider, document.id)
    with pytest.raises(NotFound):
        service.documents_for_meeting(outsider, meeting)


def test_a_draft_is_unknown_to_members_until_published(app, staff, minister):
    meeting = make_meeting(minister)
    document = upload(staff, meeting)

    with pytest.raises(NotFound):
        service.get_document(minister, document.id)
    assert service.documents_for_meeting(minister, meeting) == []
    assert [e.document.id for e in service.documents_for_meeting(staff, meeting)] == [document.id]

    service.publish(staff, document.id)
    assert service.get_document(minister, document.id).status == DocumentStatus.PUBLISHED
    assert [e.document.id for e in service.documents_for_meeting(minister, meeting)] == [document.id]


def test_clearance_decides_for_classified_documents(app, staff, minister, cleared_minister):
    meeting = make_meeting(minister, cleared_minister)
    secret = published(staff, meeting, secrecy="toi_mat", title="Báo cáo an ninh")
    top_secret = published(staff, meeting, secrecy="tuyet_mat", title="Phương án tác chiến")

    with pytest.raises(PermissionDenied) as denied:
        service.get_document(minister, secret.id)
    assert denied.value.code == "not_cleared"
    assert service.get_document(cleared_minister, secret.id).id == secret.id
    with pytest.raises(PermissionDenied):
        service.open_content(cleared_minister, top_secret.id)
    # Documents above one's clearance are not even listed.
    assert service.documents_for_meeting(minister, meeting) == []
    assert [e.document.id for e in service.documents_for_meeting(cleared_minister, meeting)] == [secret.id]


def test_clearance_applies_to_the_secretariat_too(app, make_user, staff):
    clerk = make_user("vanthu", role="secretariat", clearance="mat")
    meeting = make_meeting()
    top_secret = upload(staff, meeting, secrecy="tuyet_mat")

    with pytest.raises(PermissionDenied):
        service.get_document(clerk, top_secret.id)
    assert service.documents_for_meeting(clerk, meeting) == []
    with pytest.raises(ValidationError) as refused:
        upload(clerk, meeting, secrecy="toi_mat")
    assert "secrecy" in refused.value.details["fields"]


def test_recall_ends_member_access_at_once_but_the_secretariat_still_reads(app, staff, minister):
    meeting = make_meeting(minister)
    document = published(staff, meeting)
    read_all(service.open_content(minister, document.id))

    service.recall(staff, document.id, "Phiên họp đã kết thúc")

    for attempt in (lambda: service.get_document(minister, document.id),
                    lambda: service.open_content(minister, document.id),
                    lambda: service.open_content(minister, document.id, download=True)):
        with pytest.raises(PermissionDenied) as denied:
            attempt()
        assert denied.value.code == "recalled"
    assert service.documents_for_meeting(minister, meeting) == []
    assert read_all(service.open_content(staff, document.id)).startswith(b"%PDF-")
    entries = service.documents_for_meeting(staff, meeting)
    assert [e.document.status for e in entries] == [DocumentStatus.RECALLED]
    with pytest.raises(Conflict):
        service.recall(staff, document.id, "again")
    with pytest.raises(Conflict):
        service.publish(staff, document.id)


def test_an_approved_deputy_reads_like_the_member_they_replace(app, staff, minister, make_user):
    deputy = make_user("tt.tuphap", role="guest")
    meeting = make_meeting(minister)
    meeting.participants[0].deputy_id = deputy.id
    meeting.participants[0].deputy_status = "pending"
    db.session.commit()
    document = published(staff, meeting)

    with pytest.raises(NotFound):
        service.get_document(deputy, document.id)
    meeting.participants[0].deputy_status = "approved"
    db.session.commit()
    assert service.get_document(deputy, document.id).id == document.id


def test_members_cannot_upload_publish_or_recall(app, staff, minister):
    meeting = make_meeting(minister)
    document = published(staff, meeting)
    with pytest.raises(PermissionDenied):
        upload(minister, meeting)
    with pytest.raises(PermissionDenied):
        service.add_version(minister, document.id, stream=io.BytesIO(blank_pdf()), filename="x.pdf")
    with pytest.raises(PermissionDenied):
        service.publish_meeting(minister, meeting.id)
    with pytest.raises(PermissionDenied):
        service.recall(minister, document.id, "")
    assert service.get_document(minister, document.id).status == DocumentStatus.PUBLISHED


def test_a_cancelled_meeting_accepts_recalls_but_no_uploads_or_publications(app, staff, minister):
    meeting = make_meeting(minister)
    draft = upload(staff, meeting)
    sent = published(staff, meeting)
    meeting.status = "cancelled"
    db.session.commit()

    for attempt in (lambda: service.publish(staff, draft.id),
                    lambda: service.publish_meeting(staff, meeting.id),
                    lambda: upload(staff, meeting),
                    lambda: service.add_version(staff, sent.id, stream=io.BytesIO(blank_pdf()),
                                                filename="v2.pdf")):
        with pytest.raises(ValidationError) as refused:
            attempt()
        assert refused.value.code == "meeting_cancelled"
    service.recall(staff, sent.id, "Phiên họp bị hủy")
    service.recall(staff, draft.id, "")
    assert db.session.get(Document, sent.id).status == DocumentStatus.RECALLED
    with pytest.raises(PermissionDenied):
        service.get_document(minister, sent.id)


def test_the_list_puts_urgent_documents_first_then_follows_the_agenda(app, staff, minister):
    meeting = make_meeting(minister, items=2)
    first, second = meeting.agenda_items
    plan = [("B báo cáo", "none", second.id), ("A tờ trình", "none", second.id),
            ("Chương trình", "none", None), ("Hỏa tốc", "hoa_toc", second.id),
            ("Khẩn", "khan", first.id), ("Mục 1", "none", first.id)]
    for title, urgency, item in plan:
        published(staff, meeting, title=title, urgency=urgency, agenda_item_id=item)

    titles = [e.document.title for e in service.documents_for_meeting(minister, meeting)]
    assert titles == ["Hỏa tốc", "Khẩn", "Chương trình", "Mục 1", "A tờ trình", "B báo cáo"]


# --- uploads refused, nothing half-written ----------------------------------------------------


def _nothing_kept():
    assert db.session.scalar(select(func.count()).select_from(Document)) == 0
    assert db.session.scalar(select(func.count()).select_from(DocumentVersion)) == 0
    assert stored_blobs() == []
    assert staging_leftovers() == []


def test_a_pdf_that_is_not_a_pdf_is_refused_by_its_content(app, staff):
    meeting = make_meeting()
    with pytest.raises(ValidationError) as refused:
        upload(staff, meeting, b"This is plain text pretending to be a PDF.\n" * 20, filename="to-trinh.pdf")
    assert refused.value.status == 422 and refused.value.code == "unsupported_type"
    assert "PDF" in refused.value.message
    with pytest.raises(ValidationError):
        upload(staff, meeting, b"PK\x03\x04 not really a zip", filename="du-thao.docx")
    _nothing_kept()


def test_a_damaged_pdf_is_refused_with_a_clear_message(app, staff):
    meeting = make_meeting()
    good = blank_pdf(3)
    for broken in (b"%PDF-1.7\n" + bytes(range(256)) * 20, good[: len(good) // 2], b"%PDF-1.4\n%%EOF\n"):
        with pytest.raises(ValidationError) as refused:
            upload(staff, meeting, broken)
        assert refused.value.code == "pdf_damaged"
        assert "Tệp PDF bị hỏng" in refused.value.message  # Vietnamese by default
    _nothing_kept()


def test_a_password_protected_pdf_is_refused(app, staff):
    meeting = make_meeting()
    with pytest.raises(ValidationError) as refused:
        upload(staff, meeting, encrypted_pdf())
    assert refused.value.code == "pdf_encrypted"
    assert "gỡ bỏ mật khẩu" in refused.value.message
    with force_locale("en"), pytest.raises(ValidationError) as refused:
        upload(staff, meeting, encrypted_pdf())
    assert "password-protected; remove the protection" in refused.value.message
    _nothing_kept()


def test_an_upload_over_the_size_limit_is_refused_while_streaming(app, staff):
    app.config["MAX_CONTENT_LENGTH"] = 4096
    meeting = make_meeting()
    big = blank_pdf(1) + b"%" + b"x" * 5000
    with pytest.raises(PayloadTooLarge) as refused:
        upload(staff, meeting, big)
    assert refused.value.status == 413
    _nothing_kept()


def test_an_empty_file_and_bad_fields_are_refused(app, staff, make_user):
    meeting = make_meeting(items=1)
    other = make_meeting(title="Phiên họp chuyên đề")
    other.agenda_items.append(AgendaItem(position=1, title="Mục của phiên khác"))
    db.session.commit()
    with pytest.raises(ValidationError):
        service.upload_document(staff, meeting.id, title="x", doc_type="to_trinh", secrecy="none",
                                urgency="none", agenda_item_id=None, stream=io.BytesIO(b""), filename="x.pdf")
    with pytest.raises(ValidationError) as refused:
        upload(staff, meeting, title="  ", doc_type="thu_tay", secrecy="mat_lam", urgency="gap",
               agenda_item_id=other.agenda_items[0].id)
    assert set(refused.value.details["fields"]) == {"title", "doc_type", "secrecy", "urgency",
                                                    "agenda_item_id"}
    _nothing_kept()
    with pytest.raises(NotFound):
        upload(staff, Meeting(id=999_999))


# --- versions and the blob store ----------------------------------------------------------------


def test_new_versions_replace_the_current_one_and_history_is_kept(app, staff, minister):
    meeting = make_meeting(minister)
    first_bytes, second_bytes = text_pdf("Ban du thao lan 1"), text_pdf("Ban du thao lan 2", "Phu luc")
    document = service.publish(staff, upload(staff, meeting, first_bytes, filename="du-thao.pdf").id)
    read_all(service.open_content(minister, document.id))
    assert service.unread_documents(minister) == []

    version = service.add_version(staff, document.id, stream=io.BytesIO(second_bytes),
                                  filename="du-thao-v2.pdf")

    document = service.get_document(minister, document.id)
    assert [v.number for v in document.versions] == [1, 2]
    assert version.number == 2 and document.current_version.number == 2
    assert document.current_version.page_count == 2
    assert "lan 2" in db.session.get(DocumentVersion, version.id).text_content
    assert read_all(service.open_content(minister, document.id)) == second_bytes
    assert service.unread_documents(minister) == []  # reading v2 marked it read

    # Blobs are files named by their hash, and a file uploaded twice is kept once.
    store = blob_store()
    for v, data in zip(document.versions, (first_bytes, second_bytes), strict=True):
        path = store.local_path(v.blob_sha256)
        assert path.read_bytes() == data
        assert path.relative_to(store.root).parts == (v.blob_sha256[:2], v.blob_sha256[2:4], v.blob_sha256)
    upload(staff, meeting, first_bytes, title="Same file, other document")
    assert len(stored_blobs()) == 2
    assert "document.version_added" in audit_actions(document.id)


def test_the_local_store_is_atomic_deduplicated_and_refuses_odd_names(tmp_path):
    store = LocalBlobStore(tmp_path / "blobs")
    sha, size = store.put(io.BytesIO(b"%PDF-1.7 hello"))
    assert (sha, size) == store.put(io.BytesIO(b"%PDF-1.7 hello"))
    assert store.exists(sha) and store.size(sha) == size and store.read(sha) == b"%PDF-1.7 hello"
    with store.as_local_file(sha) as path:
        assert path == store.local_path(sha)
    with pytest.raises(BlobTooLarge):
        store.put(io.BytesIO(b"x" * 100), max_size=10)
    with pytest.raises(ValueError):
        store.exists("../../etc/passwd")
    assert list(store.staging_dir.iterdir()) == []


# --- publication, lateness, recall --------------------------------------------------------------


def test_publication_is_late_only_after_the_dossier_deadline(app, staff, minister, monkeypatch):
    meeting = make_meeting(minister, starts_in=timedelta(days=30))
    deadline = rules().dossier_deadline(meeting.starts_at)
    on_time, late = upload(staff, meeting, title="Đúng hạn"), upload(staff, meeting, title="Muộn")

    monkeypatch.setattr(service, "utcnow", lambda: deadline - timedelta(minutes=1))
    assert service.publish(staff, on_time.id).published_late is False
    monkeypatch.setattr(service, "utcnow", lambda: deadline + timedelta(minutes=1))
    assert service.publish(staff, late.id).published_late is True
    assert db.session.get(Document, late.id).published_at == deadline + timedelta(minutes=1)


def test_a_meeting_tomorrow_gets_late_documents(app, staff, minister):
    meeting = make_meeting(minister, starts_in=timedelta(days=1))
    document = published(staff, meeting)
    assert document.published_late is True
    assert [e.document.published_late for e in service.documents_for_meeting(minister, meeting)] == [True]


def test_publish_all_or_one_agenda_item(app, staff, minister):
    meeting = make_meeting(minister, items=2)
    first, second = meeting.agenda_items
    a = upload(staff, meeting, agenda_item_id=first.id, title="A")
    b = upload(staff, meeting, agenda_item_id=second.id, title="B")
    c = upload(staff, meeting, title="C")
    secret = upload(staff, meeting, secrecy="mat", title="D")

    assert [d.id for d in service.publish_meeting(staff, meeting.id, first.id)] == [a.id]
    assert db.session.get(Document, b.id).status == DocumentStatus.DRAFT
    assert sorted(d.id for d in service.publish_meeting(staff, meeting.id)) == sorted([b.id, c.id, secret.id])
    assert service.publish_meeting(staff, meeting.id) == []
    with pytest.raises(ValidationError):
        service.publish_meeting(staff, meeting.id, 999_999)
    with pytest.raises(Conflict):
        service.publish(staff, a.id)


def test_bulk_publication_skips_drafts_the_publisher_may_not_read(app, staff, make_user):
    clerk = make_user("vanthu", role="secretariat", clearance="none")
    meeting = make_meeting()
    plain = upload(staff, meeting, title="Thường")
    secret = upload(staff, meeting, secrecy="mat", title="Mật")
    assert [d.id for d in service.publish_meeting(clerk, meeting.id)] == [plain.id]
    assert db.session.get(Document, secret.id).status == DocumentStatus.DRAFT


# --- serving: watermark, headers, audit -----------------------------------------------------------


def test_classified_pages_carry_the_viewers_name_on_every_page(app, staff, cleared_minister, make_user):
    other = make_user("bt.quocphong", role="member", clearance="tuyet_mat", full_name="Phan Văn Giang",
                      organisation="Bộ Quốc phòng")
    meeting = make_meeting(cleared_minister, other)
    original = text_pdf("Noi dung mat trang 1", "Trang 2", "Trang 3 xoay", rotate_last=True)
    document = published(staff, meeting, data=original, secrecy="mat")

    content = service.open_content(cleared_minister, document.id)
    served = read_all(content)
    assert content.watermarked and content.media_type == "application/pdf"
    assert served != original
    texts = page_texts(served)
    assert len(texts) == 3
    for text in texts:
        assert "Lương Tam Quang" in text and "Bộ Công an" in text and "MẬT" in text
        assert "Phan Văn Giang" not in text
    assert "Noi dung mat trang 1" in texts[0]  # the document itself is still there
    assert all("Phan Văn Giang" in t for t in page_texts(read_all(service.open_content(other, document.id))))

    # Downloading a classified document gives the watermarked PDF too, never the stored file.
    download = service.open_content(cleared_minister, document.id, download=True)
    assert download.as_attachment and download.watermarked
    assert all("Lương Tam Quang" in t for t in page_texts(read_all(download)))


def test_unclassified_documents_are_served_as_stored(app, staff, minister):
    meeting = make_meeting(minister)
    original = text_pdf("Cong khai")
    document = published(staff, meeting, data=original)
    content = service.open_content(minister, document.id)
    assert not content.watermarked
    served = read_all(content)
    assert served == original
    assert all(minister.full_name not in text for text in page_texts(served))


def test_every_step_is_in_the_audit_trail(app, staff, minister):
    meeting = make_meeting(minister)
    document = upload(staff, meeting)
    service.publish(staff, document.id)
    read_all(service.open_content(minister, document.id))
    read_all(service.open_content(minister, document.id, download=True))
    service.recall(staff, document.id, "Hết hiệu lực")

    assert audit_actions(document.id) == ["document.uploaded", "document.published", "document.viewed",
                                          "document.downloaded", "document.recalled"]
    viewed = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "document.viewed")).one()
    assert viewed.actor_id == minister.id
    assert viewed.details["version"] == 1 and viewed.details["watermarked"] is False
    recalled = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "document.recalled")).one()
    assert recalled.details["reason"] == "Hết hiệu lực"


def test_refused_reads_are_not_recorded_as_reads(app, staff, minister):
    meeting = make_meeting(minister)
    document = upload(staff, meeting)
    with pytest.raises(NotFound):
        service.open_content(minister, document.id)
    assert "document.viewed" not in audit_actions()
    assert db.session.scalar(select(func.count()).select_from(DocumentRead)) == 0


# --- unread marks -------------------------------------------------------------------------------


def test_unread_documents_for_the_home_page(app, staff, minister, make_user):
    outsider = make_user("bt.yte", role="member")
    meeting = make_meeting(minister)
    draft = upload(staff, meeting, title="Nháp")
    normal = published(staff, meeting, title="Báo cáo")
    urgent = published(staff, meeting, title="Khẩn", urgency="thuong_khan")
    published(staff, meeting, title="Mật", secrecy="mat")

    assert [d.id for d in service.unread_documents(minister)] == [urgent.id, normal.id]
    assert service.unread_documents(outsider) == []
    entries = {e.document.id: e.unread for e in service.documents_for_meeting(minister, meeting)}
    assert entries == {urgent.id: True, normal.id: True}

    read_all(service.open_content(minister, urgent.id))
    read_all(service.open_content(minister, urgent.id))  # twice: still one read mark
    assert [d.id for d in service.unread_documents(minister)] == [normal.id]
    assert db.session.scalar(select(func.count()).select_from(DocumentRead)) == 1
    assert draft.id not in [d.id for d in service.unread_documents(staff)]

    service.add_version(staff, urgent.id, stream=io.BytesIO(blank_pdf(1)), filename="v2.pdf")
    assert [d.id for d in service.unread_documents(minister)] == [urgent.id, normal.id]


# --- DOCX ---------------------------------------------------------------------------------------


@needs(service.libreoffice() is not None, "LibreOffice (.ci/lib.sh installs it)")
def test_a_docx_is_converted_to_pdf_with_libreoffice(app, staff, minister):
    meeting = make_meeting(minister)
    data = docx_bytes("Dự thảo Nghị định về văn thư điện tử")
    document = published(staff, meeting, data=data, filename="du-thao-nghi-dinh.docx", doc_type="du_thao")
    version = document.current_version
    assert version.media_type == service.DOCX_MEDIA_TYPE and version.blob_sha256 != version.pdf_sha256
    assert version.conversion_note == service.NOTE_CONVERTED and version.page_count == 1
    assert "văn thư điện tử" in db.session.get(DocumentVersion, version.id).text_content

    pdf = service.open_content(minister, document.id)
    assert pdf.filename == "du-thao-nghi-dinh.pdf" and read_all(pdf).startswith(b"%PDF-")
    original = service.open_content(minister, document.id, download=True)
    assert original.filename == "du-thao-nghi-dinh.docx" and read_all(original) == data
    assert staging_leftovers() == []


def test_without_libreoffice_a_docx_is_kept_as_a_download_with_a_notice(app, staff, minister, monkeypatch):
    monkeypatch.setattr(service.shutil, "which", lambda name: None)
    meeting = make_meeting(minister)
    data = docx_bytes("Báo cáo thẩm định")
    document = published(staff, meeting, data=data, filename="bao-cao.docx", doc_type="bao_cao_tham_dinh")
    version = document.current_version
    assert version.pdf_sha256 is None and version.page_count is None
    assert version.conversion_note == service.NOTE_NO_CONVERTER
    assert "chưa cài đặt LibreOffice" in service.conversion_notice(version)
    with force_locale("en"):
        assert "LibreOffice is not installed" in service.conversion_notice(version)
    assert "Báo cáo thẩm định" in db.session.get(DocumentVersion, version.id).text_content

    with pytest.raises(Conflict):
        service.open_content(minister, document.id)
    assert read_all(service.open_content(minister, document.id, download=True)) == data

    # A classified document must be watermarked, which needs a PDF: the DOCX is refused.
    with pytest.raises(ValidationError) as refused:
        upload(staff, meeting, data, filename="mat.docx", secrecy="mat")
    assert refused.value.code == "conversion_required"


def test_a_failed_conversion_keeps_the_docx_as_a_download(app, staff, monkeypatch, tmp_path):
    failing = tmp_path / "libreoffice"
    failing.write_text("#!/bin/sh\nexit 1\n")
    failing.chmod(0o755)
    monkeypatch.setattr(service.shutil, "which", lambda name: str(failing) if name == "libreoffice" else None)
    meeting = make_meeting()
    document = upload(staff, meeting, docx_bytes("Tờ trình"), filename="to-trinh.docx")
    assert document.current_version.conversion_note == service.NOTE_CONVERSION_FAILED
    assert document.current_version.pdf_sha256 is None


def test_file_names_are_made_safe(app):
    assert service.safe_filename("../../etc/passwd") == "passwd"
    assert service.safe_filename("C:\\Users\\thuky\\Tờ trình\r\n số 1.pdf") == "Tờ trình số 1.pdf"
    assert service.safe_filename("") == "document"
    assert len(service.safe_filename("a" * 400 + ".pdf")) <= service.FILENAME_MAX
    assert service.safe_filename("a" * 400 + ".pdf").endswith(".pdf")


def test_no_database_transaction_is_held_while_watermarking_or_checking_a_file(app, staff, minister,
                                                                              monkeypatch):
    """On SQLite each transaction holds the write lock; under gevent, WeasyPrint and LibreOffice let
    other requests run, which would then wait for that lock with the whole worker blocked."""
    seen = []

    def spy(function):
        def wrapper(*args, **kwargs):
            seen.append((function.__name__, db.session().in_transaction()))
            return function(*args, **kwargs)
        return wrapper

    monkeypatch.setattr(service, "watermark_pdf", spy(service.watermark_pdf))
    monkeypatch.setattr(service, "inspect_pdf", spy(service.inspect_pdf))
    monkeypatch.setattr(service, "convert_docx", spy(service.convert_docx))
    meeting = make_meeting(minister)
    document = published(staff, meeting, secrecy="none")
    service.add_version(staff, document.id, stream=io.BytesIO(docx_bytes("Phụ lục")), filename="pl.docx")
    secret = published(staff, meeting, secrecy="mat")
    service.open_content(staff, secret.id).stream.close()

    assert {name for name, _ in seen} == {"watermark_pdf", "inspect_pdf", "convert_docx"}
    assert [name for name, in_transaction in seen if in_transaction] == []
