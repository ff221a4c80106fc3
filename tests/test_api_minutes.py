"""The minutes through the JSON API (D11, D14, D16, D19), as clients see them: the secretary drafts
from the record and saves, finalizes, the secretary then the chair sign with their keys, anyone may
download and verify the signed PDF — with pyHanko and with poppler's ``pdfsig`` — and a correction is
a new version. Every answer is checked against the OpenAPI document."""

from __future__ import annotations

import hashlib
import io
import re

import pytest
from sqlalchemy import select

from cabinet.audit.models import AuditEntry
from cabinet.extensions import db
from cabinet.minutes import keys, service
from cabinet.minutes.models import Minutes
from cabinet.signing import pdf as signing
from cabinet.signing import pki
from tests.conftest import csrf_token, login
from tests.meeting_factories import held_meeting
from tests.pdf_checks import nss_database, pdfsig
from tests.test_api_meetings import error, fields

PASSPHRASE = "passphrase-123"
CONCLUSION = ("Chính phủ thống nhất thông qua dự án Luật, giao Bộ Tư pháp tiếp thu, hoàn thiện hồ sơ "
              "trình Quốc hội.")


# --- fixtures and helpers ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_pki(tmp_path_factory) -> pki.DemoPki:
    return pki.create_demo_pki(tmp_path_factory.mktemp("pki"), PASSPHRASE)


@pytest.fixture
def signers(app, admin, cabinet, demo_pki):
    """The secretary's and the chair's keys are registered; the demo CA is trusted."""
    app.config["CABINET_PKI_DIR"] = str(demo_pki.directory)
    keys.upload(admin, cabinet["thuky"].id, demo_pki.p12["thuky"].read_bytes(), PASSPHRASE)
    keys.upload(admin, cabinet["pm"].id, demo_pki.p12["thutuong"].read_bytes(), PASSPHRASE)
    return cabinet


@pytest.fixture(scope="module")
def nss_db(tmp_path_factory, demo_pki) -> str:
    return nss_database(tmp_path_factory.mktemp("nss"), demo_pki.ca_cert)


@pytest.fixture
def held(cabinet):
    return held_meeting(cabinet, conclusion=CONCLUSION)


def _url(meeting, tail: str = "") -> str:
    return f"/api/v1/meetings/{meeting.id}/minutes{tail}"


def _started(api, meeting) -> dict:
    answer = api("thuky", "POST", _url(meeting))
    assert answer.status_code == 201, answer.get_json()
    return answer.get_json()


def _finalized(api, meeting) -> dict:
    draft = _started(api, meeting)
    answer = api("thuky", "POST", _url(meeting, "/finalize"), json={"revision": draft["revision"]})
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()


def _sign(api, username: str, meeting, passphrase: str = PASSPHRASE):
    return api(username, "POST", _url(meeting, "/sign"), json={"passphrase": passphrase})


def _signed(api, meeting) -> dict:
    _finalized(api, meeting)
    assert _sign(api, "thuky", meeting).status_code == 200
    answer = _sign(api, "thutuong", meeting)
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()


def _flip_a_signed_byte(data: bytes) -> bytes:
    """One byte changed inside a content stream that every signature covers."""
    covered = int(re.search(rb"/ByteRange\s*\[\s*0\s+(\d+)", data).group(1))  # the first signature's
    for match in re.finditer(rb"stream\r?\n", data):
        end = data.find(b"endstream", match.end())
        if end - match.end() > 200 and match.end() + 100 < covered:
            flipped = bytearray(data)
            flipped[match.end() + 100] ^= 0x01
            return bytes(flipped)
    raise AssertionError("no stream inside the signed range")


def _verify(api, username: str, data: bytes, filename: str = "bien-ban.pdf"):
    return api(username, "POST", "/api/v1/verify", data={"file": (io.BytesIO(data), filename)},
               content_type="multipart/form-data")


def _actions(minutes_id: int) -> list[str]:
    return list(db.session.scalars(select(AuditEntry.action).where(
        AuditEntry.object_type == "minutes", AuditEntry.object_id == str(minutes_id))
        .order_by(AuditEntry.seq)))


# --- drafting ----------------------------------------------------------------------------------------


