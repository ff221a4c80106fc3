"""Schemathesis fuzzes every operation of the OpenAPI document (/api/v1/openapi.json), in process.

Each operation runs as the secretariat and as a member (the account operations also as an
administrator), each time on a throwaway app and database holding a small, realistic world: users of
every role, a meeting in preparation with its agenda, positions, documents and annotations, a meeting
held in the room with its draft minutes under review and a comment, another with its minutes signed
by the secretary and the chair, a room open with a vote in progress, and opinion ballots (a draft, an
issued one with an answer). The world is built once through the services, then its rows are copied
into each database. Path parameters mostly name its objects, so requests reach the services and not
only the 404 of an unknown id; each request carries a fresh token, so an operation that revokes
tokens (DELETE /auth/token, DELETE /users/{id}/tokens) does not silence the rest of the run.

Every answer must pass schemathesis's checks: no 5xx (``not_a_server_error``), a status the document
lists for the operation (``status_code_conformance``), the declared media type
(``content_type_conformance``, the PDF and DOCX downloads included), a body that fits the declared
schema (``response_schema_conformance``) and the declared headers (``response_headers_conformance``).

The run is bounded and reproducible: ``MAX_EXAMPLES`` per operation, no deadline, derandomized, no
example database. Schemathesis's coverage phase sends the invalid variants of every parameter and
field (wrong types, missing, unknown, out of bounds); its fuzzing phase sends valid requests, which
the hooks below bend now and then with the values that broke the API before (huge ids, digits that
``int`` refuses, NUL, the ends of the calendar).

Not covered: the stateful phase (the document declares no links), and the multipart uploads get
random bytes, never a valid PDF or DOCX (tests/test_api_documents.py and test_api_minutes.py upload
real ones).
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
import schemathesis
import sqlalchemy as sa
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from pypdf import PdfWriter

from cabinet.api.openapi import build_document
from cabinet.core.types import MAX_ID
from cabinet.extensions import db
from cabinet.signing import pki
from tests.conftest import ON_POSTGRES, PASSWORD

# A deeper run on a developer's machine: CABINET_FUZZ_EXAMPLES=200 (CI keeps the default).
MAX_EXAMPLES = int(os.environ.get("CABINET_FUZZ_EXAMPLES", "20"))
# Derandomized: the same requests on every run (CABINET_FUZZ_RANDOM=1 explores new ones).
DETERMINISTIC = not os.environ.get("CABINET_FUZZ_RANDOM")
SEED = 20_260_315
PASSPHRASE = "passphrase-123"

CONFIG = schemathesis.Config.from_dict({
    **({"seed": SEED} if DETERMINISTIC else {}),
    "generation": {
        "max-examples": MAX_EXAMPLES,
        "deterministic": DETERMINISTIC,  # Hypothesis's derandomize
        "database": "none",  # no replay of earlier failures from .hypothesis/
        "with-security-parameters": False,  # the caller's bearer token is sent instead
    },
    "phases": {
        # Methods an operation does not have answer 405 from Flask's router, not the API.
        "coverage": {"unexpected-methods": []},
        # The coverage phase already sends the invalid variants of every field and parameter (wrong
        # types, missing, unknown, out of bounds); the fuzzing phase sends valid requests, bent now
        # and then by the hooks below, so that they get past the schema into the services.
        "fuzzing": {"generation": {"mode": "positive"}},
        "stateful": {"enabled": False},
    },
})

# The document the app serves (tests/test_openapi.py checks it is the one at /api/v1/openapi.json;
# test_the_fuzzed_document_is_the_served_one below checks they are equal).
SCHEMA = schemathesis.openapi.from_dict(build_document(), config=CONFIG)

CHECKS = [schemathesis.checks.not_a_server_error, schemathesis.checks.status_code_conformance,
          schemathesis.checks.content_type_conformance, schemathesis.checks.response_schema_conformance,
          schemathesis.checks.response_headers_conformance]

# The ids of the world's objects, by path parameter name: set by the ``world`` fixture before the
# operation's test runs, read while Hypothesis draws the path parameters.
KNOWN: dict[str, list] = {}


@SCHEMA.hook
def flatmap_path_parameters(context, path_parameters):
    """Each path parameter names an object that exists three times in four (for the minutes and
    the room, a meeting that has them)."""
    if not path_parameters:
        return st.just(path_parameters)
    tags = context.operation.tags or []
    return st.fixed_dictionaries({name: _mostly_known(value, _known(name, tags))
                                  for name, value in path_parameters.items()})


def _mostly_known(value, known: list) -> st.SearchStrategy:
    if not known:
        return st.just(value)
    return st.integers(0, 3).flatmap(lambda n: st.just(value) if n == 0 else st.sampled_from(known))


def _known(name: str, tags: list[str]) -> list:
    return next((KNOWN[f"{tag}:{name}"] for tag in tags if f"{tag}:{name}" in KNOWN), KNOWN.get(name, []))


# Values that broke, or could break, a view or the database: ids past the INTEGER columns (PostgreSQL
# refuses them, SQLite cannot even bind past 2**63), digits ``int`` refuses although ``isdigit``
# accepts them, NUL (PostgreSQL cannot store it), times at the ends of the calendar, LIKE wildcards.
EDGE_INTS = [0, -1, MAX_ID + 1, 2**63, 10**20]
EDGE_STRINGS = ["", " ", "\x00", "²", "٣", "1e3", str(10**20), "%_\\'\"", "\u202egnp.exe",
                "9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00", "ﬀ" * 2000]
# Body and query fields that hold ids, and the objects they may name.
ID_FIELDS = {"user_id": "user_id", "deputy_id": "user_id", "decider_id": "user_id",
             "recipient_ids": "user_id", "user_ids": "user_id", "agenda_item_id": "item_id",
             "item_id": "item_id", "order": "item_id", "question_id": "question_id"}


def _now_and_then(value, *alternatives: list, odds: int = 3) -> st.SearchStrategy:
    """``value``, or one time in ``odds`` one of a list of ``alternatives`` (each list as likely)."""
    pools = [st.sampled_from(pool) for pool in alternatives if pool]
    return st.integers(1, odds).flatmap(lambda n: st.one_of(*pools) if n == 1 else st.just(value))


def _bend(value, key: str | None = None) -> st.SearchStrategy:
    """The generated ``value``, or now and then, anywhere inside it, an edge case of the same type
    or (for an id field) the id of an object of the world."""
    if isinstance(value, bool) or value is None:
        return st.just(value)
    if isinstance(value, int):
        return _now_and_then(value, EDGE_INTS, KNOWN.get(ID_FIELDS.get(key or ""), []), odds=2)
    if isinstance(value, str):
        return _now_and_then(value, EDGE_STRINGS)
    if isinstance(value, list):
        return st.tuples(*(_bend(item, key) for item in value)).map(list)
    if isinstance(value, dict):
        return st.fixed_dictionaries({name: _bend(item, name) for name, item in value.items()})
    return st.just(value)  # floats, the bytes of a file


@SCHEMA.hook
def flatmap_body(context, body):
    return _bend(body)


@SCHEMA.hook
def flatmap_query(context, query):
    return _bend(query)


# --- the world ------------------------------------------------------------------------------------


def _pdf(pages: int = 2) -> bytes:
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(595, 842)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


@dataclass
class World:
    app: object
    users: dict[str, int]
    ids: dict[str, list] = field(default_factory=dict)

    def token(self, username: str) -> str:
        """A fresh token for each request: operations that revoke tokens (DELETE /auth/token,
        DELETE /users/{id}/tokens, PATCH /users/{id}) must not silence the rest of the run."""
        from cabinet.auth import service as auth_service
        from cabinet.users.models import User

        with self.app.app_context():
            raw, _token = auth_service.issue_token(db.session.get(User, self.users[username]),
                                                   label="fuzz")
            return raw


def _make_user(username: str, *, role: str = "member", clearance: str = "none",
               full_name: str | None = None, title: str = "Bộ trưởng"):
    from cabinet.users import service as users_service

    return users_service.create_user(None, users_service.UserData(
        username=username, full_name=full_name or username, title=title, organisation="Chính phủ",
        role=role, clearance=clearance), PASSWORD)


def build_world(demo_pki) -> dict[str, list]:
    """Create the objects the fuzzer aims at; the ids by path parameter name."""
    from cabinet.annotations import service as annotations
    from cabinet.annotations.schemas import AnnotationCreate
    from cabinet.ballots import service as ballots
    from cabinet.documents import service as documents
    from cabinet.live import service as live
    from cabinet.meetings import service as meetings
    from cabinet.minutes import keys
    from cabinet.minutes import service as minutes
    from cabinet.minutes.models import MinutesSignature
    from tests.meeting_factories import held_meeting, room_meeting, schedule

    people = {
        "admin": _make_user("quantri", role="admin"),
        "thuky": _make_user("thuky", role="secretariat", clearance="tuyet_mat",
                           full_name="Trần Thị Thu Hà"),
        "pm": _make_user("thutuong", full_name="Phạm Quốc Hưng", title="Thủ tướng Chính phủ",
                        clearance="tuyet_mat"),
        "tuphap": _make_user("bt.tuphap", full_name="Phan Thị Ngọc Diệp"),
        "yte": _make_user("bt.yte", full_name="Tôn Nữ Thanh Thủy"),
        "guest": _make_user("khach", role="guest", full_name="Lâm Hữu Nghĩa"),
        "outsider": _make_user("bt.khac", full_name="Người Không Mời"),
    }
    thuky, pm, tuphap = people["thuky"], people["pm"], people["tuphap"]

    # A meeting in preparation: agenda, positions, a published and a draft document, annotations.
    coming = schedule(thuky, chair=pm, members=[tuphap, people["yte"]], secretaries=[thuky],
                      guests=[people["guest"]])
    items = [meetings.add_item(thuky, coming.id, meetings.AgendaItemData(title=title))
             for title in ("Dự án Luật Đất đai (sửa đổi)", "Báo cáo kinh tế - xã hội quý I")]
    meetings.record_position(tuphap, items[0].id, "comment", "Đề nghị làm rõ điều 12.")
    published = documents.upload_document(
        thuky, coming.id, title="Tờ trình dự án Luật", doc_type="to_trinh", secrecy="none",
        urgency="khan", agenda_item_id=items[0].id, stream=io.BytesIO(_pdf()), filename="to-trinh.pdf")
    documents.publish(thuky, published.id)
    draft = documents.upload_document(
        thuky, coming.id, title="Báo cáo thẩm định", doc_type="bao_cao_tham_dinh", secrecy="none",
        urgency="none", agenda_item_id=None, stream=io.BytesIO(_pdf(1)), filename="bao-cao.pdf")
    notes = []
    for n, (author, visibility) in enumerate(((tuphap, "meeting"), (thuky, "private")), start=1):
        note, _created = annotations.create_annotation(author, published.id, AnnotationCreate.model_validate({
            "id": f"{n:032x}", "kind": "note", "page": 1, "point": [0.25, 0.5],
            "body": "Xem lại số liệu.", "visibility": visibility}))
        notes.append(note.public_id)

    # A meeting held in the room (a closed vote, conclusions) with its draft minutes and a comment.
    held = held_meeting({k: people[k] for k in ("thuky", "pm", "tuphap", "yte", "guest")})
    drafted = minutes.start(thuky, held.id)
    minutes.request_review(thuky, drafted.id)
    comment = minutes.add_comment(tuphap, drafted.id, "Bổ sung ý kiến của Bộ Tư pháp.")

    # Another held meeting whose minutes are finalized and signed by the secretary and the chair.
    signed = held_meeting({k: people[k] for k in ("thuky", "pm", "tuphap", "yte", "guest")})
    final = minutes.start(thuky, signed.id)
    final = minutes.finalize(thuky, final.id, final.revision)
    for user in (thuky, pm):
        keys.upload(people["admin"], user.id, demo_pki.p12[user.username].read_bytes(), PASSPHRASE)
        minutes.sign(user, final.id, PASSPHRASE)
    signatures = list(db.session.scalars(sa.select(MinutesSignature.id).where(
        MinutesSignature.minutes_id == final.id)))

    # A room open now, with a vote in progress.
    room = room_meeting({k: people[k] for k in ("thuky", "pm", "tuphap", "yte", "guest")})
    for user in (pm, tuphap):
        live.check_in(user, room.id)
    live.open_meeting(pm, room.id)
    vote = live.open_vote(pm, room.id, question="Thông qua dự án Luật?")

    # Opinion ballots: a draft, and an issued one that a member answered.
    deadline = (held.starts_at + timedelta(days=30)).replace(microsecond=0)
    data = ballots.BallotData(title="Dự thảo Nghị định về quản lý đất đai", number="45/PLYK-VPCP",
                              questions=["Đồng ý thông qua dự thảo?"], decider_id=pm.id,
                              deadline=deadline)
    draft_ballot = ballots.create_ballot(thuky, data)
    issued = ballots.issue_ballot(thuky, ballots.create_ballot(thuky, data).id)
    ballots.submit_response(tuphap, issued.id, [ballots.AnswerData(issued.questions[0].id, "agree", "")],
                            password=PASSWORD)

    participants = [p.id for m in (coming, held, room, signed) for p in m.participants]
    db.session.commit()
    return {
        "meeting_id": [coming.id, held.id, room.id, signed.id],
        "minutes:meeting_id": [held.id, signed.id],
        "live meeting:meeting_id": [room.id, held.id, signed.id],
        "item_id": [i.id for i in items] + [i.id for i in held.agenda_items + room.agenda_items],
        "participant_id": participants,
        "document_id": [published.id, draft.id],
        "annotation_id": notes,
        "vote_id": [vote.id],
        "ballot_id": [draft_ballot.id, issued.id],
        "question_id": [q.id for b in (draft_ballot, issued) for q in b.questions],
        "user_id": [u.id for u in people.values()],
        "comment_id": [comment.id],
        "signature_id": signatures,
    }


# The world's rows, table by table, and its ids: built once through the services, then copied into
# each throwaway database (much faster than building it again for each of the operations).
SNAPSHOT: dict = {}


def _take_snapshot(ids: dict) -> None:
    SNAPSHOT["rows"] = {table.name: [dict(row) for row in db.session.execute(sa.select(table)).mappings()]
                        for table in db.metadata.sorted_tables}
    SNAPSHOT["ids"] = ids


def _restore_snapshot() -> dict:
    for table in db.metadata.sorted_tables:
        if SNAPSHOT["rows"][table.name]:
            db.session.execute(sa.insert(table), SNAPSHOT["rows"][table.name])
    if ON_POSTGRES:  # rows came with their ids: move each sequence past them
        for table in db.metadata.sorted_tables:
            if "id" in table.c and isinstance(table.c.id.type, sa.Integer) and table.c.id.autoincrement:
                next_id = (db.session.scalar(sa.select(sa.func.max(table.c.id))) or 0) + 1
                db.session.execute(sa.text("SELECT setval(pg_get_serial_sequence(:table, 'id'), :next, "
                                           "false)"), {"table": table.name, "next": next_id})
    db.session.commit()
    return SNAPSHOT["ids"]


@pytest.fixture(scope="session")
def fuzz_files(tmp_path_factory):
    """The stored files (content-addressed, so shared safely) of every world, and the demo PKI
    whose keys signed its minutes."""
    return (tmp_path_factory.mktemp("fuzz-blobs"),
            pki.create_demo_pki(tmp_path_factory.mktemp("fuzz-pki"), PASSPHRASE))


@pytest.fixture
def world(make_app, fuzz_files):
    """A throwaway app and its world, for one operation: what one operation changes (a cancelled
    meeting, a recalled document, a disabled account) cannot change what another one meets."""
    blobs, demo_pki = fuzz_files
    settings = {"CABINET_STORAGE_DIR": str(blobs), "CABINET_PKI_DIR": str(demo_pki.directory)}
    if ON_POSTGRES:  # a throwaway database need not wait for the disk at each commit
        settings["SQLALCHEMY_ENGINE_OPTIONS"] = {"pool_pre_ping": True, "connect_args": {
            "options": "-c synchronous_commit=off"}}
    app = make_app(**settings)
    with app.app_context():
        if SNAPSHOT:
            ids = _restore_snapshot()
        else:
            ids = build_world(demo_pki)
            _take_snapshot(ids)
    users = dict(zip(("quantri", "thuky", "thutuong", "bt.tuphap", "bt.yte", "khach", "bt.khac"),
                     ids["user_id"], strict=True))
    KNOWN.clear()
    KNOWN.update(ids)
    return World(app=app, users=users, ids=ids)


def _fuzz(case, world: World, username: str) -> None:
    case.call_and_validate(app=world.app, headers={"Authorization": f"Bearer {world.token(username)}"},
                           checks=CHECKS)


# --- the runs -------------------------------------------------------------------------------------


@SCHEMA.parametrize()
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.filter_too_much])
def test_fuzz_as_the_secretariat(case, world):
    _fuzz(case, world, "thuky")


@SCHEMA.parametrize()
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.filter_too_much])
def test_fuzz_as_a_member(case, world):
    _fuzz(case, world, "bt.tuphap")


ADMIN_SCHEMA = SCHEMA.include(tag="users")


@ADMIN_SCHEMA.parametrize()
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.filter_too_much])
def test_fuzz_the_accounts_as_an_administrator(case, world):
    _fuzz(case, world, "quantri")


def test_the_fuzzed_document_is_the_served_one(client):
    assert client.get("/api/v1/openapi.json").get_json() == build_document()


# --- what the fuzzer found, kept as plain tests (whatever Hypothesis draws next time) -------------


@pytest.mark.parametrize("method, url, body, status", [
    # SQLite cannot bind an integer past 2**63 (OverflowError); PostgreSQL refuses an OFFSET that large.
    ("GET", "/api/v1/ballots?page=9223372036854775808", None, 422),
    ("GET", "/api/v1/ballots?page=100000000000000000000", None, 422),
    ("GET", "/api/v1/ballots?page=0", None, 422),
    ("GET", "/api/v1/ballots?page=" + "9" * 5000, None, 422),  # int() refuses past 4300 digits
    # "²".isdigit() is True, int("²") raises ValueError.
    ("GET", "/api/v1/ballots/{ballot}/responses?user_id=%C2%B2", None, 422),
    ("GET", "/api/v1/ballots/{ballot}/responses?user_id=100000000000000000000", None, 422),
    ("GET", "/api/v1/meetings/{held}/minutes?version=%C2%B2", None, 422),
    ("GET", "/api/v1/meetings/{held}/minutes.pdf?version=%D9%A3", None, 422),
    ("POST", "/api/v1/meetings/{held}/minutes/comments", {"body": "Góp ý", "item_id": 10**20}, 422),
    # NUL inside a list of strings reached PostgreSQL, which cannot store it.
    ("POST", "/api/v1/ballots", {"title": "Dự thảo", "questions": ["\x00"]}, 422),
    ("POST", "/api/v1/meetings/{room}/votes", {"question": "Thông qua?", "options": ["A", "B\x00"]}, 422),
    # The NUL guard answers 400 for any operation: the document says so.
    ("GET", "/api/v1/meetings?from=%00", None, 400),
    ("GET", "/api/v1/me?x=%00", None, 400),
])
def test_edge_cases_the_fuzzer_found_are_refused_as_documented(world, method, url, body, status):
    from tests.test_api_meetings import check_documented

    held, room = world.ids["minutes:meeting_id"][0], world.ids["meeting_id"][2]
    url = url.format(ballot=world.ids["ballot_id"][1], held=held, room=room)
    document = build_document()
    with world.app.test_client() as client:
        response = client.open(url, method=method, json=body,
                               headers={"Authorization": f"Bearer {world.token('thuky')}"})
        assert response.status_code == status, response.get_data(as_text=True)
        check_documented(document, method, url, response)
