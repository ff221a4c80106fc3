"""The minutes pages (D11, D14, D16–D19): the secretary drafts from the record and saves (by the
form and by autosave), participants review and comment, the text is finalized and locked, the
secretary then the chair sign with their keys, members download the signed original, a correction
is a new version, anyone checks a signed PDF, and administrators manage the signing keys."""

from __future__ import annotations

import io
import re

import pytest
from sqlalchemy import select

from cabinet.extensions import db
from cabinet.minutes import keys, service
from cabinet.minutes.models import Minutes, MinutesComment, MinutesSignature, MinutesStatus, SigningKey
from cabinet.signing import pdf as signing
from cabinet.signing import pki
from cabinet.storage import blob_store
from tests.conftest import csrf_token
from tests.meeting_factories import held_meeting
from tests.test_ballots_web import log_in

PASSPHRASE = "passphrase-123"
SCRIPT = "<script>alert('x')</script>"


@pytest.fixture(scope="module")
def demo_keys(tmp_path_factory):
    return pki.create_demo_pki(tmp_path_factory.mktemp("pki"), PASSPHRASE)


@pytest.fixture
def signers(app, admin, cabinet, demo_keys):
    """The secretary's and the chair's keys are registered; the demo CA is trusted."""
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


def as_user(app, username: str):
    """A browser of its own for one person, logged in (English pages); and its CSRF token."""
    client = app.test_client()
    return client, log_in(client, username)


def text(response) -> str:
    return response.get_data(as_text=True)


def page_of(meeting) -> str:
    return f"/meetings/{meeting.id}/minutes"


def items_of(meeting):
    return sorted(meeting.agenda_items, key=lambda i: i.position)


def fresh(minutes_id: int) -> Minutes:
    db.session.expire_all()
    return db.session.get(Minutes, minutes_id)


def finalized(minutes, cabinet) -> Minutes:
    return service.finalize(cabinet["thuky"], minutes.id, minutes.revision)


def signed(minutes, cabinet) -> Minutes:
    done = finalized(minutes, cabinet)
    service.sign(cabinet["thuky"], done.id, PASSPHRASE)
    return service.sign(cabinet["pm"], done.id, PASSPHRASE)


# --- drafting ----------------------------------------------------------------------------------------


def test_the_secretary_drafts_from_the_record_and_saves_sanitised_text(app, cabinet, held):
    client, token = as_user(app, "thuky")
    html = text(client.get(page_of(held)))
    assert "Draft the minutes" in html
    response = client.post(f"/meetings/{held.id}/minutes/start", data={"csrf_token": token})
    assert response.status_code == 302
    html = text(client.get(page_of(held)))
    minutes = db.session.scalars(select(Minutes).where(Minutes.meeting_id == held.id)).one()
    revision = minutes.revision
    first, second = items_of(held)
    # The record's facts are shown read-only; the text fields are textareas the editor enhances.
    assert "Phan Thị Ngọc Diệp" in html and "Đi công tác nước ngoài" in html
    assert "Thông qua: 2/3 thành viên Chính phủ tán thành" in html
    assert f'name="item-{first.id}-discussion_html"' in html and "data-rich" in html
    assert "giao Bộ Tư pháp tiếp thu" in html  # the chair's conclusion, pre-filled
    assert f'data-save-url="/minutes/{minutes.id}/draft"' in html
    assert 'src="/static/vendor/quill/quill.js"' in html and 'src="/static/js/minutes.js"' in html
    assert not re.search(r"<script>(?!</script>)", html), "no inline script"

    response = client.post(f"/minutes/{minutes.id}/save", data={
        "csrf_token": token, "revision": str(revision), "number": "12/BB-CP", "secrecy": "none",
        "opening_html": "Phiên họp khai mạc lúc 8 giờ 30.",  # typed without the editor: plain text
        "closing_html": "",
        f"item-{first.id}-discussion_html": f"<p>Các thành viên <strong>thống nhất</strong>.</p>{SCRIPT}",
        f"item-{first.id}-conclusion_html": "<p>Thông qua dự án Luật.</p>",
        f"item-{second.id}-discussion_html": "", f"item-{second.id}-conclusion_html": "",
    })
    assert response.status_code == 302
    saved = fresh(minutes.id)
    assert saved.number == "12/BB-CP" and saved.revision == revision + 1
    discussion = saved.content["items"][str(first.id)]["discussion_html"]
    assert discussion == "<p>Các thành viên <strong>thống nhất</strong>.</p>"
    assert saved.content["opening_html"] == "<p>Phiên họp khai mạc lúc 8 giờ 30.</p>"
    html = text(client.get(page_of(held)))
    assert "Minutes saved." in html and "alert(" not in html
    # A draft PDF for preview, and the DOCX and the conclusion notice.
    preview = client.get(f"/minutes/{minutes.id}/minutes.pdf?inline=1")
    assert preview.status_code == 200 and preview.data.startswith(b"%PDF")
    assert "inline" in preview.headers["Content-Disposition"]
    assert preview.headers["Cache-Control"] == "no-store"
    docx = client.get(f"/minutes/{minutes.id}/notice.docx")
    assert docx.status_code == 200 and docx.data.startswith(b"PK")
    assert "attachment" in docx.headers["Content-Disposition"]


