"""The OpenAPI document is valid, complete, and tells the truth about the answers."""

from __future__ import annotations

import re

import pytest
from jsonschema import Draft202012Validator, FormatChecker
from openapi_spec_validator import OpenAPIV31SpecValidator, validate
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from tests.conftest import api_token

DOCUMENT_URL = "/api/v1/openapi.json"
DOCUMENT_URI = "urn:e-cabinet:openapi"
HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}

NEW_USER = {"username": "bt.noivu", "full_name": "Trần Thị Nội Vụ",
            "password": "Mat-khau-moi-2024", "email": "noivu@example.gov.vn", "clearance": "mat"}


@pytest.fixture
def document(client):
    response = client.get(DOCUMENT_URL)
    assert response.status_code == 200
    return response.get_json()


def operations(document):
    """Every (path, method, operation) the document describes."""
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in HTTP_METHODS:
                yield path, method, operation


def needs_token(document, operation) -> bool:
    security = operation.get("security", document.get("security", []))
    return any(requirement for requirement in security)


def openapi_path(flask_rule: str) -> str:
    """``/api/v1/users/<int:user_id>`` -> ``/api/v1/users/{user_id}``."""
    return re.sub(r"<(?:[^<>:]+:)?([^<>:]+)>", r"{\1}", flask_rule)


def assert_documented_answer(document, method: str, path: str, response) -> None:
    """The response's status is documented for the operation, and its body fits the schema."""
    operation = document["paths"][path][method.lower()]
    status = str(response.status_code)
    assert status in operation["responses"], \
        f"{method} {path} answered {status}, which the document does not list"
    content = operation["responses"][status].get("content")
    if content is None:
        assert response.get_data() == b""
        return
    assert response.mimetype in content
    pointer = "/".join(part.replace("~", "~0").replace("/", "~1") for part in (
        "paths", path, method.lower(), "responses", status, "content", response.mimetype,
        "schema"))
    registry = Registry().with_resource(
        DOCUMENT_URI, Resource.from_contents(document, default_specification=DRAFT202012))
    validator = Draft202012Validator({"$ref": f"{DOCUMENT_URI}#/{pointer}"}, registry=registry,
                                     format_checker=FormatChecker())
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(
        response.get_json())]
    assert not errors, f"{method} {path} {status}: {errors}"


def test_document_is_public_and_valid_openapi_3_1(client):
    response = client.get(DOCUMENT_URL)

    assert response.status_code == 200
    assert response.mimetype == "application/json"
    document = response.get_json()
    assert document["openapi"].startswith("3.1.")
    validate(document, cls=OpenAPIV31SpecValidator)


def test_every_api_route_is_documented_and_every_documented_path_exists(app, document):
    routes = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1"):
            for method in rule.methods - {"HEAD", "OPTIONS"}:
                routes.add((openapi_path(rule.rule), method.lower()))
    documented = {(path, method) for path, method, _operation in operations(document)}

    assert routes, "no API routes found in the URL map"
    assert routes - documented == set(), "routes missing from the document"
    assert documented - routes == set(), "documented operations that do not exist"


def test_each_operation_that_needs_a_token_documents_401(document):
    for path, method, operation in operations(document):
        if needs_token(document, operation):
            assert "401" in operation["responses"], f"{method.upper()} {path} does not list 401"


def test_the_document_says_truly_which_operations_need_a_token(client, document):
    for path, method, operation in operations(document):
        url = re.sub(r"\{[^}]+\}", "1", path)
        response = client.open(url, method=method.upper())
        if needs_token(document, operation):
            assert response.status_code == 401, f"{method.upper()} {path} answered without token"
            assert response.get_json()["error"]["code"] == "token_missing"
        else:
            assert response.status_code != 401, f"{method.upper()} {path} wants a token"


def test_operation_ids_are_unique(document):
    ids = [operation["operationId"] for _path, _method, operation in operations(document)]
    assert len(ids) == len(set(ids))


