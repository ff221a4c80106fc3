"""One mapping from errors to answers: JSON ``{"error": {...}}`` for the API, a page otherwise."""

from __future__ import annotations

from flask import Flask, current_app, g, jsonify, make_response, render_template, request, session
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeoutError
from werkzeug.exceptions import HTTPException

from cabinet.core.errors import DomainError, TooManyRequests


def wants_json() -> bool:
    return request.path.startswith("/api/") or (
        request.accept_mimetypes.best == "application/json" and not request.accept_mimetypes.accept_html
    )


def _http_message(exc: HTTPException) -> tuple[str, str]:
    """A person-readable, translated message and a stable code for a Werkzeug error."""
    messages = {
        400: ("bad_request", _("The request could not be understood.")),
        401: ("unauthenticated", _("Please log in first.")),
        403: ("forbidden", _("You are not allowed to do this.")),
        404: ("not_found", _("This page or object does not exist, or you may not see it.")),
        405: ("method_not_allowed", _("This action is not available here.")),
        413: ("payload_too_large", _("The data sent is too large.")),
        415: ("unsupported_media_type", _("Send the data as JSON (Content-Type: application/json).")),
        429: ("too_many_requests", _("Too many requests. Please wait a moment and try again.")),
    }
    code, message = messages.get(exc.code or 500, ("error", _("Something went wrong on our side.")))
    return code, message


def error_response(status: int, code: str, message: str, details=None, headers=None):
    if wants_json():
        body = {"error": {"code": code, "message": message}}
        if details is not None:
            body["error"]["details"] = details
        response = jsonify(body)
    else:
        response = render_template("errors/error.html", status=status, message=message,
                                   details=details)
    if isinstance(response, str):
        from flask import make_response

        response = make_response(response)
    response.status_code = status
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def json_details(details):
    """Field errors always leave as ``{"fields": [{"field", "message"}]}``.

    Services report them as a mapping (the pages put each message next to its field); the API
    schemas report a list. Clients get one shape.
    """
    if isinstance(details, dict) and isinstance(details.get("fields"), dict):
        fields = [{"field": name, "message": str(message)} for name, message in details["fields"].items()]
        return {**details, "fields": fields}
    return details


def _has_nul(values) -> bool:
    return any("\x00" in value for value in values)


def register_input_guard(app: Flask) -> None:
    """Refuse text holding the NUL character before any handler sees it.

    No name, title or password legitimately contains it, PostgreSQL cannot store or even compare
    it, and passing it on would turn a typing accident or a probe into a 500. JSON bodies are
    checked by the API's schemas (422, naming the field).
    """

    @app.before_request
    def _refuse_nul():
        suspicious = _has_nul(request.args.values())
        if not suspicious and request.mimetype in ("application/x-www-form-urlencoded",
                                                   "multipart/form-data"):
            suspicious = _has_nul(request.form.values())
        if suspicious:
            return error_response(400, "invalid_characters",
                                  _("The request contains characters that are not allowed."))
        return None


def busy_locale() -> str:
    """The request's language without the database (the user's own setting lives there): the
    session's choice, else the browser's."""
    from cabinet.i18n import SUPPORTED

    if session.get("lang") in SUPPORTED:
        return session["lang"]
    return request.accept_languages.best_match(SUPPORTED) or current_app.config["BABEL_DEFAULT_LOCALE"]


def server_busy_message() -> str:
    """What a user is told when every database connection stayed busy (an overload)."""
    with force_locale(busy_locale()):
        return _("The server is very busy right now: what you just did may not have been saved. "
                 "Please try again in a few seconds.")


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(DomainError)
    def _domain(exc: DomainError):
        headers = {}
        if isinstance(exc, TooManyRequests) and exc.retry_after:
            headers["Retry-After"] = str(exc.retry_after)
        if exc.status == 401 and wants_json():
            headers["WWW-Authenticate"] = 'Bearer realm="e-Cabinet"'
        return error_response(exc.status, exc.code, exc.message, json_details(exc.details), headers)

    @app.errorhandler(CSRFError)
    def _csrf(exc: CSRFError):
        return error_response(400, "csrf_failed",
                              _("The form has expired or was not sent from this site. "
                                "Reload the page and try again."))

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        code, message = _http_message(exc)
        headers = {}
        if exc.code == 429:
            retry = getattr(exc, "retry_after", None) or g.get("view_rate_limit_reset")
            headers["Retry-After"] = str(retry or 60)
        if exc.code == 405 and exc.valid_methods:
            headers["Allow"] = ", ".join(exc.valid_methods)
        return error_response(exc.code or 500, code, message, headers=headers)

    @app.errorhandler(SQLAlchemyTimeoutError)
    def _busy(exc: SQLAlchemyTimeoutError):
        # Every database connection of this process stayed busy for the pool's whole timeout:
        # an overload, not a bug. Say so, and when to retry, instead of a 500 with a traceback.
        # Nothing here may touch the database again: not the user (the page's locale, the top
        # bar), hence the locale from the session or the browser and a page without base.html.
        app.logger.warning("no database connection free for %s %s: %s", request.method, request.path, exc)
        from cabinet.extensions import db

        db.session.rollback()
        locale = busy_locale()
        with force_locale(locale):
            message = server_busy_message()
            if wants_json():
                response = jsonify({"error": {"code": "server_busy", "message": message}})
            else:
                # Straight from the Jinja environment: the context processors would read the user.
                page = app.jinja_env.get_template("errors/busy.html").render(
                    message=message, lang=locale,
                    again=request.full_path if request.method == "GET" else "/")
                response = make_response(page)
        response.status_code = 503
        response.headers["Retry-After"] = "5"
        return response

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        app.logger.exception("unhandled error on %s %s", request.method, request.path)
        from cabinet.extensions import db

        db.session.rollback()
        return error_response(500, "internal_error",
                              _("Something went wrong on our side. The error was logged; "
                                "please try again or contact the administrator."))
