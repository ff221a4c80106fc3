"""Annotations, told as stories: members draw, highlight and write notes on a document; they keep
them private or share them; the secretariat collects what was shared; nothing is lost on a retry
or a new version; denials; the audit trail; escaping.

API answers are also checked against the OpenAPI document (tests.test_api_meetings.api_caller).
"""

from __future__ import annotations

import io
import re
import uuid
from pathlib import Path

import pytest
from sqlalchemy import func, select

from cabinet.annotations import service
from cabinet.annotations.models import Annotation
from cabinet.annotations.schemas import AnnotationCreate, SharingIn
from cabinet.audit.models import AuditEntry
from cabinet.documents import service as documents
from cabinet.extensions import db
from tests.conftest import csrf_token, login
from tests.meeting_factories import schedule
from tests.test_api_meetings import api_caller, error, fields
from tests.test_documents import blank_pdf, published, upload

SECRET_NOTE = "Đề nghị bổ sung số liệu tỉnh Quảng Trị — ý kiến riêng"


@pytest.fixture
def people(make_user):
    return {
        "thuky": make_user("thuky", role="secretariat", clearance="tuyet_mat",
                           full_name="Trần Thị Thu Hà", organisation="Văn phòng Chính phủ"),
        "admin": make_user("quantri", role="admin", clearance="tuyet_mat", full_name="Lê Hoàng Nam"),
        "pm": make_user("thutuong", full_name="Phạm Quốc Hưng", clearance="tuyet_mat"),
        "tuphap": make_user("bt.tuphap", full_name="Phan Thị Ngọc Diệp", clearance="none"),
        "congan": make_user("bt.congan", full_name="Lương Tam Quang", clearance="toi_mat"),
        "outsider": make_user("bt.khac", full_name="Người Không Mời", clearance="tuyet_mat"),
    }


@pytest.fixture
def meeting(people):
    return schedule(people["thuky"], chair=people["pm"], members=[people["tuphap"], people["congan"]],
                    secretaries=[people["thuky"]])


@pytest.fixture
def doc(people, meeting):
    """A published, unclassified document of two pages."""
    return published(people["thuky"], meeting, data=blank_pdf(2))


@pytest.fixture
def secret_doc(people, meeting):
    """A published document classified Mật: the Minister of Justice (no clearance) may not read it."""
    return published(people["thuky"], meeting, data=blank_pdf(2), title="Báo cáo an ninh", secrecy="mat")


@pytest.fixture
def openapi(client):
    return client.get("/api/v1/openapi.json").get_json()


@pytest.fixture
def api(client, people, openapi):
    return api_caller(client, openapi)


def new_id() -> str:
    return uuid.uuid4().hex


def pen(**changes) -> dict:
    body = {"kind": "pen", "page": 1, "colour": "red",
            "strokes": [{"points": [[0.1, 0.1], [0.2, 0.15], [0.3, 0.2]], "width": 0.004}]}
    return body | changes


def note(text: str = "Cần làm rõ khoản 2 Điều 5", **changes) -> dict:
    return {"kind": "note", "page": 1, "point": [0.8, 0.25], "body": text} | changes


def highlight(**changes) -> dict:
    return {"kind": "highlight", "page": 2, "colour": "yellow",
            "rects": [[0.1, 0.3, 0.6, 0.02], [0.1, 0.32, 0.4, 0.02]],
            "quote": {"exact": "Điều 5. Phạm vi điều chỉnh", "prefix": "Chương I ", "suffix": " 1. Luật"}
            } | changes


def annotations_url(document) -> str:
    return f"/api/v1/documents/{document.id}/annotations"


def create(api, username, document, body) -> dict:
    response = api(username, "POST", annotations_url(document), json=body)
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()


def listed(api, username, document, scope=None) -> list[str]:
    url = annotations_url(document) + (f"?scope={scope}" if scope else "")
    response = api(username, "GET", url)
    assert response.status_code == 200, response.get_data(as_text=True)
    return [a["annotation_id"] for a in response.get_json()["annotations"]]


def share(api, username, annotation_id, visibility, user_ids=()):
    return api(username, "PUT", f"/api/v1/annotations/{annotation_id}/sharing",
               json={"visibility": visibility, "user_ids": list(user_ids)})