def test_the_secretary_starts_the_draft_from_the_record(api, held, cabinet):
    draft = _started(api, held)

    assert draft["status"] == "draft" and draft["version"] == 1 and draft["revision"] == 1
    assert draft["meeting_id"] == held.id and draft["secrecy"] == "none" and draft["signatures"] == []
    first, second = draft["content"]["items"]
    assert first["title"] == "Dự án Luật Đất đai (sửa đổi)" and CONCLUSION in first["conclusion_html"]
    assert second["number"] == 2 and second["discussion_html"] == ""
    rec = draft["record"]
    assert rec["organ"] == "CHÍNH PHỦ" and rec["chair"].startswith("Phạm Quốc Hưng")
    assert rec["secretary"].startswith("Trần Thị Thu Hà")
    assert rec["absent"] == ["Tôn Nữ Thanh Thủy, Bộ trưởng Bộ Tư pháp (vắng mặt: Đi công tác nước ngoài)"]
    assert rec["guests"] and rec["quorum"].startswith("Có mặt 2/3 thành viên Chính phủ")
    (vote,) = rec["items"][0]["votes"]
    assert vote["counts"][0] == {"label": "Tán thành", "count": 2}
    assert vote["result"].startswith("Thông qua: 2/3")
    assert {v["name"] for v in vote["voters"]} == {"Phạm Quốc Hưng", "Phan Thị Ngọc Diệp"}
    assert draft["links"]["pdf"] == f"/api/v1/meetings/{held.id}/minutes.pdf?version=1"
    assert draft["me"] == {"can_edit": True, "signatory_role": "secretary", "can_sign": False,
                           "can_sign_as_organisation": False}
    assert draft["next_signer_role"] is None
    assert error(api("thuky", "POST", _url(held)), 409)["code"] == "minutes_exist"
    assert error(api("bt.tuphap", "POST", _url(held)), 403)["code"] == "forbidden"


def test_saving_sanitises_the_text_and_a_stale_revision_is_refused(api, held):
    draft = _started(api, held)
    item = draft["content"]["items"][0]["item_id"]

    saved = api("thuky", "PUT", _url(held), json={
        "revision": draft["revision"], "number": "12/BB-CP",
        "opening_html": '<p onclick="steal()">Chủ tọa khai mạc<script>alert(1)</script></p>',
        "items": [{"item_id": item, "discussion_html":
                   '<p>Ý kiến <strong>thẩm định</strong><img src=x onerror="alert(1)"></p>'}]})

    assert saved.status_code == 200, saved.get_json()
    body = saved.get_json()
    assert body["revision"] == 2 and body["number"] == "12/BB-CP"
    assert body["content"]["opening_html"] == "<p>Chủ tọa khai mạc</p>"
    text = body["content"]["items"][0]
    assert text["discussion_html"] == "<p>Ý kiến <strong>thẩm định</strong></p>"
    assert CONCLUSION in text["conclusion_html"], "a field left out keeps its text"
    assert body["record"]["number_line"] == "Số: 12/BB-CP"
    for html in (body["content"]["opening_html"], text["discussion_html"]):
        assert "script" not in html and "onerror" not in html and "onclick" not in html

    stale = error(api("thuky", "PUT", _url(held), json={"revision": 1, "closing_html": "<p>Bản cũ</p>"}), 409)
    assert stale["code"] == "stale_revision" and stale["details"]["revision"] == 2
    assert api("thuky", "GET", _url(held)).get_json()["content"]["closing_html"] == ""


def test_bad_fields_are_named_so_the_client_finds_them(api, held):
    draft = _started(api, held)
    item = draft["content"]["items"][0]["item_id"]
    revision = draft["revision"]

    unknown = fields(api("thuky", "PUT", _url(held), json={
        "revision": revision, "items": [{"item_id": 999_999, "discussion_html": "x"}]}))
    too_long = fields(api("thuky", "PUT", _url(held), json={
        "revision": revision, "items": [{"item_id": item, "discussion_html": "x" * (service.MAX_HTML + 1)}]}))
    above_clearance = fields(api("thuky", "PUT", _url(held), json={"revision": revision, "secrecy": "mat"}))
    unknown_field = fields(api("thuky", "PUT", _url(held), json={"revision": revision, "colour": "red"}))
    twice = fields(api("thuky", "PUT", _url(held), json={"revision": revision, "items": [
        {"item_id": item, "discussion_html": "a"}, {"item_id": item, "conclusion_html": "b"}]}))

    assert unknown == {"items.999999"}
    assert too_long == {"items.0.discussion_html"}, "the schema names the position in the list sent"
    assert above_clearance == {"secrecy"}
    assert unknown_field == {"colour"} and twice == {"items"}
    assert error(api("thuky", "PUT", _url(held), json={"opening_html": "x"}), 422)
    assert api("thuky", "GET", _url(held)).get_json()["revision"] == revision, "nothing was saved"


