"""Render the app icons (static/img/icon-{192,512}[-maskable].png) from static/img/emblem.svg.

Run once, by hand, after the emblem changes (the PNGs are committed):
    .venv/bin/python -m cabinet.offline.icons
It uses the system chromium through Playwright. The "maskable" icons keep the emblem inside the
central safe zone on the page background, for launchers that cut icons into circles or squircles.
"""

from __future__ import annotations

import base64
from pathlib import Path

STATIC = Path(__file__).resolve().parents[2] / "static" / "img"


def render_icons(chromium: str = "/usr/bin/chromium") -> None:
    """Write the four PNG icons next to the emblem."""
    from playwright.sync_api import sync_playwright

    svg = (STATIC / "emblem.svg").read_text()
    data = "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()
    with sync_playwright() as p:
        _render(p, chromium, data)


def _render(p, chromium: str, data: str) -> None:
    browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
    for size in (192, 512):
        for maskable in (False, True):
            page = browser.new_page(viewport={"width": size, "height": size})
            inner = int(size * 0.62) if maskable else size
            bg = "#f4f5f7" if maskable else "transparent"
            page.set_content(f'<html><body style="margin:0;background:{bg};display:flex;align-items:center;'
                             f'justify-content:center;width:{size}px;height:{size}px">'
                             f'<img src="{data}" width="{inner}" height="{inner}"></body></html>')
            page.wait_for_timeout(100)
            name = STATIC / f"icon-{size}{'-maskable' if maskable else ''}.png"
            page.screenshot(path=str(name), omit_background=not maskable)
            page.close()
    browser.close()


if __name__ == "__main__":
    render_icons()
