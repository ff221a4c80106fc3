"""The meeting room in real browsers: the chair's tablet, a member's tablet and the projector,
on a real server (gevent, websockets), following one meeting through its sockets.

Needs Debian's chromium (/usr/bin/chromium) and the ``playwright`` package (test extra);
Playwright's own browser download is not used. On failure, screenshots of the three screens are
saved and their folder printed.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from cabinet.live import service
from tests.conftest import PASSWORD, needs
from tests.live_server import live_server  # noqa: F401  (the fixture)
from tests.meeting_factories import room_meeting

CHROMIUM = os.environ.get("CABINET_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-quic"]
TABLET = {"width": 768, "height": 1024}
WAIT_MS = 15000

pytestmark = needs(Path(CHROMIUM).exists(), f"chromium at {CHROMIUM} (apt-get install chromium)")

ITEMS = ("Dự án Luật Đất đai (sửa đổi)", "Dự thảo Nghị định hướng dẫn Luật Ngân sách nhà nước")


@pytest.fixture
def room(cabinet):
    return room_meeting(cabinet, items=ITEMS, guests=False, presenter_organisation="Bộ Tài chính")


def save_screenshots(pages: dict, errors: list[str], server) -> None:
    folder = Path(tempfile.mkdtemp(prefix="live-browser-"))
    for name, page in pages.items():
        try:
            page.screenshot(path=folder / f"{name}.png", full_page=True)
        except Exception as exc:  # noqa: BLE001 - keep the other screenshots
            print(f"no screenshot of {name}: {exc}")
    print(f"Screenshots of the failure: {folder}\nPage errors: {errors}\nServer output:\n"
          f"{server.output()[-3000:]}")


def open_page(browser, base: str, username: str, path: str, viewport=TABLET, errors=None):
    """Log in through the login form, then open ``path`` and wait until it has joined the room."""
    page = browser.new_page(viewport=viewport)
    page.set_default_timeout(WAIT_MS)
    if errors is not None:
        page.on("pageerror", lambda exc: errors.append(f"{username}: {exc}"))
    page.goto(base + "/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit].btn-primary")
    page.wait_for_url(base + "/")
    page.goto(base + path)
    page.wait_for_selector("#live-room[data-joined=true]")
    return page


def test_chair_member_and_projector_follow_one_meeting(app, cabinet, room, live_server):  # noqa: F811
    from playwright.sync_api import expect, sync_playwright

    # Everything the test needs from the database, read before the server starts (see
    # tests/live_server.py: on SQLite the test's session would otherwise hold the write lock).
    second_id, meeting_id, chair_id = room.agenda_items[1].id, room.id, cabinet["pm"].id
    live, projector_path = f"/meetings/{meeting_id}/live", f"/meetings/{meeting_id}/projector"
    server = live_server(app)
    errors: list[str] = []
    pages = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            chair = pages["chair"] = open_page(browser, server.url, "thutuong", live, errors=errors)
            member = pages["member"] = open_page(browser, server.url, "bt.tuphap", live, errors=errors)
            projector = pages["projector"] = open_page(browser, server.url, "thuky", projector_path,
                                                       viewport={"width": 1280, "height": 720}, errors=errors)
            member_phase = member.locator("[data-slot=phase]")
            expect(member_phase).to_have_attribute("data-phase", "not_started")
            expect(member.locator("#console")).to_have_count(0)

            # The chair opens the meeting and puts item 2 on the table: every screen follows.
            chair.click("[data-action=meeting-open]")
            expect(member_phase).to_have_attribute("data-phase", "open")
            chair.click(f"#console-agenda li[data-item-id='{second_id}'] [data-action=set-current]")
            expect(member.locator("#live-current .item-title")).to_have_text(ITEMS[1])
            expect(projector.locator("#proj-item .item-title")).to_have_text(ITEMS[1])
            expect(chair.locator(f"#console-agenda li[data-item-id='{second_id}']")).to_have_class(
                "agenda-live-item is-current")

            # Attendance: below quorum (0 of 2) until the chair is marked present and the member
            # checks in on their tablet.
            expect(chair.locator("[data-slot=quorum]")).to_have_class("quorum is-low")
            chair.click(f"[data-action=mark][data-user='{chair_id}']")
            member.click("[data-action=check-in]")
            expect(member.locator("#live-me .me-in")).to_be_visible()
            expect(chair.locator("[data-slot=quorum]")).to_have_class("quorum is-met")
            expect(projector.locator("[data-slot=quorum]")).to_contain_text("2")

            # The chair opens a vote: the question is the item on the table.
            expect(chair.locator("#vote-question")).to_have_value(ITEMS[1])
            chair.click("#vote-form button[type=submit]")
            for_button = member.locator(".vote-btn[data-choice=for]")
            expect(for_button).to_contain_text("Tán thành")
            for_button.click()
            expect(member.locator("#vote-feedback")).to_have_attribute("data-kind", "ok")
            expect(for_button).to_have_attribute("aria-pressed", "true")
            expect(projector.locator("#proj-vote .tally-count")).to_have_attribute("data-cast", "1")
            expect(projector.locator("#proj-vote .bar-for .bar-count")).to_have_text("1")
            expect(chair.locator("#console-vote .bar-for .bar-count")).to_have_text("1")

            # Closing needs a second press; then every screen shows the result (D7: 1 of 3
            # members for is not more than half of all members).
            close = chair.locator("[data-action=vote-close]")
            close.click()
            expect(close).to_have_class("btn btn-primary btn-large btn-block is-armed")
            close.click()
            for screen, panel in ((member, "#live-vote"), (projector, "#proj-vote")):
                outcome = screen.locator(f"{panel} [data-outcome]")
                expect(outcome).to_have_attribute("data-outcome", "rejected")
            expect(member.locator("#live-results .result")).to_have_count(1)
            expect(chair.locator("#vote-form")).to_be_visible()
            assert errors == [], errors
        except BaseException:
            save_screenshots(pages, errors, server)
            raise
        finally:
            browser.close()


def test_a_tablet_that_lost_the_server_catches_up_without_reloading(app, cabinet, room,
                                                                    live_server):  # noqa: F811
    from playwright.sync_api import expect, sync_playwright

    first, second = room.agenda_items
    service.open_meeting(cabinet["pm"], room.id)
    service.check_in(cabinet["tuphap"], room.id)
    service.set_current_item(cabinet["pm"], room.id, first.id)
    meeting_id, first_title = room.id, first.title
    server = live_server(app)
    errors: list[str] = []
    pages = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            member = pages["member"] = open_page(browser, server.url, "bt.tuphap",
                                                 f"/meetings/{meeting_id}/live", errors=errors)
            expect(member.locator("#live-current .item-title")).to_have_text(first_title)
            member.evaluate("window.sameDocument = true")

            server.kill()
            expect(member.locator("#live-offline")).to_be_visible()
            expect(member.locator("#live-room")).not_to_have_attribute("data-joined", "true")
            member.click("[data-action=ask]")  # refused at once, not queued for later
            expect(member.locator("#live-feedback")).to_have_attribute("data-kind", "error")

            # While the tablet is cut off, the meeting goes on: item 2, then a vote.
            service.set_current_item(cabinet["pm"], meeting_id, second.id)
            service.open_vote(cabinet["pm"], meeting_id, question="Biểu quyết nội dung 2")
            server.restart()

            expect(member.locator("#live-room")).to_have_attribute("data-joined", "true", timeout=30000)
            expect(member.locator("#live-offline")).to_be_hidden()
            expect(member.locator("#live-current .item-title")).to_have_text(ITEMS[1])
            expect(member.locator(".vote-btn[data-choice=for]")).to_be_visible()
            assert member.evaluate("window.sameDocument") is True  # no reload
            member.click(".vote-btn[data-choice=for]")
            expect(member.locator("#vote-feedback")).to_have_attribute("data-kind", "ok")
            assert errors == [], errors
        except BaseException:
            save_screenshots(pages, errors, server)
            raise
        finally:
            browser.close()