def test_a_long_draft_fits_in_one_save(api, held, app):
    draft = _started(api, held)
    long_text = "<p>" + "Thảo luận về dự án Luật Đất đai. " * 6000 + "</p>"  # ~200,000 characters
    assert len(long_text.encode()) > app.config["CABINET_MAX_JSON_BYTES"]

    saved = api("thuky", "PUT", _url(held), json={"revision": draft["revision"], "closing_html": long_text})

    assert saved.status_code == 200, saved.get_json()
    assert len(saved.get_json()["content"]["closing_html"]) == len(long_text)


def test_refresh_takes_in_a_conclusion_only_where_the_draft_has_none(api, held):
    draft = _started(api, held)
    first, second = (i["item_id"] for i in draft["content"]["items"])
    api("thuky", "PUT", _url(held), json={"revision": draft["revision"], "items": [
        {"item_id": first, "conclusion_html": "<p>Lời của thư ký</p>"},
        {"item_id": second, "conclusion_html": ""}]})

    refreshed = api("thuky", "POST", _url(held, "/refresh"))

    assert refreshed.status_code == 200
    items = refreshed.get_json()["content"]["items"]
    assert items[0]["conclusion_html"] == "<p>Lời của thư ký</p>"
    assert refreshed.get_json()["revision"] == 3


# --- review --------------------------------------------------------------------------------------------


def test_participants_review_and_comment_and_the_secretary_resolves(api, held):
    draft = _started(api, held)
    item = draft["content"]["items"][0]["item_id"]
    assert error(api("bt.tuphap", "GET", _url(held)), 404)["code"] == "not_found"  # not yet invited

    reviewed = api("thuky", "POST", _url(held, "/review"))
    assert reviewed.status_code == 200 and reviewed.get_json()["review_requested_at"]
    assert api("bt.tuphap", "GET", _url(held)).status_code == 200
    comment = api("bt.tuphap", "POST", _url(held, "/comments"),
                  json={"body": "Đề nghị ghi rõ ý kiến của Bộ Tư pháp.", "item_id": item})
    assert comment.status_code == 201, comment.get_json()
    created = comment.get_json()
    assert created["item_id"] == item and created["author"]["full_name"] == "Phan Thị Ngọc Diệp"
    assert "body" in fields(api("bt.tuphap", "POST", _url(held, "/comments"), json={"body": "  "}))
    assert "item_id" in fields(api("bt.tuphap", "POST", _url(held, "/comments"),
                                   json={"body": "x", "item_id": 999_999}))

    resolve = f"/api/v1/minutes-comments/{created['id']}/resolve"
    assert error(api("bt.tuphap", "POST", resolve), 403)
    resolved = api("thuky", "POST", resolve).get_json()
    assert resolved["resolved_at"] and resolved["resolved_by"]["full_name"] == "Trần Thị Thu Hà"
    listed = api("bt.yte", "GET", _url(held, "/comments")).get_json()
    assert listed["minutes_id"] == draft["id"] and [c["id"] for c in listed["comments"]] == [created["id"]]
    assert error(api("bt.tuphap", "PUT", _url(held), json={"revision": draft["revision"]}), 403)


# --- finalize and sign ----------------------------------------------------------------------------------


def test_finalize_locks_the_text_and_the_signatures_follow_the_order(api, held, signers):
    final = _finalized(api, held)
    assert final["status"] == "final" and final["pdf_sha256"] and final["next_signer_role"] == "secretary"
    assert final["me"]["can_sign"] and not final["me"]["can_edit"]

    edit = {"revision": final["revision"], "closing_html": "x"}
    locked = error(api("thuky", "PUT", _url(held), json=edit), 409)
    assert locked["code"] == "minutes_locked"
    assert error(_sign(api, "thutuong", held), 409)["code"] == "signing_order"
    assert error(_sign(api, "bt.tuphap", held), 403)["code"] == "forbidden"
    assert error(api("bt.tuphap", "POST", _url(held, "/comments"), json={"body": "Muộn"}), 409)["code"] \
        == "minutes_locked"

    wrong = error(_sign(api, "thuky", held, "not-the-passphrase"), 422)
    assert wrong["code"] == "signing_key"
    assert {f["field"] for f in wrong["details"]["fields"]} == {"passphrase"}
    unchanged = api("thuky", "GET", _url(held)).get_json()
    assert unchanged["status"] == "final" and unchanged["signatures"] == []
    assert unchanged["signed_sha256"] is None
    assert [a for a in _actions(final["id"]) if a != "minutes.viewed"][-1] == "minutes.sign_refused"

    first = _sign(api, "thuky", held)
    assert first.status_code == 200, first.get_json()
    assert first.get_json()["status"] == "signing" and first.get_json()["next_signer_role"] == "chair"
    assert error(_sign(api, "thuky", held), 409)["code"] == "already_signed"
    assert error(api("thuky", "POST", _url(held, "/reopen")), 409)["code"] == "minutes_locked"

    signed = _sign(api, "thutuong", held).get_json()
    assert signed["status"] == "signed" and signed["next_signer_role"] is None
    secretary, chair = signed["signatures"]
    assert (secretary["role"], secretary["field_name"], secretary["signer"]["full_name"]) == \
        ("secretary", "ThuKy", "Trần Thị Thu Hà")
    assert (chair["role"], chair["field_name"], chair["certificate_subject"]) == \
        ("chair", "ChuToa", "Phạm Quốc Hưng")
    assert chair["sha256"] == signed["signed_sha256"] and chair["certificate_issuer"]
    assert chair["pdf"] == f"/api/v1/minutes-signatures/{chair['id']}.pdf"


