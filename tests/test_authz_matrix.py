"""The authorisation matrix: every route of the application (pages and API) and every Socket.IO event,
tried by every kind of person, in one realistic world.

The people (DOMAIN D1, D2): ``anonymous`` (not logged in), ``member`` (a minister invited to the
meetings), ``outsider`` (a minister invited to none of them), ``guest`` (an invited official),
``secretariat`` (the Văn phòng, the meetings' secretary), ``admin`` and ``chair`` (the Prime Minister,
chairing). The world: an upcoming meeting with its agenda, positions, a deputy request and published
documents; a meeting in session in the live room with a vote open and speakers; a meeting held and
closed with its draft minutes; ballots (open, draft); annotations, notifications, tokens, keys.

Every endpoint has a rule in :data:`PAGES`, :data:`API` or :data:`SOCKET`. A route or event missing from
the table fails :func:`test_every_route_and_socket_event_is_classified`: a new route can never be left
unclassified. For a role the rule refuses, the answer must be 401, 403 or 404 — 404 where the rule says
the object's existence must not leak (``access.py``'s convention) — and the audit trail must not grow (no
state change). For a role the rule allows, the answer must not be 401, 403 or 404 (a 409 or 422 is fine:
the request got past the gate). Socket events are acknowledged with an error code for refused roles.

Renderers (WeasyPrint, python-docx) are replaced by stubs: the gates are under test, not the layout.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import func, select

from cabinet.audit.models import AuditEntry
from cabinet.extensions import db, socketio
from tests.conftest import PASSWORD, csrf_token, login
from tests.test_documents import blank_pdf

ROLES = ("anonymous", "member", "outsider", "guest", "secretariat", "admin", "chair")
USERNAMES = {"member": "bt.tuphap", "outsider": "bt.khac", "guest": "khach", "secretariat": "thuky",
             "admin": "quantri", "chair": "thutuong"}
LOGGED_IN = frozenset(ROLES) - {"anonymous"}


@dataclass(frozen=True)
class Rule:
    """Who may pass a gate. ``hidden``: refused roles that must get 404 (not 403), because they may
    not know the object exists."""

    name: str
    allowed: frozenset
    hidden: frozenset = frozenset()


def rule(name: str, allowed, hidden=()) -> Rule:
    return Rule(name, frozenset(allowed), frozenset(hidden))


PUBLIC = rule("public", ROLES)
LOGIN = rule("any logged-in user", LOGGED_IN)
ADMIN = rule("administrators", {"admin"})
STAFF = rule("secretariat (and administrators)", {"secretariat", "admin"})
# The meeting and what belongs to it: its participants and the staff; others do not know it exists.
MEETING = rule("who may see the meeting", {"member", "guest", "secretariat", "admin", "chair"}, {"outsider"})
PARTICIPANT = rule("the meeting's participants", {"member", "guest", "secretariat", "chair"}, {"outsider"})
VOTER = rule("the meeting's voting members", {"member", "chair"}, {"outsider"})
CHAIR = rule("the meeting's chair", {"chair"}, {"outsider"})
CHAIR_STAFF = rule("the chair or the secretariat", {"chair", "secretariat", "admin"}, {"outsider"})
STAFF_HIDDEN = rule("secretariat; the object is hidden from others", {"secretariat", "admin"},
                    {"member", "outsider", "guest", "chair"})
# A ballot is seen by the staff, its recipients and its decider (the PM), never by others.
BALLOT = rule("the ballot's recipients, decider and the staff", {"member", "chair", "secretariat", "admin"},
              {"outsider", "guest"})
RECIPIENT = rule("the ballot's recipients", {"member", "chair"}, {"outsider", "guest"})
RESULT = rule("the ballot's decider and the staff", {"chair", "secretariat", "admin"}, {"outsider", "guest"})
DECIDER = rule("the ballot's decider", {"chair"}, {"outsider", "guest"})
# Draft minutes (review not requested): their editors (staff) and signatories (chair, secretary).
MINUTES = rule("the draft minutes' editors and signatories", {"chair", "secretariat", "admin"},
               {"outsider", "member", "guest"})
EDITOR = rule("the minutes' editors", {"secretariat", "admin"}, {"outsider", "member", "guest"})
# The same, for a meeting-level action (the participants know the meeting, and are told no).
MEETING_EDITOR = rule("the minutes' editors", {"secretariat", "admin"}, {"outsider"})
SIGNATORY = rule("the minutes' signatories", {"chair", "secretariat"}, {"outsider", "member", "guest"})
# The member's own things (a private annotation, a notification, a token): nobody else sees them.
MEMBER_OWN = rule("the member (owner) alone", {"member"}, LOGGED_IN - {"member"})
SPEAKER_OWN = rule("the speaker or the chair/secretariat", {"member", "chair", "secretariat", "admin"},
                   {"outsider"})
REQUEST_OWN = rule("the requester or the chair/secretariat", {"guest", "chair", "secretariat", "admin"},
                   {"outsider"})
# D14: a classified document is read by those invited *and* cleared (the chair and the secretary are).
CLEARED = rule("invited and cleared for the level", {"chair", "secretariat"}, {"outsider"})
# D14: a recalled document is for the secretariat only.
RECALLED = rule("the secretariat (recalled)", {"secretariat", "admin"}, {"outsider"})
# Ids that do not belong together (a file of another ballot, a deputy of another meeting…).
NOBODY = rule("nobody: the ids do not belong together", set(), {"outsider"})
# Prometheus only, with CABINET_METRICS_TOKEN (unset here): no login opens it, and it answers 404.
METRICS_ONLY = rule("Prometheus with the metrics token, never a user", set(), ROLES)


@dataclass
class Case:
    """One request: ``path`` and ``body`` are formatted with the world's ids (``{meeting}``…)."""

    endpoint: str
    method: str
    path: str
    rule: Rule
    body: dict | None = None
    kind: str = "form"  # form | json | multipart
    phase: int = 1  # reads (0) first, then changes (1), then destructive ones (2), session enders (3)
    fresh: bool = False  # run on a new session / token of the same person (it logs out or revokes)

    def __post_init__(self):
        if self.method == "GET" and self.phase == 1:
            self.phase = 0


def G(endpoint, path, rule_, **kw) -> Case:
    return Case(endpoint, "GET", path, rule_, **kw)


def P(endpoint, path, rule_, body=None, **kw) -> Case:
    return Case(endpoint, "POST", path, rule_, body or {}, **kw)