def test_autosave_takes_the_revision_and_refuses_a_stale_one_without_losing_anything(app, cabinet, draft):
    client, token = as_user(app, "thuky")
    first, revision = items_of(draft.meeting)[0], draft.revision
    url = f"/minutes/{draft.id}/draft"
    headers = {"X-CSRFToken": token}
    body = {"revision": revision,
            "items": [{"item_id": first.id, "discussion_html": f"<p>Ý kiến</p>{SCRIPT}"}]}
    saved = client.put(url, json=body, headers=headers)
    assert saved.status_code == 200, saved.get_json()
    assert saved.get_json()["revision"] == revision + 1
    assert re.fullmatch(r"\d\d:\d\d", saved.get_json()["saved_at_local"])
    assert fresh(draft.id).content["items"][str(first.id)]["discussion_html"] == "<p>Ý kiến</p>"

    stale = client.put(url, json={**body, "items": [{"item_id": first.id, "discussion_html": "<p>Cũ</p>"}]},
                       headers=headers)
    assert stale.status_code == 409
    error = stale.get_json()["error"]
    assert error["code"] == "stale_revision" and error["details"]["revision"] == revision + 1
    assert fresh(draft.id).content["items"][str(first.id)]["discussion_html"] == "<p>Ý kiến</p>"

    assert client.put(url, json={"revision": revision + 1, "number": "x" * 61},
                      headers=headers).status_code == 422
    without_token = client.put(url, json={"revision": revision + 1, "opening_html": "<p>a</p>"},
                               headers={"Accept": "application/json"})
    assert without_token.status_code == 400 and without_token.get_json()["error"]["code"] == "csrf_failed"


def test_a_member_may_not_draft_the_chair_may_not_edit_and_an_outsider_sees_nothing(app, cabinet, held):
    client, token = as_user(app, "bt.tuphap")
    assert "Draft the minutes" not in text(client.get(page_of(held)))
    assert client.post(f"/meetings/{held.id}/minutes/start", data={"csrf_token": token}).status_code == 403
    draft = service.start(cabinet["thuky"], held.id)
    html = text(client.get(page_of(held)))
    assert "not available yet" in html and "data-minutes-editor" not in html  # not invited to review yet
    assert client.get(f"/minutes/{draft.id}/minutes.pdf").status_code == 404

    client, token = as_user(app, "thutuong")  # the chair reads the draft (they sign it) but does not edit it
    html = text(client.get(page_of(held)))
    assert "Text of the minutes" in html and "data-minutes-editor" not in html
    response = client.post(f"/minutes/{draft.id}/save",
                           data={"csrf_token": token, "revision": draft.revision})
    assert response.status_code == 403
    assert client.put(f"/minutes/{draft.id}/draft", json={"revision": draft.revision},
                      headers={"X-CSRFToken": token}).status_code == 403

    client, _token = as_user(app, "bt.khac")
    assert client.get(page_of(held)).status_code == 404
    assert client.get(f"/minutes/{draft.id}/minutes.docx").status_code == 404