def test_a_finalized_draft_may_be_reopened_before_anyone_signs(api, held, signers):
    final = _finalized(api, held)

    reopened = api("thuky", "POST", _url(held, "/reopen"))

    assert reopened.status_code == 200
    assert reopened.get_json()["status"] == "draft"
    assert reopened.get_json()["revision"] == final["revision"] + 1
    assert error(_sign(api, "thuky", held), 409)["code"] == "not_finalized"


def test_the_signed_pdf_validates_and_a_flipped_byte_is_caught_by_pyhanko_and_pdfsig(
        api, held, signers, demo_pki, nss_db, tmp_path):
    signed = _signed(api, held)

    download = api("bt.yte", "GET", _url(held, ".pdf"))

    assert download.status_code == 200 and download.mimetype == "application/pdf"
    data = download.get_data()
    assert download.headers["Content-Disposition"].startswith("attachment; filename=")
    assert download.headers["X-Content-SHA256"] == hashlib.sha256(data).hexdigest() == signed["signed_sha256"]
    assert download.headers["Repr-Digest"].startswith("sha-256=:")
    roots = pki.trust_roots(demo_pki.directory)
    reports = signing.verify_pdf(data, roots)
    assert [(r.field_name, r.signer_name, r.ok) for r in reports] == [
        ("ThuKy", "Trần Thị Thu Hà", True), ("ChuToa", "Phạm Quốc Hưng", True)]
    checked = pdfsig(data, nss_db, tmp_path)
    assert [s["Signature Field Name"] for s in checked] == ["ThuKy", "ChuToa"]
    assert all(s["Signature Validation"] == "Signature is Valid." for s in checked)

    flipped = _flip_a_signed_byte(data)
    assert not any(r.intact for r in signing.verify_pdf(flipped, roots))
    assert [s["Signature Validation"] for s in pdfsig(flipped, nss_db, tmp_path)] == ["Digest Mismatch."] * 2

    good = _verify(api, "bt.tuphap", data)
    assert good.status_code == 200, good.get_json()
    report = good.get_json()
    assert report["ok"] and report["sha256"] == signed["signed_sha256"] and report["size"] == len(data)
    assert [s["signer_name"] for s in report["signatures"]] == ["Trần Thị Thu Hà", "Phạm Quốc Hưng"]
    assert report["archived"] == {"minutes_id": signed["id"], "meeting_id": held.id, "version": 1,
                                  "status": "signed", "signature_id": signed["signatures"][1]["id"]}
    bad = _verify(api, "bt.tuphap", flipped).get_json()
    assert not bad["ok"] and bad["archived"] is None
    assert not any(s["intact"] for s in bad["signatures"])
    assert "KHÔNG nguyên vẹn" in bad["signatures"][0]["summary_vi"]


def test_each_step_of_the_signing_is_kept_byte_exact(api, held, signers, demo_pki):
    signed = _signed(api, held)
    secretary, chair = signed["signatures"]

    after_secretary = api("bt.tuphap", "GET", secretary["pdf"])

    assert after_secretary.status_code == 200
    data = after_secretary.get_data()
    assert hashlib.sha256(data).hexdigest() == secretary["sha256"]
    assert after_secretary.headers["X-Content-SHA256"] == secretary["sha256"]
    assert [r.field_name for r in signing.verify_pdf(data, pki.trust_roots(demo_pki.directory))] == ["ThuKy"]
    latest = api("bt.tuphap", "GET", _url(held, ".pdf")).get_data()
    assert api("bt.tuphap", "GET", chair["pdf"]).get_data() == latest
    assert error(api("bt.khac", "GET", chair["pdf"]), 404)
    assert error(api("bt.tuphap", "GET", "/api/v1/minutes-signatures/999999.pdf"), 404)


