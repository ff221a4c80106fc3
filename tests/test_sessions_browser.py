"""Your devices, in a real browser on a real server: the secretary, signed in on a tablet and a
laptop, logs the tablet out from the laptop's account page; the tablet's open page goes to the
login page by itself (its socket got ``session.ended``), and the page passes axe.

Needs Debian's chromium (/usr/bin/chromium) and the ``playwright`` package (see tests/browser.py).
"""

from __future__ import annotations

import re
from pathlib import Path

from tests.browser import DESKTOP, TABLET, assert_accessible, browser_session, needs_chromium
from tests.live_server import live_server  # noqa: F401  (the fixture)
from tests.test_sessions import CHROME_WINDOWS, SAFARI_IPAD

pytestmark = needs_chromium
SHOTS = Path("/tmp/devices_pages")  # noqa: S108  (a screenshot to look at, not a secret)


def test_logging_out_the_tablet_from_the_laptop_sends_its_open_page_to_the_login(app, cabinet, live_server):  # noqa: F811
    from playwright.sync_api import expect

    server = live_server(app)
    with browser_session("devices", server) as b:
        tablet = b.page(server.url, "thuky", viewport=TABLET, label="tablet", user_agent=SAFARI_IPAD)
        expect(tablet.locator("#conn-status")).to_have_attribute("data-state", "online")
        laptop = b.page(server.url, "thuky", path="/account/", viewport=DESKTOP, label="laptop",
                        user_agent=CHROME_WINDOWS)

        devices = laptop.locator("#devices tbody tr")
        expect(devices).to_have_count(2)
        expect(laptop.locator("#devices .badge")).to_have_count(1)  # "This device": the laptop
        assert_accessible(laptop)
        SHOTS.mkdir(parents=True, exist_ok=True)
        laptop.locator("#devices").screenshot(path=str(SHOTS / "devices.png"))

        devices.filter(has_not=laptop.locator(".badge")).locator("button").click()

        tablet.wait_for_url(re.compile(r"/login"))  # by itself: nobody touched the tablet
        expect(tablet.locator("#username")).to_be_visible()
        expect(laptop.locator("#devices tbody tr")).to_have_count(1)
        expect(laptop.locator("#devices form button")).to_have_count(0)  # nothing else to log out
        assert_accessible(laptop)