PDF_FILE = ("file", "to-trinh.pdf")  # marker: a small PDF part

# --- the pages ---------------------------------------------------------------------------------------

PAGES: list[Case] = [
    G("static", "/static/css/app.css", PUBLIC),
    G("health.healthz", "/healthz", PUBLIC),
    G("health.readyz", "/readyz", PUBLIC),
    # The installable app (cabinet/offline): nothing personal in them; browsers fetch the manifest
    # without cookies.
    G("offline.service_worker", "/sw.js", PUBLIC),
    G("offline.manifest", "/manifest.webmanifest", PUBLIC),
    G("offline.fallback", "/offline", PUBLIC),
    G("metrics.metrics", "/metrics", METRICS_ONLY),
    G("main.home", "/", LOGIN),
    G("main.search", "/search?q=Lu%E1%BA%ADt", LOGIN),
    P("main.set_language", "/language/en", PUBLIC, {"next": "/"}, fresh=True),
    G("auth.login", "/login", PUBLIC),
    P("auth.login", "/login", PUBLIC, {"username": "bt.khac", "password": PASSWORD}, fresh=True),
    G("auth.verify", "/login/verify", PUBLIC, fresh=True),
    P("auth.verify", "/login/verify", PUBLIC, {"code": "123456"}, fresh=True),
    P("auth.logout", "/logout", LOGIN, phase=3, fresh=True),
    # the user's own devices (browser sessions): another person's is not found
    P("auth.revoke_session", "/account/sessions/{own_session}/revoke", LOGIN),
    P("auth.revoke_session", "/account/sessions/{member_session}/revoke", MEMBER_OWN),
    P("auth.revoke_other_sessions", "/account/sessions/revoke-others", LOGIN, phase=3, fresh=True),
    # the user's own account
    G("account.index", "/account/", LOGIN),
    G("account.password", "/account/password", LOGIN),
    P("account.password", "/account/password", LOGIN,
      {"current_password": PASSWORD, "new_password": "short", "confirm": "short"}),
    G("account.totp", "/account/two-step", LOGIN),
    P("account.totp", "/account/two-step", LOGIN, {"code": "000000"}),
    P("account.totp_disable", "/account/two-step/disable", LOGIN, {"password": PASSWORD, "code": "000000"}),
    P("account.revoke_token", "/account/tokens/{own_token}/revoke", LOGIN),
    P("account.revoke_token", "/account/tokens/{member_token}/revoke", MEMBER_OWN),
    # administration
    G("users.index", "/admin/users/", ADMIN),
    G("users.create", "/admin/users/new", ADMIN),
    P("users.create", "/admin/users/new", ADMIN,
      {"username": "bt.moi", "full_name": "Bộ trưởng Mới", "role": "member", "clearance": "none",
       "locale": "", "password": "a-long-initial-passphrase", "must_change_password": "y"}),
    G("users.edit", "/admin/users/{target_user}", ADMIN),
    P("users.edit", "/admin/users/{target_user}", ADMIN,
      {"full_name": "Thứ trưởng Tư pháp", "title": "Thứ trưởng", "organisation": "Bộ Tư pháp",
       "role": "member", "clearance": "none", "locale": ""}),
    P("users.disable", "/admin/users/{target_user}/disable", ADMIN),
    P("users.enable", "/admin/users/{target_user}/enable", ADMIN, phase=2),
    P("users.reset_password", "/admin/users/{target_user}/reset-password", ADMIN),
    P("users.unlock", "/admin/users/{target_user}/unlock", ADMIN),
    G("audit.index", "/admin/audit/", ADMIN),
    P("audit.verify", "/admin/audit/verify", ADMIN),
    G("minutes.signing_keys", "/admin/signing-keys", ADMIN),
    P("minutes.upload_key", "/admin/signing-keys", ADMIN,
      {"key-user": "{pm}", "key-passphrase": "x", "key-file": ("not a key", "key.p12")}, kind="multipart"),
    P("minutes.revoke_key", "/admin/signing-keys/{key}/revoke", ADMIN),
    # meetings
    G("meetings.index", "/meetings/", LOGIN),
    G("meetings.create", "/meetings/new", STAFF),
    P("meetings.create", "/meetings/new", STAFF,
      {"kind": "regular", "title": "Phiên họp chuyên đề", "day": "{day}", "start": "08:00", "end": "11:00",
       "chair": "{pm}", "members": ["{tuphap}", "{yte}"], "secretaries": ["{thuky}"]}),
    G("meetings.view", "/meetings/{meeting}", MEETING),
    G("meetings.edit", "/meetings/{meeting}/edit", STAFF),
    P("meetings.edit", "/meetings/{meeting}/edit", STAFF,
      {"kind": "regular", "title": "Phiên họp Chính phủ thường kỳ", "day": "{day}", "start": "08:00",
       "end": "11:00", "place": "Phòng họp", "chair": "{pm}", "members": ["{tuphap}", "{yte}"],
       "secretaries": ["{thuky}"], "guests": ["{guest}"]}),
    P("meetings.cancel", "/meetings/{spare_meeting}/cancel", STAFF, {"reason": "Hoãn"}, phase=2),
    P("meetings.respond", "/meetings/{meeting}/respond", PARTICIPANT, {"answer": "yes", "deputy": "0"}),
    P("meetings.mark_attendance", "/meetings/{meeting}/attendance/{yte}", STAFF, {"attendance": "absent"}),
    P("meetings.decide_deputy", "/meetings/{meeting}/deputies/{participant}", CHAIR_STAFF,
      {"decision": "approve"}),
    P("meetings.decide_deputy", "/meetings/{spare_meeting}/deputies/{participant}", NOBODY,
      {"decision": "approve"}),
    P("meetings.agenda_add", "/meetings/{meeting}/agenda", STAFF,
      {"item-title": "Báo cáo tình hình kinh tế - xã hội", "item-minutes": "20"}),
    G("meetings.agenda_edit", "/agenda/{item}/edit", STAFF),
    P("meetings.agenda_edit", "/agenda/{item}/edit", STAFF,
      {"title": "Dự án Luật Đất đai (sửa đổi)", "minutes": "30", "status": "planned", "conclusion": ""}),
    P("meetings.agenda_remove", "/agenda/{spare_item_page}/remove", STAFF, phase=2),
    P("meetings.agenda_move", "/agenda/{item2}/move", STAFF, {"direction": "up"}),
    Case("meetings.agenda_reorder", "POST", "/meetings/{meeting}/agenda/reorder", STAFF,
         {"order": "{agenda_order}"}, kind="json"),
    P("meetings.agenda_approve", "/meetings/{meeting}/agenda/approve", CHAIR),
    P("meetings.positions", "/meetings/{meeting}/positions", VOTER, {"stance-{item}": "agree"}),
    G("meetings.board", "/meetings/{meeting}/board", CHAIR_STAFF),
    P("meetings.consent", "/agenda/{item2}/consent", CHAIR_STAFF, {"value": "1"}),
    G("meetings.calendar_page", "/calendar", LOGIN),
    P("meetings.calendar_renew", "/calendar/feed", LOGIN),
    G("meetings.calendar_feed", "/calendar/feed/{feed_token}.ics", PUBLIC),  # the token is the key
    # documents
    G("documents.new", "/meetings/{meeting}/documents/new", STAFF),
    P("documents.new", "/meetings/{meeting}/documents/new", STAFF,
      {"title": "Báo cáo thẩm định", "doc_type": "bao_cao", "secrecy": "none", "urgency": "none",
       "agenda_item_id": "", "file": PDF_FILE}, kind="multipart"),
    G("documents.view", "/documents/{doc}", MEETING),
    G("documents.content", "/documents/{doc}/content", MEETING),
    G("offline.meeting_list", "/meetings/{meeting}/offline", MEETING),  # what a tablet may keep
    G("documents.download", "/documents/{doc}/download", MEETING),
    G("documents.view", "/documents/{draft_doc}", STAFF_HIDDEN),  # a draft: the secretariat's only
    G("documents.view", "/documents/{classified_doc}", CLEARED),
    G("documents.content", "/documents/{classified_doc}/content", CLEARED),
    G("documents.download", "/documents/{recalled_doc}/download", RECALLED),
    P("documents.add_version", "/documents/{doc}/versions", STAFF, {"file": PDF_FILE}, kind="multipart"),
    P("documents.publish", "/documents/{draft_doc}/publish", STAFF),
    P("documents.recall", "/documents/{recall_doc}/recall", STAFF, {"reason": "Thu hồi"}, phase=2),
    P("documents.publish_meeting", "/meetings/{meeting}/documents/publish", STAFF, {"agenda_item_id": ""}),
    # annotations (the viewer's session routes)
    G("annotations.list_json", "/documents/{doc}/annotations", MEETING),
    Case("annotations.create_json", "POST", "/documents/{doc}/annotations", MEETING,
         {"kind": "note", "page": 1, "point": [0.5, 0.5], "body": "Ghi chú"}, kind="json"),
    G("annotations.get_json", "/annotations/{annotation}", MEMBER_OWN),
    Case("annotations.update_json", "PATCH", "/annotations/{annotation}", MEMBER_OWN, {"body": "Sửa"},
         kind="json"),
    Case("annotations.share_json", "PUT", "/annotations/{annotation}/sharing", MEMBER_OWN,
         {"visibility": "private", "user_ids": []}, kind="json"),
    Case("annotations.delete_json", "DELETE", "/annotations/{spare_annotation_page}", MEMBER_OWN, kind="json",
         phase=2),
    G("annotations.shared_page", "/documents/{doc}/annotations/shared", STAFF),
    # the live room
    G("live.room", "/meetings/{room}/live", MEETING),
    G("live.projector", "/meetings/{room}/projector", MEETING),
    # notifications
    G("notifications.index", "/notifications", LOGIN),
    G("notifications.unread_count", "/notifications/unread-count", LOGIN),
    P("notifications.read", "/notifications/{own_notification}/read", LOGIN),
    P("notifications.read", "/notifications/{member_notification}/read", MEMBER_OWN),
    P("notifications.read_all", "/notifications/read-all", LOGIN),
    G("notifications.latest", "/notifications/latest", LOGIN),
    G("account.notification_preferences", "/account/notifications", LOGIN),
    P("account.notification_preferences", "/account/notifications", LOGIN, {"meetings": "y", "ballots": "y"}),
    # ballots
    G("ballots.index", "/ballots", LOGIN),
    G("ballots.create", "/ballots/new", STAFF),
    P("ballots.create", "/ballots/new", STAFF,
      {"title": "Xin ý kiến về dự thảo Nghị quyết", "questions-0": "Đồng ý thông qua?",
       "recipients": ["{pm}", "{tuphap}"], "no_answer_policy": "disagree", "decider": "{pm}"}),
    G("ballots.view", "/ballots/{ballot}", BALLOT),
    G("ballots.view", "/ballots/{draft_ballot}", STAFF_HIDDEN),  # a draft: not even its recipients
    G("ballots.edit", "/ballots/{draft_ballot}/edit", STAFF),
    P("ballots.edit", "/ballots/{draft_ballot}/edit", STAFF,
      {"title": "Dự thảo Nghị định", "questions-0": "Đồng ý?", "recipients": ["{pm}", "{tuphap}", "{yte}"],
       "no_answer_policy": "disagree", "decider": "{pm}"}),
    P("ballots.add_document", "/ballots/{draft_ballot}/documents", STAFF,
      {"doc-title": "Tờ trình", "doc-doc_type": "to_trinh", "doc-secrecy": "none", "doc-file": PDF_FILE},
      kind="multipart"),
    G("ballots.document", "/ballots/{ballot}/documents/{ballot_doc}", BALLOT),
    G("ballots.document_content", "/ballots/{ballot}/documents/{ballot_doc}/content", BALLOT),
    G("ballots.document_content", "/ballots/{ballot}/documents/{draft_ballot_doc}/content", NOBODY),
    P("ballots.remove_document", "/ballots/{draft_ballot}/documents/{draft_ballot_doc}/delete", STAFF,
      phase=2),
    P("ballots.issue", "/ballots/{draft_ballot}/issue", STAFF, {"confirm": "yes"}, phase=2),
    P("ballots.recall", "/ballots/{recall_ballot}/recall", STAFF, {"recall-reason": "Thu hồi"}, phase=2),
    P("ballots.close", "/ballots/{ballot}/close", STAFF, phase=2),
    P("ballots.answer", "/ballots/{ballot}/answer", RECIPIENT,
      {"choice-{q1}": "agree", "choice-{q2}": "agree", "sign-password": PASSWORD}),
    P("ballots.paper_answer", "/ballots/{ballot}/paper-answer", STAFF,
      {"paper-respondent": "{yte}", "paper-choice-{q1}": "agree", "paper-choice-{q2}": "disagree"}),
    P("ballots.decide", "/ballots/{ballot}/decision", DECIDER, {"decision-decision": "Đồng ý ban hành"}),
    G("ballots.report_pdf", "/ballots/{ballot}/report.pdf", RESULT),
    G("ballots.report_docx", "/ballots/{ballot}/report.docx", RESULT),
    G("ballots.form_pdf", "/ballots/{ballot}/form.pdf", STAFF),
    # minutes
    G("minutes.page", "/meetings/{held}/minutes", MEETING),
    P("minutes.start", "/meetings/{room}/minutes/start", MEETING_EDITOR),
    P("minutes.save", "/minutes/{minutes}/save", EDITOR,
      {"revision": "{minutes_revision}", "number": "", "secrecy": "none", "opening_html": "<p>Mở đầu</p>",
       "closing_html": ""}),
    Case("minutes.autosave", "PUT", "/minutes/{minutes}/draft", EDITOR,
         {"revision": "{minutes_revision}", "opening_html": "<p>Mở đầu</p>"}, kind="json"),
    P("minutes.refresh", "/minutes/{minutes}/refresh", EDITOR),
    P("minutes.request_review", "/minutes/{minutes}/review", EDITOR, phase=2),
    P("minutes.finalize", "/minutes/{minutes}/finalize", EDITOR, {"revision": "999", "confirm": "yes"}),
    P("minutes.reopen", "/minutes/{minutes}/reopen", EDITOR),
    P("minutes.add_comment", "/minutes/{minutes}/comments", MINUTES, {"body": "Đề nghị sửa đoạn 2"}),
    P("minutes.resolve_comment", "/minutes/comments/{comment}/resolve", EDITOR),
    P("minutes.sign", "/minutes/{minutes}/sign", SIGNATORY, {"sign-passphrase": "x"}),
    P("minutes.seal", "/minutes/{minutes}/seal", EDITOR),
    P("minutes.new_version", "/meetings/{held}/minutes/versions", MEETING_EDITOR,
      {"fix-reason": "Sửa lỗi chính tả"}),
    G("minutes.download", "/minutes/{minutes}/minutes.pdf", MINUTES),
    G("minutes.download", "/minutes/{minutes}/notice.docx", MINUTES),
    G("minutes.signed_file", "/minutes/signed/{signature}.pdf", MINUTES),
    G("minutes.verify", "/minutes/verify", LOGIN),
    P("minutes.verify", "/minutes/verify", LOGIN, {"file": PDF_FILE}, kind="multipart"),
]