def test_an_invitation_to_review_lets_a_member_read_and_comment_and_the_secretary_resolves(
        app, cabinet, draft):
    first = items_of(draft.meeting)[0]
    client, token = as_user(app, "thuky")
    assert client.post(f"/minutes/{draft.id}/review", data={"csrf_token": token}).status_code == 302
    assert "Under review" in text(client.get(page_of(draft.meeting)))

    client, token = as_user(app, "bt.tuphap")
    html = text(client.get(page_of(draft.meeting)))
    assert "Under review" in html and "giao Bộ Tư pháp tiếp thu" in html and "Comment on this item" in html
    empty = client.post(f"/minutes/{draft.id}/comments", data={"csrf_token": token, "body": "  ",
                                                               "item_id": str(first.id)})
    assert empty.status_code == 422
    response = client.post(f"/minutes/{draft.id}/comments", data={
        "csrf_token": token, "body": "Đề nghị ghi rõ thời hạn trình Quốc hội.", "item_id": str(first.id)})
    assert response.status_code == 302
    comment = db.session.scalars(select(MinutesComment)).one()
    assert comment.agenda_item_id == first.id and comment.author_id == cabinet["tuphap"].id
    resolve = f"/minutes/comments/{comment.id}/resolve"
    assert client.post(resolve, data={"csrf_token": token}).status_code == 403

    client, token = as_user(app, "thuky")
    html = text(client.get(page_of(draft.meeting)))
    assert "Đề nghị ghi rõ thời hạn trình Quốc hội." in html and "on item 1" in html and "Resolve" in html
    assert client.post(resolve, data={"csrf_token": token}).status_code == 302
    db.session.expire_all()
    assert db.session.get(MinutesComment, comment.id).resolved_by_id == cabinet["thuky"].id


# --- finalize and sign --------------------------------------------------------------------------------


def test_finalize_needs_a_second_press_and_then_the_text_is_locked(app, cabinet, draft):
    client, token = as_user(app, "thuky")
    revision = draft.revision
    first_press = client.post(f"/minutes/{draft.id}/finalize", data={"csrf_token": token,
                                                                      "revision": revision})
    assert first_press.status_code == 302 and "confirm=finalize" in first_press.headers["Location"]
    assert fresh(draft.id).status == MinutesStatus.DRAFT
    html = text(client.get(page_of(draft.meeting) + "?confirm=finalize"))
    assert "Press again to finalize" in html and 'name="confirm" value="yes"' in html

    second = client.post(f"/minutes/{draft.id}/finalize", data={"csrf_token": token, "revision": revision,
                                                                 "confirm": "yes"})
    assert second.status_code == 302
    minutes = fresh(draft.id)
    assert minutes.status == MinutesStatus.FINAL and minutes.pdf_sha256
    html = text(client.get(page_of(draft.meeting)))
    assert "Finalized, awaiting signatures" in html and "data-minutes-editor" not in html

    refused = client.post(f"/minutes/{draft.id}/save", data={
        "csrf_token": token, "revision": minutes.revision, "opening_html": "<p>Sửa sau</p>"})
    assert refused.status_code == 409 and "finalized and can no longer be edited" in text(refused)
    assert client.put(f"/minutes/{draft.id}/draft", json={"revision": minutes.revision, "opening_html": "x"},
                      headers={"X-CSRFToken": token}).status_code == 409
    assert fresh(draft.id).content.get("opening_html", "") == ""
    # Before the first signature the secretary may reopen it.
    assert client.post(f"/minutes/{draft.id}/reopen", data={"csrf_token": token}).status_code == 302
    assert fresh(draft.id).status == MinutesStatus.DRAFT


