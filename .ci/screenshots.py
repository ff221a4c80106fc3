"""Take the README screenshots: serve the demo on a scratch instance, log in, photograph pages.

    .venv/bin/pip install playwright && .venv/bin/python .ci/screenshots.py [OUT_DIR]
    .venv/bin/python .ci/screenshots.py --live [--lang en] [OUT_DIR]   # only the meeting room
                                                              # (docs/screenshots/ by default)
    .venv/bin/python .ci/screenshots.py --minutes [OUT_DIR]   # only the minutes (docs/screenshots/)
    .venv/bin/python .ci/screenshots.py --tablet [OUT_DIR]    # notifications, offline reading,
                                                              # devices (docs/screenshots/)

Needs Debian's chromium (/usr/bin/chromium); Playwright's own browser download is not used.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
OUT = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-quic"]


def _free_port() -> int:
    """A port nobody listens on (another checkout may be taking screenshots too)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _login(browser, base: str, username: str):
    page = browser.new_page(viewport={"width": 768, "height": 1024})
    page.goto(base + "/login")
    page.fill("#username", username)
    page.fill("#password", "ecabinet-demo-2026")
    page.click("button[type=submit].btn-primary")
    page.wait_for_url(base + "/")
    return page


def _meeting_pages(browser, base: str) -> None:
    """The secretariat's meeting page, a member's reading room, a classified document."""
    page = _login(browser, base, "thuky")
    page.goto(base + "/meetings/1")
    page.screenshot(path=OUT / "meeting-secretariat-tablet.png", full_page=True)
    page.close()
    page = _login(browser, base, "bt.tuphap")
    page.screenshot(path=OUT / "home-member-tablet.png")
    page.goto(base + "/meetings/1")
    page.screenshot(path=OUT / "meeting-member-tablet.png", full_page=True)
    page.goto(base + "/documents/2")
    page.wait_for_timeout(2500)  # PDF.js renders the first page
    page.screenshot(path=OUT / "document-classified-tablet.png")
    page.goto(base + "/search?q=dat+dai")
    page.screenshot(path=OUT / "search-tablet.png")
    page.close()


def _live_scene() -> None:
    """Put the demo meeting in session (run in its own process, before the server starts):
    item 1 voted and concluded, item 2 on the table with a speaker, a queue and a vote under way."""
    from sqlalchemy import select

    from cabinet import create_app
    from cabinet.extensions import db
    from cabinet.live import service as live
    from cabinet.meetings.models import Meeting
    from cabinet.users.models import User

    app = create_app()
    with app.app_context():
        people = {u.username: u for u in db.session.scalars(select(User))}
        meeting = db.session.scalars(select(Meeting).order_by(Meeting.id)).first()
        pm, secretary = people["thutuong"], people["thuky"]
        live.open_meeting(pm, meeting.id)
        away = {"bt.ngoaigiao", "bt.congan", "td.nganhang"}  # on mission abroad
        voters = [p.user for p in meeting.participants if p.votes and p.user.username not in away]
        for user in voters:
            live.check_in(secretary, meeting.id, user.id)
        first, second = meeting.agenda_items[0], meeting.agenda_items[1]
        live.set_current_item(pm, meeting.id, first.id)
        vote = live.open_vote(pm, meeting.id, question=f"Thông qua {first.title}")
        for n, user in enumerate(voters):
            live.cast_vote(user, vote.id, "for" if n < 13 else ("against" if n < 15 else "abstain"))
        live.close_vote(pm, vote.id)
        live.conclude_item(pm, meeting.id, first.id,
                           "Chính phủ thống nhất thông qua dự án Luật; giao Bộ Nông nghiệp và Môi trường "
                           "tiếp thu ý kiến thành viên Chính phủ, hoàn thiện hồ sơ trình Quốc hội.")
        live.set_current_item(pm, meeting.id, second.id)
        requests = [live.request_floor(people[name], meeting.id)
                    for name in ("bt.taichinh", "bt.tuphap", "ptt.kinhte")]
        live.give_floor(pm, meeting.id, requests[0].id, 300)
        vote = live.open_vote(pm, meeting.id, question=second.title)
        for n, user in enumerate(voters[:9]):
            live.cast_vote(user, vote.id, "against" if n == 4 else "for")


HELD_MEETING = 2  # the demo's meeting of last month (cabinet/demo.py load_demo_held_meeting)


