"""A meeting's minutes through the JSON API (D11, D14, D16, D19): the same service as the pages.

Draft from the record, save (the editor's autosave), review and comments, finalize, sign in order,
correct by a new version, download (PDF/A, DOCX, the conclusion notice, the file after each
signature) and verify any PDF.

Authentication: a bearer token, like the rest of ``/api/v1``. (The minutes page saves its drafts
through its own session-and-CSRF route, ``PUT /minutes/<id>/draft``, calling the same service.)
"""

from __future__ import annotations

import base64
import functools
from datetime import datetime
from typing import Annotated, Any, Literal

from flask import Response, jsonify, request, url_for
from flask_babel import gettext as _
from pydantic import BaseModel, ConfigDict, Field, PlainValidator, StrictInt, WithJsonSchema, field_validator
from werkzeug.datastructures import FileStorage

from cabinet.api.framework import operation, query_int
from cabinet.api.meeting_schemas import PersonRef, optional
from cabinet.api.schemas import ClearanceName, Strict
from cabinet.core.errors import (
    BadRequest,
    NotFound,
    PayloadTooLarge,
    ValidationError,
)
from cabinet.core.types import MAX_ID
from cabinet.extensions import db
from cabinet.meetings import access
from cabinet.meetings.json import iso, person_ref
from cabinet.minutes import keys, record, service
from cabinet.minutes.content import MinutesData, PersonLine
from cabinet.minutes.models import Minutes, MinutesComment, MinutesSignature, MinutesStatus, SignatureRole
from cabinet.users.models import Clearance, User

TAGS = ["minutes"]
# The editor sends every rich-text field of the draft (up to service.MAX_HTML characters each):
# more than the API's usual JSON limit. A 20-item meeting with long discussions stays far below.
DRAFT_BODY_BYTES = 8 * 1024 * 1024
FORM_OVERHEAD = 64 * 1024  # multipart boundaries and headers around the verified file
MinutesStatusName = Literal["draft", "final", "signing", "signed", "superseded"]
SignatureRoleName = Literal["secretary", "chair", "organisation"]
minutes_operation = functools.partial(operation, tags=TAGS)


# --- bodies ---------------------------------------------------------------------------------------


class MinutesItemTextIn(Strict):
    model_config = ConfigDict(extra="forbid", str_max_length=service.MAX_HTML)

    item_id: StrictInt = Field(description="The agenda item's id.")
    discussion_html: str = optional(description="Tóm tắt thảo luận: sanitised rich text (p, strong, "
                                                "em, u, s, ul, ol, li, blockquote, br).")
    conclusion_html: str = optional(description="Kết luận: sanitised rich text.")


class MinutesDraftIn(Strict):
    """The editor's save: what is left out stays as it is."""

    model_config = ConfigDict(extra="forbid", str_max_length=service.MAX_HTML)

    revision: StrictInt = Field(description="The revision the text was edited from (from the last "
                                            "answer): 409 `stale_revision` if someone saved since.")
    opening_html: str = optional(description="The opening paragraph (rich text).")
    closing_html: str = optional(description="The closing paragraph (rich text).")
    items: list[MinutesItemTextIn] = optional(max_length=1000, description="Per agenda item, the "
                                              "texts that changed.")
    number: str = optional(max_length=service.NUMBER_LIMIT,
                           description="Số, ký hiệu given by the registry, e.g. `12/BB-CP`.")
    secrecy: ClearanceName = optional(description="Độ mật of the minutes (D14); at most your own "
                                                  "clearance.")

    @field_validator("items")
    @classmethod
    def _each_item_once(cls, items: list[MinutesItemTextIn]) -> list[MinutesItemTextIn]:
        ids = [item.item_id for item in items]
        if len(set(ids)) != len(ids):
            raise ValueError(_("Each agenda item may be listed only once."))
        return items


class MinutesFinalizeIn(Strict):
    revision: StrictInt = Field(description="The revision you read: 409 `stale_revision` if it changed.")