# --- the JSON API (bearer tokens) ------------------------------------------------------------------


def A(method, path, rule_, body=None, **kw) -> Case:
    return Case(f"api:{method} {path}", method, "/api/v1" + path, rule_, body,
                kind=kw.pop("kind", "json"), **kw)


MEETING_BODY = {"title": "Phiên họp chuyên đề xây dựng pháp luật", "starts_at": "{starts_at}",
                "ends_at": "{ends_at}", "participants": [{"user_id": "{pm}", "role": "chair"},
                                                         {"user_id": "{tuphap}", "role": "member"}]}

API: list[Case] = [
    A("GET", "/openapi.json", PUBLIC),
    A("POST", "/auth/token", PUBLIC, {"username": "bt.khac", "password": PASSWORD}),
    A("DELETE", "/auth/token", LOGIN, phase=3, fresh=True),
    A("GET", "/me", LOGIN),
    A("POST", "/me/password", LOGIN, {"current_password": PASSWORD, "new_password": "short"}),
    A("GET", "/users", ADMIN),
    A("POST", "/users", ADMIN, {"username": "bt.api", "full_name": "Bộ trưởng API",
                                "password": "a-long-initial-passphrase"}),
    A("GET", "/users/{target_user}", ADMIN),
    A("PATCH", "/users/{target_user}", ADMIN, {"title": "Thứ trưởng thường trực"}),
    A("DELETE", "/users/{target_user}/tokens", ADMIN),
    # meetings
    A("GET", "/meetings", LOGIN),
    A("POST", "/meetings", STAFF, MEETING_BODY),
    A("GET", "/meetings/{meeting}", MEETING),
    A("PATCH", "/meetings/{meeting}", STAFF, {"place": "Phòng họp số 2"}),
    A("POST", "/meetings/{spare_meeting}/cancel", STAFF, {"reason": "Hoãn"}, phase=2),
    A("GET", "/meetings/{meeting}/participants", MEETING),
    A("POST", "/meetings/{meeting}/attendance", PARTICIPANT, {"attending": True}),
    A("POST", "/meetings/{meeting}/participants/{participant}/deputy", CHAIR_STAFF, {"approve": True}),
    A("GET", "/meetings/{meeting}/agenda-items", MEETING),
    A("POST", "/meetings/{meeting}/agenda-items", STAFF, {"title": "Báo cáo công tác phòng chống thiên tai"}),
    A("GET", "/agenda-items/{item}", MEETING),
    A("PATCH", "/agenda-items/{item}", STAFF, {"minutes": 25}),
    A("DELETE", "/agenda-items/{spare_item_api}", STAFF, phase=2),
    A("POST", "/meetings/{meeting}/agenda-items/reorder", STAFF, {"order": "{agenda_order}"}),
    A("POST", "/meetings/{meeting}/agenda/approve", CHAIR),
    A("GET", "/agenda-items/{item}/positions", MEETING),
    A("PUT", "/agenda-items/{item}/positions", VOTER, {"stance": "debate"}),
    A("POST", "/agenda-items/{item2}/consent", CHAIR_STAFF, {"passes_without_debate": True}),
    # documents
    A("POST", "/meetings/{meeting}/documents", STAFF,
      {"title": "Báo cáo", "doc_type": "bao_cao", "secrecy": "none", "urgency": "none", "file": PDF_FILE},
      kind="multipart"),
    A("GET", "/meetings/{meeting}/documents", MEETING),
    A("GET", "/documents/{doc}", MEETING),
    A("GET", "/documents/{doc}/content", MEETING),
    A("GET", "/documents/{draft_doc}", STAFF_HIDDEN),
    A("GET", "/documents/{classified_doc}/content", CLEARED),
    A("GET", "/documents/{recalled_doc}/content", RECALLED),
    A("POST", "/documents/{draft_doc}/publish", STAFF),
    A("POST", "/documents/{recall_doc_api}/recall", STAFF, {"reason": "Thu hồi"}, phase=2),
    # annotations
    A("GET", "/documents/{doc}/annotations", MEETING),
    A("POST", "/documents/{doc}/annotations", MEETING, {"kind": "note", "page": 1, "point": [0.4, 0.4],
                                                       "body": "Ghi chú"}),
    A("GET", "/annotations/{annotation}", MEMBER_OWN),
    A("PATCH", "/annotations/{annotation}", MEMBER_OWN, {"body": "Sửa lại"}),
    A("PUT", "/annotations/{annotation}/sharing", MEMBER_OWN, {"visibility": "private", "user_ids": []}),
    A("DELETE", "/annotations/{spare_annotation_api}", MEMBER_OWN, phase=2),
    # the live room
    A("GET", "/meetings/{room}/votes", MEETING),
    A("POST", "/meetings/{room}/votes", CHAIR_STAFF, {"question": "Thông qua Nghị quyết?"}),
    A("GET", "/votes/{vote}", MEETING),
    A("POST", "/votes/{vote}/cast", VOTER, {"choice": "for"}),
    A("POST", "/votes/{vote}/close", CHAIR_STAFF, phase=2),
    A("GET", "/meetings/{room}/attendance", MEETING),
    A("POST", "/meetings/{room}/check-ins", PARTICIPANT, {"present": True}),
    A("POST", "/meetings/{room}/check-ins", CHAIR_STAFF, {"user_id": "{yte}", "present": True}),
    # ballots
    A("GET", "/ballots", LOGIN),
    A("POST", "/ballots", STAFF, {"title": "Xin ý kiến", "questions": ["Đồng ý?"],
                                  "recipient_ids": ["{pm}", "{tuphap}"]}),
    A("GET", "/ballots/{ballot}", BALLOT),
    A("GET", "/ballots/{draft_ballot}", STAFF_HIDDEN),
    A("PATCH", "/ballots/{draft_ballot}", STAFF, {"summary": "Tóm tắt"}),
    A("POST", "/ballots/{draft_ballot}/issue", STAFF, phase=2),
    A("POST", "/ballots/{recall_ballot_api}/recall", STAFF, {"reason": "Thu hồi"}, phase=2),
    A("POST", "/ballots/{ballot}/close", STAFF, phase=2),
    A("GET", "/ballots/{ballot}/responses", BALLOT),
    A("POST", "/ballots/{ballot}/responses", RECIPIENT,
      {"answers": [{"question_id": "{q1}", "choice": "agree"}, {"question_id": "{q2}", "choice": "other",
                                                                "comment": "Cần bổ sung"}],
       "password": PASSWORD}),
    A("GET", "/ballots/{ballot}/result", RESULT),
    A("POST", "/ballots/{ballot}/decision", DECIDER, {"decision": "Đồng ý ban hành"}),
    A("GET", "/ballots/{ballot}/report.pdf", RESULT),
    A("GET", "/ballots/{ballot}/report.docx", RESULT),
    A("GET", "/ballots/{ballot}/form.pdf", BALLOT),
    # minutes
    A("GET", "/meetings/{held}/minutes", MINUTES),
    A("POST", "/meetings/{room}/minutes", MEETING_EDITOR),
    A("PUT", "/meetings/{held}/minutes", EDITOR,
      {"revision": "{minutes_revision}", "closing_html": "<p>Hết</p>"}),
    A("POST", "/meetings/{held}/minutes/refresh", EDITOR),
    A("POST", "/meetings/{held}/minutes/review", EDITOR, phase=2),
    A("POST", "/meetings/{held}/minutes/finalize", EDITOR, {"revision": 999}),
    A("POST", "/meetings/{held}/minutes/reopen", EDITOR),
    A("POST", "/meetings/{held}/minutes/sign", SIGNATORY, {"passphrase": "x"}),
    A("GET", "/meetings/{held}/minutes/comments", MINUTES),
    A("POST", "/meetings/{held}/minutes/comments", MINUTES, {"body": "Đề nghị bổ sung"}),
    A("POST", "/minutes-comments/{comment}/resolve", EDITOR),
    A("GET", "/meetings/{held}/minutes/versions", MEETING),
    A("POST", "/meetings/{held}/minutes/versions", MEETING_EDITOR, {"reason": "Sửa lỗi"}),
    A("GET", "/meetings/{held}/minutes.pdf", MINUTES),
    A("GET", "/meetings/{held}/minutes.docx", MINUTES),
    A("GET", "/meetings/{held}/conclusions.pdf", MINUTES),
    A("GET", "/meetings/{held}/conclusions.docx", MINUTES),
    A("GET", "/minutes-signatures/{signature}.pdf", MINUTES),
    A("POST", "/verify", LOGIN, {"file": PDF_FILE}, kind="multipart"),
    # notifications
    A("GET", "/notifications", LOGIN),
    A("POST", "/notifications/{own_notification}/read", LOGIN),
    A("POST", "/notifications/{member_notification}/read", MEMBER_OWN),
]


