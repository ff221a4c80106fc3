"""A recalled document leaves every open screen at once: the room and each participant's own
sockets are told, nobody else."""

from __future__ import annotations

from cabinet.documents import service as documents
from cabinet.extensions import db
from tests.conftest import login
from tests.test_documents import published
from tests.test_socket import connect, fresh_context


def _received(sio, name):
    return [m["args"][0] for m in sio.get_received() if m["name"] == name]


def test_a_recall_reaches_the_participants_open_viewers_and_nobody_else(app, cabinet, meeting):
    document = published(cabinet["thuky"], meeting)
    sockets = {}
    for username in ("bt.tuphap", "bt.khac"):
        client = app.test_client()
        login(client, username)
        sockets[username] = connect(app, flask_test_client=client)
    staff_id, document_id, user_model = cabinet["thuky"].id, document.id, type(cabinet["thuky"])
    db.session.commit()
    with fresh_context(app):
        documents.recall(db.session.get(user_model, staff_id), document_id, "Sai số liệu")
    assert _received(sockets["bt.tuphap"], "document.recalled") == [
        {"meeting_id": meeting.id, "document_id": document_id}]
    assert _received(sockets["bt.khac"], "document.recalled") == []


def test_the_viewer_page_knows_which_document_it_shows(client, cabinet, meeting):
    document = published(cabinet["thuky"], meeting)
    login(client, "bt.tuphap")
    page = client.get(f"/documents/{document.id}").get_data(as_text=True)
    assert f'data-recall-watch="{document.id}"' in page and 'data-recall-keep="false"' in page
