"""Front-end assets: vendored PDF.js, the viewer partial, and no third-party URLs in static/.

The viewer runs under a CSP of ``script-src 'self'`` with no inline scripts: these tests check
that what the browser needs is served by the app itself, with the types a module needs.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask_babel import force_locale

ROOT = Path(__file__).resolve().parent.parent
STATIC = ROOT / "static"
TEMPLATES = ROOT / "templates"
PDFJS = STATIC / "vendor" / "pdfjs"
PDFJS_VERSION = "6.5.438"
JS_TYPES = ("text/javascript", "application/javascript")


def render_viewer(app, content_url="/documents/7/content", title="Tờ trình số 12/TTr-BTP"):
    with app.test_request_context("/"):
        module = app.jinja_env.get_template("documents/_pdf_viewer.html").module
        return str(module.pdf_viewer(content_url, title))


# ---------------------------------------------------------------------------------------------
# Vendored PDF.js


@pytest.mark.parametrize("name", ["pdf.min.mjs", "pdf.worker.min.mjs", "LICENSE", "VERSION",
                                  "cmaps/Adobe-Japan1-UCS2.bcmap", "standard_fonts/FoxitSerif.pfb",
                                  "standard_fonts/LiberationSans-Regular.ttf",
                                  "wasm/openjpeg_nowasm_fallback.js", "wasm/jbig2_nowasm_fallback.js"])
def test_pdfjs_files_are_vendored(name):
    assert (PDFJS / name).is_file(), f"static/vendor/pdfjs/{name} is missing"


def test_pdfjs_version_file_names_the_version_and_its_source():
    text = (PDFJS / "VERSION").read_text(encoding="utf-8")
    assert f"pdfjs-dist {PDFJS_VERSION}" in text
    assert f"npm pack pdfjs-dist@{PDFJS_VERSION}" in text
    # The file itself carries the version PDF.js reports at run time.
    for name in ("pdf.min.mjs", "pdf.worker.min.mjs"):
        head = (PDFJS / name).read_text(encoding="utf-8")[:2000]
        assert f"pdfjsVersion = {PDFJS_VERSION}" in head, name


def test_pdfjs_licence_is_apache():
    assert "Apache License" in (PDFJS / "LICENSE").read_text(encoding="utf-8")


def test_pdfjs_vendor_folder_stays_small():
    files = [p for p in PDFJS.rglob("*") if p.is_file()]
    assert not [p.name for p in files if p.suffix == ".map"], "no source maps"
    assert not [p.name for p in files if p.suffix == ".wasm"], "the CSP forbids WebAssembly"
    total = sum(p.stat().st_size for p in files)
    assert total < 6 * 1024 * 1024, f"static/vendor/pdfjs is {total / 2**20:.1f} MB"


@pytest.mark.parametrize("path", ["/static/vendor/pdfjs/pdf.min.mjs",
                                  "/static/vendor/pdfjs/pdf.worker.min.mjs",
                                  "/static/vendor/pdfjs/wasm/openjpeg_nowasm_fallback.js",
                                  "/static/js/pdf-viewer.js", "/static/js/agenda-reorder.js"])
def test_modules_are_served_with_a_javascript_type(client, path):
    """Module scripts and module workers are refused unless served as JavaScript."""
    response = client.get(path)
    assert response.status_code == 200
    assert response.mimetype in JS_TYPES, f"{path} served as {response.mimetype}"
    assert response.headers.get("X-Content-Type-Options") == "nosniff"
    response.close()


def test_viewer_stylesheet_is_served_as_css(client):
    response = client.get("/static/css/viewer.css")
    assert response.status_code == 200 and response.mimetype == "text/css"
    response.close()


def test_viewer_turns_eval_and_webassembly_off():
    """The CSP has neither 'unsafe-eval' nor 'wasm-unsafe-eval'."""
    source = (STATIC / "js" / "pdf-viewer.js").read_text(encoding="utf-8")
    assert re.search(r"isEvalSupported:\s*false", source)
    assert re.search(r"useWasm:\s*false", source)
    assert 'credentials: "same-origin"' in source


# ---------------------------------------------------------------------------------------------
# The partial


def test_viewer_partial_renders_its_data_attributes(app):
    html = render_viewer(app)
    assert 'data-pdf-viewer' in html
    assert 'data-url="/documents/7/content"' in html
    assert 'data-worker-url="/static/vendor/pdfjs/pdf.worker.min.mjs"' in html
    assert 'data-lib-url="/static/vendor/pdfjs/pdf.min.mjs"' in html
    assert 'data-cmap-url="/static/vendor/pdfjs/cmaps/"' in html
    assert 'data-standard-font-url="/static/vendor/pdfjs/standard_fonts/"' in html
    assert 'data-wasm-url="/static/vendor/pdfjs/wasm/"' in html
    for name in ("page", "of-total", "match", "no-match", "searching", "loading", "error",
                 "offline", "session"):
        assert f'data-msg-{name}="' in html, name
    assert 'aria-label="Tờ trình số 12/TTr-BTP"' in html
    assert '<script type="module" src="/static/js/pdf-viewer.js"></script>' in html
    assert '<link rel="stylesheet" href="/static/css/viewer.css">' in html


def test_viewer_partial_has_no_inline_script_or_style(app):
    html = render_viewer(app)
    for tag in re.findall(r"<script\b[^>]*>(.*?)</script>", html, re.S):
        assert not tag.strip(), "inline script"
    assert all("src=" in tag for tag in re.findall(r"<script\b[^>]*>", html))
    assert "<style" not in html
    assert not re.search(r"\sstyle=", html), "inline style attribute"
    assert not re.search(r"\son[a-z]+=", html), "inline event handler"


def test_viewer_partial_escapes_the_title_and_url(app):
    html = render_viewer(app, content_url='/x?a=1&b="2"', title='<b>"Dự thảo"</b>')
    assert "<b>" not in html
    assert 'data-url="/x?a=1&amp;b=&#34;2&#34;"' in html


def test_viewer_partial_strings_are_translated(app):
    with force_locale("vi"):
        html = render_viewer(app)
    assert 'data-msg-page="Trang {n}/{total}"' in html
    assert 'data-msg-no-match="Không tìm thấy"' in html
    assert "Đang tải…" in html
    with force_locale("en"):
        html = render_viewer(app)
    assert 'data-msg-page="Page {n} of {total}"' in html
    assert 'data-msg-match="Match {current} of {total}"' in html


def test_viewer_partial_ids_can_be_made_unique(app):
    with app.test_request_context("/"):
        module = app.jinja_env.get_template("documents/_pdf_viewer.html").module
        html = str(module.pdf_viewer("/a", "A", id_prefix="annex"))
    assert 'id="annex"' in html and 'aria-controls="annex-thumbs"' in html
    assert 'id="pdfv"' not in html


# ---------------------------------------------------------------------------------------------
# No third-party URLs: everything the browser loads comes from this server.

EXTERNAL_PATTERNS = [
    re.compile(r"""\bsrc\s*=\s*["']?\s*(?:https?:)?//""", re.I),
    re.compile(r"""\bhref\s*=\s*["']?\s*(?:https?:)?//[^"'\s>]*\.(?:css|m?js)\b""", re.I),
    # Lower case only: CSS writes url(...); JavaScript's new URL("https://...") loads nothing.
    re.compile(r"""(?<![\w.])url\(\s*["']?\s*(?:https?:)?//"""),
    re.compile(r"""@import\s+(?:url\(\s*)?["']?\s*(?:https?:)?//""", re.I),
    re.compile(r"""\bimport\s*(?:[\w*{}\s,$]+\sfrom\s*)?["']\s*(?:https?:)?//""", re.I),
    re.compile(r"""\bimport\(\s*["'`]\s*(?:https?:)?//""", re.I),
    re.compile(r"""\bimportScripts\(\s*["']\s*(?:https?:)?//""", re.I),
]