# --- Socket.IO events (the room meeting is open; the member has the floor, the guest waits) ----------


@dataclass
class SocketCase:
    event: str
    payload: dict
    rule: Rule
    phase: int = 1


SOCKET: list[SocketCase] = [
    SocketCase("session.whoami", {}, LOGIN, 0),
    SocketCase("meeting.join", {"meeting_id": "{room}"}, MEETING, 0),
    SocketCase("meeting.state", {"meeting_id": "{room}"}, MEETING, 0),
    SocketCase("meeting.leave", {"meeting_id": "{room}"}, LOGIN, 0),  # leaves one's own room only
    SocketCase("ballot.watch", {"ballot_id": "{ballot}"}, RESULT, 0),
    SocketCase("ballot.unwatch", {"ballot_id": "{ballot}"}, LOGIN, 0),
    SocketCase("meeting.open", {"meeting_id": "{room}"}, CHAIR_STAFF),
    SocketCase("attendance.check_in", {"meeting_id": "{room}"}, PARTICIPANT),
    SocketCase("attendance.check_in", {"meeting_id": "{room}", "user_id": "{yte}"}, CHAIR_STAFF),
    SocketCase("agenda.set_current", {"meeting_id": "{room}", "item_id": "{room_item}"}, CHAIR_STAFF),
    SocketCase("agenda.conclude", {"meeting_id": "{room}", "item_id": "{room_item}",
                                   "conclusion": "Thống nhất"}, CHAIR_STAFF),
    SocketCase("agenda.defer", {"meeting_id": "{room}", "item_id": "{room_item2}"}, CHAIR_STAFF),
    SocketCase("speaker.request", {"meeting_id": "{room}"}, PARTICIPANT),
    SocketCase("vote.open", {"meeting_id": "{room}", "question": "Biểu quyết?"}, CHAIR_STAFF),
    SocketCase("vote.cast", {"vote_id": "{vote}", "choice": "for"}, VOTER),
    SocketCase("agenda.conclude", {"meeting_id": "{room}", "item_id": "{item}", "conclusion": "?"}, NOBODY),
    SocketCase("speaker.give_floor", {"meeting_id": "{room}", "request_id": "{chair_request}"},
               CHAIR_STAFF, 2),
    SocketCase("speaker.withdraw", {"meeting_id": "{room}", "request_id": "{waiting_request}"},
               REQUEST_OWN, 2),
    SocketCase("speaker.end", {"meeting_id": "{room}"}, SPEAKER_OWN, 2),
    SocketCase("vote.close", {"vote_id": "{vote}"}, CHAIR_STAFF, 3),
    SocketCase("meeting.close", {"meeting_id": "{room}"}, CHAIR_STAFF, 4),
]

