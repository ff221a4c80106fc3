"""End-to-end journeys as users live them (issue 8): real chromium, a real server, every step
through the pages a person uses — forms, buttons, the live room's controls — and, on every
distinct page a journey visits, axe-core finds no serious or critical WCAG 2.1 AA violation.

Each journey runs at tablet (768×1024) and desktop (1280×800) size; the member's answer to a
ballot (journey e) is always on a phone (390×844). Setup that is not the journey's subject (the
accounts, a meeting already held for the minutes, signing keys) comes from the fixtures. The
pages are in Vietnamese: what the tests look for is the app's own translation of the English
msgid (``T``), so a reworded translation does not break a journey but a missing control does.

On failure, screenshots of every open page are saved and their folder printed (tests/browser.py).
Run: ``.venv/bin/python -m pytest tests/test_journeys.py`` (docs/testing.md).
"""

from __future__ import annotations

import io
import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from flask import current_app
from flask_babel import force_locale, gettext
from pypdf import PdfReader

from cabinet.extensions import db
from cabinet.i18n import vietnamese_date
from cabinet.meetings import service as meetings
from tests.browser import DESKTOP, DRAW, PHONE, TABLET, assert_accessible, browser_session, needs_chromium
from tests.conftest import PASSWORD
from tests.live_server import live_server  # noqa: F401  (the fixture)
from tests.meeting_factories import held_meeting, room_meeting
from tests.test_documents import published, text_pdf

pytestmark = needs_chromium

SIZES = {"tablet": TABLET, "desktop": DESKTOP}
HANOI = ZoneInfo("Asia/Ho_Chi_Minh")
EXPECT_MS = 10_000  # a broadcast on two shared CPUs may take a few seconds, never ten
PASSPHRASE = "passphrase-123"



@pytest.fixture(autouse=True)
def _patient_expectations():
    from playwright.sync_api import expect

    expect.set_options(timeout=EXPECT_MS)
    yield
    expect.set_options(timeout=5_000)


def T(msgid: str, **values) -> str:  # noqa: N802 - reads like the templates' _()
    """The Vietnamese text the pages show for ``msgid`` (the app's own catalogue)."""
    with current_app.test_request_context("/"), force_locale("vi"):
        return gettext(msgid, **values)


def flash(page, text: str):
    """The flash message a redirect shows (a locator, to expect visible)."""
    return page.locator(".flash").filter(has_text=text)