def test_the_secretary_then_the_chair_sign_and_a_member_downloads_the_signed_original(
        app, cabinet, draft, signers):
    minutes = finalized(draft, cabinet)
    sign = f"/minutes/{minutes.id}/sign"
    client, token = as_user(app, "thutuong")
    html = text(client.get(page_of(draft.meeting)))
    assert "Waiting for the signature of the Secretary" in html and 'name="sign-passphrase"' not in html
    early = client.post(sign, data={"csrf_token": token, "sign-passphrase": PASSPHRASE})
    assert early.status_code == 409 and "The secretary signs first" in text(early)

    client, token = as_user(app, "thuky")
    html = text(client.get(page_of(draft.meeting)))
    assert 'name="sign-passphrase"' in html and 'type="password"' in html and 'autocomplete="off"' in html
    assert "not your login password" in html
    wrong = client.post(sign, data={"csrf_token": token, "sign-passphrase": "sai-mat-khau"})
    assert wrong.status_code == 422 and "Wrong passphrase for your signing key." in text(wrong)
    assert db.session.scalars(select(MinutesSignature)).all() == []
    done = client.post(sign, data={"csrf_token": token, "sign-passphrase": PASSPHRASE})
    assert done.status_code == 302
    html = text(client.get(page_of(draft.meeting)))
    assert "You signed the minutes. The chair has been asked to sign next." in html
    assert "Signed by the secretary, awaiting the chair" in html

    client, token = as_user(app, "thutuong")
    assert client.post(sign, data={"csrf_token": token, "sign-passphrase": PASSPHRASE}).status_code == 302
    assert fresh(minutes.id).status == MinutesStatus.SIGNED
    assert "this is the record" in text(client.get(page_of(draft.meeting)))

    client, _token = as_user(app, "bt.yte")
    html = text(client.get(page_of(draft.meeting)))
    assert "Signed by the secretary and the chair" in html
    pdf = client.get(f"/minutes/{minutes.id}/minutes.pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    assert pdf.data == blob_store().read(fresh(minutes.id).signed_sha256)  # the archived file, byte-exact
    reports = signing.verify_pdf(pdf.data, pki.configured_trust_roots(app))
    assert len(reports) == 2 and all(r.ok for r in reports)
    assert [r.signer_name for r in reports] == ["Trần Thị Thu Hà", "Phạm Quốc Hưng"]
    # Each step is kept: the file after the secretary's signature holds one signature.
    first_step = db.session.scalars(select(MinutesSignature).where(
        MinutesSignature.role == "secretary")).one()
    step = client.get(f"/minutes/signed/{first_step.id}.pdf")
    assert step.status_code == 200
    assert len(signing.verify_pdf(step.data, pki.configured_trust_roots(app))) == 1
    # The meeting's page lists the signed version.
    meeting_page = text(client.get(f"/meetings/{draft.meeting_id}"))
    assert "Signed minutes, version 1" in meeting_page
    assert f"/minutes/{minutes.id}/minutes.pdf" in meeting_page


def test_signed_minutes_are_corrected_by_a_new_version_signed_again(app, cabinet, draft, signers):
    first = signed(draft, cabinet)
    client, token = as_user(app, "thuky")
    html = text(client.get(page_of(draft.meeting)))
    assert "Create a corrected version" in html and "Reopen for editing" not in html
    assert client.post(f"/minutes/{first.id}/reopen", data={"csrf_token": token}).status_code == 302
    assert fresh(first.id).status == MinutesStatus.SIGNED  # refused: it stays signed

    missing = client.post(f"/meetings/{draft.meeting_id}/minutes/versions", data={"csrf_token": token,
                                                                                  "fix-reason": ""})
    assert missing.status_code == 422 and "This field is required." in text(missing)
    response = client.post(f"/meetings/{draft.meeting_id}/minutes/versions", data={
        "csrf_token": token, "fix-reason": "Sửa tên cơ quan trình ở mục 1."})
    assert response.status_code == 302
    second = db.session.scalars(select(Minutes).where(Minutes.version == 2)).one()
    html = text(client.get(page_of(draft.meeting)))
    assert "data-minutes-editor" in html and "Version 2" in html and "Version 1" in html
    assert "Corrects version 1. Reason: Sửa tên cơ quan trình ở mục 1." in html

    # The correction's draft is not shown to members: they keep reading version 1.
    client, _token = as_user(app, "bt.tuphap")
    html = text(client.get(page_of(draft.meeting)))
    assert "Version 1" in html and "Version 2" not in html

    signed(second, cabinet)
    assert fresh(first.id).status == MinutesStatus.SUPERSEDED
    html = text(client.get(f"/meetings/{draft.meeting_id}"))
    assert "Signed minutes, version 2" in html and "Signed minutes, version 1" in html
    assert "Superseded by a corrected version" in html


# --- verify --------------------------------------------------------------------------------------------


def upload(client, token, data: bytes | None, name="bien-ban.pdf"):
    form = {"csrf_token": token}
    if data is not None:
        form["file"] = (io.BytesIO(data), name)
    return client.post("/minutes/verify", data=form, content_type="multipart/form-data")


def test_the_verify_page_recognises_a_signed_file_and_shows_a_changed_one_as_invalid(app, cabinet, draft,
                                                                                     signers):
    minutes = signed(draft, cabinet)
    data = blob_store().read(minutes.signed_sha256)
    client, token = as_user(app, "bt.tuphap")
    assert "Verify a signed PDF" in text(client.get("/minutes/verify"))
    good = upload(client, token, data)
    html = text(good)
    assert good.status_code == 200 and "Valid: every signature is intact and trusted" in html
    assert "Trần Thị Thu Hà" in html and "Phạm Quốc Hưng" in html and "Thủ tướng Chính phủ" in html
    assert "Certificate trusted" in html and "Not changed after signing" in html
    assert "the signed content is intact" in html  # the English summary for an English page
    assert f'href="/meetings/{draft.meeting_id}/minutes"' in html and "archived version 1" in html

    at = data.index(b"stream\n") + 100
    flipped = data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1:]
    bad = text(upload(client, token, flipped))
    assert "NOT valid" in bad and "Signed content NOT intact" in bad and "archived version" not in bad

    nothing = upload(client, token, None)
    assert nothing.status_code == 422 and "Choose a PDF file to verify." in text(nothing)
    not_pdf = upload(client, token, b"hello", "note.txt")
    assert not_pdf.status_code == 422 and "This file is not a PDF." in text(not_pdf)