DENIED_SOCKET_CODES = {"unauthenticated", "forbidden", "not_found", "not_a_voter", "not_recipient"}


# --- coverage -------------------------------------------------------------------------------------------


def _placeholders(path: str) -> str:
    """A path with its variable parts named alike: ``/meetings/<int:meeting_id>`` (a rule) and
    ``/meetings/{meeting}`` (a case) both become ``/meetings/<id>``."""
    return re.sub(r"<[^>]+>|\{[a-z_0-9]+\}", "<id>", path)


def classified_routes() -> set[tuple[str, str]]:
    """(endpoint, method) for the pages, ("api <path>", method) for the API: what the table covers."""
    keys = {(case.endpoint, case.method) for case in PAGES}
    keys |= {(f"api {_placeholders(case.path)}", case.method) for case in API}
    return keys


def routes_of(app) -> set[tuple[str, str]]:
    keys = set()
    for rule_ in app.url_map.iter_rules():
        for method in (rule_.methods or set()) - {"HEAD", "OPTIONS"}:
            if rule_.endpoint.startswith("api."):
                keys.add((f"api {_placeholders(rule_.rule)}", method))
            else:
                keys.add((rule_.endpoint, method))
    return keys


def test_every_route_and_socket_event_is_classified(app):
    routes, table = routes_of(app), classified_routes()
    missing = sorted(routes - table)
    assert not missing, (
        "These routes have no rule in tests/test_authz_matrix.py: add each to PAGES or API with who may "
        f"call it (and a plausible request), so that its gate is tested for every role: {missing}")
    stale = sorted(table - routes)
    assert not stale, f"These entries of the matrix match no route any more: {stale}"

    handlers = set(socketio.server.handlers["/"]) - {"connect", "disconnect"}
    events = {case.event for case in SOCKET}
    assert not handlers - events, (
        "These Socket.IO events have no rule in tests/test_authz_matrix.py: add each to SOCKET with who "
        f"may send it: {sorted(handlers - events)}")
    assert not events - handlers, f"Entries for events that no longer exist: {sorted(events - handlers)}"