class MinutesSignIn(Strict):
    model_config = ConfigDict(extra="forbid", str_max_length=1024)

    passphrase: str = Field(default="", description="The passphrase of your signing key (the PIN of "
                                                    "your certificate); stored nowhere.")
    as_: Literal["person", "organisation"] = Field(
        default="person", alias="as",
        description="`organisation`: the secretariat adds the organ's seal-signature (CoQuan) with the "
                    "configured organisation key, after the chair; no passphrase is needed.")


class MinutesCommentIn(Strict):
    body: str = Field(max_length=service.MAX_COMMENT, description="Plain text.")
    item_id: StrictInt | None = Field(default=None, description="The agenda item commented on; "
                                                                "null for the whole text.")


class MinutesCorrectionIn(Strict):
    reason: str = Field(max_length=2000, description="What the correction is for; printed on the "
                                                     "new version.")


def _a_file(value):
    if not isinstance(value, FileStorage) or not value.filename:
        raise ValueError(_("Choose a PDF file to verify."))
    return value


PdfFile = Annotated[Any, PlainValidator(_a_file), WithJsonSchema({
    "type": "string", "format": "binary", "contentMediaType": "application/pdf",
    "description": "The PDF to check: any signed PDF, not only one from this system."})]


class MinutesVerifyUpload(Strict):
    """The parts of the multipart/form-data upload."""

    file: PdfFile


# --- answers --------------------------------------------------------------------------------------


class MinutesItemTextOut(BaseModel):
    item_id: int
    number: int = Field(description="1, 2…: the item's place in the agenda (as the record's `number`).")
    title: str
    discussion_html: str
    conclusion_html: str


class MinutesContentOut(BaseModel):
    opening_html: str
    closing_html: str
    items: list[MinutesItemTextOut]


class MinutesVoteCountOut(BaseModel):
    label: str
    count: int


class MinutesVoterOut(BaseModel):
    name: str
    choice: str


class MinutesVoteOut(BaseModel):
    question: str
    secret: bool
    counts: list[MinutesVoteCountOut]
    voted: int
    result: str = Field(description="The result sentence as printed, with the rule's legal basis (D7).")
    voters: list[MinutesVoterOut] = Field(description="Open votes: each member's choice; empty when secret.")


class MinutesRecordItemOut(BaseModel):
    number: int
    title: str
    presenter: str
    documents: list[str]
    status: str
    votes: list[MinutesVoteOut]


class MinutesRecordOut(BaseModel):
    """What the minutes print from the meeting's record (frozen at finalize): Vietnamese text lines."""

    organ: str
    number_line: str
    date_line: str
    subtitle: str
    correction_note: str
    started: str
    ended: str
    place: str
    chair: str
    secretary: str
    present: list[str]
    absent: list[str] = Field(description="Each with the reason given.")
    deputies: list[str] = Field(description="Each with the member they stand in for (D3).")
    guests: list[str]
    quorum: str = Field(description="Present/required with the legal basis (D6).")
    items: list[MinutesRecordItemOut]


class MinutesSignatureOut(BaseModel):
    id: int
    role: SignatureRoleName
    field_name: str = Field(description="The PDF signature field: ThuKy, ChuToa, CoQuan.")
    signer: PersonRef | None = Field(description="Whose key signed; null for the organisation's key.")
    applied_by: PersonRef
    signed_at: datetime
    certificate_subject: str
    certificate_serial: str = Field(description="Hexadecimal.")
    certificate_issuer: str
    timestamped: bool
    sha256: str = Field(description="The PDF as it was right after this signature (archived byte-exact).")
    size: int
    pdf: str = Field(description="Where to download that file.")


class MinutesLinksOut(BaseModel):
    pdf: str
    docx: str
    notice_pdf: str
    notice_docx: str