def _minutes_scene(step: str) -> None:
    """Move the demo minutes on (run in its own process while the server runs): ``sign1`` numbers,
    finalizes and has the secretary sign; ``sign2`` has the chair sign and writes the signed PDF
    next to the database, for the verify page."""
    from sqlalchemy import select

    from cabinet import create_app
    from cabinet.demo import DEMO_PASSWORD
    from cabinet.extensions import db
    from cabinet.minutes import service
    from cabinet.users.models import User

    app = create_app()
    with app.app_context():
        people = {u.username: u for u in db.session.scalars(select(User))}
        minutes = service.current(people["thuky"], HELD_MEETING)
        if step == "sign1":
            minutes = service.save(people["thuky"], minutes.id, service.DraftChanges(
                revision=minutes.revision, number="15/BB-CP"))
            minutes = service.finalize(people["thuky"], minutes.id, minutes.revision)
            service.sign(people["thuky"], minutes.id, DEMO_PASSWORD)
        else:
            service.sign(people["thutuong"], minutes.id, DEMO_PASSWORD)
            signed = service.export(people["bt.tuphap"], minutes.id, "pdf")
            (Path(app.instance_path) / "bien-ban.pdf").write_bytes(signed.content)


def _minutes_pages(browser, base: str, out: Path, env: dict) -> None:
    """The secretary's editor, the chair's signing card on a tablet, the signed minutes as a member
    sees them, and the verify page with the signed file."""
    out.mkdir(parents=True, exist_ok=True)
    scene = [sys.executable, __file__, "--minutes-scene"]
    page = _login(browser, base, "thuky")
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{base}/meetings/{HELD_MEETING}/minutes")
    page.wait_for_selector(".ql-editor")
    page.locator(".ql-editor").nth(2).scroll_into_view_if_needed()
    page.screenshot(path=out / "minutes-editor.png")
    page.close()
    subprocess.run([*scene, "sign1"], cwd=ROOT, env=env, check=True)
    page = _login(browser, base, "thutuong")
    page.goto(f"{base}/meetings/{HELD_MEETING}/minutes")
    page.screenshot(path=out / "minutes-sign-tablet.png")
    page.close()
    subprocess.run([*scene, "sign2"], cwd=ROOT, env=env, check=True)
    page = _login(browser, base, "bt.tuphap")
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{base}/meetings/{HELD_MEETING}/minutes")
    page.screenshot(path=out / "minutes-signed.png")
    page.goto(f"{base}/minutes/verify")
    page.set_input_files("input[type=file]", str(Path(env["CABINET_INSTANCE_PATH"]) / "bien-ban.pdf"))
    page.click("form.verify-form button[type=submit]")
    page.wait_for_selector(".verify-result")
    page.screenshot(path=out / "minutes-verify.png", full_page=True)
    page.close()


def _live_pages(browser, base: str, out: Path, lang: str) -> None:
    """The chair's console and a member's tablet at 1024×768, the projector at 1920×1080."""
    out.mkdir(parents=True, exist_ok=True)
    shots = [("thutuong", "live", (1024, 768), "live-chair-console.png", True),
             ("bt.tuphap", "live", (1024, 768), "live-member-tablet.png", True),
             ("bt.tuphap", "live", (768, 1024), "live-member-portrait.png", False),
             ("thuky", "projector", (1920, 1080), "live-projector.png", False)]
    for username, page_name, (width, height), filename, full in shots:
        page = browser.new_page(viewport={"width": width, "height": height})
        page.goto(base + "/login")
        page.fill("#username", username)
        page.fill("#password", "ecabinet-demo-2026")
        page.click("button[type=submit].btn-primary")
        page.wait_for_url(base + "/")
        if lang != "vi":
            page.click(f".lang-switch button[lang={lang}]")
            page.wait_for_url(base + "/")
        page.goto(f"{base}/meetings/1/{page_name}")
        page.wait_for_selector("#live-room[data-joined=true]", timeout=10000)
        page.wait_for_timeout(600)  # the bars' transition
        page.screenshot(path=out / filename, full_page=full)
        page.close()