def test_verify_refuses_what_is_not_a_pdf_and_finds_no_signature_in_a_draft(api, held, monkeypatch):
    _started(api, held)
    draft_pdf = api("thuky", "GET", _url(held, ".pdf")).get_data()

    unsigned = _verify(api, "thuky", draft_pdf).get_json()

    assert unsigned["ok"] is False and unsigned["signatures"] == [] and unsigned["archived"] is None
    assert "file" in fields(_verify(api, "bt.tuphap", b"hello", "note.txt"))
    assert error(_verify(api, "bt.tuphap", b"%PDF-1.7\n%%EOF\n"), 422)["code"] == "validation_error"
    assert "file" in fields(api("bt.tuphap", "POST", "/api/v1/verify", data={"other": "x"},
                                content_type="multipart/form-data"))
    as_json = api("bt.tuphap", "POST", "/api/v1/verify", json={"file": "x"})
    assert error(as_json, 400)["code"] == "not_multipart"
    monkeypatch.setattr(service, "MAX_VERIFY_BYTES", 1000)
    assert error(_verify(api, "bt.tuphap", b"%PDF-1.7\n" + b"0" * 2000), 413)["code"] == "payload_too_large"


def test_the_organisation_signs_after_the_chair_when_its_key_is_configured(api, app, held, signers, demo_pki):
    _signed(api, held)
    assert error(api("thuky", "POST", _url(held, "/sign"), json={"as": "organisation"}), 409)["code"] \
        == "no_signing_key"
    app.config["CABINET_ORG_P12"] = str(demo_pki.p12["vpcp"])
    app.config["CABINET_ORG_P12_PASSPHRASE"] = PASSPHRASE
    assert api("thuky", "GET", _url(held)).get_json()["next_signer_role"] == "organisation"
    assert error(api("thutuong", "POST", _url(held, "/sign"), json={"as": "organisation"}), 403)

    sealed = api("thuky", "POST", _url(held, "/sign"), json={"as": "organisation"})

    assert sealed.status_code == 200, sealed.get_json()
    body = sealed.get_json()
    assert [s["role"] for s in body["signatures"]] == ["secretary", "chair", "organisation"]
    assert body["signatures"][2]["signer"] is None and body["signatures"][2]["applied_by"]["full_name"] == \
        "Trần Thị Thu Hà"
    data = api("thuky", "GET", _url(held, ".pdf")).get_data()
    reports = signing.verify_pdf(data, pki.trust_roots(demo_pki.directory))
    assert [r.field_name for r in reports] == ["ThuKy", "ChuToa", "CoQuan"] and all(r.ok for r in reports)


# --- corrections and versions ---------------------------------------------------------------------------


def test_a_correction_is_version_2_and_version_1_is_superseded_once_it_is_signed(api, held, signers):
    first = _signed(api, held)
    assert "reason" in fields(api("thuky", "POST", _url(held, "/versions"), json={"reason": " "}))

    correction = api("thuky", "POST", _url(held, "/versions"), json={"reason": "Sửa tên cơ quan trình"})

    assert correction.status_code == 201, correction.get_json()
    second = correction.get_json()
    assert second["version"] == 2 and second["status"] == "draft" and second["corrects"] == 1
    assert second["correction_reason"] == "Sửa tên cơ quan trình"
    assert second["record"]["correction_note"].startswith("Bản đính chính (phiên bản 2)")
    again = api("thuky", "POST", _url(held, "/versions"), json={"reason": "Lần nữa"})
    assert error(again, 409)["code"] == "not_signed"
    assert api("bt.tuphap", "GET", _url(held)).get_json()["version"] == 1, "members read the signed version"
    versions = api("thuky", "GET", _url(held, "/versions")).get_json()["versions"]
    assert [(v["version"], v["status"]) for v in versions] == [(2, "draft"), (1, "signed")]

    api("thuky", "POST", _url(held, "/finalize"), json={"revision": second["revision"]})
    _sign(api, "thuky", held)
    _sign(api, "thutuong", held)

    versions = api("bt.tuphap", "GET", _url(held, "/versions")).get_json()["versions"]
    assert [(v["version"], v["status"], v["signatures"]) for v in versions] == [
        (2, "signed", ["secretary", "chair"]), (1, "superseded", ["secretary", "chair"])]
    old = api("bt.tuphap", "GET", _url(held, ".pdf?version=1"))
    assert hashlib.sha256(old.get_data()).hexdigest() == first["signed_sha256"], "the old file is kept"
    assert api("bt.tuphap", "GET", _url(held, "?version=1")).get_json()["status"] == "superseded"
    assert error(api("bt.tuphap", "GET", _url(held, "?version=7")), 404)
    assert "version" in fields(api("bt.tuphap", "GET", _url(held, "?version=two")))