class MinutesMeOut(BaseModel):
    can_edit: bool = Field(description="An editor (secretariat, the meeting's secretary) of a draft.")
    signatory_role: Literal["secretary", "chair"] | None
    can_sign: bool = Field(description="It is your turn to sign.")
    can_sign_as_organisation: bool


class MinutesOut(BaseModel):
    id: int
    meeting_id: int
    version: int
    status: MinutesStatusName
    number: str
    secrecy: ClearanceName
    revision: int = Field(description="Send it back with the next save or finalize.")
    created_at: datetime | None
    updated_at: datetime | None
    updated_by: PersonRef | None
    review_requested_at: datetime | None
    finalized_at: datetime | None
    pdf_sha256: str | None = Field(description="The finalized, unsigned PDF.")
    signed_sha256: str | None = Field(description="The PDF with every signature so far.")
    content: MinutesContentOut
    record: MinutesRecordOut
    signatures: list[MinutesSignatureOut]
    next_signer_role: SignatureRoleName | None = Field(
        description="Who signs next: the secretary, then the chair (D11); then the organisation when "
                    "its key is configured; null for a draft or when complete.")
    corrects: int | None = Field(description="The version this one corrects.")
    correction_reason: str
    links: MinutesLinksOut
    me: MinutesMeOut


class MinutesVersionOut(BaseModel):
    id: int
    version: int
    status: MinutesStatusName
    number: str
    secrecy: ClearanceName
    created_at: datetime | None
    finalized_at: datetime | None
    corrects: int | None
    correction_reason: str
    signatures: list[SignatureRoleName] = Field(description="The roles that have signed, in order.")
    sha256: str | None = Field(description="The archived PDF (with its signatures so far); null for a draft.")
    links: MinutesLinksOut


class MinutesVersionList(BaseModel):
    versions: list[MinutesVersionOut] = Field(description="Newest first; only the ones you may read.")


class MinutesCommentOut(BaseModel):
    id: int
    minutes_id: int
    item_id: int | None
    author: PersonRef
    body: str
    created_at: datetime | None
    resolved_at: datetime | None
    resolved_by: PersonRef | None


class MinutesCommentList(BaseModel):
    minutes_id: int
    comments: list[MinutesCommentOut]


class MinutesSignatureReportOut(BaseModel):
    field_name: str
    signer_name: str
    signer_title: str
    signer_organisation: str
    issuer_name: str
    signing_time: str | None
    timestamped: bool
    intact: bool = Field(description="The signed bytes are unchanged.")
    valid: bool = Field(description="The cryptographic signature checks out (meaningless unless intact).")
    trusted: bool = Field(description="The certificate chains to a configured trust root.")
    modified_after: bool = Field(description="The file changed after this signature, beyond later "
                                             "signatures.")
    later_revisions: int
    coverage: str
    modification_level: str | None
    summary_vi: str
    summary_en: str
    ok: bool


class MinutesArchivedOut(BaseModel):
    minutes_id: int
    meeting_id: int
    version: int
    status: MinutesStatusName
    signature_id: int | None = Field(description="The signature after which the archive holds this "
                                                 "exact file; null for the finalized, unsigned PDF.")


class MinutesVerificationOut(BaseModel):
    sha256: str
    size: int
    ok: bool = Field(description="At least one signature, and every one intact, trusted and not "
                                 "modified after.")
    signatures: list[MinutesSignatureReportOut]
    archived: MinutesArchivedOut | None = Field(
        description="This exact file (same SHA-256) is in the archive, in minutes you may read.")


# --- serialisers ----------------------------------------------------------------------------------


def _links(minutes: Minutes) -> dict:
    def link(endpoint: str) -> str:
        return url_for(f"api.{endpoint}", meeting_id=minutes.meeting_id, version=minutes.version)

    return {"pdf": link("minutes_pdf"), "docx": link("minutes_docx"),
            "notice_pdf": link("minutes_notice_pdf"), "notice_docx": link("minutes_notice_docx")}