def count_annotations() -> int:
    return db.session.scalar(select(func.count()).select_from(Annotation))


def audit_entries(action_prefix: str = "annotation.") -> list[AuditEntry]:
    return list(db.session.scalars(select(AuditEntry).where(AuditEntry.action.startswith(action_prefix))
                                   .order_by(AuditEntry.seq)))


# --- creating, reading, the W3C shape ---------------------------------------------------------


def test_a_member_draws_on_a_page_and_gets_a_w3c_annotation_back(api, people, doc):
    made = create(api, "bt.tuphap", doc, pen())

    assert made["@context"] == "http://www.w3.org/ns/anno.jsonld"
    assert made["type"] == "Annotation" and made["motivation"] == "drawing"
    assert made["id"].endswith(f"/api/v1/annotations/{made['annotation_id']}")
    assert made["creator"] == {"type": "Person", "id": f"urn:e-cabinet:user:{people['tuphap'].id}",
                               "user_id": people["tuphap"].id, "name": "Phan Thị Ngọc Diệp"}
    assert made["body"] == []
    assert made["target"]["source"].endswith(f"/documents/{doc.id}#version-1")
    assert made["target"]["selector"][0] == {
        "type": "FragmentSelector", "conformsTo": "http://tools.ietf.org/rfc/rfc3778", "value": "page=1"}
    assert made["target"]["selector"][1] == {
        "type": "StrokesSelector",
        "strokes": [{"points": [[0.1, 0.1], [0.2, 0.15], [0.3, 0.2]], "width": 0.004}]}
    assert (made["document_id"], made["version"], made["page"], made["kind"]) == (doc.id, 1, 1, "pen")
    assert (made["colour"], made["visibility"], made["outdated"], made["mine"]) == (
        "red", "private", False, True)
    assert made["shared_with"] == []

    again = api("bt.tuphap", "GET", f"/api/v1/annotations/{made['annotation_id']}")
    assert again.status_code == 200 and again.get_json() == made
    assert listed(api, "bt.tuphap", doc) == [made["annotation_id"]]


def test_a_highlight_keeps_the_quoted_text_and_a_note_its_text(api, doc):
    marked = create(api, "bt.tuphap", doc, highlight())
    noted = create(api, "bt.tuphap", doc, note(body="  Cần làm rõ\r\nkhoản 2  "))

    assert marked["motivation"] == "highlighting" and marked["page"] == 2
    assert {"type": "TextQuoteSelector", "exact": "Điều 5. Phạm vi điều chỉnh", "prefix": "Chương I ",
            "suffix": " 1. Luật"} in marked["target"]["selector"]
    assert {"type": "RectsSelector", "rects": [[0.1, 0.3, 0.6, 0.02], [0.1, 0.32, 0.4, 0.02]]} \
        in marked["target"]["selector"]
    assert noted["motivation"] == "commenting"
    assert noted["body"] == [{"type": "TextualBody", "value": "Cần làm rõ\nkhoản 2", "format": "text/plain"}]
    assert {"type": "PointSelector", "x": 0.8, "y": 0.25} in noted["target"]["selector"]


def test_a_retry_with_the_same_id_returns_the_first_annotation_instead_of_a_second(api, doc):
    chosen = new_id()
    first = api("bt.tuphap", "POST", annotations_url(doc), json=pen(id=chosen))
    retry = api("bt.tuphap", "POST", annotations_url(doc), json=pen(id=chosen, colour="blue"))

    assert first.status_code == 201 and retry.status_code == 200
    assert retry.get_json() == first.get_json()
    assert first.get_json()["annotation_id"] == chosen
    assert count_annotations() == 1
    assert [e.action for e in audit_entries()] == ["annotation.created"]


def test_an_id_already_used_by_someone_else_is_a_conflict(api, doc):
    chosen = new_id()
    create(api, "bt.tuphap", doc, pen(id=chosen))

    taken = api("bt.congan", "POST", annotations_url(doc), json=pen(id=chosen))
    assert error(taken, 409)["code"] == "id_taken"
    assert count_annotations() == 1