# --- signing keys ------------------------------------------------------------------------------------


def test_an_administrator_registers_and_revokes_keys_and_the_secretariat_may_not(
        app, admin, cabinet, demo_keys):
    client, token = as_user(app, "quantri")
    html = text(client.get("/admin/signing-keys"))
    assert "No signing key is registered yet." in html and "Phạm Quốc Hưng" in html
    p12 = demo_keys.p12["thutuong"].read_bytes()

    def send(passphrase, data=p12, user=cabinet["pm"].id):
        form = {"csrf_token": token, "key-user": str(user), "key-passphrase": passphrase}
        if data is not None:
            form["key-file"] = (io.BytesIO(data), "thutuong.p12")
        return client.post("/admin/signing-keys", data=form, content_type="multipart/form-data")

    wrong = send("not-it")
    assert wrong.status_code == 422 and "cannot be opened with that passphrase" in text(wrong)
    assert send(PASSPHRASE, data=None).status_code == 422
    assert send(PASSPHRASE).status_code == 302
    entry = db.session.scalars(select(SigningKey)).one()
    html = text(client.get("/admin/signing-keys"))
    assert "Phạm Quốc Hưng" in html and entry.certificate_serial in html and "In use" in html
    assert "Signing keys" in html  # in the administrator's menu
    revoke = f"/admin/signing-keys/{entry.id}/revoke"
    assert client.post(revoke, data={"csrf_token": token}).status_code == 302
    db.session.expire_all()
    assert db.session.get(SigningKey, entry.id).revoked_at is not None
    assert "Revoked on" in text(client.get("/admin/signing-keys"))

    client, token = as_user(app, "thuky")
    assert client.get("/admin/signing-keys").status_code == 403
    assert "/admin/signing-keys" not in text(client.get("/"))
    assert send(PASSPHRASE).status_code == 403
    assert client.post(revoke, data={"csrf_token": token}).status_code == 403
    assert csrf_token(client, "/minutes/verify")  # the verify page is for every logged-in user