def next_signer_role(minutes: Minutes) -> str | None:
    if minutes.status in (MinutesStatus.FINAL, MinutesStatus.SIGNING):
        unsigned = (role.value for role in service.SIGNING_ORDER if minutes.signature_for(role) is None)
        return next(unsigned, None)
    if (minutes.status == MinutesStatus.SIGNED and keys.organisation_configured()
            and minutes.signature_for(SignatureRole.ORGANISATION) is None):
        return SignatureRole.ORGANISATION.value
    return None


def _lines(people: tuple[PersonLine, ...]) -> list[str]:
    return [p.text for p in people]


def record_json(data: MinutesData) -> dict:
    return {
        "organ": data.header.organ, "number_line": data.header.number_line,
        "date_line": data.header.date_line, "subtitle": data.subtitle,
        "correction_note": data.correction_note, "started": data.started, "ended": data.ended,
        "place": data.place, "chair": data.chair.text, "secretary": data.secretary.text,
        "present": _lines(data.present), "absent": _lines(data.absent),
        "deputies": _lines(data.deputies), "guests": _lines(data.guests), "quorum": data.quorum,
        "items": [{
            "number": item.number, "title": item.title, "presenter": item.presenter,
            "documents": list(item.documents), "status": item.status,
            "votes": [{"question": v.question, "secret": v.secret,
                       "counts": [{"label": label, "count": count} for label, count in v.counts],
                       "voted": v.voted, "result": v.result,
                       "voters": [{"name": name, "choice": choice} for name, choice in v.voters]}
                      for v in item.votes],
        } for item in data.items],
    }


def content_json(minutes: Minutes) -> dict:
    content = minutes.content or {}
    texts = content.get("items") or {}
    agenda = sorted(minutes.meeting.agenda_items, key=lambda item: item.position)
    return {
        "opening_html": content.get("opening_html", ""), "closing_html": content.get("closing_html", ""),
        "items": [{"item_id": item.id, "number": number, "title": item.title,
                   "discussion_html": texts.get(str(item.id), {}).get("discussion_html", ""),
                   "conclusion_html": texts.get(str(item.id), {}).get("conclusion_html", "")}
                  for number, item in enumerate(agenda, start=1)],
    }


def signature_json(signature: MinutesSignature) -> dict:
    return {
        "id": signature.id, "role": signature.role, "field_name": signature.field_name,
        "signer": person_ref(signature.signer), "applied_by": person_ref(signature.applied_by),
        "signed_at": iso(signature.signed_at), "certificate_subject": signature.certificate_subject,
        "certificate_serial": signature.certificate_serial,
        "certificate_issuer": signature.certificate_issuer, "timestamped": signature.timestamped,
        "sha256": signature.sha256, "size": signature.size,
        "pdf": url_for("api.minutes_signed_file", signature_id=signature.id),
    }


def minutes_json(minutes: Minutes, viewer: User) -> dict:
    meeting = minutes.meeting
    role = service.signatory_role(viewer, meeting)
    upcoming = next_signer_role(minutes)
    return {
        "id": minutes.id, "meeting_id": minutes.meeting_id, "version": minutes.version,
        "status": minutes.status, "number": minutes.number, "secrecy": minutes.secrecy,
        "revision": minutes.revision, "created_at": iso(minutes.created_at),
        "updated_at": iso(minutes.updated_at), "updated_by": person_ref(minutes.updated_by),
        "review_requested_at": iso(minutes.review_requested_at), "finalized_at": iso(minutes.finalized_at),
        "pdf_sha256": minutes.pdf_sha256, "signed_sha256": minutes.signed_sha256,
        "content": content_json(minutes),
        "record": record_json(record.minutes_data(minutes)),
        "signatures": [signature_json(s) for s in minutes.signatures],
        "next_signer_role": upcoming,
        "corrects": minutes.corrects.version if minutes.corrects is not None else None,
        "correction_reason": minutes.correction_reason,
        "links": _links(minutes),
        "me": {
            "can_edit": service.is_editor(viewer, meeting) and not minutes.locked,
            "signatory_role": role.value if role is not None else None,
            "can_sign": role is not None and upcoming == role.value,
            "can_sign_as_organisation": access.is_staff(viewer) and upcoming == SignatureRole.ORGANISATION,
        },
    }