# --- downloads -------------------------------------------------------------------------------------------


def test_the_docx_and_the_conclusion_notice_download(api, held, signers):
    from docx import Document as Docx

    _signed(api, held)

    docx = api("bt.tuphap", "GET", _url(held, ".docx"))
    notice_pdf = api("bt.tuphap", "GET", f"/api/v1/meetings/{held.id}/conclusions.pdf")
    notice_docx = api("bt.tuphap", "GET", f"/api/v1/meetings/{held.id}/conclusions.docx")

    assert docx.status_code == 200 and docx.mimetype == service.DOCX
    assert docx.headers["Content-Disposition"] == 'attachment; filename="bien-ban-v1.docx"'
    assert docx.headers["X-Content-SHA256"] == hashlib.sha256(docx.get_data()).hexdigest()
    assert docx.headers["Cache-Control"] == "private, no-cache"
    text = "\n".join(p.text for p in Docx(io.BytesIO(docx.get_data())).paragraphs)
    assert "BIÊN BẢN" in text and "giao Bộ Tư pháp tiếp thu" in text
    assert notice_pdf.status_code == 200 and notice_pdf.get_data().startswith(b"%PDF-")
    notice = "\n".join(p.text for p in Docx(io.BytesIO(notice_docx.get_data())).paragraphs)
    assert "THÔNG BÁO" in notice and "giao Bộ Tư pháp tiếp thu" in notice


def test_every_step_is_in_the_audit_trail(api, held, signers):
    signed = _signed(api, held)
    draft_id = signed["id"]
    api("bt.tuphap", "GET", _url(held, ".pdf"))
    _verify(api, "bt.tuphap", api("bt.tuphap", "GET", _url(held, ".pdf")).get_data())
    api("thuky", "POST", _url(held, "/versions"), json={"reason": "Đính chính"})

    actions = _actions(draft_id)

    for action in ("minutes.drafted", "minutes.finalized", "minutes.signed", "minutes.exported",
                   "minutes.verified"):
        assert action in actions, action
    assert actions.count("minutes.signed") == 2
    version_2 = db.session.scalar(select(Minutes.id).where(Minutes.meeting_id == held.id,
                                                           Minutes.version == 2))
    api("thuky", "PUT", _url(held), json={"revision": 1, "closing_html": "<p>Đã sửa</p>"})
    assert _actions(version_2) == ["minutes.version_created", "minutes.saved"]
    exported = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "minutes.exported")).all()
    assert {e.details["sha256"] for e in exported} == {signed["signed_sha256"]}


# --- who may see and do what -------------------------------------------------------------------------


def test_outsiders_learn_nothing_and_members_cannot_edit(api, client, held, signers):
    draft = _started(api, held)
    api("thuky", "POST", _url(held, "/review"))

    assert error(api("bt.khac", "GET", _url(held)), 404)["code"] == "not_found"
    assert error(api("bt.khac", "GET", _url(held, ".pdf")), 404)
    assert error(api("bt.khac", "PUT", _url(held), json={"revision": draft["revision"]}), 404)
    member_edit = api("bt.tuphap", "PUT", _url(held), json={"revision": draft["revision"]})
    assert error(member_edit, 403)["code"] == "forbidden"
    assert error(api("bt.tuphap", "POST", _url(held, "/finalize"), json={"revision": draft["revision"]}), 403)
    assert error(api("bt.tuphap", "POST", _url(held, "/review")), 403)
    assert error(client.get(_url(held)), 401)["code"] == "token_missing"
    assert error(client.put(_url(held), json={"revision": 1}), 401)["code"] == "token_missing"
    assert error(client.post("/api/v1/verify"), 401)


def test_classified_minutes_are_hidden_from_those_not_cleared_and_never_cached(api, held, cabinet):
    cabinet["thuky"].clearance = "mat"
    db.session.commit()
    draft = _started(api, held)
    saved = api("thuky", "PUT", _url(held), json={"revision": draft["revision"], "secrecy": "mat"})
    assert saved.status_code == 200 and saved.get_json()["secrecy"] == "mat"
    api("thuky", "POST", _url(held, "/review"))

    assert error(api("bt.tuphap", "GET", _url(held)), 404)
    assert error(api("bt.tuphap", "GET", _url(held, ".pdf")), 404)
    assert error(api("bt.tuphap", "POST", _url(held, "/comments"), json={"body": "x"}), 404)
    download = api("thuky", "GET", _url(held, ".pdf"))
    assert download.status_code == 200 and download.headers["Cache-Control"] == "no-store"