# --- the world ------------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def stub_renderers(monkeypatch):
    """PDF/DOCX rendering stubs: each gate is checked, not the printing (tests elsewhere do that)."""
    from cabinet.ballots import documents as ballot_docs
    from cabinet.minutes import documents as minutes_docs

    monkeypatch.setattr(minutes_docs, "minutes_pdf", lambda data: (blank_pdf(1), {}))
    monkeypatch.setattr(minutes_docs, "notice_pdf", lambda data: blank_pdf(1))
    monkeypatch.setattr(minutes_docs, "minutes_docx", lambda data: b"PK docx stub")
    monkeypatch.setattr(minutes_docs, "notice_docx", lambda data: b"PK docx stub")
    monkeypatch.setattr(ballot_docs, "report_pdf", lambda data: blank_pdf(1))
    monkeypatch.setattr(ballot_docs, "report_docx", lambda data: b"PK docx stub")
    monkeypatch.setattr(ballot_docs, "blank_form_pdf", lambda data: blank_pdf(1))


def build_world(cabinet, admin, role: str) -> dict:
    """Everything the matrix touches, built through the real services; returns the ids by name."""
    from cabinet.annotations import service as annotations
    from cabinet.annotations.schemas import AnnotationCreate
    from cabinet.auth import service as auth_service
    from cabinet.ballots import service as ballots
    from cabinet.documents import service as documents_service
    from cabinet.live import service as live
    from cabinet.meetings import calendar
    from cabinet.meetings import service as meetings
    from cabinet.minutes import service as minutes_service
    from cabinet.minutes.models import MinutesSignature, SigningKey
    from cabinet.notifications import service as notifications
    from cabinet.notifications.models import Notification
    from cabinet.storage import blob_store
    from tests.meeting_factories import held_meeting, room_meeting, schedule
    from tests.test_documents import published, upload

    thuky, pm, tuphap, yte, guest = (cabinet[k] for k in ("thuky", "pm", "tuphap", "yte", "guest"))
    people = dict(chair=pm, members=[tuphap, yte], secretaries=[thuky], guests=[guest])
    w: dict = {"pm": pm.id, "tuphap": tuphap.id, "yte": yte.id, "thuky": thuky.id, "guest": guest.id,
               "target_user": cabinet["thu_truong"].id}

    # An upcoming meeting: four agenda items (two kept for deletion), a deputy waiting for approval.
    meeting = schedule(thuky, **people)
    items = [meetings.add_item(thuky, meeting.id, meetings.AgendaItemData(title=title))
             for title in ("Dự án Luật Đất đai (sửa đổi)", "Nghị quyết phiên họp thường kỳ",
                           "Mục dự phòng 1", "Mục dự phòng 2")]
    w.update(meeting=meeting.id, item=items[0].id, item2=items[1].id, spare_item_page=items[2].id,
             spare_item_api=items[3].id, agenda_order=[i.id for i in reversed(items)],
             spare_meeting=schedule(thuky, title="Phiên họp dự phòng", **people).id)
    absent = meetings.respond(yte, meeting.id, attending=False, reason="Đi công tác",
                              deputy_id=cabinet["thu_truong"].id)
    w["participant"] = absent.id
    starts = (meeting.starts_at + timedelta(days=1)).astimezone()
    w.update(day=starts.date().isoformat(), starts_at=starts.isoformat(),
             ends_at=(starts + timedelta(hours=2)).isoformat())

    # Documents: two published (one to recall per door), one draft, one classified (Mật: the chair and
    # the secretary are cleared), one recalled.
    pm.clearance, thuky.clearance = "toi_mat", "mat"
    db.session.commit()
    doc = published(thuky, meeting, title="Tờ trình dự án Luật")
    recalled = published(thuky, meeting, title="Tài liệu đã thu hồi")
    documents_service.recall(thuky, recalled.id, "Sau phiên họp")
    w.update(classified_doc=published(thuky, meeting, title="Báo cáo mật", secrecy="mat").id,
             recalled_doc=recalled.id)
    w.update(doc=doc.id, recall_doc=published(thuky, meeting, title="Báo cáo 1").id,
             recall_doc_api=published(thuky, meeting, title="Báo cáo 2").id,
             draft_doc=upload(thuky, meeting, title="Dự thảo chưa phát hành").id)
    note = {"kind": "note", "page": 1, "point": [0.2, 0.2], "body": "Ghi chú riêng"}
    w.update(annotation=annotations.create_annotation(tuphap, doc.id, AnnotationCreate(**note))[0].public_id,
             spare_annotation_page=annotations.create_annotation(
                 tuphap, doc.id, AnnotationCreate(**note))[0].public_id,
             spare_annotation_api=annotations.create_annotation(
                 tuphap, doc.id, AnnotationCreate(**note))[0].public_id)

    # The live room: open, three checked in, a vote open; the member has the floor, the guest and the
    # chair wait for it.
    room = room_meeting(cabinet)
    room_items = sorted(room.agenda_items, key=lambda i: i.position)
    live.open_meeting(pm, room.id)
    for user in (pm, tuphap, guest):
        live.check_in(user, room.id)
    vote = live.open_vote(pm, room.id, question="Thông qua dự án Luật?")
    speaking = live.request_floor(tuphap, room.id)
    live.give_floor(pm, room.id, speaking.id)
    waiting = live.request_floor(guest, room.id)
    w.update(room=room.id, room_item=room_items[0].id, room_item2=room_items[1].id, vote=vote.id,
             waiting_request=waiting.id, chair_request=live.request_floor(pm, room.id).id)

    # A meeting held and closed, its minutes drafted (not yet sent for review), a comment, a signed file.
    held = held_meeting(cabinet)
    minutes = minutes_service.start(thuky, held.id)
    comment = minutes_service.add_comment(thuky, minutes.id, "Bổ sung ý kiến Bộ Y tế")
    sha, size = blob_store().put(io.BytesIO(blank_pdf(1)))
    signature = MinutesSignature(minutes_id=minutes.id, role="secretary", field_name="ThuKy",
                                 signer_id=thuky.id, applied_by_id=thuky.id, certificate_subject="Thư ký",
                                 certificate_serial="1", certificate_issuer="CA", sha256=sha, size=size)
    key = SigningKey(user_id=pm.id, p12_sha256=sha, certificate_subject="Phạm Quốc Hưng",
                     certificate_serial="2", certificate_issuer="CA",
                     not_valid_after=held.starts_at + timedelta(days=365), uploaded_by_id=admin.id)
    db.session.add_all([signature, key])
    db.session.commit()
    w.update(held=held.id, minutes=minutes.id, minutes_revision=minutes.revision, comment=comment.id,
             signature=signature.id, key=key.id)

    # Ballots: an open one (with a dossier file), one to recall per door, a draft with a file.
    recipients = [pm.id, tuphap.id, yte.id]

    def ballot(title: str, *, issue: bool, with_file: bool):
        made = ballots.create_ballot(thuky, ballots.BallotData(
            title=title, questions=["Đồng ý thông qua dự thảo?", "Đồng ý giao Bộ Tư pháp thẩm định?"],
            deadline=held.starts_at + timedelta(days=5), decider_id=pm.id, recipient_ids=recipients))
        file = ballots.add_document(thuky, made.id, stream=io.BytesIO(blank_pdf(1)), filename="to-trinh.pdf",
                                    title="Tờ trình") if with_file else None
        if issue:
            made = ballots.issue_ballot(thuky, made.id)
        return made, file

    open_ballot, ballot_doc = ballot("Xin ý kiến về dự thảo Nghị định", issue=True, with_file=True)
    draft_ballot, draft_doc = ballot("Dự thảo phiếu", issue=False, with_file=True)
    w.update(ballot=open_ballot.id, q1=open_ballot.questions[0].id, q2=open_ballot.questions[1].id,
             ballot_doc=ballot_doc.id, draft_ballot=draft_ballot.id, draft_ballot_doc=draft_doc.id,
             recall_ballot=ballot("Phiếu thu hồi 1", issue=True, with_file=False)[0].id,
             recall_ballot_api=ballot("Phiếu thu hồi 2", issue=True, with_file=False)[0].id)

    # Each person's own notification and spare API token; the member's, which nobody else may touch.
    actor = cabinet_user(cabinet, admin, role)
    for user in {tuphap, actor} - {None}:
        notifications.notify([user.id], kind="test", title="Thông báo thử")
    db.session.commit()

    def latest_notification(user_id: int) -> int:
        return db.session.scalar(select(func.max(Notification.id)).where(Notification.user_id == user_id))

    w["member_notification"] = latest_notification(tuphap.id)
    w["member_token"] = auth_service.issue_token(tuphap, label="spare")[1].id
    w["own_notification"] = latest_notification(actor.id) if actor else w["member_notification"]
    w["own_token"] = auth_service.issue_token(actor, label="spare")[1].id if actor else w["member_token"]
    w["feed_token"] = calendar.renew_feed_token(tuphap)
    # Spare signed-in browsers: the member's, which nobody else may log out, and the person's own.
    from cabinet.auth import sessions

    w["member_session"] = sessions.start(tuphap, ip=None, user_agent="spare")[1].id
    w["own_session"] = sessions.start(actor, ip=None, user_agent="spare")[1].id if actor \
        else w["member_session"]
    db.session.commit()
    return w


