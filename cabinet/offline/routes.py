"""Routes of the installable app and of offline reading.

* ``/sw.js`` — the service worker, at the root so that its scope is the whole site;
* ``/manifest.webmanifest`` — the web app manifest (name in the reader's language, icons);
* ``/offline`` — the page shown when a page was not stored and the network is down;
* ``/meetings/<id>/offline`` — JSON: what the member may keep on the device for that meeting.

The first three are public: browsers fetch the manifest without cookies, and none of them holds
anything personal. The rules are in :mod:`cabinet.offline.service`.
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, current_app, jsonify, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from cabinet.offline import service
from cabinet.users.models import User

bp = Blueprint("offline", __name__)

THEME_COLOUR = "#a50e24"  # --red in static/css/app.css
BACKGROUND_COLOUR = "#f4f5f7"  # --bg
# What the stored pages load (static/, by glob: a script another feature adds is stored too) and,
# when there is a PDF, what the document viewer needs (templates/documents/_pdf_viewer.html):
# stored with every meeting made available offline, so its pages open with no network.
PAGE_ASSETS = ("js/*.js", "css/*.css", "vendor/socket.io/*.js", "fonts/LiberationSans-*.ttf")
VIEWER_ASSETS = ("vendor/pdfjs/pdf.min.mjs", "vendor/pdfjs/pdf.worker.min.mjs",
                 "vendor/pdfjs/standard_fonts/*.pfb", "vendor/pdfjs/standard_fonts/*.ttf",
                 "vendor/pdfjs/wasm/*.js")
NOT_AN_ASSET = frozenset({"js/sw.js"})  # the service worker is fetched by the browser itself
# Endpoints whose response carries one document (its page, its PDF, its annotations).
DOCUMENT_ENDPOINTS = frozenset({"documents.view", "documents.content", "documents.download",
                                "annotations.list_json"})


def _me() -> User:
    return current_user._get_current_object()


@bp.route("/sw.js")
def service_worker():
    """The service worker script. Served from the root (its scope is where it is served from) and
    revalidated at every check, so a new version reaches the tablets at their next visit."""
    path = Path(current_app.static_folder) / "js" / "sw.js"
    response = Response(path.read_bytes(), mimetype="text/javascript")
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.route("/manifest.webmanifest")
def manifest():
    """The web app manifest: what a tablet shows when the app is installed on its home screen."""
    body = {
        "name": _("e-Cabinet: paperless Government meetings"),
        "short_name": "e-Cabinet",
        "description": _("Meetings, documents and votes of the Government, on the members' tablets."),
        "lang": _current_locale(),
        "start_url": "/",
        "scope": "/",
        "display": "standalone",
        "theme_color": THEME_COLOUR,
        "background_color": BACKGROUND_COLOUR,
        "icons": [_icon(192), _icon(512), _icon(192, "maskable"), _icon(512, "maskable")],
    }
    response = jsonify(body)
    response.mimetype = "application/manifest+json"
    response.headers["Cache-Control"] = "no-cache"
    return response


def _icon(size: int, purpose: str = "any") -> dict:
    """One icon of the manifest; the maskable ones keep the emblem inside the safe circle."""
    suffix = "-maskable" if purpose == "maskable" else ""
    return {"src": url_for("static", filename=f"img/icon-{size}{suffix}.png"),
            "sizes": f"{size}x{size}", "type": "image/png", "purpose": purpose}


def _current_locale() -> str:
    from flask_babel import get_locale

    locale = get_locale()
    return str(locale).replace("_", "-") if locale is not None else "vi"


@bp.route("/offline")
def fallback():
    """What a tablet shows, with no network, for a page it did not store."""
    response = Response(render_template("offline/fallback.html"))
    response.headers["Cache-Control"] = "no-cache"
    return response


def _assets(patterns: tuple[str, ...]) -> list[str]:
    """The static URLs matching ``patterns`` (globs under static/), in a stable order."""
    static = Path(current_app.static_folder)
    names = sorted({path.relative_to(static).as_posix() for pattern in patterns
                    for path in static.glob(pattern) if path.is_file()} - NOT_AN_ASSET)
    return [url_for("static", filename=name) for name in names]


def _document_json(document: service.OfflineDocument, *, stored: bool) -> dict:
    body = {"id": document.id, "title": document.title, "secrecy": document.secrecy,
            "version": document.version}
    if stored:
        body |= {"size": document.size, "view_url": url_for("documents.view", document_id=document.id),
                 "content_url": url_for("documents.content", document_id=document.id)
                 if document.has_pdf else None}
    return body


def _entries(plan: service.OfflinePlan) -> list[dict]:
    """The URLs to store, each with a ``tag``: a stored copy with another tag is fetched again."""
    entries = [{"url": url_for("meetings.view", meeting_id=plan.meeting_id), "kind": "page", "tag": ""}]
    for document in plan.documents:
        entries.append({"url": url_for("documents.view", document_id=document.id), "kind": "page",
                        "tag": "", "document_id": document.id})
        if document.has_pdf:
            entries.append({"url": url_for("documents.content", document_id=document.id),
                            "kind": "content", "tag": f"v{document.version}", "document_id": document.id})
            entries.append({"url": url_for("annotations.list_json", document_id=document.id),
                            "kind": "data", "tag": "", "document_id": document.id})
    patterns = PAGE_ASSETS + (VIEWER_ASSETS if any(d.has_pdf for d in plan.documents) else ())
    entries += [{"url": url, "kind": "asset", "tag": ""} for url in _assets(patterns)]
    return entries


@bp.route("/meetings/<int:meeting_id>/offline")
def meeting_list(meeting_id: int):
    """JSON: what the member may keep of this meeting. The device deletes whatever is not listed.

    Asked by the service worker in the background: a 401 (never a redirect to the login page)
    when the session has ended, so the device keeps its copies until the member logs in again."""
    if not current_user.is_authenticated:
        return jsonify({"error": {"code": "unauthenticated",
                                  "message": _("Your session has ended. Please log in again.")}}), 401
    plan = service.offline_plan(_me(), meeting_id)
    return jsonify({
        "meeting_id": plan.meeting_id,
        "title": plan.title,
        "entries": _entries(plan),
        "documents": [_document_json(d, stored=True) for d in plan.documents],
        "withheld": [_document_json(d, stored=False) for d in plan.withheld],
    })


@bp.after_app_request
def _mark_never_offline(response: Response) -> Response:
    """Tối mật and Tuyệt mật documents: tell the service worker never to store the response, and
    no cache either (the pages default to ``no-store`` already; stated again here on purpose)."""
    if request.endpoint in DOCUMENT_ENDPOINTS and response.status_code == 200:
        document_id = (request.view_args or {}).get("document_id")
        if isinstance(document_id, int) and service.never_offline(document_id):
            response.headers[service.NEVER_OFFLINE_HEADER] = service.NEVER_OFFLINE_VALUE
            response.headers["Cache-Control"] = "no-store"
    return response