def test_token_answer_matches_the_document(client, document, member):
    response = client.post("/api/v1/auth/token",
                           json={"username": "bt.tuphap", "password": "correct-horse-battery"})
    assert response.status_code == 201
    assert_documented_answer(document, "POST", "/api/v1/auth/token", response)


def test_token_errors_match_the_document(client, document, member):
    wrong = client.post("/api/v1/auth/token",
                        json={"username": "bt.tuphap", "password": "not-the-password"})
    invalid = client.post("/api/v1/auth/token", json={"username": "bt.tuphap"})
    not_json = client.post("/api/v1/auth/token", data="username=bt.tuphap")

    for response, status in ((wrong, 401), (invalid, 422), (not_json, 400)):
        assert response.status_code == status
        assert_documented_answer(document, "POST", "/api/v1/auth/token", response)


def test_me_answer_matches_the_document(client, document, member):
    headers = {"Authorization": f"Bearer {api_token(client, 'bt.tuphap')}"}
    response = client.get("/api/v1/me", headers=headers)

    assert response.status_code == 200
    assert_documented_answer(document, "GET", "/api/v1/me", response)
    assert_documented_answer(document, "GET", "/api/v1/me", client.get("/api/v1/me"))


def test_user_list_and_creation_match_the_document(client, document, admin, member):
    headers = {"Authorization": f"Bearer {api_token(client, 'quantri')}"}

    created = client.post("/api/v1/users", headers=headers, json=NEW_USER)
    assert created.status_code == 201
    assert_documented_answer(document, "POST", "/api/v1/users", created)

    listed = client.get("/api/v1/users", headers=headers)
    assert listed.status_code == 200
    assert len(listed.get_json()["users"]) == 3
    assert_documented_answer(document, "GET", "/api/v1/users", listed)

    user_path = "/api/v1/users/{user_id}"
    user_url = f"/api/v1/users/{created.get_json()['id']}"
    for method, url, path, kwargs in [
        ("GET", user_url, user_path, {}),
        ("PATCH", user_url, user_path, {"json": {"title": "Thứ trưởng", "active": False}}),
        ("DELETE", f"{user_url}/tokens", f"{user_path}/tokens", {}),
    ]:
        response = client.open(url, method=method, headers=headers, **kwargs)
        assert response.status_code == 200
        assert_documented_answer(document, method, path, response)


@pytest.mark.parametrize("method, url, path, kwargs, status", [
    ("POST", "/api/v1/users", "/api/v1/users", {"json": NEW_USER | {"username": "bt.tuphap"}},
     409),
    ("POST", "/api/v1/users", "/api/v1/users", {"json": NEW_USER | {"role": "king"}}, 422),
    ("POST", "/api/v1/users", "/api/v1/users", {"json": NEW_USER | {"password": "short"}}, 422),
    ("POST", "/api/v1/users", "/api/v1/users", {"data": "x" * 300_000,
                                                "content_type": "application/json"}, 413),
    ("GET", "/api/v1/users?role=king", "/api/v1/users", {}, 422),
    ("GET", "/api/v1/users/4040", "/api/v1/users/{user_id}", {}, 404),
    ("PATCH", "/api/v1/users/4040", "/api/v1/users/{user_id}", {"json": {"title": "x"}}, 404),
    ("PATCH", "/api/v1/users/{admin}", "/api/v1/users/{user_id}", {"json": {"active": False}},
     422),
])
def test_admin_errors_match_the_document(client, document, admin, member, method, url, path,
                                         kwargs, status):
    headers = {"Authorization": f"Bearer {api_token(client, 'quantri')}"}
    response = client.open(url.format(admin=admin.id), method=method, headers=headers, **kwargs)

    assert response.status_code == status
    assert_documented_answer(document, method, path, response)


def test_forbidden_answer_matches_the_document(client, document, member):
    headers = {"Authorization": f"Bearer {api_token(client, 'bt.tuphap')}"}
    response = client.get("/api/v1/users", headers=headers)

    assert response.status_code == 403
    assert_documented_answer(document, "GET", "/api/v1/users", response)