def test_the_api_takes_tokens_only_never_the_browser_session(app, held, cabinet):
    """A page's session cookie opens nothing here: a forged cross-site request has no token to send."""
    browser = app.test_client()
    login(browser, "thuky")
    token = csrf_token(browser, "/")
    started = browser.post(_url(held), headers={"X-CSRFToken": token})
    assert error(started, 401)
    assert error(browser.get(_url(held)), 401)


# --- the OpenAPI document ----------------------------------------------------------------------------------

NEW_PATHS = {
    "/api/v1/meetings/{meeting_id}/minutes": {"get", "post", "put"},
    "/api/v1/meetings/{meeting_id}/minutes/finalize": {"post"},
    "/api/v1/meetings/{meeting_id}/minutes/reopen": {"post"},
    "/api/v1/meetings/{meeting_id}/minutes/review": {"post"},
    "/api/v1/meetings/{meeting_id}/minutes/refresh": {"post"},
    "/api/v1/meetings/{meeting_id}/minutes/sign": {"post"},
    "/api/v1/meetings/{meeting_id}/minutes/comments": {"get", "post"},
    "/api/v1/minutes-comments/{comment_id}/resolve": {"post"},
    "/api/v1/meetings/{meeting_id}/minutes/versions": {"get", "post"},
    "/api/v1/meetings/{meeting_id}/minutes.pdf": {"get"},
    "/api/v1/meetings/{meeting_id}/minutes.docx": {"get"},
    "/api/v1/meetings/{meeting_id}/conclusions.pdf": {"get"},
    "/api/v1/meetings/{meeting_id}/conclusions.docx": {"get"},
    "/api/v1/minutes-signatures/{signature_id}.pdf": {"get"},
    "/api/v1/verify": {"post"},
}


def test_the_openapi_document_lists_every_minutes_operation_and_stays_valid(document):
    from openapi_spec_validator import OpenAPIV31SpecValidator, validate

    validate(document, cls=OpenAPIV31SpecValidator)
    for path, methods in NEW_PATHS.items():
        assert path in document["paths"], path
        assert set(document["paths"][path]) >= methods, path
        for method in methods:
            operation = document["paths"][path][method]
            assert operation["tags"] == ["minutes"] and {"401", "403"} <= set(operation["responses"])
    put = document["paths"]["/api/v1/meetings/{meeting_id}/minutes"]["put"]
    assert put["requestBody"]["content"]["application/json"]["schema"] == \
        {"$ref": "#/components/schemas/MinutesDraftIn"}
    assert {"409", "413", "422"} <= set(put["responses"])
    verify = document["paths"]["/api/v1/verify"]["post"]["requestBody"]["content"]
    assert list(verify) == ["multipart/form-data"]
    upload = document["components"]["schemas"]["MinutesVerifyUpload"]
    assert upload["properties"]["file"]["format"] == "binary"
    pdf = document["paths"]["/api/v1/meetings/{meeting_id}/minutes.pdf"]["get"]["responses"]["200"]["content"]
    assert list(pdf) == ["application/pdf"]
    sign = document["components"]["schemas"]["MinutesSignIn"]
    assert set(sign["properties"]) == {"passphrase", "as"}


# --- reads are audited; classified drafts are watermarked per reader ------------------------------------


def _entries(action: str) -> list[AuditEntry]:
    return list(db.session.scalars(select(AuditEntry).where(AuditEntry.action == action)
                                   .order_by(AuditEntry.seq)))


def _pdf_text(data: bytes) -> str:
    from pypdf import PdfReader

    return "\n".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(data)).pages)


def _marked_for(text: str, reader) -> bool:
    """The watermark's footer line: stamp · name · organisation · local time (the minutes' own text
    names the chair and the secretary too, never with a time to the second)."""
    parts = [re.escape(p) for p in ("MẬT", reader.full_name, reader.organisation) if p]
    return re.search(" · ".join([*parts, r"\d\d:\d\d:\d\d \d\d/\d\d/\d{4}"]), text) is not None


def _classified(api, held, cabinet) -> dict:
    """The draft of ``held``, classified Mật, invited to review; the chair is cleared to read it."""
    for key in ("thuky", "pm"):
        cabinet[key].clearance = "mat"
    cabinet["pm"].organisation = "Văn phòng Chính phủ"
    db.session.commit()
    draft = _started(api, held)
    saved = api("thuky", "PUT", _url(held), json={"revision": draft["revision"], "secrecy": "mat"})
    assert saved.status_code == 200, saved.get_json()
    return saved.get_json()