def version_json(minutes: Minutes) -> dict:
    return {
        "id": minutes.id, "version": minutes.version, "status": minutes.status, "number": minutes.number,
        "secrecy": minutes.secrecy, "created_at": iso(minutes.created_at),
        "finalized_at": iso(minutes.finalized_at),
        "corrects": minutes.corrects.version if minutes.corrects is not None else None,
        "correction_reason": minutes.correction_reason,
        "signatures": [s.role for s in minutes.signatures],
        "sha256": minutes.signed_sha256 or minutes.pdf_sha256, "links": _links(minutes),
    }


def comment_json(comment: MinutesComment) -> dict:
    resolver = db.session.get(User, comment.resolved_by_id) if comment.resolved_by_id else None
    return {"id": comment.id, "minutes_id": comment.minutes_id, "item_id": comment.agenda_item_id,
            "author": person_ref(comment.author), "body": comment.body,
            "created_at": iso(comment.created_at), "resolved_at": iso(comment.resolved_at),
            "resolved_by": person_ref(resolver)}


def verification_json(result: service.Verification) -> dict:
    archived = None
    if result.archived is not None:
        archived = {"minutes_id": result.archived.id, "meeting_id": result.archived.meeting_id,
                    "version": result.archived.version, "status": result.archived.status,
                    "signature_id": result.archived_signature.id if result.archived_signature else None}
    return {"sha256": result.sha256, "size": result.size, "ok": result.ok,
            "signatures": [report.to_dict() for report in result.signatures], "archived": archived}


# --- which version ----------------------------------------------------------------------------------

VERSION_QUERY = {"version": {"type": "integer", "minimum": 1, "maximum": MAX_ID,
                             "description": "Another version you may read; left out: the current one."}}


def _requested_version() -> int | None:
    return query_int("version")


def _chosen(user: User, meeting_id: int) -> Minutes:
    """The version asked for with ``?version=``, else the current one (in progress, else the
    latest signed)."""
    wanted = _requested_version()
    if wanted is None:
        return service.current(user, meeting_id)
    found = next((m for m in service.versions(user, meeting_id) if m.version == wanted), None)
    if found is None:
        raise NotFound(_("No such version of the minutes, or you may not read it."))
    return found


def _answer(minutes: Minutes, user: User, status: int = 200):
    return jsonify(minutes_json(minutes, user)), status


# --- the minutes ------------------------------------------------------------------------------------

BASE = "/meetings/<int:meeting_id>/minutes"


@minutes_operation("GET", BASE, summary="The meeting's minutes: text, record, signatures",
                   response=MinutesOut, errors=(404, 422), query=VERSION_QUERY,
                   description="The version in progress, else the latest signed one. A draft is shown "
                               "to its editors and signatories, and to the participants once review "
                               "is requested; classified minutes only to those cleared (404 otherwise). "
                               "Each read is audited (`minutes.viewed`).")
def minutes_get(user, meeting_id: int):
    minutes = _chosen(user, meeting_id)
    service.record_view(user, minutes, via="api")
    return _answer(minutes, user)


@minutes_operation("POST", BASE, summary="Start the draft from the meeting's record (secretariat, "
                   "the meeting's secretary)", response=MinutesOut, status=201,
                   errors=(400, 403, 404, 409, 422),
                   description="Version 1, pre-filled with the conclusions given in the room; once the "
                               "meeting has started (409 `meeting_not_held`), once (409 `minutes_exist`).")
def minutes_start(user, meeting_id: int):
    return _answer(service.start(user, meeting_id), user, 201)