@pytest.mark.parametrize("body, field", [
    (pen(strokes=[{"points": [[1.2, 0.5]]}]), "strokes.0.points.0.0"),
    (pen(strokes=[{"points": [[-0.01, 0.5]]}]), "strokes.0.points.0.0"),
    (pen(strokes=[{"points": [["0.1", 0.5]]}]), "strokes.0.points.0.0"),
    (pen(strokes=[{"points": [[0.1, 0.5, 0.2]]}]), "strokes.0.points.0"),
    (pen(strokes=[{"points": []}]), "strokes.0.points"),
    (pen(strokes=[{"points": [[0.1, 0.1]], "width": 2}]), "strokes.0.width"),
    (pen(strokes=[{"points": [[0.1, 0.1]]}] * 201), "strokes"),
    (pen(strokes=[{"points": [[0.5, 0.5]] * 2600}] * 2), "strokes"),
    (pen(strokes=[]), "strokes"),
    (pen(strokes=None), "strokes"),
    (pen(page=0), "page"),
    (pen(page=3), "page"),
    (pen(page="1"), "page"),
    (pen(colour="pink"), "colour"),
    (pen(kind="stamp"), "kind"),
    (pen(id="not-a-uuid"), "id"),
    (pen(id=str(uuid.uuid4())), "id"),
    (pen(version=9), "version"),
    (pen(visibility="public"), "visibility"),
    (pen(point=[0.5, 0.5]), "point"),
    (pen(script="<x>"), "script"),
    (note(point=None), "point"),
    (note(body="   "), "body"),
    (note(body="x" * 4001), "body"),
    (note(body="a\x00b"), "body"),
    (highlight(rects=[[0.5, 0.5, 0.6, 0.1]]), "rects"),
    (highlight(rects=[[0.5, 0.5, 0, 0.1]]), "rects"),
    (highlight(rects=None), "rects"),
    (highlight(quote={"exact": ""}), "quote.exact"),
    (note(visibility="participants"), "user_ids"),
    (note(visibility="meeting", user_ids=[1]), "user_ids"),
])
def test_invalid_annotations_are_refused_naming_the_field(api, doc, body, field):
    response = api("bt.tuphap", "POST", annotations_url(doc), json={k: v for k, v in body.items()
                                                                     if v is not None})
    assert field in fields(response)
    assert count_annotations() == 0


def test_a_body_that_is_not_json_is_a_400(api, doc):
    response = api("bt.tuphap", "POST", annotations_url(doc), data="kind=pen",
                   content_type="application/x-www-form-urlencoded")
    assert error(response, 400)["code"] == "not_json"
    broken = api("bt.tuphap", "POST", annotations_url(doc), data="{", content_type="application/json")
    assert error(broken, 400)["code"] == "invalid_json"


def test_the_author_changes_text_colour_and_geometry_and_the_rest_is_kept(api, doc):
    made = create(api, "bt.tuphap", doc, note())
    url = f"/api/v1/annotations/{made['annotation_id']}"

    changed = api("bt.tuphap", "PATCH", url, json={"body": "Đã rõ", "colour": "green", "point": [0.1, 0.9]})
    assert changed.status_code == 200
    body = changed.get_json()
    assert body["body"][0]["value"] == "Đã rõ" and body["colour"] == "green"
    assert {"type": "PointSelector", "x": 0.1, "y": 0.9} in body["target"]["selector"]
    assert (body["page"], body["kind"], body["created"]) == (1, "note", made["created"])

    assert "strokes" in fields(api("bt.tuphap", "PATCH", url, json={"strokes": [{"points": [[0, 0]]}]}))
    assert "body" in fields(api("bt.tuphap", "PATCH", url, json={"body": ""}))
    assert "kind" in fields(api("bt.tuphap", "PATCH", url, json={"kind": "pen"}))


def test_a_highlight_given_a_new_quote_keeps_its_area(api, doc):
    made = create(api, "bt.tuphap", doc, highlight())
    url = f"/api/v1/annotations/{made['annotation_id']}"
    body = api("bt.tuphap", "PATCH", url, json={"quote": {"exact": "Điều 5"}}).get_json()

    assert {"type": "RectsSelector", "rects": [[0.1, 0.3, 0.6, 0.02], [0.1, 0.32, 0.4, 0.02]]} \
        in body["target"]["selector"]
    assert {"type": "TextQuoteSelector", "exact": "Điều 5", "prefix": "", "suffix": ""} \
        in body["target"]["selector"]


