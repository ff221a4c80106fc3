"""Offline reading in a real browser, on a real server, at tablet and desktop sizes.

* A member makes a meeting available offline; with the network off (Playwright's offline mode)
  the meeting page and a document open from the device, the member states a position and adds a
  note, the top bar counts the changes waiting; with the network back both reach the database.
  The Tối mật document is not on the device.
* Journey (f): a document recalled by the secretariat disappears from the member's open viewer
  and from the device's storage; logging out wipes what is left.

Needs Debian's chromium (/usr/bin/chromium) and the ``playwright`` package. On failure the
screenshots of every page are saved and their folder printed with the page errors.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import select

from cabinet.annotations.models import Annotation
from cabinet.extensions import db
from cabinet.meetings import service as meetings
from cabinet.meetings.models import Position
from tests.browser import CHROMIUM, DESKTOP, TABLET, assert_accessible, browser_session
from tests.conftest import needs
from tests.live_server import live_server  # noqa: F401  (the fixture)
from tests.meeting_factories import schedule
from tests.test_documents import published, text_pdf

pytestmark = needs(Path(CHROMIUM).exists(), f"chromium at {CHROMIUM} (apt-get install chromium)")

SIZES = pytest.mark.parametrize("viewport", [TABLET, DESKTOP], ids=["tablet", "desktop"])
NOTE = "Đề nghị làm rõ khoản 2"
SHOTS = Path("/tmp/offline_pages")  # noqa: S108  (screenshots to look at, not a secret)
# Every URL stored on the device, whatever the cache.
STORED_URLS = """async () => {
  const urls = [];
  for (const name of await caches.keys()) {
    for (const request of await (await caches.open(name)).keys()) urls.push(new URL(request.url).pathname);
  }
  return urls;
}"""
# True once the service worker is active (bounded: page.evaluate itself never times out).
ACTIVE = """() => Promise.race([navigator.serviceWorker.ready.then(() => true),
                               new Promise((resolve) => setTimeout(() => resolve(false), 20000))])"""
CONTROLLED = "Boolean(navigator.serviceWorker.controller)"
# The browser's own reports of refused requests while offline are expected, not page errors.
OFFLINE_NOISE = ("net::ERR_INTERNET_DISCONNECTED", "Failed to load resource", "ERR_FAILED",
                 "WebSocket", "socket.io", "net::ERR_NETWORK_CHANGED")


@pytest.fixture
def trip(cabinet, make_user):
    """A minister cleared up to Tuyệt mật, invited to a meeting in ten days with one agenda item and
    three published documents: unclassified, Mật and Tối mật."""
    minister = make_user("bt.quocphong", clearance="tuyet_mat", full_name="Đại tướng Quốc Phòng")
    clerk = make_user("vp.coyeu", role="secretariat", clearance="tuyet_mat", full_name="Chuyên viên Cơ yếu")
    meeting = schedule(clerk, chair=cabinet["pm"], members=[minister, cabinet["tuphap"]],
                       secretaries=[cabinet["thuky"]])
    item = meetings.add_item(clerk, meeting.id, meetings.AgendaItemData(
        title="Dự án Luật Quốc phòng (sửa đổi)", presenter_organisation="Bộ Quốc phòng", minutes=30))
    docs = {level: published(clerk, meeting, title=title, secrecy=level, data=text_pdf(f"Trang {level}"))
            for level, title in (("none", "Tờ trình dự án Luật"), ("mat", "Báo cáo thẩm định"),
                                 ("toi_mat", "Phương án bố trí lực lượng"))}
    return {"meeting": meeting.id, "item": item.id, "minister": minister.id,
            "docs": {level: doc.id for level, doc in docs.items()}}


def store_meeting(page, base: str, meeting_id: int) -> None:
    """Open the meeting page, wait for the service worker to control it, press "Available offline"."""
    page.goto(f"{base}/meetings/{meeting_id}")
    assert page.evaluate(ACTIVE), "the service worker did not start"
    if not page.evaluate(CONTROLLED):  # a page loaded before the worker took over: load it again
        page.reload()
    assert page.evaluate(CONTROLLED)
    button = page.locator("[data-role=offline-button]")
    button.click()
    from playwright.sync_api import expect

    # Watermarking each classified PDF for its reader takes a moment: allow for it.
    expect(button).to_have_attribute("aria-pressed", "true", timeout=60000)
    expect(page.locator("[data-offline-meeting]")).to_have_attribute("data-state", "stored")


def page_errors(session) -> list[str]:
    return [e for e in session.errors if not any(noise in e for noise in OFFLINE_NOISE)]


@SIZES
def test_a_member_reads_and_annotates_offline_and_the_changes_arrive_later(app, cabinet, trip, live_server,  # noqa: F811
                                                                           viewport):
    from playwright.sync_api import expect

    meeting_id, docs = trip["meeting"], trip["docs"]
    server = live_server(app)
    with browser_session("offline-reading", server) as session:
        page = session.page(server.url, "bt.quocphong", f"/meetings/{meeting_id}", viewport=viewport,
                            label="minister")
        expect(page.locator("[data-role=offline-button]")).to_be_visible()
        assert_accessible(page)
        store_meeting(page, server.url, meeting_id)
        status = page.locator("[data-role=offline-status]")
        expect(status).to_contain_text("2")  # 2 of 2 documents: the Tối mật one is not counted
        expect(status).to_contain_text("Tối mật")  # … and the member is told it stays on the server
        assert_accessible(page)
        stored = page.evaluate(STORED_URLS)
        for level in ("none", "mat"):
            assert f"/documents/{docs[level]}/content" in stored
        assert not [url for url in stored if url.startswith(f"/documents/{docs['toi_mat']}")], stored

        page.context.set_offline(True)
        page.reload()
        expect(page.locator("h1")).to_have_text("Phiên họp Chính phủ thường kỳ")
        # A position stated on the plane waits on the device.
        page.check(f"input[name=stance-{trip['item']}][value=agree]")
        page.click("#positions button[type=submit]")
        expect(page.locator("[data-role=positions-pending]")).to_be_visible()
        expect(page.locator("#offline-pending")).to_have_attribute("data-count", "1")

        # The document opens from the device, with its annotations; a note added offline waits too.
        page.click(f"a[href='/documents/{docs['none']}']")
        page.wait_for_selector(".pdfv-page.is-rendered .annot-layer")
        page.click("[data-annot-tool=note]")
        page.locator(".pdfv-page .annot-layer").first.click(position={"x": 200, "y": 150})
        page.fill(".annot-dialog textarea", NOTE)
        page.click(".annot-dialog button[value=save]")
        pending = page.locator("#offline-pending")
        expect(pending).to_be_visible()
        expect(pending).to_have_attribute("data-count", "2")
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"viewer-offline-{viewport['width']}.png"))

        # The Tối mật document was never stored: with no network it is not there to open.
        page.goto(f"{server.url}/documents/{docs['toi_mat']}")
        expect(page.locator("main.offline-fallback h1")).to_be_visible()
        page.go_back()
        page.wait_for_selector(".pdfv-page.is-rendered .annot-layer")

        # Logging out now would lose the two changes: the member is asked, and may stay.
        asked: list[str] = []
        page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.dismiss()))
        page.click("form[data-offline-logout] button[type=submit]")
        expect(page.locator("form[data-offline-logout] button")).to_be_enabled()
        assert len(asked) == 1 and "2" in asked[0], asked
        expect(pending).to_have_attribute("data-count", "2")
        assert f"/documents/{docs['none']}/content" in page.evaluate(STORED_URLS)  # nothing wiped

        page.context.set_offline(False)
        expect(pending).to_be_hidden(timeout=20000)
        expect(page.locator(".annot-layer .annot-pin")).to_have_count(1)
        assert page_errors(session) == [], page_errors(session)
    server.stop()
    notes = db.session.scalars(select(Annotation).where(Annotation.document_id == docs["none"])).all()
    assert [(n.owner_id, n.kind) for n in notes] == [(trip["minister"], "note")]
    positions = db.session.scalars(select(Position).where(Position.item_id == trip["item"])).all()
    assert [(p.user_id, p.stance) for p in positions] == [(trip["minister"], "agree")]


def test_positions_saved_on_a_wifi_that_reaches_nothing_wait_on_the_tablet(app, cabinet, trip,
                                                                          live_server):  # noqa: F811
    """The tablet says it is online (navigator.onLine), but the server cannot be reached: the
    positions wait on the device instead of ending on the browser's error page, and go once it
    answers again."""
    from playwright.sync_api import expect

    meeting_id = trip["meeting"]
    server = live_server(app)
    with browser_session("offline-unreachable", server) as session:
        page = session.page(server.url, "bt.quocphong", f"/meetings/{meeting_id}", viewport=TABLET,
                            label="minister")
        # (on the context: the service worker makes the request, and only the context sees it)
        page.context.route("**/healthz", lambda route: route.abort("internetdisconnected"))
        assert page.evaluate("navigator.onLine") is True
        page.check(f"input[name=stance-{trip['item']}][value=comment]")
        page.fill(f"textarea[name=comment-{trip['item']}]", "Chưa đủ cơ sở")
        page.click("#positions button[type=submit]")
        expect(page.locator("[data-role=positions-pending]")).to_be_visible()
        expect(page.locator("#offline-pending")).to_have_attribute("data-count", "1")
        assert page.url.endswith(f"/meetings/{meeting_id}")  # still on the page, the answers kept

        page.context.unroute("**/healthz")
        page.evaluate("window.dispatchEvent(new Event('online'))")  # as the tablet does on a new network
        expect(page.locator("#offline-pending")).to_be_hidden(timeout=20000)
        expect(page.locator(".flash-success")).to_be_visible()
        assert page_errors(session) == [], page_errors(session)
    server.stop()
    positions = db.session.scalars(select(Position).where(Position.item_id == trip["item"])).all()
    assert [(p.user_id, p.stance, p.comment) for p in positions] == [(trip["minister"], "comment",
                                                                      "Chưa đủ cơ sở")]


@SIZES
def test_a_recalled_document_leaves_the_open_viewer_and_the_device(app, cabinet, trip, live_server,  # noqa: F811
                                                                   viewport):
    from playwright.sync_api import expect

    meeting_id, doc = trip["meeting"], trip["docs"]["none"]
    server = live_server(app)
    with browser_session("offline-recall", server) as session:
        page = session.page(server.url, "bt.quocphong", f"/meetings/{meeting_id}", viewport=viewport,
                            label="minister")
        store_meeting(page, server.url, meeting_id)
        page.goto(f"{server.url}/documents/{doc}")
        page.wait_for_selector(".pdfv-page.is-rendered")
        page.wait_for_selector("#conn-status[data-state=online]")
        assert f"/documents/{doc}/content" in page.evaluate(STORED_URLS)

        staff = session.page(server.url, "thuky", f"/documents/{doc}", viewport=DESKTOP, label="secretariat")
        staff.fill("textarea[name=reason]", "Thay bằng bản sửa đổi")
        staff.click("form[action$='/recall'] button[type=submit]")
        expect(staff.locator(".flash-success")).to_be_visible(timeout=15000)  # slow machines: allow

        # The open viewer closes at once, and the stored copies go with it.
        expect(page.locator("[data-recall-watch] .flash-warning")).to_be_visible()
        expect(page.locator(".pdfv")).to_have_count(0)
        gone = f"""async () => {{
          for (let i = 0; i < 100; i += 1) {{
            if (!(await ({STORED_URLS})()).some((url) => url.startsWith('/documents/{doc}'))) return true;
            await new Promise((resolve) => setTimeout(resolve, 100));
          }}
          return false;
        }}"""
        assert page.evaluate(gone), page.evaluate(STORED_URLS)
        remaining = page.evaluate(STORED_URLS)
        assert f"/documents/{trip['docs']['mat']}/content" in remaining  # the others stay

        # Logging out wipes the device.
        page.goto(f"{server.url}/meetings/{meeting_id}")
        page.click("form[data-offline-logout] button[type=submit]")
        # (The session's end also reaches the page's socket, which may reload it: /login?next=…)
        page.wait_for_url(re.compile(re.escape(server.url) + r"/login(\?.*)?$"))
        assert page.evaluate(STORED_URLS) == []
        assert page.evaluate("Object.keys(localStorage).filter((k) => k.startsWith('ecabinet.'))") == []
        assert page_errors(session) == [], page_errors(session)