def cabinet_user(cabinet, admin, role: str):
    return {"member": cabinet["tuphap"], "outsider": cabinet["outsider"], "guest": cabinet["guest"],
            "secretariat": cabinet["thuky"], "admin": admin, "chair": cabinet["pm"]}.get(role)


# --- running a case -------------------------------------------------------------------------------------


def fill(value, w: dict):
    """Put the world's ids into a path, a body or a payload ("{meeting}" → 12, keeping types)."""
    if isinstance(value, str):
        if value.startswith("{") and value.endswith("}") and value[1:-1] in w:
            return w[value[1:-1]]
        return value.format(**w) if "{" in value else value
    if isinstance(value, dict):
        return {fill(k, w): fill(v, w) for k, v in value.items()}
    if isinstance(value, list):
        return [fill(v, w) for v in value]
    if isinstance(value, tuple):
        return value
    return value


def form_values(body: dict, w: dict) -> dict:
    """A form body: every value as text (lists stay lists), files as file parts."""
    out = {}
    for key, value in fill(body, w).items():
        if isinstance(value, tuple):
            data = blank_pdf(1) if value == PDF_FILE else value[0].encode()
            out[key] = (io.BytesIO(data), value[1])
        elif isinstance(value, list):
            out[key] = [str(v) for v in value]
        else:
            out[key] = str(value)
    return out