def test_the_author_deletes_an_annotation_and_it_is_gone(api, doc):
    made = create(api, "bt.tuphap", doc, pen())
    url = f"/api/v1/annotations/{made['annotation_id']}"

    assert api("bt.tuphap", "DELETE", url).status_code == 204
    assert error(api("bt.tuphap", "GET", url), 404)["code"] == "not_found"
    assert error(api("bt.tuphap", "DELETE", url), 404)["code"] == "not_found"
    assert listed(api, "bt.tuphap", doc) == []


@pytest.mark.parametrize("annotation_id", ["1", "x" * 32, "0" * 32, "A" * 32, "%00"])
def test_unknown_or_malformed_annotation_ids_are_404(api, doc, annotation_id):
    assert error(api("bt.tuphap", "GET", f"/api/v1/annotations/{annotation_id}"), 404)


# --- who sees what ----------------------------------------------------------------------------


def test_a_private_annotation_is_seen_by_its_author_alone_not_even_by_the_secretariat_or_an_admin(
        api, doc):
    made = create(api, "bt.tuphap", doc, note(SECRET_NOTE))
    url = f"/api/v1/annotations/{made['annotation_id']}"

    for username in ("bt.congan", "thutuong", "thuky", "quantri"):
        assert listed(api, username, doc) == [], username
        assert error(api(username, "GET", url), 404)["code"] == "not_found"
    for username in ("thuky", "quantri"):
        assert listed(api, username, doc, scope="shared") == []
    assert error(api("bt.khac", "GET", annotations_url(doc)), 404)


def test_shared_with_the_meeting_it_reaches_cleared_participants_only(api, people, secret_doc):
    made = create(api, "thutuong", secret_doc, note("Lưu ý số liệu mật"))
    shared = share(api, "thutuong", made["annotation_id"], "meeting")

    assert shared.status_code == 200 and shared.get_json()["visibility"] == "meeting"
    assert listed(api, "bt.congan", secret_doc) == [made["annotation_id"]]
    seen = api("bt.congan", "GET", f"/api/v1/annotations/{made['annotation_id']}").get_json()
    assert seen["mine"] is False and seen["shared_with"] is None
    assert seen["body"][0]["value"] == "Lưu ý số liệu mật"
    # The Minister of Justice takes part, but is not cleared for Mật: the document's rule applies.
    assert error(api("bt.tuphap", "GET", annotations_url(secret_doc)), 403)["code"] == "not_cleared"
    assert error(api("bt.tuphap", "GET", f"/api/v1/annotations/{made['annotation_id']}"), 403)
    assert error(api("bt.khac", "GET", annotations_url(secret_doc)), 404)
    annotation = db.session.scalars(select(Annotation)).one()
    assert service.audience(annotation) == {people["congan"].id, people["thuky"].id, people["admin"].id}


def test_shared_with_chosen_participants_only_they_see_it(api, people, doc):
    made = create(api, "bt.tuphap", doc, note())
    aid = made["annotation_id"]

    chosen = share(api, "bt.tuphap", aid, "participants", [people["congan"].id])
    assert chosen.status_code == 200
    assert chosen.get_json()["shared_with"] == [people["congan"].id]
    assert listed(api, "bt.congan", doc) == [aid]
    assert listed(api, "thutuong", doc) == []
    assert error(api("thutuong", "GET", f"/api/v1/annotations/{aid}"), 404)

    assert "user_ids" in fields(share(api, "bt.tuphap", aid, "participants", [people["outsider"].id]))
    assert "user_ids" in fields(share(api, "bt.tuphap", aid, "participants", [people["tuphap"].id]))
    assert "user_ids" in fields(share(api, "bt.tuphap", aid, "participants", []))
    assert "user_ids" in fields(share(api, "bt.tuphap", aid, "participants", [people["pm"].id] * 2))

    assert share(api, "bt.tuphap", aid, "private").get_json()["shared_with"] == []
    assert listed(api, "bt.congan", doc) == []


