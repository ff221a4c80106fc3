"""Build the OpenAPI 3.1 document from the operations declared with ``@operation``."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from cabinet.api.framework import OPERATIONS, Operation
from cabinet.api.schemas import ErrorOut

_ERROR_TEXT = {
    400: "Malformed request (not JSON, invalid JSON; a NUL character in the query or a form)",
    401: "Missing, invalid, expired or revoked token; or wrong credentials",
    403: "Authenticated, but not allowed",
    404: "No such object (or not visible to you)",
    409: "Conflicts with existing data",
    413: "Body too large",
    422: "Well-formed, but fields are missing or invalid",
    429: "Too many attempts; see Retry-After",
    503: "Temporarily unable to accept it (e.g. the virus scanner is not available); try again",
}


def _schema_ref(model: type[BaseModel], components: dict[str, Any]) -> dict[str, str]:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, sub in [*schema.pop("$defs", {}).items(), (model.__name__, schema)]:
        # Two models of the same name would silently share one schema: refuse at start-up.
        if components.get(name, sub) != sub:
            raise RuntimeError(f"two API models are named {name!r}; rename one")
        components[name] = sub
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _path_parameters(op: Operation) -> list[dict]:
    import re

    params = []
    for converter, name in re.findall(r"<(?:([a-z]+):)?([a-z_]+)>", op.path):
        params.append({"name": name, "in": "path", "required": True,
                       "schema": {"type": "integer" if converter == "int" else "string"}})
    return params


def build_document() -> dict[str, Any]:
    components: dict[str, Any] = {}
    error_ref = _schema_ref(ErrorOut, components)
    paths: dict[str, dict] = {}
    for op in OPERATIONS:
        entry: dict[str, Any] = {
            "operationId": f"{op.method.lower()}_{op.openapi_path.strip('/').replace('/', '_')}"
                           .replace("{", "").replace("}", "").replace(".", "_"),
            "summary": op.summary,
            "tags": op.tags,
        }
        if op.description:
            entry["description"] = op.description
        parameters = _path_parameters(op) + [
            {"name": name, "in": "query", "required": False, "schema": schema}
            for name, schema in op.query.items()
        ]
        if parameters:
            entry["parameters"] = parameters
        if op.body is not None:
            entry["requestBody"] = {"required": True, "content": {
                "application/json": {"schema": _schema_ref(op.body, components)}}}
        if op.form is not None:
            entry["requestBody"] = {"required": True, "content": {
                "multipart/form-data": {"schema": _schema_ref(op.form, components)}}}
        success: dict[str, Any] = {"description": "Success"}
        if op.produces is not None:
            success["content"] = {op.produces: {"schema": {"type": "string",
                                                           "contentMediaType": op.produces}}}
        elif op.response is not None:
            success["content"] = {"application/json": {"schema": _schema_ref(op.response, components)}}
        elif op.status != 204:
            success["content"] = {"application/json": {"schema": {"type": "object"}}}
        responses: dict[str, Any] = {str(op.status): success}
        for status, meaning in op.also.items():
            responses[str(status)] = {**success, "description": meaning}
        # 400: every request whose query string (or form) holds a NUL character is refused before
        # the view runs (cabinet.core.http.register_input_guard), whatever the operation.
        for status in sorted(set(op.errors) | {400} | ({401} if op.auth else set())
                             | ({403} if op.admin or (op.auth and not op.before_password_change) else set())):
            responses[str(status)] = {"description": _ERROR_TEXT[status],
                                      "content": {"application/json": {"schema": error_ref}}}
        entry["responses"] = responses
        if op.auth:
            entry["security"] = [{"bearer": []}]
        else:
            entry["security"] = []
        paths.setdefault(op.openapi_path, {})[op.method.lower()] = entry
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "e-Cabinet API",
            "version": "1",
            "description": "Paperless cabinet meetings. Authenticate with POST /api/v1/auth/token, "
                           "then send `Authorization: Bearer <token>`. Every error has the shape "
                           '`{"error": {"code", "message", "details"?}}`.',
        },
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}],
    }