def pdf_text(data: bytes) -> str:
    """The PDF's text as a reader copies it, on one line (the PDF wraps lines anywhere)."""
    return re.sub(r"\s+", " ", "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(data)).pages))


# --- (a) the secretariat prepares a meeting ---------------------------------------------------------

MEETING = "Phiên họp Chính phủ chuyên đề xây dựng pháp luật tháng 3"
PLACE = "Phòng họp số 1, Trụ sở Chính phủ"
ITEMS = ("Dự án Luật Đất đai (sửa đổi)", "Dự thảo Nghị định về quản lý giá")
DOSSIER = "Tờ trình dự thảo Nghị định về quản lý giá"


@pytest.mark.parametrize("size", SIZES)
def test_a_the_secretariat_schedules_a_meeting_builds_the_agenda_and_publishes_a_dossier(
        app, cabinet, live_server, size):  # noqa: F811
    from playwright.sync_api import expect

    day = (datetime.now(HANOI) + timedelta(days=21)).date()
    server = live_server(app)
    with browser_session(f"journey-a-{size}", server) as browser:
        desk = browser.page(server.url, "thuky", "/meetings/", viewport=SIZES[size], label="secretariat")
        assert_accessible(desk)
        desk.get_by_role("link", name=T("Schedule a meeting")).first.click()
        expect(desk.get_by_role("heading", level=1)).to_have_text(T("Schedule a meeting"))
        assert_accessible(desk)
        desk.get_by_label(T("Title"), exact=True).fill(MEETING)
        desk.get_by_label(T("Date"), exact=True).fill(day.isoformat())
        desk.get_by_label(T("Starts at"), exact=True).fill("08:00")
        desk.get_by_label(T("Ends at"), exact=True).fill("11:30")
        desk.get_by_label(T("Place"), exact=True).fill(PLACE)
        desk.get_by_label(T("Chair"), exact=True).select_option(label="Phạm Quốc Hưng — Thủ tướng Chính phủ")
        desk.get_by_role("button", name=T("Schedule the meeting")).click()

        # The meeting page: the date in words as in official documents, then an empty agenda.
        expect(flash(desk, T("Meeting scheduled. Now build its agenda."))).to_be_visible()
        expect(desk.get_by_role("heading", level=1)).to_have_text(MEETING)
        expect(desk.locator(".facts")).to_contain_text(vietnamese_date(day))
        expect(desk.locator(".facts")).to_contain_text("Phạm Quốc Hưng")
        assert_accessible(desk)
        for n, title in enumerate(ITEMS):
            if n:  # the form is folded once the agenda has an item
                desk.locator("details.add-item > summary").click()
            desk.get_by_label(T("Title"), exact=True).fill(title)
            desk.get_by_label(T("Presenting organisation")).fill("Bộ Tư pháp" if n == 0 else "Bộ Tài chính")
            desk.get_by_label(T("Time (minutes)")).fill("45")
            desk.get_by_role("button", name=T("Add"), exact=True).click()
            expect(flash(desk, T("Agenda item added."))).to_be_visible()
        agenda = desk.locator("#agenda-list > li strong")
        expect(agenda).to_have_text(list(ITEMS))
        # The price decree goes first.
        with desk.expect_response(lambda r: r.url.endswith("/agenda/reorder")) as saved:
            desk.locator("#agenda-list > li").nth(1).get_by_role("button", name=T("Move up")).click()
        assert saved.value.ok
        expect(agenda).to_have_text([ITEMS[1], ITEMS[0]])
        desk.reload()  # the new order is the server's, not only the page's
        expect(agenda).to_have_text([ITEMS[1], ITEMS[0]])
        expect(desk.locator("#agenda-list .agenda-pos")).to_have_text(["1", "2"])

        # The dossier: uploaded as a draft for item 1, then published.
        desk.get_by_role("link", name=T("Upload a document")).click()
        assert_accessible(desk)
        desk.get_by_label(T("Title"), exact=True).fill(DOSSIER)
        desk.get_by_label(T("Agenda item"), exact=True).select_option(label=f"1. {ITEMS[1]}")
        desk.get_by_label(T("File (PDF or Word DOCX)")).set_input_files(
            {"name": "to-trinh.pdf", "mimeType": "application/pdf",
             "buffer": text_pdf("To trinh du thao Nghi dinh ve quan ly gia")})
        desk.get_by_role("button", name=T("Upload as a draft")).click()
        expect(flash(desk, T("Document uploaded as a draft: only the secretariat sees it until it is "
                             "published."))).to_be_visible()
        desk.wait_for_selector(".pdfv-page.is-rendered")
        assert_accessible(desk)
        desk.get_by_role("button", name=T("Publish to participants")).click()
        expect(flash(desk, T("Published: the participants can now read it."))).to_be_visible()
        expect(desk.get_by_text(T("Late"), exact=True)).to_have_count(0)

        # A minister finds it in their list, with the day, and reads the published dossier.
        member = browser.page(server.url, "bt.tuphap", "/meetings/", viewport=SIZES[size], label="member")
        row = member.locator(".meeting-row").filter(has_text=MEETING)
        expect(row).to_contain_text(f"08:00 {day:%d/%m/%Y} – 11:30")
        assert_accessible(member)
        row.get_by_role("link").click()
        expect(member.locator(".facts")).to_contain_text(f"({vietnamese_date(day)})")
        expect(member.locator("#agenda-list > li strong")).to_have_text([ITEMS[1], ITEMS[0]])
        expect(member.get_by_text(T("Please answer the invitation."))).to_be_visible()
        assert_accessible(member)
        member.locator("#documents").get_by_role("link", name=DOSSIER).click()
        member.wait_for_selector(".pdfv-page.is-rendered")
        expect(member.get_by_role("heading", level=1)).to_have_text(DOSSIER)
        assert_accessible(member)
        assert browser.errors == [], browser.errors


# --- (b) a member prepares on a tablet -----------------------------------------------------------

NOTE = "Làm rõ phạm vi điều chỉnh tại Điều 2"
COMMENT = "Đề nghị bổ sung đánh giá tác động đối với doanh nghiệp nhỏ"


@pytest.mark.parametrize("size", SIZES)
def test_b_a_member_confirms_attendance_annotates_the_dossier_and_records_positions(
        app, cabinet, meeting, live_server, size):  # noqa: F811
    from playwright.sync_api import expect

    for title in ITEMS:
        meetings.add_item(cabinet["thuky"], meeting.id, meetings.AgendaItemData(title=title))
    document = published(cabinet["thuky"], meeting, data=text_pdf("Dieu 2. Pham vi dieu chinh"))
    meeting_id, title = meeting.id, meeting.title
    document_id, document_title = document.id, document.title
    server = live_server(app)
    with browser_session(f"journey-b-{size}", server) as browser:
        tablet = browser.page(server.url, "bt.tuphap", "/meetings/", viewport=SIZES[size], label="member",
                              has_touch=size == "tablet")
        tablet.locator(".meeting-row").filter(has_text=title).get_by_role("link").click()
        expect(tablet.get_by_text(T("Please answer the invitation."))).to_be_visible()
        tablet.get_by_label(T("Your answer")).select_option(label=T("I will attend"))
        tablet.get_by_role("button", name=T("Send my answer")).click()
        expect(flash(tablet, T("Thank you: your answer was recorded."))).to_be_visible()
        expect(tablet.get_by_text(T("You confirmed you will attend."))).to_be_visible()
        assert_accessible(tablet)

        # Reading the dossier, a line drawn with the finger and a note.
        tablet.locator("#documents").get_by_role("link", name=document_title).click()
        tablet.wait_for_selector(".pdfv-page.is-rendered .annot-layer")
        tablet.wait_for_selector("#conn-status[data-state=online]")
        assert_accessible(tablet)
        pen = tablet.get_by_role("button", name=T("Pen"))
        pen.click()
        expect(pen).to_have_attribute("aria-pressed", "true")
        tablet.evaluate(DRAW)
        expect(tablet.locator(".pdfv-page .annot-layer polyline")).to_have_count(1)
        pen.click()
        tablet.get_by_role("button", name=T("Note")).first.click()
        tablet.locator(".pdfv-page .annot-layer").first.click(position={"x": 300, "y": 200})
        dialog = tablet.get_by_role("dialog")
        dialog.get_by_label(T("Text of the note")).fill(NOTE)
        assert_accessible(tablet)  # the note dialog open
        dialog.get_by_role("button", name=T("Save"), exact=True).click()
        expect(tablet.locator(".annot-layer .annot-pin")).to_have_count(1)
        expect(tablet.locator("[data-role=annot-pending]")).to_be_hidden()
        tablet.locator("[data-annot-action=list]").click()
        expect(tablet.locator(".annot-item .annot-text")).to_have_text(NOTE)
        expect(tablet.locator("[data-role=annot-count]")).to_have_text("2")
        assert_accessible(tablet)  # the list of annotations open

        # Back on the meeting page: positions on both items, kept when the page is opened again.
        tablet.get_by_role("link", name=title).first.click()
        first = tablet.get_by_role("group", name=f"1. {ITEMS[0]}")
        second = tablet.get_by_role("group", name=f"2. {ITEMS[1]}")
        first.get_by_label(T("Agree (Thống nhất)")).check()
        second.get_by_label(T("Has comments (Có ý kiến)")).check()
        second.get_by_label(T("Comments")).fill(COMMENT)
        tablet.get_by_role("button", name=T("Save my positions")).click()
        expect(flash(tablet, T("%(n)d position(s) saved.", n=2))).to_be_visible()
        tablet.reload()
        expect(first.get_by_label(T("Agree (Thống nhất)"))).to_be_checked()
        expect(second.get_by_label(T("Has comments (Có ý kiến)"))).to_be_checked()
        expect(second.get_by_label(T("Comments"))).to_have_value(COMMENT)

        # The secretariat sees them on the board of positions.
        desk = browser.page(server.url, "thuky", f"/meetings/{meeting_id}/board", viewport=SIZES[size],
                            label="secretariat")
        expect(desk.locator("main")).to_contain_text(COMMENT)
        assert_accessible(desk)
        assert browser.errors == [], browser.errors
    server.stop()
    db.session.expire_all()
    from cabinet.annotations.models import Annotation

    kinds = sorted(a.kind for a in db.session.query(Annotation).filter_by(document_id=document_id))
    assert kinds == ["note", "pen"]


# --- (c) the meeting runs ------------------------------------------------------------------------

QUESTION = "Thông qua Dự án Luật Đất đai (sửa đổi)?"
CONCLUSION = "Chính phủ thống nhất thông qua; giao Bộ Tư pháp hoàn thiện hồ sơ trình Quốc hội."


def in_room(browser, server, username: str, meeting_id: int, size: str):
    """``username`` logged in, in the meeting room, once its socket has joined."""
    page = browser.page(server.url, username, f"/meetings/{meeting_id}/live", viewport=SIZES[size],
                        label=username)
    page.wait_for_selector("#live-room[data-joined=true]")
    return page


@pytest.mark.parametrize("size", SIZES)
def test_c_the_meeting_runs_check_in_agenda_a_speaker_a_vote_and_a_conclusion(
        app, cabinet, live_server, size):  # noqa: F811
    from playwright.sync_api import expect

    meeting = room_meeting(cabinet, items=(ITEMS[0], ITEMS[1]), guests=False)
    first, second = (item.id for item in sorted(meeting.agenda_items, key=lambda i: i.position))
    meeting_id = meeting.id
    server = live_server(app)
    with browser_session(f"journey-c-{size}", server) as browser:
        chair = in_room(browser, server, "thutuong", meeting_id, size)
        member = in_room(browser, server, "bt.tuphap", meeting_id, size)
        assert_accessible(chair)
        assert_accessible(member)

        # Check-in: both present, the quorum (2 of the 3 voters) is met on the chair's screen.
        for page in (member, chair):
            page.locator("#live-me").get_by_role("button", name=T("Check in")).click()
            expect(page.locator("#live-me .me-in")).to_be_visible()
        expect(chair.locator("[data-slot=quorum]")).to_have_class(re.compile(r"\bis-met\b"))

        chair.get_by_role("button", name=T("Open the meeting")).click()
        expect(member.locator("[data-slot=phase]")).to_have_attribute("data-phase", "open")
        agenda = chair.locator("#console-agenda")
        put_on_table = T("Put on the table")
        agenda.locator(f"li[data-item-id='{first}']").get_by_role("button", name=put_on_table).click()
        expect(member.locator("#live-current .item-title")).to_have_text(ITEMS[0])

        # A speaker: the member asks, the chair gives the floor, then ends the turn.
        member.get_by_role("button", name=T("Ask to speak")).click()
        expect(member.get_by_text(T("You are number {n} in the queue.").replace("{n}", "1"))).to_be_visible()
        give_floor = T("Give the floor to {name}").replace("{name}", "Phan Thị Ngọc Diệp")
        chair.get_by_role("button", name=give_floor).click()
        expect(member.get_by_text(T("You have the floor."))).to_be_visible()
        expect(chair.locator("#console-speakers .speaking-name")).to_have_text("Phan Thị Ngọc Diệp")
        chair.locator("#console-speakers").get_by_role("button", name=T("End the turn")).click()
        expect(member.locator("#live-speakers")).to_contain_text(T("Nobody has the floor."))

        # A vote: the chair puts the question, both vote for, the tally follows on the chair's screen.
        chair.get_by_label(T("Question put to the vote")).fill(QUESTION)
        chair.get_by_role("button", name=T("Open the vote")).click()
        expect(member.locator("#live-vote .vote-question")).to_have_text(QUESTION)
        assert_accessible(member)  # the open vote with its buttons
        assert_accessible(chair)  # the open vote on the console
        tally = chair.locator("#console-vote .bar-for .bar-count")
        for page, count in ((member, "1"), (chair, "2")):
            choice = page.locator("#live-vote").get_by_role("button", name=T("For (Tán thành)"), exact=True)
            choice.click()
            expect(page.locator("#vote-feedback")).to_have_attribute("data-kind", "ok")
            expect(choice).to_have_attribute("aria-pressed", "true")
            expect(tally).to_have_text(count)
        close = chair.get_by_role("button", name=T("Close the vote"))
        close.click()
        chair.get_by_role("button", name=T("Press again to confirm")).click()
        expect(member.locator("#live-vote [data-outcome]")).to_have_attribute("data-outcome", "passed")
        expect(member.locator("#live-results .result")).to_have_count(1)

        # The chair's conclusion on item 1, then item 2 on the table; both screens follow.
        agenda.locator(f"li[data-item-id='{first}']").get_by_role("button", name=T("Conclude")).click()
        chair.get_by_label(T("Conclusion (kết luận) of the chair")).fill(CONCLUSION)
        assert_accessible(chair)  # the conclusion panel open
        chair.get_by_role("button", name=T("Record the conclusion")).click()
        expect(agenda.locator(f"li[data-item-id='{first}'] .conclusion")).to_have_text(CONCLUSION)
        agenda.locator(f"li[data-item-id='{second}']").get_by_role("button", name=put_on_table).click()
        expect(member.locator("#live-current .item-title")).to_have_text(ITEMS[1])

        chair.get_by_role("button", name=T("Close the meeting")).click()
        chair.get_by_role("button", name=T("Press again to confirm")).click()
        expect(member.locator("[data-slot=phase]")).to_have_attribute("data-phase", "closed")
        assert_accessible(member)
        assert browser.errors == [], browser.errors


# --- (d) the minutes ------------------------------------------------------------------------------

DISCUSSION = "Các thành viên Chính phủ thống nhất với Tờ trình của Bộ Tư pháp"


@pytest.fixture(scope="module")
def demo_keys(tmp_path_factory):
    from cabinet.signing import pki

    return pki.create_demo_pki(tmp_path_factory.mktemp("pki"), PASSPHRASE)


@pytest.mark.parametrize("size", SIZES)
def test_d_the_secretary_drafts_the_minutes_both_sign_and_a_member_downloads_them(
        app, admin, cabinet, demo_keys, live_server, size):  # noqa: F811
    from playwright.sync_api import expect

    from cabinet.minutes import keys
    from cabinet.signing import pdf as signing
    from cabinet.signing import pki

    app.config["CABINET_PKI_DIR"] = str(demo_keys.directory)
    keys.upload(admin, cabinet["thuky"].id, demo_keys.p12["thuky"].read_bytes(), PASSPHRASE)
    keys.upload(admin, cabinet["pm"].id, demo_keys.p12["thutuong"].read_bytes(), PASSPHRASE)
    meeting = held_meeting(cabinet)
    first = sorted(meeting.agenda_items, key=lambda i: i.position)[0]
    meeting_id, title = meeting.id, meeting.title
    discussion = f"#f-item-{first.id}-discussion_html + .minutes-quill .ql-editor"
    server = live_server(app, CABINET_PKI_DIR=str(demo_keys.directory))
    with browser_session(f"journey-d-{size}", server) as browser:
        secretary = browser.page(server.url, "thuky", f"/meetings/{meeting_id}", viewport=SIZES[size],
                                 label="secretary")
        secretary.get_by_role("link", name=T("Open the minutes")).click()
        secretary.get_by_role("button", name=T("Draft the minutes")).click()
        secretary.wait_for_selector(discussion)
        assert_accessible(secretary)  # the editor
        secretary.click(discussion)
        secretary.keyboard.type(DISCUSSION + ".")
        expect(secretary.locator("[data-role=save-state]")).to_have_attribute("data-state", "saved")
        finalize = secretary.get_by_role("button", name=T("Finalize"), exact=True)
        finalize.click()
        secretary.get_by_role("button", name=T("Press again to finalize")).click()
        expect(flash(secretary, T("Finalized. The PDF is ready to be signed: first by the secretary, "
                                  "then by the chair."))).to_be_visible()
        assert_accessible(secretary)  # the signing form
        secretary.get_by_label(T("Passphrase of your signing key")).fill(PASSPHRASE)
        secretary.get_by_role("button", name=T("Sign the minutes")).click()
        expect(flash(secretary, T("You signed the minutes. The chair has been asked to sign next."))
               ).to_be_visible()

        chair = browser.page(server.url, "thutuong", f"/meetings/{meeting_id}/minutes", viewport=SIZES[size],
                             label="chair")
        assert_accessible(chair)
        chair.get_by_label(T("Passphrase of your signing key")).fill(PASSPHRASE)
        chair.get_by_role("button", name=T("Sign the minutes")).click()
        expect(flash(chair, T("You signed the minutes. They are now signed by the secretary and the chair: "
                              "this is the record."))).to_be_visible()

        # A minister opens the meeting and downloads the signed original.
        member = browser.page(server.url, "bt.tuphap", "/meetings/", viewport=SIZES[size], label="member")
        member.get_by_role("link", name=title).first.click()
        link = member.locator("#minutes").get_by_role("link", name=T("Signed minutes, version %(n)d", n=1))
        expect(link).to_be_visible()
        assert_accessible(member)
        with member.expect_download() as download:
            link.click()
        signed = download.value.path().read_bytes()
        assert browser.errors == [], browser.errors
    reports = signing.verify_pdf(signed, pki.trust_roots(demo_keys.directory))
    assert [r.signer_name for r in reports] == ["Trần Thị Thu Hà", "Phạm Quốc Hưng"]
    assert all(r.ok for r in reports)
    assert DISCUSSION in pdf_text(signed)


# --- (e) an opinion ballot -------------------------------------------------------------------------

BALLOT = "Dự thảo Nghị định sửa đổi Nghị định số 30/2020/NĐ-CP về công tác văn thư"
BALLOT_QUESTION = "Đồng ý thông qua dự thảo Nghị định?"


@pytest.mark.parametrize("size", SIZES)
def test_e_a_ballot_is_issued_answered_on_a_phone_closed_and_reported(app, cabinet, live_server, size):  # noqa: F811
    from playwright.sync_api import expect

    server = live_server(app)
    with browser_session(f"journey-e-{size}", server) as browser:
        desk = browser.page(server.url, "thuky", "/ballots", viewport=SIZES[size], label="secretariat")
        assert_accessible(desk)
        desk.get_by_role("link", name=T("Draft a ballot")).click()
        assert_accessible(desk)
        desk.get_by_label(T("Number and symbol (số, ký hiệu)")).fill("12/PLYK-VPCP")
        desk.get_by_label(T("Title"), exact=True).fill(BALLOT)
        desk.get_by_label(T("Question %(n)s", n=1), exact=True).fill(BALLOT_QUESTION)
        desk.get_by_role("button", name=T("Save the draft"), exact=True).last.click()
        expect(desk.get_by_role("heading", level=1)).to_have_text(BALLOT)
        assert_accessible(desk)
        desk.get_by_label(T("I have checked the ballot and its dossier: issue it now. It can no longer be "
                            "edited afterwards.")).check()
        desk.get_by_role("button", name=T("Issue and notify the recipients")).click()
        expect(desk.locator(".flash-success")).to_be_visible()
        # Every Government member of the cabinet fixture, by default.
        recipients = desk.locator(".ballot-facts dt").filter(has_text=T("Recipients"))
        expect(recipients.locator("xpath=following-sibling::dd[1]")).to_have_text(re.compile(r"^5\b"))

        # A minister answers on a phone.
        phone = browser.page(server.url, "bt.tuphap", "/ballots", viewport=PHONE, label="member-phone",
                             has_touch=True, is_mobile=True)
        assert_accessible(phone)
        phone.get_by_role("link", name=BALLOT).first.click()
        assert_accessible(phone)
        question = phone.get_by_role("group", name=BALLOT_QUESTION)
        question.get_by_label(T("Agree (Đồng ý)"), exact=True).check()
        phone.get_by_label(T("Your password")).fill(PASSWORD)
        phone.get_by_role("button", name=T("Sign and send my answer")).click()
        expect(phone.locator("#my-answer .signed")).to_be_visible()
        expect(phone.locator("#my-answer .my-answers")).to_contain_text(T("Agree (Đồng ý)"))
        assert_accessible(phone)

        # The secretariat closes it early and downloads the summary report.
        desk.reload()
        desk.get_by_role("button", name=T("Close now and record the result")).click()
        expect(flash(desk, T("The ballot was closed and its result recorded."))).to_be_visible()
        assert_accessible(desk)
        with desk.expect_download() as pdf_download:
            desk.get_by_role("link", name=T("Summary report (PDF)")).click()
        report = pdf_download.value.path().read_bytes()
        with desk.expect_download() as docx_download:
            desk.get_by_role("link", name=T("Summary report (Word DOCX)")).click()
        word = docx_download.value.path().read_bytes()
        assert browser.errors == [], browser.errors
    text = pdf_text(report)
    # Recipients, Đồng ý, Không đồng ý, Ý kiến khác, Chưa trả lời.
    assert "5 1 0 0 4" in text, text
    assert BALLOT_QUESTION in text and "Phan Thị Ngọc Diệp" in text
    assert word.startswith(b"PK"), "a Word document (a zip)"
