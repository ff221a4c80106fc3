"""The minutes' rules (D11, D16, D19): drafted from the record, reviewed, finalized, signed in order
by the secretary and the chair, locked, corrected by a new version, exported and verified."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from sqlalchemy import select

from cabinet.audit.models import AuditEntry
from cabinet.core.errors import Conflict, NotFound, PermissionDenied, ValidationError
from cabinet.extensions import db
from cabinet.minutes import keys, record, service
from cabinet.minutes.models import Minutes, MinutesSignature, MinutesStatus
from cabinet.signing import pdf as signing
from cabinet.signing import pki
from cabinet.storage import blob_store
from tests.meeting_factories import held_meeting, schedule

PASSPHRASE = "khoa-ky-so-2026"


@pytest.fixture(scope="module")
def demo_keys(tmp_path_factory):
    return pki.create_demo_pki(tmp_path_factory.mktemp("pki"), PASSPHRASE)


@pytest.fixture
def signers(app, admin, cabinet, demo_keys):
    """The secretary and the chair each have their key registered; the demo CA is trusted."""
    app.config["CABINET_PKI_DIR"] = str(demo_keys.directory)
    keys.upload(admin, cabinet["thuky"].id, demo_keys.p12["thuky"].read_bytes(), PASSPHRASE)
    keys.upload(admin, cabinet["pm"].id, demo_keys.p12["thutuong"].read_bytes(), PASSPHRASE)
    return cabinet


@pytest.fixture
def held(cabinet):
    return held_meeting(cabinet)


@pytest.fixture
def draft(held, cabinet):
    return service.start(cabinet["thuky"], held.id)


def _actions(object_id) -> list[str]:
    return list(db.session.scalars(select(AuditEntry.action).where(
        AuditEntry.object_type == "minutes", AuditEntry.object_id == str(object_id))
        .order_by(AuditEntry.seq)))


def _finalized(draft, cabinet):
    return service.finalize(cabinet["thuky"], draft.id, draft.revision)


def _signed(draft, cabinet):
    minutes = _finalized(draft, cabinet)
    service.sign(cabinet["thuky"], minutes.id, PASSPHRASE)
    return service.sign(cabinet["pm"], minutes.id, PASSPHRASE)


# --- drafting from the record ------------------------------------------------------------------------


def test_the_draft_is_prefilled_with_who_came_the_votes_and_the_conclusions(draft, cabinet):
    data = record.minutes_data(draft)
    assert data.draft and data.version == 1
    assert data.header.organ == "CHÍNH PHỦ" and data.header.number_line.startswith("Số:")
    assert data.chair.name == "Phạm Quốc Hưng" and data.secretary.name == "Trần Thị Thu Hà"
    assert [p.name for p in data.present] == ["Phạm Quốc Hưng", "Phan Thị Ngọc Diệp"]
    assert [(p.name, p.note) for p in data.absent] == [
        ("Tôn Nữ Thanh Thủy", "vắng mặt: Đi công tác nước ngoài")]
    assert [p.name for p in data.guests] == ["Lâm Hữu Nghĩa"]
    assert data.quorum.startswith("Có mặt 2/3 thành viên Chính phủ; đủ hai phần ba")
    first, second = data.items
    assert first.title == "Dự án Luật Đất đai (sửa đổi)" and first.status == "Đã kết luận"
    (vote,) = first.votes
    assert vote.counts[0] == ("Tán thành", 2) and vote.voted == 2
    assert vote.result.startswith("Thông qua: 2/3 thành viên Chính phủ tán thành (cần ít nhất 2")
    assert sorted(vote.voters) == [("Phan Thị Ngọc Diệp", "Tán thành"), ("Phạm Quốc Hưng", "Tán thành")]
    assert "giao Bộ Tư pháp tiếp thu" in first.conclusion_html
    assert second.status == "Hoãn sang phiên họp sau" and second.votes == ()
    assert data.ended, "the meeting was closed in the room: its end time is recorded"


def test_minutes_cannot_be_drafted_before_the_meeting_or_twice_or_by_a_member(cabinet, held, draft):
    future = schedule(cabinet["thuky"], chair=cabinet["pm"], secretaries=[cabinet["thuky"]],
                      starts_in=timedelta(days=3))
    with pytest.raises(Conflict) as refused:
        service.start(cabinet["thuky"], future.id)
    assert refused.value.code == "meeting_not_held"
    with pytest.raises(Conflict) as twice:
        service.start(cabinet["thuky"], held.id)
    assert twice.value.code == "minutes_exist"
    with pytest.raises(PermissionDenied):
        service.start(cabinet["tuphap"], held.id)
    with pytest.raises(NotFound):
        service.start(cabinet["outsider"], held.id)


def test_saving_sanitises_the_text_and_keeps_the_history(draft, cabinet):
    first_item = min(draft.meeting.agenda_items, key=lambda i: i.position)
    saved = service.save(cabinet["thuky"], draft.id, service.DraftChanges(
        revision=draft.revision, number="12/BB-CP",
        opening_html='<p onclick="x()">Chủ tọa khai mạc<script>alert(1)</script></p>',
        items={first_item.id: {
            "discussion_html": '<p>Ý kiến <strong>thẩm định</strong><img src=x onerror=alert(1)></p>'}}))
    assert saved.revision == 2 and saved.number == "12/BB-CP"
    assert saved.content["opening_html"] == "<p>Chủ tọa khai mạc</p>"
    discussion = saved.content["items"][str(first_item.id)]["discussion_html"]
    assert discussion == "<p>Ý kiến <strong>thẩm định</strong></p>"
    assert record.minutes_data(saved).header.number_line == "Số: 12/BB-CP"
    assert [r.revision for r in service.history(cabinet["thuky"], draft.id)] == [2], \
        "saves by one editor within minutes share one history row"
    assert "minutes.saved" in _actions(draft.id)


def test_a_save_from_an_older_revision_is_refused_and_loses_nothing(draft, cabinet):
    service.save(cabinet["thuky"], draft.id, service.DraftChanges(revision=1, closing_html="<p>Bản A</p>"))
    with pytest.raises(Conflict) as stale:
        service.save(cabinet["thuky"], draft.id,
                     service.DraftChanges(revision=1, closing_html="<p>Bản B</p>"))
    assert stale.value.code == "stale_revision" and stale.value.details == {"revision": 2}
    assert db.session.get(Minutes, draft.id).content["closing_html"] == "<p>Bản A</p>"


def test_bad_fields_are_refused_with_a_message_per_field_and_nothing_saved(draft, cabinet, make_user):
    with pytest.raises(ValidationError) as refused:
        service.save(cabinet["thuky"], draft.id, service.DraftChanges(
            revision=1, items={999999: {"discussion_html": "<p>x</p>"}}, secrecy="bi_mat",
            opening_html="<p>giữ lại?</p>"))
    assert set(refused.value.details["fields"]) == {"items.999999", "secrecy"}
    assert db.session.get(Minutes, draft.id).revision == 1
    assert db.session.get(Minutes, draft.id).content["opening_html"] == ""


def test_a_draft_is_hidden_from_members_until_review_is_requested(draft, cabinet):
    with pytest.raises(NotFound):
        service.get(cabinet["tuphap"], draft.id)
    assert service.get(cabinet["pm"], draft.id).id == draft.id, "the chair, a signatory, reads the draft"
    service.request_review(cabinet["thuky"], draft.id)
    assert service.get(cabinet["tuphap"], draft.id).id == draft.id
    comment = service.add_comment(cabinet["tuphap"], draft.id, "Đề nghị ghi rõ ý kiến của Bộ Tư pháp.")
    with pytest.raises(PermissionDenied):
        service.resolve_comment(cabinet["tuphap"], comment.id)
    service.resolve_comment(cabinet["thuky"], comment.id)
    assert service.comments(cabinet["thuky"], draft.id)[0].resolved_at is not None
    with pytest.raises(PermissionDenied):
        service.save(cabinet["tuphap"], draft.id, service.DraftChanges(revision=1, opening_html="<p>x</p>"))
    with pytest.raises(NotFound):
        service.get(cabinet["outsider"], draft.id)


def test_classified_minutes_are_hidden_from_members_not_cleared(draft, cabinet):
    cabinet["thuky"].clearance = "tuyet_mat"
    db.session.commit()
    service.request_review(cabinet["thuky"], draft.id)
    service.save(cabinet["thuky"], draft.id, service.DraftChanges(revision=draft.revision, secrecy="toi_mat"))
    with pytest.raises(NotFound):
        service.get(cabinet["tuphap"], draft.id)  # cleared for nothing


# --- finalize, sign, lock ----------------------------------------------------------------------------


def test_finalizing_freezes_the_text_and_archives_the_pdf_with_its_hash(draft, cabinet, signers):
    minutes = _finalized(draft, cabinet)
    assert minutes.status == MinutesStatus.FINAL and minutes.snapshot["draft"] is False
    stored = blob_store().read(minutes.pdf_sha256)
    assert stored.startswith(b"%PDF-") and hashlib.sha256(stored).hexdigest() == minutes.pdf_sha256
    assert set(minutes.signature_places) >= {signing.SECRETARY_FIELD, signing.CHAIR_FIELD}
    with pytest.raises(Conflict) as locked:
        service.save(cabinet["thuky"], draft.id, service.DraftChanges(revision=minutes.revision,
                                                                       opening_html="<p>sửa</p>"))
    assert locked.value.code == "minutes_locked"
    reopened = service.reopen(cabinet["thuky"], draft.id)
    assert reopened.status == MinutesStatus.DRAFT and reopened.pdf_sha256 is None
    with pytest.raises(Conflict) as again:
        service.reopen(cabinet["thuky"], draft.id)
    assert again.value.code == "already_draft"


def test_finalizing_an_older_revision_is_refused(draft, cabinet, signers):
    service.save(cabinet["thuky"], draft.id, service.DraftChanges(revision=1, closing_html="<p>mới</p>"))
    with pytest.raises(Conflict) as stale:
        service.finalize(cabinet["thuky"], draft.id, 1)
    assert stale.value.code == "stale_revision"


def test_the_secretary_signs_then_the_chair_and_the_pdf_validates(draft, cabinet, signers, demo_keys):
    minutes = _finalized(draft, cabinet)
    with pytest.raises(Conflict) as early:
        service.sign(cabinet["pm"], minutes.id, PASSPHRASE)
    assert early.value.code == "signing_order"
    with pytest.raises(PermissionDenied):
        service.sign(cabinet["tuphap"], minutes.id, PASSPHRASE)
    service.sign(cabinet["thuky"], minutes.id, PASSPHRASE)
    assert db.session.get(Minutes, minutes.id).status == MinutesStatus.SIGNING
    with pytest.raises(Conflict) as twice:
        service.sign(cabinet["thuky"], minutes.id, PASSPHRASE)
    assert twice.value.code == "already_signed"
    with pytest.raises(Conflict):
        service.reopen(cabinet["thuky"], minutes.id)
    signed = service.sign(cabinet["pm"], minutes.id, PASSPHRASE)
    assert signed.status == MinutesStatus.SIGNED
    assert [s.role for s in signed.signatures] == ["secretary", "chair"]
    final = blob_store().read(signed.signed_sha256)
    reports = signing.verify_pdf(final, pki.trust_roots(demo_keys.directory))
    assert [r.field_name for r in reports] == [signing.SECRETARY_FIELD, signing.CHAIR_FIELD]
    assert all(r.ok for r in reports)
    assert [r.signer_name for r in reports] == ["Trần Thị Thu Hà", "Phạm Quốc Hưng"]
    first_step = blob_store().read(signed.signatures[0].sha256)
    assert final.startswith(first_step), "the chair's signature is an incremental update"
    assert _actions(minutes.id)[-3:] == ["minutes.finalized", "minutes.signed", "minutes.signed"]


def test_a_wrong_passphrase_signs_nothing_and_is_audited(draft, cabinet, signers):
    minutes = _finalized(draft, cabinet)
    with pytest.raises(ValidationError) as wrong:
        service.sign(cabinet["thuky"], minutes.id, "not-the-passphrase")
    assert wrong.value.code == "signing_key"
    assert db.session.scalar(select(MinutesSignature.id)
                             .where(MinutesSignature.minutes_id == minutes.id)) is None
    assert db.session.get(Minutes, minutes.id).status == MinutesStatus.FINAL
    assert _actions(minutes.id)[-1] == "minutes.sign_refused"


def test_a_signatory_without_a_key_is_told_to_ask_an_administrator(draft, cabinet):
    minutes = _finalized(draft, cabinet)
    with pytest.raises(Conflict) as missing:
        service.sign(cabinet["thuky"], minutes.id, PASSPHRASE)
    assert missing.value.code == "no_signing_key"


def test_a_correction_is_a_new_version_signed_again_and_the_old_file_is_kept(draft, cabinet, signers):
    first = _signed(draft, cabinet)
    first_sha = first.signed_sha256
    with pytest.raises(Conflict):
        service.save(cabinet["thuky"], first.id, service.DraftChanges(revision=first.revision,
                                                                       opening_html="<p>x</p>"))
    with pytest.raises(ValidationError):
        service.new_version(cabinet["thuky"], draft.meeting_id, "  ")
    second = service.new_version(cabinet["thuky"], draft.meeting_id, "Bổ sung ý kiến của Bộ Y tế")
    assert second.version == 2 and second.corrects_id == first.id
    assert "Bản đính chính" in record.minutes_data(second).correction_note
    with pytest.raises(Conflict):
        service.new_version(cabinet["thuky"], draft.meeting_id, "lần nữa")
    _signed(second, cabinet)
    assert db.session.get(Minutes, first.id).status == MinutesStatus.SUPERSEDED
    assert hashlib.sha256(blob_store().read(first_sha)).hexdigest() == first_sha
    assert [m.version for m in service.versions(cabinet["tuphap"], draft.meeting_id)] == [2, 1]


def test_verify_recognises_an_archived_file_and_rejects_a_flipped_byte(draft, cabinet, signers):
    signed = _signed(draft, cabinet)
    data = blob_store().read(signed.signed_sha256)
    good = service.verify(cabinet["tuphap"], data, "bien-ban.pdf")
    assert good.ok and good.archived.id == signed.id and len(good.signatures) == 2
    # One byte in the first stream (the output intent's colour profile), which both signatures cover.
    at = data.index(b"stream\n") + 100
    flipped = data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1:]
    bad = service.verify(cabinet["tuphap"], flipped, "bien-ban.pdf")
    assert not bad.ok and bad.archived is None
    assert not all(report.intact for report in bad.signatures)
    with pytest.raises(ValidationError):
        service.verify(cabinet["tuphap"], b"not a pdf", "x.pdf")
    verified = list(db.session.scalars(select(AuditEntry).where(AuditEntry.action == "minutes.verified")))
    assert [entry.details["ok"] for entry in verified] == [True, False]


def test_exports_are_audited_and_a_signed_pdf_is_served_byte_exact(draft, cabinet, signers):
    signed = _signed(draft, cabinet)
    pdf = service.export(cabinet["tuphap"], signed.id, "pdf")
    assert pdf.sha256 == signed.signed_sha256
    docx = service.export(cabinet["tuphap"], signed.id, "docx")
    assert docx.content.startswith(b"PK") and docx.filename.endswith(".docx")
    notice = service.export(cabinet["tuphap"], signed.id, "pdf", notice=True)
    assert notice.content.startswith(b"%PDF-") and notice.filename.startswith("thong-bao")
    exported = [e.details for e in db.session.scalars(select(AuditEntry).where(
        AuditEntry.action == "minutes.exported").order_by(AuditEntry.seq))]
    assert [(d["format"], d["kind"]) for d in exported] == [("pdf", "minutes"), ("docx", "minutes"),
                                                             ("pdf", "notice")]
    with pytest.raises(ValidationError):
        service.export(cabinet["tuphap"], signed.id, "odt")


def test_the_conclusion_notice_lists_the_chairs_conclusions(draft):
    notice = record.notice_data(draft)
    assert notice.header.organ == "VĂN PHÒNG CHÍNH PHỦ"
    assert [item.title for item in notice.items] == ["Dự án Luật Đất đai (sửa đổi)"]
    assert "Phạm Quốc Hưng" in notice.introduction


def test_only_an_administrator_registers_keys_and_a_bad_file_is_refused(admin, cabinet, demo_keys):
    p12 = demo_keys.p12["thuky"].read_bytes()
    with pytest.raises(PermissionDenied):
        keys.upload(cabinet["thuky"], cabinet["thuky"].id, p12, PASSPHRASE)
    with pytest.raises(ValidationError) as wrong:
        keys.upload(admin, cabinet["thuky"].id, p12, "wrong")
    assert "passphrase" in wrong.value.details["fields"]
    with pytest.raises(ValidationError):
        keys.upload(admin, cabinet["thuky"].id, b"not a key", PASSPHRASE)
    first = keys.upload(admin, cabinet["thuky"].id, p12, PASSPHRASE)
    second = keys.upload(admin, cabinet["thuky"].id, p12, PASSPHRASE)
    assert first.revoked_at is not None and keys.active_key(cabinet["thuky"].id).id == second.id
    assert first.certificate_subject == "Trần Thị Thu Hà"


def test_the_signed_pdf_reads_as_vietnamese_minutes_of_the_meeting(draft, cabinet, signers, tmp_path):
    import shutil
    import subprocess
    import unicodedata

    pdftotext = shutil.which("pdftotext")
    assert pdftotext, "poppler-utils is needed (.ci/lib.sh installs it)"
    signed = _signed(draft, cabinet)
    path = tmp_path / "bien-ban.pdf"
    path.write_bytes(blob_store().read(signed.signed_sha256))
    text = unicodedata.normalize("NFC", subprocess.run([pdftotext, str(path), "-"], capture_output=True,
                                                       text=True, check=True).stdout)
    flat = " ".join(text.split())
    for expected in ("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "Độc lập - Tự do - Hạnh phúc", "BIÊN BẢN",
                     "Dự án Luật Đất đai (sửa đổi)", "Thông qua: 2/3 thành viên Chính phủ tán thành",
                     "Tôn Nữ Thanh Thủy", "Đi công tác nước ngoài", "giao Bộ Tư pháp tiếp thu",
                     "THƯ KÝ", "CHỦ TỌA", "Ký số bởi: Trần Thị Thu Hà"):
        assert expected in flat, expected
    assert "DỰ THẢO" not in flat, "a finalized version is no longer marked as a draft"


def test_guessing_the_passphrase_is_stopped_after_five_wrong_tries(draft, cabinet, signers):
    from cabinet.core.errors import TooManyRequests

    minutes = _finalized(draft, cabinet)
    for _ in range(service.WRONG_PASSPHRASE_LIMIT):
        with pytest.raises(ValidationError):
            service.sign(cabinet["thuky"], minutes.id, "guess")
    with pytest.raises(TooManyRequests) as stopped:
        service.sign(cabinet["thuky"], minutes.id, PASSPHRASE)
    assert stopped.value.retry_after == 15 * 60
    assert db.session.get(Minutes, minutes.id).signatures == []
