"""Domain errors, raised by services and mapped once to HTTP statuses and socket payloads.

A service never knows whether it was called from a page, the JSON API or a socket event;
it raises one of these, and :mod:`cabinet.core.http` turns it into the right answer.
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """Base class: ``status`` is the HTTP status, ``code`` a stable machine-readable name."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, code: str | None = None, details: Any = None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details is not None:
            body["details"] = self.details
        return body


class BadRequest(DomainError):
    status = 400
    code = "bad_request"


class Unauthenticated(DomainError):
    status = 401
    code = "unauthenticated"


class PermissionDenied(DomainError):
    status = 403
    code = "forbidden"


class NotFound(DomainError):
    status = 404
    code = "not_found"


class Conflict(DomainError):
    status = 409
    code = "conflict"


class PayloadTooLarge(DomainError):
    status = 413
    code = "payload_too_large"


class ValidationError(DomainError):
    status = 422
    code = "validation_error"

    @classmethod
    def of_fields(cls, fields: dict[str, Any], message: str | None = None, *,
                  code: str | None = None) -> ValidationError:
        """Bad input named per field (``{"passphrase": "Wrong passphrase."}``): the pages show each
        message next to its field, the API answers them as ``details.fields``."""
        if message is None:
            from flask_babel import gettext

            message = gettext("Some fields are not valid.")
        return cls(message, code=code, details={"fields": fields})


class TooManyRequests(DomainError):
    status = 429
    code = "too_many_requests"

    def __init__(self, message: str, *, retry_after: int | None = None, **kwargs: Any):
        super().__init__(message, **kwargs)
        self.retry_after = retry_after