def test_the_meeting_page_leads_to_the_minutes_once_the_meeting_was_held(app, cabinet, meeting, held):
    client, _token = as_user(app, "thuky")
    assert 'id="minutes"' not in text(client.get(f"/meetings/{meeting.id}"))  # in ten days
    html = text(client.get(f"/meetings/{held.id}"))
    assert 'id="minutes"' in html and f'href="/meetings/{held.id}/minutes"' in html
    assert "No minutes yet." in html
    html = text(client.get(page_of(meeting)))
    assert "has not started yet" in html and "Draft the minutes" not in html
    response = client.post(f"/meetings/{meeting.id}/minutes/start", data={"csrf_token": _token})
    assert response.status_code == 302 and not service.versions(cabinet["thuky"], meeting.id)


def test_the_button_actions_say_what_they_did_or_why_not(app, cabinet, draft):
    """Update from the record, invite to review, seal and reopen: one press each, a message on
    the page; a member may not press them; an expired form changes nothing."""
    client, token = as_user(app, "thuky")
    member, member_token = as_user(app, "bt.tuphap")
    page = page_of(draft.meeting)

    # A draft is not shown to members before review is asked: for them it does not exist.
    assert member.post(f"/minutes/{draft.id}/review", data={"csrf_token": member_token}).status_code == 404
    assert client.post(f"/minutes/{draft.id}/review", data={}).status_code == 400
    assert fresh(draft.id).review_requested_at is None

    refreshed = client.post(f"/minutes/{draft.id}/refresh", data={"csrf_token": token}, follow_redirects=True)
    assert "Conclusions given in the meeting room were added" in text(refreshed)
    reviewed = client.post(f"/minutes/{draft.id}/review", data={"csrf_token": token}, follow_redirects=True)
    assert "invited to read the draft" in text(reviewed)
    assert fresh(draft.id).review_requested_at is not None

    early_seal = client.post(f"/minutes/{draft.id}/seal", data={"csrf_token": token})
    assert early_seal.status_code == 302 and early_seal.location.endswith(page)
    assert fresh(draft.id).status == MinutesStatus.DRAFT
    reopen_draft = client.post(f"/minutes/{draft.id}/reopen", data={"csrf_token": token},
                               follow_redirects=True)
    assert reopen_draft.status_code == 200 and fresh(draft.id).status == MinutesStatus.DRAFT


# --- reads are audited; classified drafts are watermarked per reader ------------------------------------


def _audit(action: str) -> list:
    from cabinet.audit.models import AuditEntry

    return list(db.session.scalars(select(AuditEntry).where(AuditEntry.action == action)
                                   .order_by(AuditEntry.seq)))


def _watermarked_for(pdf: bytes, reader) -> bool:
    """The watermark's footer line (stamp · name · organisation · time to the second)."""
    from pypdf import PdfReader

    found = "\n".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(pdf)).pages)
    parts = [re.escape(p) for p in ("MẬT", reader.full_name, reader.organisation) if p]
    return re.search(" · ".join([*parts, r"\d\d:\d\d:\d\d \d\d/\d\d/\d{4}"]), found) is not None


