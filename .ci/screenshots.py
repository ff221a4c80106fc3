"""Take the README screenshots: serve the demo on a scratch instance, log in, photograph pages.

    .venv/bin/pip install playwright && .venv/bin/python .ci/screenshots.py [OUT_DIR]

Needs Debian's chromium (/usr/bin/chromium); Playwright's own browser download is not used.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
OUT = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs"
PORT = 5099
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-quic"]


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


def main() -> None:
    instance = tempfile.mkdtemp(prefix="cabinet-shots-")
    env = {**os.environ, "CABINET_INSTANCE_PATH": instance, "CABINET_PORT": str(PORT)}
    env.pop("DATABASE_URL", None)
    flask = [str(ROOT / ".venv/bin/flask"), "--app", "app"]
    subprocess.run([*flask, "db", "upgrade"], cwd=ROOT, env=env, check=True, capture_output=True)
    subprocess.run([*flask, "demo"], cwd=ROOT, env=env, check=True, capture_output=True)
    server = subprocess.Popen([str(ROOT / ".venv/bin/python"), "app.py"], cwd=ROOT, env=env)
    base = f"http://127.0.0.1:{PORT}"
    try:
        for _ in range(50):
            try:
                urllib.request.urlopen(base + "/login")
                break
            except OSError:
                time.sleep(0.2)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
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