@minutes_operation("PUT", BASE, summary="Save the draft (the editor's autosave)", body=MinutesDraftIn,
                   body_limit=DRAFT_BODY_BYTES, response=MinutesOut, errors=(400, 403, 404, 409, 413, 422),
                   description="Fields left out keep their text; rich text is sanitised (scripts, event "
                               "handlers, links and images are removed). 409 `stale_revision` with "
                               "`details.revision` when someone saved after the revision you send; 409 "
                               "`minutes_locked` once finalized. Field errors name items as "
                               "`items.<item_id>.discussion_html`. Bodies up to 8 MB.")
def minutes_save(user, meeting_id: int, body: MinutesDraftIn):
    minutes = service.current(user, meeting_id)
    items = None
    if body.items is not None:
        items = {entry.item_id: {name: getattr(entry, name) for name in ("discussion_html", "conclusion_html")
                                 if getattr(entry, name) is not None}
                 for entry in body.items}
    saved = service.save(user, minutes.id, service.DraftChanges(
        revision=body.revision, opening_html=body.opening_html, closing_html=body.closing_html,
        items=items, number=body.number, secrecy=body.secrecy))
    return _answer(saved, user)


@minutes_operation("POST", f"{BASE}/refresh", summary="Take in conclusions given in the room since the "
                   "draft began (editors)", response=MinutesOut, errors=(400, 403, 404, 409),
                   description="Only for items whose conclusion is still empty: the editor's words are "
                               "never overwritten.")
def minutes_refresh(user, meeting_id: int):
    return _answer(service.refresh_from_record(user, service.current(user, meeting_id).id), user)


@minutes_operation("POST", f"{BASE}/review", summary="Invite the participants to review the draft "
                   "(editors)", response=MinutesOut, errors=(400, 403, 404, 409),
                   description="Participants cleared for the minutes' level may then read the draft and "
                               "comment; they are notified.")
def minutes_request_review(user, meeting_id: int):
    return _answer(service.request_review(user, service.current(user, meeting_id).id), user)


@minutes_operation("POST", f"{BASE}/finalize", summary="Finalize: freeze the text and archive the PDF/A "
                   "to be signed (editors)", body=MinutesFinalizeIn, response=MinutesOut,
                   errors=(400, 403, 404, 409, 413, 422),
                   description="409 `stale_revision` (with `details.revision`) when the text changed "
                               "since the revision you send, `no_secretary`, `no_chair` when a "
                               "signatory is missing. The secretary is notified to sign.")
def minutes_finalize(user, meeting_id: int, body: MinutesFinalizeIn):
    return _answer(service.finalize(user, service.current(user, meeting_id).id, body.revision), user)


@minutes_operation("POST", f"{BASE}/reopen", summary="Back to draft, before anyone signed (editors)",
                   response=MinutesOut, errors=(400, 403, 404, 409),
                   description="409 `minutes_locked` once signed: correct signed minutes with a new version.")
def minutes_reopen(user, meeting_id: int):
    return _answer(service.reopen(user, service.current(user, meeting_id).id), user)


@minutes_operation("POST", f"{BASE}/sign", summary="Sign the finalized minutes (the secretary, then the "
                   "chair)", body=MinutesSignIn, response=MinutesOut,
                   errors=(400, 403, 404, 409, 413, 422),
                   description="Your key, registered by an administrator, opened with its passphrase "
                               "(422 `signing_key` when wrong: nothing is signed). 409 `signing_order` "
                               "(the secretary signs first), `already_signed`, `not_finalized`, "
                               "`no_signing_key`, `certificate_expired`; 403 for anyone but the "
                               "meeting's secretary and chair. `{\"as\": \"organisation\"}`: the "
                               "secretariat adds the organisation's signature after the chair (409 "
                               "`no_signing_key` when `CABINET_ORG_P12` is not set).")