def _tablet_pages(browser, base: str, out: Path) -> None:
    """A member's tablet: the home page's unread counts, the bell's panel, a meeting stored for
    offline reading, then the same meeting and a document with the network off; the notification
    list, the e-mail preferences and the devices of the account on a desktop."""
    out.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport={"width": 768, "height": 1024}, locale="vi-VN")
    page = context.new_page()
    page.goto(base + "/login")
    page.fill("#username", "bt.tuphap")
    page.fill("#password", "ecabinet-demo-2026")
    page.click("button[type=submit].btn-primary")
    page.wait_for_url(base + "/")
    page.wait_for_selector("#conn-status[data-state=online]", timeout=5000)
    page.screenshot(path=out / "tablet-home-unread.png")
    page.click("#notif-toggle")
    page.wait_for_selector("#notif-panel:not([hidden]) .notif-panel-list li", timeout=5000)
    page.screenshot(path=out / "tablet-notifications-panel.png")
    page.keyboard.press("Escape")
    page.goto(base + "/meetings/1")
    page.click("[data-role=offline-button]")
    page.wait_for_selector(".offline-toggle[data-state=stored]", timeout=30000)
    page.screenshot(path=out / "tablet-offline-stored.png", full_page=True)
    document = page.locator("a[href^='/documents/']").first.get_attribute("href").split("#")[0]
    context.set_offline(True)
    page.reload()
    page.screenshot(path=out / "tablet-offline-meeting.png")
    page.goto(base + document)
    page.wait_for_timeout(2500)  # PDF.js renders the first page from the device's copy
    page.screenshot(path=out / "tablet-offline-document.png")
    context.set_offline(False)
    context.close()
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.goto(base + "/login")
    page.fill("#username", "bt.tuphap")
    page.fill("#password", "ecabinet-demo-2026")
    page.click("button[type=submit].btn-primary")
    page.wait_for_url(base + "/")
    for path, filename in (("/notifications", "notifications-list.png"),
                           ("/account/notifications", "notification-preferences.png"),
                           ("/account", "account-devices.png")):
        page.goto(base + path)
        page.screenshot(path=out / filename, full_page=True)
    page.close()


def main() -> None:
    global OUT
    args = sys.argv[1:]
    live_only = "--live" in args
    minutes_only = "--minutes" in args
    tablet_only = "--tablet" in args
    lang = args[args.index("--lang") + 1] if "--lang" in args else "vi"
    if "--scene" in args:
        _live_scene()
        return
    if "--minutes-scene" in args:
        _minutes_scene(args[args.index("--minutes-scene") + 1])
        return
    rest = [a for i, a in enumerate(args) if not a.startswith("--") and (i == 0 or args[i - 1] != "--lang")]
    if live_only or minutes_only or tablet_only:
        OUT = Path(rest[0]) if rest else ROOT / "docs" / "screenshots"
    instance = tempfile.mkdtemp(prefix="cabinet-shots-")
    port = _free_port()
    env = {**os.environ, "CABINET_INSTANCE_PATH": instance, "CABINET_PORT": str(port)}
    env.pop("DATABASE_URL", None)
    flask = [str(ROOT / ".venv/bin/flask"), "--app", "app"]
    subprocess.run([*flask, "db", "upgrade"], cwd=ROOT, env=env, check=True, capture_output=True)
    subprocess.run([*flask, "demo"], cwd=ROOT, env=env, check=True, capture_output=True)
    if live_only:
        subprocess.run([sys.executable, __file__, "--scene"], cwd=ROOT, env=env, check=True)
    server = subprocess.Popen([str(ROOT / ".venv/bin/python"), "app.py"], cwd=ROOT, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(50):
            try:
                urllib.request.urlopen(base + "/login")
                break
            except OSError:
                time.sleep(0.2)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
            if live_only:
                _live_pages(browser, base, OUT, lang)
            elif minutes_only:
                _minutes_pages(browser, base, OUT, env)
            elif tablet_only:
                _tablet_pages(browser, base, OUT)
            else:
                for name, size in {"tablet": (768, 1024), "landscape": (1366, 1024)}.items():
                    page = browser.new_page(viewport={"width": size[0], "height": size[1]})
                    page.goto(base + "/login")
                    page.screenshot(path=OUT / f"login-{name}.png")
                    page.fill("#username", "admin")
                    page.fill("#password", "ecabinet-demo-2026")
                    page.click("button[type=submit].btn-primary")
                    page.wait_for_url(base + "/")
                    page.wait_for_selector("#conn-status[data-state=online]", timeout=5000)
                    page.screenshot(path=OUT / f"home-{name}.png")
                    page.goto(base + "/admin/users/")
                    page.screenshot(path=OUT / f"users-{name}.png")
                    if name == "tablet":
                        page.screenshot(path=OUT / "screenshot.png")
                    page.close()
                _meeting_pages(browser, base)
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=10)
    print(f"Screenshots written to {OUT}")


if __name__ == "__main__":
    main()