def test_opening_the_minutes_page_is_audited_and_a_refused_one_is_not(app, cabinet, draft):
    secretary, _token = as_user(app, "thuky")
    outsider, _token = as_user(app, "bt.khac")
    before = len(_audit("minutes.viewed"))

    assert secretary.get(page_of(draft.meeting)).status_code == 200
    assert outsider.get(page_of(draft.meeting)).status_code == 404

    viewed = _audit("minutes.viewed")[before:]
    assert [(e.actor_id, e.object_id) for e in viewed] == [(cabinet["thuky"].id, str(draft.id))]
    assert viewed[0].details["via"] == "page" and viewed[0].details["secrecy"] == "none"


def test_a_classified_draft_downloaded_from_the_page_carries_the_readers_watermark(app, cabinet, draft):
    cabinet["thuky"].clearance = cabinet["pm"].clearance = "mat"
    cabinet["pm"].organisation = "Văn phòng Chính phủ"
    db.session.commit()
    service.save(cabinet["thuky"], draft.id, service.DraftChanges(revision=draft.revision, secrecy="mat"))
    chair, _token = as_user(app, "thutuong")

    pdf = chair.get(f"/minutes/{draft.id}/minutes.pdf")
    assert pdf.status_code == 200 and pdf.headers["Cache-Control"] == "no-store"
    assert _watermarked_for(pdf.get_data(), cabinet["pm"])
    entry = _audit("minutes.exported")[-1]
    assert entry.actor_id == cabinet["pm"].id
    assert {k: entry.details[k] for k in ("format", "secrecy", "watermarked")} == \
        {"format": "pdf", "secrecy": "mat", "watermarked": True}
    docx = chair.get(f"/minutes/{draft.id}/minutes.docx")
    assert docx.status_code == 200 and _audit("minutes.exported")[-1].details["format"] == "docx"
    assert _audit("minutes.exported")[-1].details["watermarked"] is True
    assert _docx_marked_for(docx.get_data(), cabinet["pm"])


def _docx_marked_for(data: bytes, reader) -> bool:
    """The reader's line in the footer of every page of a DOCX, the first page's included."""
    import docx as python_docx

    document = python_docx.Document(io.BytesIO(data))
    parts = [re.escape(p) for p in ("MẬT", reader.full_name, reader.organisation) if p]
    line = re.compile(" · ".join([*parts, r"\d\d:\d\d:\d\d \d\d/\d\d/\d{4}"]))
    footers = [f for s in document.sections for f in (s.footer, s.first_page_footer)]
    return all(any(line.search(p.text) for p in footer.paragraphs) for footer in footers)


def test_the_docx_of_unclassified_minutes_carries_no_mark(app, cabinet, draft):
    chair, _token = as_user(app, "thutuong")
    docx = chair.get(f"/minutes/{draft.id}/minutes.docx")
    assert docx.status_code == 200 and _audit("minutes.exported")[-1].details["watermarked"] is False
    footers = [f for s in python_docx_sections(docx.get_data()) for f in (s.footer, s.first_page_footer)]
    assert all(cabinet["pm"].full_name not in p.text for f in footers for p in f.paragraphs)


def python_docx_sections(data: bytes):
    import docx as python_docx

    return python_docx.Document(io.BytesIO(data)).sections


def test_the_signed_file_of_classified_minutes_is_byte_identical_to_the_stored_one(
        app, cabinet, draft, signers):
    cabinet["thuky"].clearance = cabinet["pm"].clearance = "mat"
    db.session.commit()
    service.save(cabinet["thuky"], draft.id, service.DraftChanges(revision=draft.revision, secrecy="mat"))
    done = signed(fresh(draft.id), cabinet)
    chair, _token = as_user(app, "thutuong")

    assert chair.get(f"/minutes/{done.id}/minutes.pdf").get_data() == blob_store().read(done.signed_sha256)
    signatures = select(MinutesSignature).where(MinutesSignature.minutes_id == done.id)
    for signature in db.session.scalars(signatures):
        served = chair.get(f"/minutes/signed/{signature.id}.pdf")
        assert served.status_code == 200 and served.get_data() == blob_store().read(signature.sha256)
        assert not _watermarked_for(served.get_data(), cabinet["pm"])
