"""Progress bars and busy buttons in a real browser, on a real server: the secretary uploads a
multi-megabyte PDF and watches the bar reach 100 % before landing on the document; a refused file
is explained inside the form, which keeps the chosen file and the typed title; the summary report
of a ballot downloads through its busy button and is saved under the server's file name.

Needs Debian's chromium (/usr/bin/chromium) and the ``playwright`` package (tests/browser.py).
"""

from __future__ import annotations

import io
import os
import re

from pypdf import PdfWriter
from pypdf.generic import DecodedStreamObject, NameObject

from tests.browser import DESKTOP, assert_accessible, browser_session, needs_chromium
from tests.live_server import live_server  # noqa: F401  (the fixture)
from tests.test_documents import make_meeting

pytestmark = needs_chromium

TITLE = "Tờ trình dự án Luật Đất đai (sửa đổi)"


def big_pdf(megabytes: float = 3) -> bytes:
    """A valid one-page PDF of about ``megabytes`` MB: its content stream carries a long comment
    of random hex (incompressible, so the upload really is that large)."""
    writer = PdfWriter()
    page = writer.add_blank_page(595, 842)
    stream = DecodedStreamObject()
    stream.set_data(b"%" + os.urandom(int(megabytes * 1024 * 1024) // 2).hex().encode() + b"\nq Q\n")
    page[NameObject("/Contents")] = writer._add_object(stream)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


# Records what the progress box shows, in sessionStorage: it survives the move to the document page.
RECORD = """() => {
  const form = document.querySelector("form[data-upload-progress]");
  const log = (entry) => {
    const all = JSON.parse(sessionStorage.getItem("progress-log") || "[]");
    all.push(entry);
    sessionStorage.setItem("progress-log", JSON.stringify(all));
  };
  new MutationObserver(() => {
    const bar = form.querySelector("[data-role=upload-bar]");
    log({ value: Number(bar.getAttribute("value")),
          shown: !form.querySelector("[data-role=upload-progress]").hidden,
          amount: form.querySelector("[data-role=upload-amount]").textContent,
          phase: form.querySelector("[data-role=upload-phase]").textContent });
  }).observe(form, { subtree: true, attributes: true, childList: true, characterData: true });
}"""


def _staff(make_user):
    return make_user("thuky", role="secretariat", clearance="tuyet_mat", full_name="Trần Thị Thu Hà")


def test_a_big_upload_shows_its_progress_and_lands_on_the_document(app, make_user, live_server, tmp_path):  # noqa: F811
    from playwright.sync_api import expect

    _staff(make_user)
    meeting_id = make_meeting().id
    pdf = tmp_path / "to-trinh-lon.pdf"
    pdf.write_bytes(big_pdf(3))
    server = live_server(app)
    with browser_session("polish-upload", server) as session:
        page = session.page(server.url, "thuky", f"/meetings/{meeting_id}/documents/new", viewport=DESKTOP)
        page.fill("#title", TITLE)
        page.set_input_files("#file", str(pdf))
        page.evaluate(RECORD)
        # A slow Wi-Fi (about 1 MB/s up): the bar moves for a few seconds, long enough to look at it.
        cdp = page.context.new_cdp_session(page)
        cdp.send("Network.enable")
        cdp.send("Network.emulateNetworkConditions", {
            "offline": False, "latency": 20, "downloadThroughput": -1, "uploadThroughput": 1024 * 1024})
        page.click("button[type=submit].btn-primary")
        expect(page.locator("[data-role=upload-progress]")).to_be_visible()
        expect(page.locator("button[type=submit].btn-primary")).to_be_disabled()
        page.wait_for_function("() => document.querySelector('[data-role=upload-bar]').value > 0")
        amount = page.locator("[data-role=upload-amount]").inner_text()
        assert re.search(r"\d+% · \d+,\d MB / 3,\d MB", amount), amount
        assert_accessible(page)
        page.screenshot(path=str(tmp_path / "upload-progress.png"))
        page.wait_for_url(re.compile(r"/documents/\d+$"))
        expect(page.locator("h1")).to_have_text(TITLE)
        log = page.evaluate("() => JSON.parse(sessionStorage.getItem('progress-log') || '[]')")
        values = [entry["value"] for entry in log if entry["shown"]]
        assert values and max(values) == 100, log[-5:]
        amounts = [entry["amount"] for entry in log if "MB /" in entry["amount"]]
        assert any(a.endswith("3,0 MB") or a.endswith("3,1 MB") for a in amounts), amounts[-3:]
        assert not session.errors, session.errors


def test_a_refused_upload_is_explained_in_the_form_which_keeps_the_file_and_the_title(
        app, make_user, live_server, tmp_path):  # noqa: F811
    from playwright.sync_api import expect

    _staff(make_user)
    meeting_id = make_meeting().id
    fake = tmp_path / "gia-mao.pdf"
    fake.write_bytes(b"<html>not a pdf</html>\n" * 2000)
    server = live_server(app)
    with browser_session("polish-refused", server) as session:
        page = session.page(server.url, "thuky", f"/meetings/{meeting_id}/documents/new", viewport=DESKTOP)
        url = page.url
        page.fill("#title", TITLE)
        page.set_input_files("#file", str(fake))
        page.click("button[type=submit].btn-primary")
        alert = page.locator("[data-role=upload-error]")
        expect(alert).to_be_visible()
        expect(alert).to_contain_text("PDF")
        expect(page.locator("#file")).to_have_attribute("aria-invalid", "true")
        assert page.url == url
        expect(page.locator("#title")).to_have_value(TITLE)
        assert page.evaluate("() => document.querySelector('#file').files[0].name") == "gia-mao.pdf"
        expect(page.locator("button[type=submit].btn-primary")).to_be_enabled()
        expect(page.locator("[data-role=upload-progress]")).to_be_hidden()
        assert_accessible(page)
        # Too large for the page's limit: refused before a byte is sent.
        page.evaluate("() => document.querySelector('form[data-upload-progress]').dataset.maxBytes = '1000'")
        page.click("button[type=submit].btn-primary")
        expect(alert).to_contain_text("MB")
        assert not [e for e in session.errors if "422" not in e], session.errors


def test_the_ballot_report_downloads_through_its_busy_button(app, cabinet, live_server, tmp_path):  # noqa: F811
    from playwright.sync_api import expect

    from tests.test_ballots import issued

    ballot_id = issued(cabinet).id
    server = live_server(app)
    with browser_session("polish-download", server) as session:
        page = session.page(server.url, "thuky", f"/ballots/{ballot_id}", viewport=DESKTOP)
        link = page.locator("a[data-busy][href$='/report.pdf']")
        with page.expect_download(timeout=60000) as info:
            link.click()
        download = info.value
        assert download.suggested_filename == "bao-cao-tong-hop-45-plyk-vpcp.pdf"
        saved = tmp_path / download.suggested_filename
        download.save_as(saved)
        assert saved.read_bytes().startswith(b"%PDF")
        expect(link).not_to_have_attribute("aria-busy", "true")
        expect(page.locator(".busy-status")).to_have_attribute("role", "status")
        assert_accessible(page)
        assert not session.errors, session.errors
