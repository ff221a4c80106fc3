"""The notification centre in a real browser, on a real server: a minister opens the bell's panel
from the keyboard and closes it with Escape, a meeting the secretariat schedules meanwhile arrives
live (the badge goes up, the panel lists it), and the list and home pages pass axe at the tablet
and desktop sizes.

Needs Debian's chromium and the ``playwright`` package (tests/browser.py).
"""

from __future__ import annotations

from datetime import timedelta

from cabinet.core.timeutil import utcnow
from tests.browser import DESKTOP, TABLET, assert_accessible, browser_session, needs_chromium
from tests.conftest import PASSWORD
from tests.live_server import live_server  # noqa: F401  (the fixture)

pytestmark = needs_chromium
NEW_TITLE = "Phiên họp chuyên đề về chuyển đổi số"


def schedule_by_api(page, base: str, pm_id: int, tuphap_id: int) -> None:
    """The secretariat schedules a meeting through the API (in the server process, so its
    notification is pushed to the minister's open page)."""
    token = page.request.post(base + "/api/v1/auth/token",
                              data={"username": "thuky", "password": PASSWORD}).json()["token"]
    starts = (utcnow() + timedelta(days=5)).replace(microsecond=0)
    response = page.request.post(base + "/api/v1/meetings", headers={"Authorization": f"Bearer {token}"},
                                 data={"title": NEW_TITLE, "starts_at": starts.isoformat(),
                                       "ends_at": (starts + timedelta(hours=2)).isoformat(),
                                       "place": "Phòng họp số 1",
                                       "participants": [{"user_id": pm_id, "role": "chair"},
                                                        {"user_id": tuphap_id, "role": "member"}]})
    assert response.status == 201, response.text()


def test_the_bell_panel_opens_by_keyboard_and_a_new_notification_arrives_live(app, cabinet, meeting,
                                                                              live_server):  # noqa: F811
    from playwright.sync_api import expect

    title, pm_id, tuphap_id = meeting.title, cabinet["pm"].id, cabinet["tuphap"].id
    server = live_server(app)
    with browser_session("notifications", server) as b:
        page = b.page(server.url, "bt.tuphap", viewport=DESKTOP)
        toggle, panel = page.locator("#notif-toggle"), page.locator("#notif-panel")
        expect(page.locator("#notif-count-n")).to_have_text("1")
        expect(toggle).to_have_attribute("aria-expanded", "false")
        assert_accessible(page)

        # Keyboard: Enter opens and moves the focus into the panel; Escape closes and gives it back.
        toggle.focus()
        page.keyboard.press("Enter")
        expect(panel).to_be_visible()
        expect(toggle).to_have_attribute("aria-expanded", "true")
        expect(page.locator("#notif-panel-title")).to_be_focused()
        expect(panel.locator(".notif-item")).to_have_count(1)
        expect(panel.locator(".notif-item").first).to_contain_text(title)
        page.keyboard.press("Tab")
        expect(panel.locator(".notif-item a").first).to_be_focused()
        page.keyboard.press("Escape")
        expect(panel).to_be_hidden()
        expect(toggle).to_be_focused()
        expect(toggle).to_have_attribute("aria-expanded", "false")

        # A new meeting arrives live: the badge goes up, the panel lists it first.
        page.wait_for_function("() => window.cabinet && window.cabinet.socket"
                               " && window.cabinet.socket.connected")
        schedule_by_api(b.new_page(DESKTOP, "api"), server.url, pm_id, tuphap_id)
        expect(page.locator("#notif-count-n")).to_have_text("2")
        page.keyboard.press("Enter")
        expect(panel.locator(".notif-item")).to_have_count(2)
        expect(panel.locator(".notif-item").first).to_contain_text(NEW_TITLE)
        assert_accessible(page)  # the open panel too
        page.keyboard.press("Escape")

        for viewport in (TABLET, DESKTOP):
            page.set_viewport_size(viewport)
            page.goto(server.url + "/notifications")
            expect(page.locator(".notice.is-unread")).to_have_count(2)
            assert_accessible(page)
            page.goto(server.url + "/")
            expect(page.locator('[data-notice-group="meetings"]')).to_contain_text("2")
            assert_accessible(page)
        assert not b.errors, b.errors
