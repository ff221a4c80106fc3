"""The minutes editor in a real browser, on a real server: the secretary types a discussion in the
rich-text editor, it saves itself, and is still there after a reload; text typed just before
leaving the page is kept on the device and restored.

Needs Debian's chromium (/usr/bin/chromium) and the ``playwright`` package, like
tests/test_live_browser.py. Screenshots of the editor on a desktop (1280×800) and a tablet
(768×1024) are written to /tmp/minutes_pages/; on failure the folder is printed with the page
errors and the server's output.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from cabinet.extensions import db
from cabinet.minutes import service
from cabinet.minutes.models import Minutes
from tests.conftest import PASSWORD, needs
from tests.live_server import live_server  # noqa: F401  (the fixture)
from tests.meeting_factories import held_meeting
from tests.test_live_browser import ARGS, CHROMIUM, TABLET, WAIT_MS

DESKTOP = {"width": 1280, "height": 800}
SHOTS = Path("/tmp/minutes_pages")  # noqa: S108  (screenshots to look at, not a secret)
TYPED = "Các thành viên thống nhất với Tờ trình"
BOLD = "giao Bộ Tư pháp hoàn thiện"
LATE = "Ý kiến bổ sung của Bộ Y tế"

pytestmark = needs(Path(CHROMIUM).exists(), f"chromium at {CHROMIUM} (apt-get install chromium)")


def open_minutes(browser, base: str, path: str, viewport: dict, errors: list[str]):
    page = browser.new_page(viewport=viewport)
    page.set_default_timeout(WAIT_MS)
    page.on("pageerror", lambda exc: errors.append(f"page error: {exc}"))
    page.on("console", lambda msg: errors.append(f"console: {msg.text}") if msg.type == "error" else None)
    page.goto(base + "/login")
    page.fill("#username", "thuky")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit].btn-primary")
    page.wait_for_url(base + "/")
    page.goto(base + path)
    page.wait_for_selector(".minutes-quill .ql-editor")
    return page


def test_the_secretary_types_a_discussion_it_saves_itself_and_survives_a_reload(app, cabinet, live_server):  # noqa: F811
    from playwright.sync_api import expect, sync_playwright

    meeting = held_meeting(cabinet)
    minutes = service.start(cabinet["thuky"], meeting.id)
    first, second = sorted(meeting.agenda_items, key=lambda i: i.position)
    path, minutes_id = f"/meetings/{meeting.id}/minutes", minutes.id
    discussion = f"#f-item-{first.id}-discussion_html + .minutes-quill .ql-editor"
    other = f"#f-item-{second.id}-discussion_html + .minutes-quill .ql-editor"
    server = live_server(app)
    SHOTS.mkdir(parents=True, exist_ok=True)
    errors: list[str] = []
    page = None
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = open_minutes(browser, server.url, path, DESKTOP, errors)
            state = page.locator("[data-role=save-state]")
            # The toolbar speaks: every button has a name.
            expect(page.locator(".ql-toolbar button:not([aria-label])")).to_have_count(0)
            page.click(discussion)
            page.keyboard.type(TYPED + ", ")
            page.keyboard.press("Control+b")
            page.keyboard.type(BOLD)
            page.keyboard.press("Control+b")
            page.keyboard.type(".")
            expect(state).to_have_attribute("data-state", "unsaved")
            expect(state).to_have_attribute("data-state", "saved", timeout=WAIT_MS)  # ~3 s after typing
            page.screenshot(path=str(SHOTS / "editor.png"))
            page.screenshot(path=str(SHOTS / "editor-full.png"), full_page=True)
            page.set_viewport_size(TABLET)
            page.screenshot(path=str(SHOTS / "editor-tablet.png"))

            page.reload()
            page.wait_for_selector(discussion)
            state = page.locator("[data-role=save-state]")
            expect(page.locator(discussion)).to_contain_text(TYPED)
            expect(page.locator(f"{discussion} strong")).to_have_text(BOLD)
            expect(page.locator("[data-role=restore]")).to_be_hidden()

            # Typed, then the page is left before the autosave: the text is kept on this device.
            page.click(other)
            page.keyboard.type(LATE)
            page.reload()
            restore = page.locator("[data-role=restore]")
            expect(restore).to_be_visible()
            page.screenshot(path=str(SHOTS / "restore-tablet.png"))
            expect(page.locator(other)).not_to_contain_text(LATE)
            restore.locator("[data-action=restore]").click()
            expect(page.locator(other)).to_contain_text(LATE)
            expect(state).to_have_attribute("data-state", "saved", timeout=WAIT_MS)
            assert errors == [], errors
        except BaseException:
            if page is not None:
                try:
                    page.screenshot(path=str(SHOTS / "failure.png"), full_page=True)
                except Exception as exc:  # noqa: BLE001 - the server output matters more
                    print(f"no screenshot: {exc}")
            print(f"Screenshots: {SHOTS}\nPage errors: {errors}\nServer output:\n{server.output()[-3000:]}")
            raise
        finally:
            browser.close()
    server.stop()
    db.session.expire_all()
    saved = db.session.scalars(select(Minutes).where(Minutes.id == minutes_id)).one()
    texts = saved.content["items"]
    typed = texts[str(first.id)]["discussion_html"]
    assert f"<strong>{BOLD}</strong>" in typed
    assert "&nbsp;" not in typed and "\u00a0" not in typed, "plain spaces, so that printed lines wrap"
    assert LATE in texts[str(second.id)]["discussion_html"]