def test_reading_the_minutes_through_the_api_writes_one_entry(api, held, cabinet):
    draft = _started(api, held)
    api("thuky", "POST", _url(held, "/review"))
    before = len(_entries("minutes.viewed"))

    assert api("bt.tuphap", "GET", _url(held)).status_code == 200

    viewed = _entries("minutes.viewed")[before:]
    assert len(viewed) == 1
    entry = viewed[0]
    assert entry.actor_id == cabinet["tuphap"].id and entry.object_id == str(draft["id"])
    assert entry.details == {"meeting_id": held.id, "version": 1, "status": "draft", "secrecy": "none",
                             "via": "api"}


def test_a_refused_read_or_download_writes_no_entry(api, held, cabinet):
    _started(api, held)  # not yet for review: members may not read it
    viewed, exported = len(_entries("minutes.viewed")), len(_entries("minutes.exported"))
    assert error(api("bt.tuphap", "GET", _url(held)), 404)
    assert error(api("bt.khac", "GET", _url(held, ".pdf")), 404)
    assert error(api("bt.khac", "GET", _url(held, ".docx")), 404)
    assert len(_entries("minutes.viewed")) == viewed and len(_entries("minutes.exported")) == exported


def test_a_download_writes_one_entry_with_its_format(api, held, cabinet):
    draft = _started(api, held)
    for tail, fmt in ((".docx", "docx"), (".pdf", "pdf")):
        before = len(_entries("minutes.exported"))
        assert api("thuky", "GET", _url(held, tail)).status_code == 200
        exported = _entries("minutes.exported")[before:]
        assert len(exported) == 1
        assert exported[0].object_id == str(draft["id"]) and exported[0].actor_id == cabinet["thuky"].id
        assert {k: exported[0].details[k] for k in ("format", "kind", "version", "secrecy", "watermarked")} \
            == {"format": fmt, "kind": "minutes", "version": 1, "secrecy": "none", "watermarked": False}


def test_the_draft_pdf_of_classified_minutes_carries_the_readers_name(api, held, cabinet):
    _classified(api, held, cabinet)

    for username, reader in (("thutuong", cabinet["pm"]), ("thuky", cabinet["thuky"])):
        download = api(username, "GET", _url(held, ".pdf"))
        assert download.status_code == 200 and download.headers["Cache-Control"] == "no-store"
        assert _marked_for(_pdf_text(download.get_data()), reader), username
        assert download.headers["X-Content-SHA256"] == hashlib.sha256(download.get_data()).hexdigest()
    assert not _marked_for(_pdf_text(api("thuky", "GET", _url(held, ".pdf")).get_data()), cabinet["pm"])
    notice = api("thutuong", "GET", f"/api/v1/meetings/{held.id}/conclusions.pdf")
    assert _marked_for(_pdf_text(notice.get_data()), cabinet["pm"])
    marked = _entries("minutes.exported")[-1].details
    assert marked["secrecy"] == "mat" and marked["watermarked"] is True


def test_unclassified_drafts_are_not_watermarked(api, held, cabinet):
    _started(api, held)
    text = _pdf_text(api("thuky", "GET", _url(held, ".pdf")).get_data())
    assert "DỰ THẢO" in text and not re.search(r"\d\d:\d\d:\d\d \d\d/\d\d/\d{4}", text)


def test_signed_classified_minutes_are_served_byte_exact_never_watermarked(api, held, cabinet, signers):
    draft = _classified(api, held, cabinet)
    finalized = api("thuky", "POST", _url(held, "/finalize"), json={"revision": draft["revision"]})
    assert finalized.status_code == 200, finalized.get_json()
    unsigned = api("thutuong", "GET", _url(held, ".pdf")).get_data()  # finalized, not signed yet
    assert _marked_for(_pdf_text(unsigned), cabinet["pm"])
    assert hashlib.sha256(unsigned).hexdigest() != finalized.get_json()["pdf_sha256"]
    assert _sign(api, "thuky", held).status_code == 200
    signed = _sign(api, "thutuong", held).get_json()

    download = api("thutuong", "GET", _url(held, ".pdf")).get_data()
    stored = service.blob_store().read(signed["signed_sha256"])
    assert download == stored
    for signature in signed["signatures"]:
        file = api("thutuong", "GET", f"/api/v1/minutes-signatures/{signature['id']}.pdf").get_data()
        assert file == service.blob_store().read(signature["sha256"])
    last = _entries("minutes.exported")[-1].details
    assert last["kind"] == "signed_file" and last["watermarked"] is False and last["secrecy"] == "mat"
