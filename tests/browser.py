"""What the browser tests share: Debian's chromium driven by Playwright, logging in through the
form, screenshots of every open page when a test fails, and accessibility checks with axe-core.

Playwright's own browser download is not used: ``launch()`` starts /usr/bin/chromium (or
``CABINET_CHROMIUM``). axe-core is vendored in tests/vendor/axe/ (see its README) and injected
into the page under test; the app never serves it.

    with browser_session("journey-a") as b:          # screenshots on failure, browser closed after
        page = b.page(server.url, "thuky", viewport=DESKTOP)
        ...
        assert_accessible(page)                       # no serious or critical axe violation
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from tests.conftest import PASSWORD, needs

CHROMIUM = os.environ.get("CABINET_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-quic"]
PHONE = {"width": 390, "height": 844}
TABLET = {"width": 768, "height": 1024}
DESKTOP = {"width": 1280, "height": 800}
WAIT_MS = 15000
AXE = Path(__file__).parent / "vendor" / "axe" / "axe.min.js"
# WCAG 2.1 A and AA rules (axe's tags); "best-practice" rules are reported by axe but not enforced.
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
BLOCKING = ("serious", "critical")

needs_chromium = needs(Path(CHROMIUM).exists(), f"chromium at {CHROMIUM} (apt-get install chromium)")

# A finger drawing on the first page of the open document (pointer events, as a tablet sends them).
DRAW = """() => {
  const layer = document.querySelector('.pdfv-page .annot-layer');
  const box = layer.getBoundingClientRect();
  const at = (type, i) => new PointerEvent(type, {
    pointerId: 3, pointerType: 'touch', isPrimary: true, bubbles: true, cancelable: true,
    clientX: box.left + box.width * (0.2 + i * 0.01),
    clientY: box.top + box.height * (0.3 + 0.01 * Math.sin(i))});
  layer.dispatchEvent(at('pointerdown', 0));
  for (let i = 1; i < 30; i += 1) layer.dispatchEvent(at('pointermove', i));
  layer.dispatchEvent(at('pointerup', 30));
}"""


def axe_violations(page, impacts: tuple[str, ...] = BLOCKING, exclude: list[str] | None = None) -> list[dict]:
    """Run axe-core on the page as it is now; the violations of the given impacts, each as
    ``{"id", "impact", "help", "nodes": [css selector, …]}``. ``exclude``: CSS selectors to leave
    out (a third-party canvas, say) — say why where it is used."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        # Evaluated through the DevTools protocol rather than added as a <script>: the app's CSP
        # (script-src 'self') rightly refuses inline scripts, and it must stay on for the page
        # under test. The source ends in an expression statement, so it is evaluated as is.
        page.evaluate(AXE.read_text(encoding="utf-8") + "\n;void 0")
    context = {"exclude": [[selector] for selector in exclude]} if exclude else None
    result = page.evaluate(
        """async ([context, tags]) => {
             const options = { runOnly: { type: "tag", values: tags }, resultTypes: ["violations"] };
             const found = context ? await axe.run(context, options) : await axe.run(document, options);
             return found.violations.map(v => ({ id: v.id, impact: v.impact, help: v.help,
                                                 nodes: v.nodes.map(n => n.target.join(" ")) }));
           }""",
        [context, AXE_TAGS])
    return [violation for violation in result if violation["impact"] in impacts]


def assert_accessible(page, exclude: list[str] | None = None) -> None:
    """No serious or critical WCAG 2.1 A/AA violation on the page as it is now."""
    violations = axe_violations(page, exclude=exclude)
    assert not violations, f"axe on {page.url}:\n" + "\n".join(
        f"- {v['impact']} {v['id']}: {v['help']} at {', '.join(v['nodes'][:5])}" for v in violations)


class BrowserSession:
    """One chromium with its pages; collects page errors and takes screenshots on failure."""

    def __init__(self, browser, name: str):
        self.browser = browser
        self.name = name
        self.pages: dict[str, object] = {}
        self.errors: list[str] = []

    def new_page(self, viewport: dict = TABLET, label: str | None = None, **context_options):
        """A page in its own browser context (its own cookies, storage and service workers)."""
        context = self.browser.new_context(viewport=viewport, locale="vi-VN", **context_options)
        page = context.new_page()
        page.set_default_timeout(WAIT_MS)
        label = label or f"page{len(self.pages) + 1}"
        page.on("pageerror", lambda exc: self.errors.append(f"{label}: page error: {exc}"))
        page.on("console", lambda msg: self.errors.append(f"{label}: console: {msg.text}")
                if msg.type == "error" else None)
        self.pages[label] = page
        return page

    def page(self, base: str, username: str, path: str = "/", viewport: dict = TABLET,
             label: str | None = None, **context_options):
        """A new page logged in as ``username`` (through the login form), then at ``path``."""
        page = self.new_page(viewport, label or username, **context_options)
        login(page, base, username)
        if path != "/":
            page.goto(base + path)
        return page

    def screenshots(self) -> Path:
        folder = Path(tempfile.mkdtemp(prefix=f"{self.name}-"))
        for label, page in self.pages.items():
            try:
                page.screenshot(path=folder / f"{label}.png", full_page=True)
            except Exception as exc:  # noqa: BLE001 - keep the other screenshots
                print(f"no screenshot of {label}: {exc}")
        return folder


def login(page, base: str, username: str, password: str = PASSWORD) -> None:
    page.goto(base + "/login")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("button[type=submit].btn-primary")
    page.wait_for_url(base + "/")


@contextlib.contextmanager
def browser_session(name: str, server=None) -> Iterator[BrowserSession]:
    """Start chromium; on any failure inside, print where the screenshots of every open page are,
    the page errors and (given ``server``) the end of the server's output, then re-raise."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        session = BrowserSession(browser, name)
        try:
            yield session
        except BaseException:
            folder = session.screenshots()
            print(f"Screenshots of the failure: {folder}\nPage errors: {session.errors}")
            if server is not None:
                print(f"Server output:\n{server.output()[-3000:]}")
            raise
        finally:
            browser.close()
