"""Live sync of annotations: the author's other devices, and the people an annotation is shared with,
hear of each change on their own socket room — and nobody else does, clearance included."""

from __future__ import annotations

import uuid

from cabinet.extensions import db, socketio
from tests import test_annotations as stories
from tests.conftest import csrf_token, login
from tests.test_annotations import note, pen
from tests.test_socket import connect, fresh_context

# The same cast and documents as tests/test_annotations.py.
people, meeting, doc, secret_doc = stories.people, stories.meeting, stories.doc, stories.secret_doc


def device(app, username):
    """A logged-in browser (its own test client) with its socket open."""
    client = app.test_client()
    login(client, username)
    sio = connect(app, flask_test_client=client)
    assert sio.is_connected()
    return client, sio


def events(sio, name: str) -> list[dict]:
    with fresh_context(sio.app):
        received = sio.get_received()
    return [message["args"][0] for message in received if message["name"] == name]


def drain(*sockets) -> None:
    for sio in sockets:
        with fresh_context(sio.app):
            sio.get_received()


def send(client, method, url, document, **kwargs):
    headers = {"X-CSRFToken": csrf_token(client, f"/documents/{document.id}"), "Accept": "application/json"}
    return client.open(url, method=method, headers=headers, **kwargs)


def test_the_authors_other_device_receives_each_change(app, people, doc):
    tablet, tablet_socket = device(app, "bt.tuphap")
    _laptop, laptop_socket = device(app, "bt.tuphap")
    _other, other_socket = device(app, "bt.congan")
    drain(tablet_socket, laptop_socket, other_socket)

    made = send(tablet, "POST", f"/documents/{doc.id}/annotations", doc, json=pen(id=uuid.uuid4().hex))
    assert made.status_code == 201
    aid = made.get_json()["annotation_id"]
    [saved] = events(laptop_socket, "annotation.saved")
    assert saved["document_id"] == doc.id
    assert saved["annotation"] == made.get_json()
    assert events(tablet_socket, "annotation.saved")  # every socket of the author, this one too
    assert events(other_socket, "annotation.saved") == [] and events(other_socket, "annotation.shared") == []

    send(tablet, "PATCH", f"/annotations/{aid}", doc, json={"colour": "green"})
    assert events(laptop_socket, "annotation.saved")[0]["annotation"]["colour"] == "green"

    assert send(tablet, "DELETE", f"/annotations/{aid}", doc).status_code == 204
    assert events(laptop_socket, "annotation.deleted") == [
        {"document_id": doc.id, "annotation_id": aid, "reason": "deleted"}]
    assert events(other_socket, "annotation.deleted") == []


def test_sharing_reaches_cleared_participants_only(app, people, secret_doc):
    author, author_socket = device(app, "thutuong")
    _c, cleared = device(app, "bt.congan")        # Tối mật clearance: may read the Mật document
    _u, uncleared = device(app, "bt.tuphap")      # a participant without clearance
    _o, outsider = device(app, "bt.khac")         # cleared, but not invited
    made = send(author, "POST", f"/documents/{secret_doc.id}/annotations", secret_doc,
                json=note("Số liệu mật, cần đối chiếu"))
    aid = made.get_json()["annotation_id"]
    drain(author_socket, cleared, uncleared, outsider)

    shared = send(author, "PUT", f"/annotations/{aid}/sharing", secret_doc, json={"visibility": "meeting"})
    assert shared.status_code == 200

    [message] = events(cleared, "annotation.shared")
    assert message["document_id"] == secret_doc.id
    assert message["annotation"]["annotation_id"] == aid
    assert message["annotation"]["mine"] is False and message["annotation"]["shared_with"] is None
    assert message["annotation"]["body"][0]["value"] == "Số liệu mật, cần đối chiếu"
    for sio in (uncleared, outsider):
        assert [m for m in sio.get_received() if m["name"].startswith("annotation.")] == []
    assert events(author_socket, "annotation.saved")[0]["annotation"]["visibility"] == "meeting"

    send(author, "PATCH", f"/annotations/{aid}", secret_doc, json={"body": "Đã đối chiếu"})
    assert events(cleared, "annotation.shared")[0]["annotation"]["body"][0]["value"] == "Đã đối chiếu"

    send(author, "PUT", f"/annotations/{aid}/sharing", secret_doc, json={"visibility": "private"})
    assert events(cleared, "annotation.deleted") == [
        {"document_id": secret_doc.id, "annotation_id": aid, "reason": "unshared"}]
    for sio in (uncleared, outsider):
        assert [m for m in sio.get_received() if m["name"].startswith("annotation.")] == []


def test_sharing_with_chosen_participants_reaches_them_alone(app, people, doc):
    author, _author_socket = device(app, "bt.tuphap")
    _c, chosen = device(app, "bt.congan")
    _p, not_chosen = device(app, "thutuong")
    made = send(author, "POST", f"/documents/{doc.id}/annotations", doc, json=note())
    aid = made.get_json()["annotation_id"]
    drain(chosen, not_chosen)

    send(author, "PUT", f"/annotations/{aid}/sharing", doc,
         json={"visibility": "participants", "user_ids": [people["congan"].id]})

    assert [m["annotation"]["annotation_id"] for m in events(chosen, "annotation.shared")] == [aid]
    assert events(not_chosen, "annotation.shared") == []

    send(author, "DELETE", f"/annotations/{aid}", doc)
    assert events(chosen, "annotation.deleted")[0]["reason"] == "deleted"
    assert events(not_chosen, "annotation.deleted") == []


def test_a_message_queue_outage_does_not_fail_the_change(app, people, doc, monkeypatch):
    author, _sio = device(app, "bt.tuphap")

    def broken(*_args, **_kwargs):
        raise ConnectionError("redis is down")

    monkeypatch.setattr(socketio, "emit", broken)
    made = send(author, "POST", f"/documents/{doc.id}/annotations", doc, json=note(visibility="meeting"))

    assert made.status_code == 201
    with app.app_context():
        from cabinet.annotations.models import Annotation

        assert db.session.query(Annotation).count() == 1