def test_the_list_offers_the_meetings_participants_to_share_with(api, people, doc):
    body = api("bt.tuphap", "GET", annotations_url(doc)).get_json()
    offered = {p["id"] for p in body["share_candidates"]}
    assert offered == {people["pm"].id, people["congan"].id, people["thuky"].id}
    assert body["current_version"] == 1


def test_the_secretariat_collects_shared_annotations_and_never_private_ones(api, people, doc):
    private = create(api, "bt.tuphap", doc, note(SECRET_NOTE))
    to_meeting = create(api, "bt.tuphap", doc, pen(visibility="meeting"))
    to_one = create(api, "bt.congan", doc, note("Chỉ gửi Bộ trưởng Tư pháp", visibility="participants",
                                                user_ids=[people["tuphap"].id]))

    collected = set(listed(api, "thuky", doc, scope="shared"))
    assert collected == {to_meeting["annotation_id"], to_one["annotation_id"]}
    assert private["annotation_id"] not in set(listed(api, "quantri", doc, scope="shared"))
    assert error(api("bt.tuphap", "GET", annotations_url(doc) + "?scope=shared"), 403)
    assert "scope" in fields(api("thuky", "GET", annotations_url(doc) + "?scope=all"))


def test_nobody_but_the_author_changes_shares_or_deletes_an_annotation(api, people, doc):
    shared = create(api, "bt.tuphap", doc, note(visibility="meeting"))
    private = create(api, "bt.tuphap", doc, note(SECRET_NOTE))

    for username in ("bt.congan", "thuky", "quantri"):
        url = f"/api/v1/annotations/{shared['annotation_id']}"
        assert error(api(username, "PATCH", url, json={"body": "sửa"}), 403)["code"] == "not_author"
        assert error(api(username, "DELETE", url), 403)["code"] == "not_author"
        assert error(share(api, username, shared["annotation_id"], "private"), 403)["code"] == "not_author"
        url = f"/api/v1/annotations/{private['annotation_id']}"
        assert error(api(username, "PATCH", url, json={"body": "sửa"}), 404)
        assert error(api(username, "DELETE", url), 404)
    assert count_annotations() == 2
    assert db.session.scalars(select(Annotation.body_text).where(
        Annotation.public_id == private["annotation_id"])).one() == SECRET_NOTE


def test_annotations_follow_the_documents_rules_drafts_and_recalls(api, people, meeting, doc):
    draft = upload(people["thuky"], meeting)
    assert error(api("bt.tuphap", "POST", annotations_url(draft), json=pen()), 404)
    assert error(api("bt.tuphap", "GET", annotations_url(draft)), 404)

    made = create(api, "bt.tuphap", doc, note(visibility="meeting"))
    documents.recall(people["thuky"], doc.id, "Sai số liệu")

    assert error(api("bt.tuphap", "POST", annotations_url(doc), json=pen()), 403)["code"] == "recalled"
    assert error(api("bt.tuphap", "GET", annotations_url(doc)), 403)["code"] == "recalled"
    url = f"/api/v1/annotations/{made['annotation_id']}"
    assert error(api("bt.tuphap", "PATCH", url, json={"body": "x"}), 403)["code"] == "recalled"
    assert error(api("bt.tuphap", "DELETE", url), 403)["code"] == "recalled"
    assert error(api("thuky", "POST", annotations_url(doc), json=pen()), 409)["code"] == "recalled"
    # The secretariat can still collect what was shared before the recall.
    assert listed(api, "thuky", doc, scope="shared") == [made["annotation_id"]]
    assert count_annotations() == 1


def test_a_new_version_keeps_old_annotations_on_the_old_version_marked_outdated(api, people, doc):
    old = create(api, "bt.tuphap", doc, note(page=2))
    documents.add_version(people["thuky"], doc.id, stream=io.BytesIO(blank_pdf(1)), filename="v2.pdf")

    body = api("bt.tuphap", "GET", annotations_url(doc)).get_json()
    assert body["current_version"] == 2
    [kept] = body["annotations"]
    assert (kept["annotation_id"], kept["version"], kept["page"], kept["outdated"]) == (
        old["annotation_id"], 1, 2, True)
    assert kept["target"]["source"].endswith("#version-1")

    # Drawn offline on version 1 and sent after version 2 came: attached to version 1, not lost.
    late = create(api, "bt.tuphap", doc, pen(version=1, page=2))
    assert (late["version"], late["outdated"]) == (1, True)
    fresh = create(api, "bt.tuphap", doc, pen())
    assert (fresh["version"], fresh["outdated"]) == (2, False)
    assert "page" in fields(api("bt.tuphap", "POST", annotations_url(doc), json=pen(page=2)))
    assert listed(api, "bt.tuphap", doc) == [old["annotation_id"], late["annotation_id"],
                                             fresh["annotation_id"]]