class Person:
    """One role's browser (session cookie + CSRF token) and API token."""

    def __init__(self, app, role: str):
        self.app, self.role = app, role
        self.browser = self.new_browser()
        self.token = self.new_token()
        self.csrf = csrf_token(self.browser, "/account/" if role != "anonymous" else "/login")

    def new_browser(self):
        client = self.app.test_client()
        if self.role != "anonymous":
            response = login(client, USERNAMES[self.role])
            assert response.status_code == 302, (self.role, response.status_code)
        return client

    def new_token(self) -> str | None:
        if self.role == "anonymous":
            return None
        from cabinet.auth import service as auth_service
        from cabinet.users.models import User

        user = db.session.scalar(select(User).where(User.username == USERNAMES[self.role]))
        return auth_service.issue_token(user, label="matrix")[0]

    def send(self, case: Case, w: dict):
        path = fill(case.path, w)
        is_api = path.startswith("/api/")
        headers = {"Accept": "application/json"} if case.kind == "json" else {}
        if is_api:
            client = self.app.test_client()
            token = self.new_token() if case.fresh else self.token
            if token:
                headers["Authorization"] = f"Bearer {token}"
            csrf = None
        else:
            client = self.new_browser() if case.fresh else self.browser
            csrf = csrf_token(client, "/account/" if self.role != "anonymous" else "/login") \
                if case.fresh else self.csrf
        kwargs: dict = {"headers": headers}
        if case.method != "GET":
            if case.kind == "json":
                kwargs["json"] = fill(case.body, w) if case.body is not None else None
                if csrf:
                    headers["X-CSRFToken"] = csrf
            else:
                data = form_values(case.body or {}, w)
                if csrf:
                    data["csrf_token"] = csrf
                kwargs["data"] = data
                if case.kind == "multipart":
                    kwargs["content_type"] = "multipart/form-data"
        return client.open(path, method=case.method, **kwargs)


def audit_count() -> int:
    db.session.commit()
    return db.session.scalar(select(func.count()).select_from(AuditEntry))


def refused(response, role: str, is_api: bool) -> bool:
    if response.status_code in (401, 403, 404):
        return True
    if role == "anonymous" and not is_api and response.status_code == 302:
        target = urlsplit(response.headers["Location"])
        return target.path == "/login" and "next" in parse_qs(target.query)  # login_required
    return False


def check(case: Case, role: str, response, audit_before: int) -> str | None:
    """None when the answer matches the rule, else what went wrong."""
    is_api = case.path.startswith("/api/")
    got = response.status_code
    label = f"{role:<11} {case.method:<6} {case.path:<55} [{case.rule.name}]"
    if role in case.rule.allowed:
        if refused(response, role, is_api):
            body = response.get_data(as_text=True)[:200]
            return f"{label}: allowed by the rule, refused with {got} {body!r}"
        if got >= 500:
            return f"{label}: server error {got}"
        return None
    if not refused(response, role, is_api):
        return f"{label}: must be refused, got {got}"
    if role in case.rule.hidden and got != 404:
        return f"{label}: must be 404 (its existence is not revealed), got {got}"
    changed = audit_count() - audit_before
    if changed:
        return f"{label}: refused with {got} but {changed} audit entr(y/ies) written"
    return None


# --- the matrix -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_authorisation_matrix_of_every_route(app, cabinet, admin, role):
    w = build_world(cabinet, admin, role)
    person = Person(app, role)
    problems = []
    for case in sorted(PAGES + API, key=lambda c: c.phase):
        before = audit_count()
        response = person.send(case, w)
        problem = check(case, role, response, before)
        if problem:
            problems.append(problem)
    assert not problems, "\n" + "\n".join(problems)


def socket_client(app, person: Person):
    from tests.test_live_socket import fresh_context

    with fresh_context(app):
        return socketio.test_client(app, flask_test_client=person.browser)


@pytest.mark.parametrize("role", ROLES)
def test_authorisation_matrix_of_every_socket_event(app, cabinet, admin, role):
    from tests.test_live_socket import fresh_context

    w = build_world(cabinet, admin, role)
    person = Person(app, role)
    client = socket_client(app, person)
    if role == "anonymous":
        # Refused at the door: no session, and a made-up token is no better.
        assert not client.is_connected()
        with fresh_context(app):
            forged = socketio.test_client(app, auth={"token": "cab_not-a-token"})
        assert not forged.is_connected()
        return
    assert client.is_connected(), role
    problems = []
    for case in sorted(SOCKET, key=lambda c: c.phase):
        before = audit_count()
        with fresh_context(app):
            ack = client.emit(case.event, fill(case.payload, w), callback=True)
        label = f"{role:<11} {case.event:<22} {case.payload} [{case.rule.name}]"
        if not isinstance(ack, dict):
            problems.append(f"{label}: no acknowledgement ({ack!r})")
            continue
        code = (ack.get("error") or {}).get("code")
        if role in case.rule.allowed:
            if not ack.get("ok") and code in DENIED_SOCKET_CODES:
                problems.append(f"{label}: allowed by the rule, refused with {ack['error']}")
            elif code == "server_error":
                problems.append(f"{label}: server error")
        elif ack.get("ok") or code not in DENIED_SOCKET_CODES:
            problems.append(f"{label}: must be refused, got {ack}")
        elif role in case.rule.hidden and code != "not_found":
            problems.append(f"{label}: must be not_found (its existence is not revealed), got {code}")
        elif audit_count() != before:
            problems.append(f"{label}: refused but the audit trail grew")
    with fresh_context(app):
        client.disconnect()
    assert not problems, "\n" + "\n".join(problems)