def minutes_sign(user, meeting_id: int, body: MinutesSignIn):
    minutes = service.current(user, meeting_id)
    if body.as_ == "organisation":
        return _answer(service.sign_as_organisation(user, minutes.id), user)
    return _answer(service.sign(user, minutes.id, body.passphrase), user)


# --- review comments --------------------------------------------------------------------------------


@minutes_operation("GET", f"{BASE}/comments", summary="Review comments on the draft",
                   response=MinutesCommentList, errors=(404, 422), query=VERSION_QUERY)
def minutes_comments(user, meeting_id: int):
    minutes = _chosen(user, meeting_id)
    return jsonify({"minutes_id": minutes.id,
                    "comments": [comment_json(c) for c in service.comments(user, minutes.id)]})


@minutes_operation("POST", f"{BASE}/comments", summary="Comment on the draft (those who may read it)",
                   body=MinutesCommentIn, response=MinutesCommentOut, status=201,
                   errors=(400, 404, 409, 413, 422),
                   description="On the whole text, or on one agenda item (`item_id`). 409 "
                               "`minutes_locked` once finalized. The editors are notified.")
def minutes_add_comment(user, meeting_id: int, body: MinutesCommentIn):
    minutes = service.current(user, meeting_id)
    return jsonify(comment_json(service.add_comment(user, minutes.id, body.body, body.item_id))), 201


@minutes_operation("POST", "/minutes-comments/<int:comment_id>/resolve", summary="Mark a comment as "
                   "resolved (editors)", response=MinutesCommentOut, errors=(400, 403, 404))
def minutes_resolve_comment(user, comment_id: int):
    return jsonify(comment_json(service.resolve_comment(user, comment_id)))


# --- versions ---------------------------------------------------------------------------------------


@minutes_operation("GET", f"{BASE}/versions", summary="Every version you may read, newest first",
                   response=MinutesVersionList, errors=(404,))
def minutes_versions(user, meeting_id: int):
    return jsonify({"versions": [version_json(m) for m in service.versions(user, meeting_id)]})


@minutes_operation("POST", f"{BASE}/versions", summary="Correct signed minutes: a new version (editors)",
                   body=MinutesCorrectionIn, response=MinutesOut, status=201,
                   errors=(400, 403, 404, 409, 413, 422),
                   description="A new draft with the signed version's text and the `reason`, to be "
                               "finalized and signed again; the signed version stays, byte-exact, and "
                               "becomes `superseded` when the correction is signed by the chair. 409 "
                               "`not_signed` while the latest version is not signed.")
def minutes_new_version(user, meeting_id: int, body: MinutesCorrectionIn):
    return _answer(service.new_version(user, meeting_id, body.reason), user, 201)


# --- downloads ----------------------------------------------------------------------------------------

PDF = service.PDF
DOCX = service.DOCX


def _download(export: service.Export, secrecy: str) -> Response:
    """The file as an attachment, with its SHA-256 (the archive's, for a finalized PDF); classified
    minutes are never kept by the browser or a proxy (D14)."""
    response = Response(export.content, mimetype=export.media_type)
    response.headers["Content-Disposition"] = f'attachment; filename="{export.filename}"'
    response.headers["Cache-Control"] = "no-store" if secrecy != Clearance.NONE else "private, no-cache"
    response.headers["X-Content-SHA256"] = export.sha256
    digest = base64.b64encode(bytes.fromhex(export.sha256)).decode()
    response.headers["Repr-Digest"] = f"sha-256=:{digest}:"  # RFC 9530
    return response


def _export(user: User, meeting_id: int, fmt: str, *, notice: bool) -> Response:
    minutes = _chosen(user, meeting_id)
    secrecy = minutes.secrecy
    return _download(service.export(user, minutes.id, fmt, notice=notice), secrecy)


DOWNLOAD_NOTE = ("An attachment with its SHA-256 in `X-Content-SHA256` (and `Repr-Digest`); "
                 "`Cache-Control: no-store` for classified minutes. Each download is audited.")


