"""The JSON API, ``/api/v1``: bearer tokens, JSON errors, an OpenAPI 3.1 description."""

from cabinet.api import annotations, ballots, documents, live, meetings, minutes, notifications, routes  # noqa: F401,E402  (registers the endpoints on bp)
from cabinet.api.framework import bp  # noqa: F401