# --- the audit trail --------------------------------------------------------------------------


def test_every_change_is_audited_with_ids_and_never_the_text(api, people, doc):
    made = create(api, "bt.tuphap", doc, note(SECRET_NOTE))
    aid = made["annotation_id"]
    api("bt.tuphap", "PATCH", f"/api/v1/annotations/{aid}", json={"body": SECRET_NOTE + " (sửa)"})
    api("bt.tuphap", "PATCH", f"/api/v1/annotations/{aid}", json={"body": SECRET_NOTE + " (sửa)"})  # no-op
    share(api, "bt.tuphap", aid, "participants", [people["congan"].id])
    api("bt.tuphap", "DELETE", f"/api/v1/annotations/{aid}")

    entries = audit_entries()
    assert [e.action for e in entries] == ["annotation.created", "annotation.updated",
                                           "annotation.sharing_changed", "annotation.deleted"]
    assert all(e.object_type == "annotation" and e.object_id == aid for e in entries)
    assert all(e.actor_id == people["tuphap"].id for e in entries)
    assert entries[0].details == {"document_id": doc.id, "version": 1, "page": 1, "kind": "note",
                                  "visibility": "private", "user_ids": []}
    assert entries[1].details == {"document_id": doc.id, "fields": ["body"]}
    assert entries[2].details["user_ids"] == [people["congan"].id]
    assert entries[2].details["previous_visibility"] == "private"
    for entry in entries:
        assert "Quảng Trị" not in str(entry.details)


# --- the service, directly ----------------------------------------------------------------------


def test_the_service_refuses_a_share_with_someone_outside_the_meeting(app, people, doc):
    annotation, created = service.create_annotation(
        people["tuphap"], doc.id, AnnotationCreate.model_validate(note()))
    assert created
    from cabinet.core.errors import ValidationError

    with pytest.raises(ValidationError) as caught:
        service.set_sharing(people["tuphap"], annotation.public_id,
                            SharingIn(visibility="participants", user_ids=[people["outsider"].id]))
    assert "user_ids" in caught.value.details["fields"]
    assert service.audience(annotation) == set()


# --- the viewer's routes (session cookie) and the secretariat's page --------------------------


def viewer_headers(client, document) -> dict:
    return {"X-CSRFToken": csrf_token(client, f"/documents/{document.id}"), "Accept": "application/json"}


def test_the_viewer_annotates_through_its_session_with_the_csrf_header(client, people, doc):
    login(client, "bt.tuphap")
    url = f"/documents/{doc.id}/annotations"

    refused = client.post(url, json=pen(), headers={"Accept": "application/json"})
    assert refused.status_code == 400 and refused.get_json()["error"]["code"] == "csrf_failed"
    headers = viewer_headers(client, doc)
    made = client.post(url, json=pen(id=new_id()), headers=headers)
    assert made.status_code == 201
    aid = made.get_json()["annotation_id"]
    assert client.post(url, json=pen(id=aid), headers=headers).status_code == 200
    assert [a["annotation_id"] for a in client.get(url).get_json()["annotations"]] == [aid]

    invalid = client.post(url, json=pen(page=0), headers=headers)
    assert invalid.status_code == 422
    assert {"field": "page", "message": invalid.get_json()["error"]["details"]["fields"][0]["message"]} \
        in invalid.get_json()["error"]["details"]["fields"]
    changed = client.patch(f"/annotations/{aid}", json={"colour": "blue"}, headers=headers)
    assert changed.status_code == 200 and changed.get_json()["colour"] == "blue"
    shared = client.put(f"/annotations/{aid}/sharing", json={"visibility": "meeting"}, headers=headers)
    assert shared.get_json()["visibility"] == "meeting"
    assert client.get(f"/annotations/{aid}").get_json()["annotation_id"] == aid
    assert client.delete(f"/annotations/{aid}", headers=headers).status_code == 204
    gone = client.delete(f"/annotations/{aid}", headers=headers)
    assert gone.status_code == 404 and gone.get_json()["error"]["code"] == "not_found"