def _external_references(text: str) -> list[str]:
    found = []
    for pattern in EXTERNAL_PATTERNS:
        found += [text[max(0, m.start() - 30):m.end() + 50] for m in pattern.finditer(text)]
    return found


def test_the_scan_catches_what_it_should():
    assert _external_references('<script src="https://cdn.example/x.js"></script>')
    assert _external_references('<img src=//cdn.example/x.png>')
    assert _external_references('a { background: url("https://fonts.example/f.woff2") }')
    assert _external_references('@import url(https://fonts.example/css);')
    assert _external_references('import { io } from "https://cdn.example/socket.io.esm.js";')
    assert _external_references('const m = await import("https://cdn.example/pdf.mjs");')
    assert _external_references('<link rel="stylesheet" href="https://cdn.example/a.css">')
    assert not _external_references('/* see https://mozilla.github.io/pdf.js/ */')
    assert not _external_references('if (new URL("https://a@b").username !== "a") {}')
    assert not _external_references('<a href="https://chinhphu.vn">Cổng thông tin</a>')
    assert not _external_references('<script src="/static/js/app.js"></script>')


def test_static_files_load_nothing_from_other_sites():
    problems = []
    for path in sorted(STATIC.rglob("*")):
        if path.suffix not in (".js", ".mjs", ".css", ".html") or not path.is_file():
            continue
        for snippet in _external_references(path.read_text(encoding="utf-8", errors="replace")):
            problems.append(f"{path.relative_to(ROOT)}: …{snippet}…")
    assert not problems, "external URLs under static/:\n" + "\n".join(problems)


def test_templates_load_no_script_style_or_image_from_other_sites():
    problems = []
    for path in sorted(TEMPLATES.rglob("*.html")):
        for snippet in _external_references(path.read_text(encoding="utf-8")):
            problems.append(f"{path.relative_to(ROOT)}: …{snippet}…")
    assert not problems, "external URLs in templates:\n" + "\n".join(problems)