@minutes_operation("GET", "/meetings/<int:meeting_id>/minutes.pdf", summary="The minutes as PDF/A",
                   produces=PDF, errors=(404, 422), query=VERSION_QUERY,
                   description="Once signed: the archived file, byte-exact, with every signature so "
                               "far (never watermarked). A draft is rendered on the fly and marked DỰ THẢO. "
                               "Classified minutes not yet signed carry the reader's watermark (name, "
                               "organisation, time, secrecy stamp) on every page. " + DOWNLOAD_NOTE)
def minutes_pdf(user, meeting_id: int):
    return _export(user, meeting_id, "pdf", notice=False)


@minutes_operation("GET", "/meetings/<int:meeting_id>/minutes.docx", summary="The minutes as DOCX",
                   produces=DOCX, errors=(404, 422), query=VERSION_QUERY,
                   description="An editable copy (not signed). " + DOWNLOAD_NOTE)
def minutes_docx(user, meeting_id: int):
    return _export(user, meeting_id, "docx", notice=False)


@minutes_operation("GET", "/meetings/<int:meeting_id>/conclusions.pdf", summary="The conclusion notice "
                   "(Thông báo kết luận) as PDF/A", produces=PDF, errors=(404, 422), query=VERSION_QUERY,
                   description="The chair's conclusion on each item, drawn from the same minutes. "
                               + DOWNLOAD_NOTE)
def minutes_notice_pdf(user, meeting_id: int):
    return _export(user, meeting_id, "pdf", notice=True)


@minutes_operation("GET", "/meetings/<int:meeting_id>/conclusions.docx", summary="The conclusion notice "
                   "as DOCX", produces=DOCX, errors=(404, 422), query=VERSION_QUERY,
                   description=DOWNLOAD_NOTE)
def minutes_notice_docx(user, meeting_id: int):
    return _export(user, meeting_id, "docx", notice=True)


@minutes_operation("GET", "/minutes-signatures/<int:signature_id>.pdf", summary="The archived PDF as it "
                   "was right after one signature", produces=PDF, errors=(404,),
                   description="Each step of the signing is kept byte-exact (its SHA-256 is the "
                               "signature's `sha256`). " + DOWNLOAD_NOTE)
def minutes_signed_file(user, signature_id: int):
    export = service.signed_file(user, signature_id)
    signature = db.session.get(MinutesSignature, signature_id)
    return _download(export, signature.minutes.secrecy)


# --- verify ---------------------------------------------------------------------------------------------


@minutes_operation("POST", "/verify", summary="Verify the signatures of a PDF", form=MinutesVerifyUpload,
                   response=MinutesVerificationOut, errors=(400, 413, 422, 429, 503),
                   description="multipart/form-data with a `file` part. Every signature is checked "
                               "against the configured trust roots (intact, trusted, nothing changed "
                               "after it but later signatures), and the file's SHA-256 is looked up in "
                               "the archive. Works for any signed PDF. 400 `not_multipart`; 422 when "
                               "the part is missing or not a PDF; 413 above 50 MB. Audited.")
def minutes_verify(user):
    limit = service.MAX_VERIFY_BYTES
    too_large = _("The file is larger than %(mb)d MB.", mb=limit // (1024 * 1024))
    if request.content_length is not None and request.content_length > limit + FORM_OVERHEAD:
        raise PayloadTooLarge(too_large)
    if request.mimetype != "multipart/form-data":
        raise BadRequest(_("Send the file as multipart/form-data, in a part named file."),
                         code="not_multipart")
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise ValidationError.of_fields({"file": _("Required.")}, _("Choose a PDF file to verify."))
    data = upload.stream.read(limit + 1)
    if len(data) > limit:
        raise PayloadTooLarge(too_large)
    return jsonify(verification_json(service.verify(user, data, upload.filename or "")))