def test_the_viewer_routes_answer_json_errors_without_a_session(client, doc):
    response = client.get(f"/documents/{doc.id}/annotations")
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "unauthenticated"


def test_the_viewer_routes_answer_json_denials(client, people, secret_doc):
    login(client, "bt.tuphap")
    response = client.get(f"/documents/{secret_doc.id}/annotations")
    assert response.status_code == 403 and response.get_json()["error"]["code"] == "not_cleared"


def test_the_document_page_loads_the_annotation_tools_with_their_settings(client, people, doc):
    login(client, "bt.tuphap")
    html = client.get(f"/documents/{doc.id}").get_data(as_text=True)

    assert f'data-list-url="/documents/{doc.id}/annotations"' in html
    assert 'data-item-url="/annotations/__id__"' in html
    assert f'data-user-id="{people["tuphap"].id}"' in html
    assert 'data-csrf-token="' in html
    assert "/static/js/annotations.js" in html
    assert f"/documents/{doc.id}/annotations/shared" not in html  # staff only


def test_the_secretariat_page_lists_shared_annotations_with_their_text_escaped(client, api, people, doc):
    create(api, "bt.tuphap", doc, note("<script>alert('x')</script> & <b>đậm</b>", visibility="meeting"))
    create(api, "bt.congan", doc, note(SECRET_NOTE))
    create(api, "bt.congan", doc, pen(visibility="participants", user_ids=[people["tuphap"].id]))
    documents.add_version(people["thuky"], doc.id, stream=io.BytesIO(blank_pdf(2)), filename="v2.pdf")

    login(client, "thuky")
    page = client.get(f"/documents/{doc.id}").get_data(as_text=True)
    assert f'href="/documents/{doc.id}/annotations/shared"' in page
    response = client.get(f"/documents/{doc.id}/annotations/shared")
    html = response.get_data(as_text=True)

    assert response.status_code == 200
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &lt;b&gt;đậm&lt;/b&gt;" in html
    assert "<script>alert" not in html and "<b>đậm" not in html
    assert SECRET_NOTE not in html
    assert "Phan Thị Ngọc Diệp" in html and "Lương Tam Quang" in html
    assert html.count("tạo trên phiên bản 1") == 2  # "made on version 1"
    assert "<polyline" in html


def test_members_cannot_open_the_secretariats_page(client, people, doc):
    login(client, "bt.tuphap")
    assert client.get(f"/documents/{doc.id}/annotations/shared").status_code == 403


# --- the viewer's script and markup -------------------------------------------------------------

ANNOTATIONS_JS = Path(__file__).resolve().parent.parent / "static" / "js" / "annotations.js"


def test_the_annotation_script_is_served_as_a_module_and_never_parses_html(client):
    response = client.get("/static/js/annotations.js")
    assert response.status_code == 200 and response.mimetype in ("text/javascript", "application/javascript")
    response.close()
    source = ANNOTATIONS_JS.read_text(encoding="utf-8")
    # Other people's text goes in as textContent only.
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"):
        assert sink not in source, sink
    assert 'credentials: "same-origin"' in source and '"X-CSRFToken"' in source


def test_the_viewer_with_annotations_has_no_inline_script_style_or_handler(app):
    with app.test_request_context("/"):
        module = app.jinja_env.get_template("documents/_pdf_viewer.html").module
        html = str(module.pdf_viewer("/documents/7/content", "Tờ trình", annotations={
            "list_url": "/documents/7/annotations", "item_url": "/annotations/__id__",
            "document_id": 7, "version": 2, "user_id": 5}))
    assert '<script type="module" src="/static/js/annotations.js"></script>' in html
    assert 'data-version="2"' in html and 'data-document-id="7"' in html
    for body in re.findall(r"<script\b[^>]*>(.*?)</script>", html, re.S):
        assert not body.strip(), "inline script"
    assert not re.search(r"\sstyle=", html), "inline style attribute"
    assert not re.search(r"\son[a-z]+=", html), "inline event handler"
