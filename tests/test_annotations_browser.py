"""Annotations in real browsers, on a real server (gevent, websockets): a member draws and writes a
note on one tablet, and the same member's second tablet shows them at once; what is typed is
shown as text, never as markup.

Needs Debian's chromium (/usr/bin/chromium) and the ``playwright`` package, like
tests/test_live_browser.py. On failure, screenshots are saved and their folder printed.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from sqlalchemy import select

from cabinet.annotations.models import Annotation
from cabinet.extensions import db
from tests.browser import DRAW
from tests.conftest import PASSWORD, needs
from tests.live_server import live_server  # noqa: F401  (the fixture)
from tests.test_documents import published, text_pdf
from tests.test_live_browser import ARGS, CHROMIUM, WAIT_MS

TABLET = {"width": 1024, "height": 768}
NOTE = '<img src=x id="injected"> Làm rõ khoản 2'

pytestmark = needs(Path(CHROMIUM).exists(), f"chromium at {CHROMIUM} (apt-get install chromium)")


def open_document(browser, base: str, username: str, document_id: int, errors: list[str]):
    page = browser.new_page(viewport=TABLET, has_touch=True)
    page.set_default_timeout(WAIT_MS)
    page.on("pageerror", lambda exc: errors.append(f"{username}: {exc}"))
    page.goto(base + "/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit].btn-primary")
    page.wait_for_url(base + "/")
    page.goto(f"{base}/documents/{document_id}")
    page.wait_for_selector(".pdfv-page.is-rendered .annot-layer")
    page.wait_for_selector("#conn-status[data-state=online]")
    return page


def test_a_member_annotates_on_one_tablet_and_the_other_follows(app, cabinet, meeting, live_server):  # noqa: F811
    from playwright.sync_api import expect, sync_playwright

    document_id = published(cabinet["thuky"], meeting, data=text_pdf("Dieu 5. Pham vi dieu chinh")).id
    server = live_server(app)
    errors: list[str] = []
    pages = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            tablet = pages["tablet"] = open_document(browser, server.url, "bt.tuphap", document_id, errors)
            other = pages["other"] = open_document(browser, server.url, "bt.tuphap", document_id, errors)

            tablet.click("[data-annot-colour=red]")
            tablet.click("[data-annot-tool=pen]")
            expect(tablet.locator("[data-annot-tool=pen]")).to_have_attribute("aria-pressed", "true")
            tablet.evaluate(DRAW)
            # Saved after a short pause; the other tablet hears of it over its socket.
            expect(other.locator(".pdfv-page .annot-layer polyline.annot-red")).to_have_count(1)
            expect(tablet.locator("[data-role=annot-pending]")).to_be_hidden()
            tablet.click("[data-annot-tool=pen]")

            tablet.click("[data-annot-tool=note]")
            tablet.locator(".pdfv-page .annot-layer").first.click(position={"x": 300, "y": 200})
            tablet.fill(".annot-dialog textarea", NOTE)
            tablet.click(".annot-dialog button[value=save]")
            expect(other.locator(".annot-layer .annot-pin")).to_have_count(1)
            other.click("[data-annot-action=list]")
            expect(other.locator(".annot-item .annot-text")).to_have_text(NOTE)
            expect(other.locator("#injected")).to_have_count(0)
            expect(other.locator("[data-role=annot-count]")).to_have_text("2")
            assert errors == [], errors
        except BaseException:
            folder = Path(tempfile.mkdtemp(prefix="annotations-browser-"))
            for name, page in pages.items():
                try:
                    page.screenshot(path=folder / f"{name}.png", full_page=True)
                except Exception as exc:  # noqa: BLE001 - keep the other screenshot
                    print(f"no screenshot of {name}: {exc}")
            print(f"Screenshots of the failure: {folder}\nPage errors: {errors}\nServer output:\n"
                  f"{server.output()[-3000:]}")
            raise
        finally:
            browser.close()
    server.stop()
    kinds = sorted(db.session.scalars(select(Annotation.kind)))
    assert kinds == ["note", "pen"]
