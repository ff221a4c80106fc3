"""Accessibility of the main pages (issue 8): WCAG 2.1 AA checked by axe-core on a real server, at a
desktop (1280×800) and a tablet (768×1024) width; keyboard use for desktop staff (skip link, focus
styles, the agenda reorder); touch targets of at least 44×44 CSS px on the tablet; reflow without
horizontal scrolling; Vietnamese text in composed (NFC) form.

Needs Debian's chromium and the ``playwright`` package (see tests/browser.py). On failure the
screenshots of every open page are saved and their folder printed.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import pytest

from cabinet.live import service as live
from cabinet.minutes import service as minutes
from tests.browser import DESKTOP, PHONE, TABLET, axe_violations, browser_session, needs_chromium
from tests.live_server import live_server  # noqa: F401  (the fixture)
from tests.meeting_factories import held_meeting, room_meeting
from tests.test_ballots import answer, issued
from tests.test_documents import published, text_pdf

ROOT = Path(__file__).resolve().parent.parent

# The document viewer is checked whole, PDF.js canvas included: axe reads the DOM (the viewer's
# controls, the text layer), not the canvas's pixels, so no exclusion is needed. Whether a PDF's own
# content is accessible is the document's matter (see docs/accessibility.md).


@dataclass
class Site:
    """Ids of what the pages show, read before the server starts (SQLite's lock, see live_server)."""

    meeting: int
    item: int
    held: int
    document: int
    ballot: int


def build_site(cabinet) -> Site:
    """A small demo: a meeting about to start with its agenda, a published PDF, the meeting opened
    in the live room, a held meeting with draft minutes, and an issued ballot one member answered."""
    meeting = room_meeting(cabinet)
    document = published(cabinet["thuky"], meeting, data=text_pdf("Dieu 1. Pham vi dieu chinh", "Dieu 2."))
    for user in (cabinet["pm"], cabinet["tuphap"]):
        live.check_in(user, meeting.id)
    live.open_meeting(cabinet["pm"], meeting.id)
    item = sorted(meeting.agenda_items, key=lambda i: i.position)[0]
    live.set_current_item(cabinet["pm"], meeting.id, item.id)
    held = held_meeting(cabinet)
    minutes.start(cabinet["thuky"], held.id)
    ballot = issued(cabinet)
    answer(cabinet["pm"], ballot, "agree", "agree")
    return Site(meeting=meeting.id, item=item.id, held=held.id, document=document.id, ballot=ballot.id)


def pages_of(site: Site) -> list[tuple[str, str, str]]:
    """(who, path, what must be on the page before axe looks) for every main page."""
    live_ready = "#conn-status[data-state=online]"
    return [
        ("thuky", "/", "main h1"),
        ("thuky", "/meetings/", "main h1"),
        ("thuky", "/calendar", "main h1"),
        ("thuky", f"/meetings/{site.meeting}", "#agenda-list .drag-handle"),  # with its editing forms
        ("thuky", f"/agenda/{site.item}/edit", "#title"),
        ("thuky", f"/meetings/{site.meeting}/documents/new", "input[type=file]"),
        ("thuky", f"/meetings/{site.held}/minutes", ".minutes-quill .ql-editor"),
        ("thuky", f"/ballots/{site.ballot}", ".report-links"),  # the report: who answered, the tally
        ("thuky", "/ballots", "main h1"),
        ("thuky", "/search?q=Lu%E1%BA%ADt", "main h1"),
        ("thuky", "/notifications", "main h1"),
        ("thuky", "/account/", "main h1"),
        ("bt.tuphap", f"/meetings/{site.meeting}", "#positions textarea"),
        ("bt.tuphap", f"/documents/{site.document}", ".pdfv-page.is-rendered"),
        ("bt.tuphap", f"/meetings/{site.meeting}/live", live_ready),
        ("bt.tuphap", f"/ballots/{site.ballot}", "input[type=radio]"),  # the answer page
        ("bt.tuphap", "/ballots", "main h1"),
        ("thutuong", f"/meetings/{site.meeting}/live", "[data-key=meeting-close]"),
        ("thutuong", f"/meetings/{site.meeting}/projector", "main"),
        ("quantri", "/admin/users/", "main h1"),
        ("quantri", "/admin/audit/", "main h1"),
    ]


def report(found: dict[str, list[dict]]) -> str:
    return "\n".join(f"{where}:\n" + "\n".join(
        f"  - {v['impact']} {v['id']}: {v['help']} at {', '.join(v['nodes'][:4])}" for v in violations)
        for where, violations in found.items())


def check(page, where: str, found: dict[str, list[dict]], exclude: list[str] | None = None) -> None:
    """Run axe on the page as it is; keep what it finds under ``where`` (all pages are visited
    before the test fails, so that one run lists every violation)."""
    if violations := axe_violations(page, exclude=exclude):
        found[where] = violations


# --- axe on every main page ---------------------------------------------------------------------------


@needs_chromium
def test_the_axe_harness_reports_a_violation_and_honours_exclusions():
    with browser_session("axe-harness") as session:
        page = session.new_page(DESKTOP)
        page.set_content('<html lang="vi"><head><title>T</title></head><body><main><img id="bad" '
                         'src="data:image/gif;base64,R0lGODlhAQABAAAAACw="></main></body></html>')
        assert [v["id"] for v in axe_violations(page)] == ["image-alt"]
        assert axe_violations(page, exclude=["#bad"]) == []


@needs_chromium
@pytest.mark.parametrize("viewport", [DESKTOP, TABLET], ids=["desktop", "tablet"])
def test_the_main_pages_have_no_serious_accessibility_violation(app, cabinet, admin, live_server, viewport):  # noqa: F811
    site = build_site(cabinet)
    server = live_server(app)
    found: dict[str, list[dict]] = {}
    with browser_session("accessibility", server) as session:
        anonymous = session.new_page(viewport, "login")
        anonymous.goto(server.url + "/login")
        check(anonymous, "login", found)
        pages = {}
        for who, path, ready in pages_of(site):
            if who not in pages:
                pages[who] = session.page(server.url, who, viewport=viewport)
            page = pages[who]
            page.goto(server.url + path)
            page.wait_for_selector(ready)
            check(page, f"{who} {path}", found)
        # The note dialog of the document viewer, open (a modal: the rest of the page is inert).
        reader = pages["bt.tuphap"]
        reader.goto(f"{server.url}/documents/{site.document}")
        open_note_dialog(reader)
        check(reader, "note dialog", found)
        # The answer page on a phone, too: members answer ballots away from their desk.
        phone = session.page(server.url, "bt.tuphap", f"/ballots/{site.ballot}", viewport=PHONE,
                             label="phone")
        phone.wait_for_selector("input[type=radio]")
        check(phone, "phone: answer page", found)
        assert not found, "axe found serious or critical violations:\n" + report(found)
        assert session.errors == [], session.errors


def open_note_dialog(page) -> None:
    """On a document page: the note tool, a tap on the page, and the note dialog is open."""
    page.wait_for_selector(".pdfv-page.is-rendered .annot-layer")
    page.wait_for_selector("#conn-status[data-state=online]")
    page.click("[data-annot-tool=note]")
    page.locator(".pdfv-page .annot-layer").first.click(position={"x": 300, "y": 200})
    page.wait_for_selector(".annot-dialog[open]")


# --- keyboard ------------------------------------------------------------------------------------------


def focused(page) -> dict:
    """What has the keyboard focus: its tag, id, text, href, and whether a focus ring shows."""
    return page.evaluate("""() => {
        const el = document.activeElement, style = getComputedStyle(el);
        return { tag: el.tagName.toLowerCase(), id: el.id, text: el.textContent.trim(),
                 href: el.getAttribute('href') || '', inMain: !!el.closest('main'),
                 inNav: !!el.closest('nav.mainnav'),
                 ring: style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) >= 2 };
    }""")


@needs_chromium
def test_desktop_staff_reach_the_menu_skip_to_the_content_and_reorder_the_agenda_by_keyboard(
        app, cabinet, meeting, live_server):  # noqa: F811
    from playwright.sync_api import expect

    from cabinet.meetings import service as meetings

    for title in ("Tờ trình dự án Luật Thuế", "Báo cáo kinh tế - xã hội"):
        meetings.add_item(cabinet["thuky"], meeting.id, meetings.AgendaItemData(title=title))
    path = f"/meetings/{meeting.id}"
    server = live_server(app)
    with browser_session("keyboard", server) as session:
        page = session.page(server.url, "thuky", path, viewport=DESKTOP)
        # The first Tab shows the skip link, with a focus ring, in view.
        page.keyboard.press("Tab")
        skip = focused(page)
        assert skip["href"] == "#main" and skip["ring"], skip
        assert page.locator(".skip-link").bounding_box()["x"] >= 0
        # Further Tabs reach the main menu, in reading order, each with a focus ring.
        for _ in range(3):
            page.keyboard.press("Tab")
            if focused(page)["inNav"]:
                break
        menu = focused(page)
        assert menu["inNav"] and menu["ring"], menu
        # Back to the top: the skip link jumps over the menu into the page's content.
        page.goto(server.url + path)
        page.keyboard.press("Tab")
        page.keyboard.press("Enter")
        assert page.url.endswith("#main")
        page.keyboard.press("Tab")
        first = focused(page)
        assert first["inMain"] and not first["inNav"] and first["ring"], first

        # The agenda: arrow keys on an item's handle move it, and the new order is saved.
        titles = page.locator("#agenda-list > li strong")
        expect(titles).to_have_text(["Tờ trình dự án Luật Thuế", "Báo cáo kinh tế - xã hội"])
        handle = page.locator("#agenda-list > li .drag-handle").first
        handle.focus()
        page.keyboard.press("ArrowDown")
        expect(titles).to_have_text(["Báo cáo kinh tế - xã hội", "Tờ trình dự án Luật Thuế"])
        assert focused(page)["tag"] == "button", "the focus stays on the moved item's handle"
        expect(page.locator("#agenda-status")).not_to_be_empty()
        page.reload()
        expect(page.locator("#agenda-list > li strong")).to_have_text(
            ["Báo cáo kinh tế - xã hội", "Tờ trình dự án Luật Thuế"])
        assert session.errors == [], session.errors


@needs_chromium
def test_escape_closes_the_note_dialog_and_the_focus_comes_back(app, cabinet, meeting, live_server):  # noqa: F811
    document = published(cabinet["thuky"], meeting, data=text_pdf("Dieu 1.")).id
    server = live_server(app)
    with browser_session("dialog", server) as session:
        page = session.page(server.url, "bt.tuphap", f"/documents/{document}", viewport=DESKTOP)
        open_note_dialog(page)
        assert page.evaluate("() => !!document.activeElement.closest('dialog[open]')"), "focus moves into it"
        page.keyboard.press("Escape")
        page.wait_for_selector(".annot-dialog:not([open])", state="attached")
        assert not page.evaluate("() => !!document.activeElement.closest('dialog')")
        # The tools are still reachable: no keyboard trap once it is closed.
        page.keyboard.press("Tab")
        assert page.evaluate("() => document.activeElement !== document.body")


# --- touch, reading, reflow ----------------------------------------------------------------------------

# Visible controls of a page: links styled as buttons, buttons, the menu, form controls.
CONTROLS = """() => [...document.querySelectorAll(
    '.btn, button, .mainnav a, .meeting-row a, .doc-row > a, .ballot-row a, select, summary, ' +
    'input:not([type=hidden])')]
  .filter(el => el.offsetParent !== null && !el.closest('.sr-only, .skip-link, .ql-toolbar'))
  .map(el => { const box = el.getBoundingClientRect();
               const label = el.closest('label');
               // A checkbox's target is its label (the whole row is tappable).
               const target = (el.type === 'checkbox' || el.type === 'radio') && label
                 ? label.getBoundingClientRect() : box;
               return { what: el.outerHTML.slice(0, 90), width: target.width, height: target.height }; })
  .filter(c => c.width > 0 && c.height > 0)"""


# A 768 px tablet at 200 % zoom lays out a 384 px wide page (WCAG 1.4.10 reflow).
ZOOMED_TABLET = {"width": TABLET["width"] // 2, "height": TABLET["height"] // 2}


def too_small(page) -> list[dict]:
    """The page's visible controls under 44×44 CSS px."""
    controls = page.evaluate(CONTROLS)
    assert len(controls) > 5, controls
    return [c for c in controls if c["width"] < 44 or c["height"] < 44]


def too_wide(page) -> int:
    """By how many px the page is wider than the window (it would scroll sideways)."""
    return page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")


@needs_chromium
def test_on_a_touch_tablet_controls_are_44_px_and_pages_reflow_at_200_percent_zoom(
        app, cabinet, admin, live_server):  # noqa: F811
    site = build_site(cabinet)
    server = live_server(app)
    meeting, live_room = f"/meetings/{site.meeting}", f"/meetings/{site.meeting}/live"
    small: dict[str, list[dict]] = {}
    wide: dict[str, int] = {}
    with browser_session("touch-reflow", server) as session:
        for who, paths in {
            "thuky": [(meeting, "#agenda-list .drag-handle"), ("/", "main h1"), ("/ballots", "main h1"),
                      (f"/ballots/{site.ballot}", ".report-links")],
            "bt.tuphap": [(meeting, "#positions textarea"), (live_room, "#conn-status[data-state=online]"),
                          (f"/ballots/{site.ballot}", "input[type=radio]")],
            "thutuong": [(live_room, "[data-key=meeting-close]")],
        }.items():
            tablet = session.page(server.url, who, viewport=TABLET, has_touch=True, label=f"{who}-tablet")
            assert tablet.evaluate("() => matchMedia('(pointer: coarse)').matches"), "a touch tablet"
            zoomed = session.page(server.url, who, viewport=ZOOMED_TABLET, label=f"{who}-zoomed")
            for path, ready in paths:
                if path in (meeting, live_room):  # the meeting day's pages, tapped all day
                    tablet.goto(server.url + path)
                    tablet.wait_for_selector(ready)
                    if found := too_small(tablet):
                        small[f"{who} {path}"] = found
                zoomed.goto(server.url + path)
                zoomed.wait_for_selector(ready)
                if overflow := too_wide(zoomed):
                    wide[f"{who} {path}"] = overflow
    assert not small, "controls under 44×44 px:\n" + "\n".join(
        f"{where}:\n" + "\n".join(f"  {c['width']:.0f}×{c['height']:.0f} {c['what']}" for c in found)
        for where, found in small.items())
    assert not wide, f"pages wider than {ZOOMED_TABLET['width']} px (by px): {wide}"


@needs_chromium
def test_pages_declare_their_language_and_read_at_arms_length(app, cabinet, live_server):  # noqa: F811
    server = live_server(app)
    with browser_session("reading", server) as session:
        page = session.page(server.url, "thuky", "/meetings/", viewport=TABLET)
        facts = page.evaluate("""() => {
            const body = getComputedStyle(document.body);
            return { lang: document.documentElement.lang, size: parseFloat(body.fontSize),
                     line: parseFloat(body.lineHeight) / parseFloat(body.fontSize), family: body.fontFamily };
        }""")
        assert facts["lang"] == "vi"
        assert facts["size"] >= 16 and facts["line"] >= 1.4, facts
        # The vendored font with every Vietnamese letter is in the stack and loads when asked.
        assert "Cabinet Sans" in facts["family"]
        loaded = page.evaluate(
            "async () => (await document.fonts.load('16px \"Cabinet Sans\"', 'Nghị định')).length")
        assert loaded > 0


# --- Vietnamese text -----------------------------------------------------------------------------------

VIETNAMESE_LETTERS = "ĂÂĐÊÔƠƯăâđêôơư" + "".join(chr(c) for c in range(0x1EA0, 0x1EFA))


def nfd_lines(path: Path) -> list[str]:
    """Lines of a file that change under NFC: decomposed accents (a + U+0301…) that some fonts draw
    apart, and that searches and sorting treat as different text."""
    return [f"{path.relative_to(ROOT)}:{n}: {line.strip()[:80]}"
            for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
            if unicodedata.normalize("NFC", line) != line]


def test_templates_and_the_vietnamese_translations_are_in_composed_form():
    files = sorted((ROOT / "templates").rglob("*.html")) + sorted((ROOT / "cabinet").rglob("*.py"))
    files.append(ROOT / "cabinet/translations/vi/LC_MESSAGES/messages.po")
    found = [line for path in files for line in nfd_lines(path)]
    assert not found, "text in decomposed (NFD) form:\n" + "\n".join(found)


def test_the_vendored_fonts_have_every_vietnamese_letter():
    from fontTools.ttLib import TTFont

    for name in ("LiberationSans-Regular.ttf", "LiberationSans-Bold.ttf"):
        cmap = TTFont(ROOT / "static/fonts" / name).getBestCmap()
        missing = [c for c in VIETNAMESE_LETTERS if ord(c) not in cmap]
        assert not missing, f"{name} lacks {''.join(missing)}"
    assert re.search(r'@font-face\s*{[^}]*"Cabinet Sans"[^}]*LiberationSans-Regular\.ttf',
                     (ROOT / "static/css/app.css").read_text(encoding="utf-8"))
