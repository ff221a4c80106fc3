"""How an API endpoint is declared: one decorator that authenticates, parses and validates
the body with a pydantic model, and records the operation for the OpenAPI document.

Declaring the schema where the endpoint is written keeps the document true: a route that is
not declared with :func:`operation` has no place in the document, and the test that walks the
URL map fails.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field

from flask import Blueprint, current_app, g, request
from flask_babel import gettext as _
from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError

from cabinet.auth import service as auth_service
from cabinet.core.errors import (
    BadRequest,
    PayloadTooLarge,
    PermissionDenied,
    Unauthenticated,
    ValidationError,
)
from cabinet.core.types import MAX_ID

bp = Blueprint("api", __name__, url_prefix="/api/v1")


@dataclass
class Operation:
    method: str
    path: str  # Flask rule, relative to /api/v1
    summary: str
    tags: list[str]
    body: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    status: int = 200
    auth: bool = True
    admin: bool = False
    errors: tuple[int, ...] = ()
    query: dict[str, dict] = field(default_factory=dict)
    description: str = ""
    # Reachable while the account still has an administrator's temporary password.
    before_password_change: bool = False
    # A multipart/form-data request body (file uploads), for the OpenAPI document only: the view
    # parses the form itself (``body`` is for JSON). Parts the model marks as binary are files.
    form: type[BaseModel] | None = None
    # The media type of a success answer that is not JSON (e.g. ``application/pdf``).
    produces: str | None = None
    # Other success statuses with the same body, and what they mean (e.g. {200: "Already created"}).
    also: dict[int, str] = field(default_factory=dict)

    @property
    def openapi_path(self) -> str:
        return "/api/v1" + re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", self.path)


OPERATIONS: list[Operation] = []


def _bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _sep, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def authenticate_request():
    """The user behind the request's bearer token, or raise 401."""
    raw = _bearer_token()
    if raw is None:
        raise Unauthenticated(_("Send a token: Authorization: Bearer <token>."), code="token_missing")
    token = auth_service.token_from_raw(raw)
    if token is None:
        raise Unauthenticated(_("The token is invalid, expired or revoked."), code="token_invalid")
    g.api_token = token
    return token.user


def parse_body(model: type[BaseModel], limit: int | None = None) -> BaseModel:
    """Read the JSON body into ``model``: 413 too large, 415/400 not JSON, 422 invalid.

    ``limit`` (bytes) replaces ``CABINET_MAX_JSON_BYTES`` for an endpoint that takes long texts.
    """
    limit = limit or current_app.config["CABINET_MAX_JSON_BYTES"]
    if request.content_length is not None and request.content_length > limit:
        raise PayloadTooLarge(_("The request body is larger than %(kb)d KB.", kb=limit // 1024))
    if not request.is_json:
        raise BadRequest(_("Send the data as JSON (Content-Type: application/json)."),
                         code="not_json")
    # Read at most one byte past the limit: a chunked body (no Content-Length) is not read whole.
    raw = request.stream.read(limit + 1)
    if len(raw) > limit:
        raise PayloadTooLarge(_("The request body is larger than %(kb)d KB.", kb=limit // 1024))
    try:
        return model.model_validate_json(raw or b"null")
    except PydanticValidationError as exc:
        problems = []
        for err in exc.errors(include_url=False, include_input=False):
            if err["type"] == "json_invalid":
                raise BadRequest(_("The body is not valid JSON."), code="invalid_json") from exc
            problems.append({"field": ".".join(str(p) for p in err["loc"]) or "(body)",
                             "message": err["msg"]})
        raise ValidationError(_("Some fields are missing or not valid."),
                              details={"fields": problems}) from exc


def query_int(name: str, *, maximum: int = MAX_ID) -> int | None:
    """The query parameter ``name`` as a whole number from 1 to ``maximum``; None when absent or
    empty; 422 naming the parameter otherwise.

    Only ASCII digits count: ``str.isdigit`` also accepts "²" or "٣", which ``int`` refuses, and
    a number past ``maximum`` (an id no row can have) must not reach the database, which would
    fail on it.
    """
    raw = request.args.get(name, "")
    if raw == "":
        return None
    # The length first: int() refuses more than 4300 digits (ValueError), and no id is that long.
    if len(raw) > len(str(maximum)) or not (raw.isascii() and raw.isdigit()) or not 0 < int(raw) <= maximum:
        raise ValidationError(_("Some fields are not valid."), details={"fields": [
            {"field": name, "message": _("A positive whole number.")}]})
    return int(raw)


def operation(method: str, path: str, *, summary: str, tags: list[str],
              body: type[BaseModel] | None = None, response: type[BaseModel] | None = None,
              status: int = 200, auth: bool = True, admin: bool = False,
              errors: tuple[int, ...] = (), query: dict[str, dict] | None = None,
              description: str = "", before_password_change: bool = False,
              form: type[BaseModel] | None = None, produces: str | None = None,
              also: dict[int, str] | None = None, body_limit: int | None = None):
    """Register an API endpoint. The view gets ``user`` (when ``auth``) and ``body`` (when given).

    ``body_limit`` raises the JSON body limit for this endpoint (see :func:`parse_body`).

    ``form`` and ``produces`` only describe the operation in the OpenAPI document: a multipart
    request (parsed by the view) and a success answer that is not JSON; ``also`` other success
    statuses answered with the same body.
    """
    op = Operation(method.upper(), path, summary, tags, body, response, status, auth, admin,
                   errors, query or {}, description, before_password_change, form, produces,
                   also or {})
    OPERATIONS.append(op)

    def decorator(view):
        @functools.wraps(view)
        def wrapper(**kwargs):
            if auth:
                user = authenticate_request()
                if user.must_change_password and not before_password_change:
                    # The same rule as the pages: a temporary password is for changing, only.
                    raise PermissionDenied(
                        _("An administrator reset your password: change it first "
                          "(POST /api/v1/me/password, or on the web)."),
                        code="password_change_required")
                if admin and not user.is_admin:
                    raise PermissionDenied(_("Only an administrator may do this."))
                kwargs["user"] = user
            if body is not None:
                kwargs["body"] = parse_body(body, body_limit)
            return view(**kwargs)

        bp.add_url_rule(path, endpoint=f"{view.__name__}", view_func=wrapper, methods=[op.method])
        return wrapper

    return decorator
