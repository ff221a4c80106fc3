"""HTTP security headers on every response: pages, the API, static files and error pages."""

from __future__ import annotations

import re

from flask import Flask, request

# No inline scripts or styles anywhere: every script and stylesheet is a file in static/
# (tests/test_security.py scans the templates and the rendered pages for inline code).
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src {connect}; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)

# A host name as a browser sends it (name or IP, optional port): anything else is not put in a header.
_HOST_RE = re.compile(r"^[A-Za-z0-9.\-]+(?::\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](?::\d{1,5})?$")


def content_security_policy() -> str:
    """The pages' CSP. The socket connects back to the page's own host: browsers that do not count
    ``ws:``/``wss:`` as ``'self'`` are given that host explicitly, never every host (a bare
    ``ws: wss:`` would let an injected script talk to any server)."""
    host = request.host
    connect = "'self'"
    if _HOST_RE.match(host or ""):
        connect = f"'self' ws://{host} wss://{host}" if not request.is_secure else f"'self' wss://{host}"
    return CSP.format(connect=connect)


def register_security_headers(app: Flask) -> None:
    @app.after_request
    def _headers(response):
        response.headers.setdefault("Content-Security-Policy", content_security_policy())
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        # No other site's window keeps a handle on ours, and no other site may embed our files.
        response.headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        response.headers.setdefault("Cross-Origin-Resource-Policy", "same-origin")
        if app.config.get("CABINET_HTTPS"):
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        # Pages behind a login are personal: never keep them in a shared cache.
        if not request.path.startswith("/static/"):
            response.headers.setdefault("Cache-Control", "no-store")
        return response
