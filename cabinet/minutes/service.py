"""The rules of a meeting's minutes (D11, D16, D19): draft, review, finalize, sign, correct, export,
verify.

Who does what:

* the **editors** — the secretariat and the meeting's secretary — draft and finalize;
* the participants may read a draft once the editors invite them to review it, and comment on it;
* the **signatories** sign the finalized PDF in order: the meeting's secretary (``ThuKy``), then
  the chair (``ChuToa``); then, when the organisation's key is configured, the secretariat may add
  the organ's seal-signature (``CoQuan``);
* anyone who may see the meeting (and is cleared for the minutes' secrecy level) reads final and
  signed versions.

Slow work — rendering the PDF, signing it — runs outside any database transaction (see
``documents.service.end_read_transaction``); the writes that follow lock the version's row and
check again that nothing changed meanwhile, so two signers pressing at once cannot both sign the
same base file, and a draft edited during the rendering is not finalized with the older text.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import func, select

from cabinet.audit import service as audit
from cabinet.audit.models import AuditEntry
from cabinet.core.errors import (
    Conflict,
    DomainError,
    NotFound,
    PermissionDenied,
    TooManyRequests,
    ValidationError,
)
from cabinet.core.scanning import scan_bytes, throttle_upload
from cabinet.core.timeutil import as_utc, utcnow
from cabinet.core.types import MAX_ID
from cabinet.documents.service import SECRECY_STAMPS, end_read_transaction
from cabinet.documents.watermark import Watermark, reader_mark, watermark_bytes, watermark_docx
from cabinet.extensions import db
from cabinet.live import service as live
from cabinet.meetings import access
from cabinet.meetings.models import AgendaItem, DeputyStatus, Meeting, ParticipantRole
from cabinet.minutes import documents, record, richtext
from cabinet.minutes.keys import organisation_signer, signer_for
from cabinet.minutes.models import (
    Minutes,
    MinutesComment,
    MinutesRevision,
    MinutesSignature,
    MinutesStatus,
    SignatureRole,
)
from cabinet.notifications import service as notifications
from cabinet.signing import pdf as signing
from cabinet.signing.pki import configured_trust_roots, subject_fields
from cabinet.storage import blob_store
from cabinet.users.models import Clearance, User

PDF = "application/pdf"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
REVISION_COALESCE = timedelta(minutes=5)  # saves by one person within this share a revision row
MAX_HTML = 200_000  # characters per rich-text field: a long discussion is ~20,000
MAX_COMMENT = 5_000
MAX_VERIFY_BYTES = 50 * 1024 * 1024
FIELD_OF = {SignatureRole.SECRETARY: signing.SECRETARY_FIELD, SignatureRole.CHAIR: signing.CHAIR_FIELD,
            SignatureRole.ORGANISATION: signing.ORGANISATION_FIELD}
SIGNING_ORDER = (SignatureRole.SECRETARY, SignatureRole.CHAIR)
NUMBER_LIMIT = 60
WRONG_PASSPHRASE_LIMIT = 5  # refused signing attempts per person …
WRONG_PASSPHRASE_WINDOW = timedelta(minutes=15)  # … within this time


# --- who may do what -----------------------------------------------------------------------------


def is_editor(user: User, meeting: Meeting) -> bool:
    """The secretariat and the meeting's secretary draft the minutes (D11)."""
    return access.is_staff(user) or access.meeting_role(user, meeting) == ParticipantRole.SECRETARY


def signatory_role(user: User, meeting: Meeting) -> SignatureRole | None:
    """The signature ``user`` gives on this meeting's minutes: the secretary's or the chair's."""
    participant = meeting.participant_for(user.id)
    if participant is None:
        return None
    if participant.role == ParticipantRole.SECRETARY:
        return SignatureRole.SECRETARY
    if participant.role == ParticipantRole.CHAIR:
        return SignatureRole.CHAIR
    return None


def can_read(user: User, minutes: Minutes) -> bool:
    meeting = minutes.meeting
    if not access.can_see_meeting(user, meeting):
        return False
    if minutes.secrecy != Clearance.NONE and not access.cleared_for(user, minutes.secrecy):
        return False
    if minutes.status == MinutesStatus.DRAFT and minutes.review_requested_at is None:
        return is_editor(user, meeting) or signatory_role(user, meeting) is not None
    return True


def _load(minutes_id: int, *, lock: bool = False) -> Minutes | None:
    if not 0 < minutes_id <= MAX_ID:
        return None
    if lock:
        return db.session.scalars(select(Minutes).where(Minutes.id == minutes_id)
                                  .with_for_update(of=Minutes).execution_options(populate_existing=True)).first()
    return db.session.get(Minutes, minutes_id)


def get(actor: User, minutes_id: int, *, lock: bool = False) -> Minutes:
    """A version the actor may read; 404 otherwise (its existence is not revealed)."""
    minutes = _load(minutes_id, lock=lock)
    if minutes is None or not can_read(actor, minutes):
        raise NotFound(_("No such minutes, or you may not read them."))
    return minutes


def _editable(actor: User, minutes_id: int, *, lock: bool = True) -> Minutes:
    minutes = get(actor, minutes_id, lock=lock)
    if not is_editor(actor, minutes.meeting):
        raise PermissionDenied(_("Only the secretariat and the meeting's secretary may edit the minutes."))
    if minutes.locked:
        raise Conflict(_("These minutes are finalized and can no longer be edited. To correct signed "
                         "minutes, create a new version."), code="minutes_locked")
    return minutes


def versions(actor: User, meeting_id: int) -> list[Minutes]:
    """The meeting's versions the actor may read, newest first."""
    meeting = access.get_meeting(actor, meeting_id)
    rows = db.session.scalars(select(Minutes).where(Minutes.meeting_id == meeting.id)
                              .order_by(Minutes.version.desc())).all()
    return [m for m in rows if can_read(actor, m)]


def current(actor: User, meeting_id: int) -> Minutes:
    """The version to show for a meeting: the one in progress, else the latest signed one."""
    found = versions(actor, meeting_id)
    if not found:
        raise NotFound(_("There are no minutes for this meeting yet."))
    return found[0]


# --- drafting ------------------------------------------------------------------------------------


def _held(meeting: Meeting) -> bool:
    progress = live.progress_of(meeting)
    return progress.opened_at is not None or as_utc(meeting.starts_at) <= utcnow()


def start(actor: User, meeting_id: int) -> Minutes:
    """Version 1, pre-filled from the record: an editor starts it once the meeting has begun."""
    meeting = access.get_meeting(actor, meeting_id)
    if not is_editor(actor, meeting):
        raise PermissionDenied(_("Only the secretariat and the meeting's secretary may draft the minutes."))
    if meeting.is_cancelled:
        raise ValidationError(_("This meeting was cancelled: it has no minutes."), code="meeting_cancelled")
    if not _held(meeting):
        raise Conflict(_("The meeting has not started yet: the minutes are drafted from its record."),
                       code="meeting_not_held")
    existing = db.session.scalar(select(func.count()).select_from(Minutes)
                                 .where(Minutes.meeting_id == meeting.id))
    if existing:
        raise Conflict(_("This meeting already has minutes. Open them, or create a new version to "
                         "correct signed minutes."), code="minutes_exist")
    minutes = Minutes(meeting_id=meeting.id, version=1, content=record.default_content(meeting),
                      secrecy=_default_secrecy(meeting), created_by_id=actor.id, updated_by_id=actor.id)
    db.session.add(minutes)
    db.session.flush()
    _keep_revision(actor, minutes)
    audit.record("minutes.drafted", actor=actor, object_type="minutes", object_id=minutes.id,
                 details={"meeting_id": meeting.id, "version": 1})
    db.session.commit()
    return minutes


def _default_secrecy(meeting: Meeting) -> str:
    """The minutes are at least as secret as the most secret document discussed (D14)."""
    from cabinet.documents.models import Document

    levels = set(db.session.scalars(select(Document.secrecy).where(Document.meeting_id == meeting.id)))
    for level in (Clearance.TUYET_MAT, Clearance.TOI_MAT, Clearance.MAT):
        if level.value in levels:
            return level.value
    return Clearance.NONE.value


@dataclass(frozen=True)
class DraftChanges:
    """What an editor sends when saving; ``None`` leaves a field as it is."""

    revision: int  # the revision the editor started from
    opening_html: str | None = None
    closing_html: str | None = None
    items: dict[int, dict[str, str]] | None = None  # item id → {"discussion_html", "conclusion_html"}
    number: str | None = None
    secrecy: str | None = None


def save(actor: User, minutes_id: int, changes: DraftChanges) -> Minutes:
    """Save the editor's text (autosave and the Save button alike).

    Refuses, with the current revision in the error, a save based on an older revision than the
    stored one: two editors never overwrite each other's words silently.
    """
    minutes = _editable(actor, minutes_id)
    if changes.revision != minutes.revision:
        raise Conflict(_("Someone else saved these minutes meanwhile (%(name)s). Reload to see their "
                         "changes; your text is kept in this browser.",
                         name=minutes.updated_by.full_name if minutes.updated_by else "?"),
                       code="stale_revision", details={"revision": minutes.revision})
    content = dict(minutes.content or {})
    errors: dict[str, str] = {}
    for field in ("opening_html", "closing_html"):
        value = getattr(changes, field)
        if value is not None:
            content[field] = _clean(value, field, errors)
    if changes.items is not None:
        item_ids = {item.id for item in minutes.meeting.agenda_items}
        items = {key: dict(value) for key, value in (content.get("items") or {}).items()}
        for item_id, texts in changes.items.items():
            if item_id not in item_ids:
                errors[f"items.{item_id}"] = _("This agenda item is not part of the meeting.")
                continue
            entry = items.setdefault(str(item_id), {"discussion_html": "", "conclusion_html": ""})
            for field in ("discussion_html", "conclusion_html"):
                if texts.get(field) is not None:
                    entry[field] = _clean(texts[field], f"items.{item_id}.{field}", errors)
        content["items"] = items
    if changes.number is not None:
        number = record.nfc(changes.number)
        if len(number) > NUMBER_LIMIT:
            errors["number"] = _("The number is too long (at most %(n)d characters).", n=NUMBER_LIMIT)
        minutes.number = number
    if changes.secrecy is not None:
        if changes.secrecy not in {c.value for c in Clearance}:
            errors["secrecy"] = _("Unknown secrecy level.")
        elif not access.cleared_for(actor, changes.secrecy):
            errors["secrecy"] = _("You cannot classify above your own clearance.")
        else:
            minutes.secrecy = changes.secrecy
    if errors:
        db.session.rollback()
        raise ValidationError.of_fields(errors, _("The minutes were not saved: check the marked fields."))
    minutes.content = content
    minutes.revision += 1
    minutes.updated_by_id = actor.id
    minutes.updated_at = utcnow()
    _keep_revision(actor, minutes)
    audit.record("minutes.saved", actor=actor, object_type="minutes", object_id=minutes.id,
                 details={"revision": minutes.revision, "number": minutes.number, "secrecy": minutes.secrecy})
    db.session.commit()
    return minutes


def _clean(value: str, field: str, errors: dict[str, str]) -> str:
    if not isinstance(value, str):
        errors[field] = _("Expected text.")
        return ""
    if len(value) > MAX_HTML:
        errors[field] = _("This text is too long (at most %(n)d characters).", n=MAX_HTML)
        return ""
    return richtext.sanitise(value)


def _keep_revision(actor: User, minutes: Minutes) -> None:
    """Record the text in the history; one row per editor per few minutes of autosaving."""
    last = db.session.scalars(select(MinutesRevision).where(MinutesRevision.minutes_id == minutes.id)
                              .order_by(MinutesRevision.id.desc()).limit(1)).first()
    now = utcnow()
    if last is not None and last.saved_by_id == actor.id and now - as_utc(last.saved_at) < REVISION_COALESCE:
        last.content, last.revision, last.saved_at = minutes.content, minutes.revision, now
        return
    db.session.add(MinutesRevision(minutes_id=minutes.id, revision=minutes.revision,
                                   content=minutes.content, saved_by_id=actor.id, saved_at=now))


def history(actor: User, minutes_id: int) -> list[MinutesRevision]:
    minutes = get(actor, minutes_id)
    if not is_editor(actor, minutes.meeting):
        raise PermissionDenied(_("Only the secretariat and the meeting's secretary see the draft's history."))
    return list(db.session.scalars(select(MinutesRevision).where(MinutesRevision.minutes_id == minutes.id)
                                   .order_by(MinutesRevision.id.desc())))


def refresh_from_record(actor: User, minutes_id: int) -> Minutes:
    """Add the conclusions given in the room since the draft began, for items whose conclusion the
    secretary has left empty (never overwriting their words)."""
    minutes = _editable(actor, minutes_id)
    content = dict(minutes.content or {})
    items = {key: dict(value) for key, value in (content.get("items") or {}).items()}
    for key, fresh in record.default_content(minutes.meeting)["items"].items():
        entry = items.setdefault(key, {"discussion_html": "", "conclusion_html": ""})
        if richtext.is_blank(entry.get("conclusion_html", "")):
            entry["conclusion_html"] = fresh["conclusion_html"]
    content["items"] = items
    minutes.content = content
    minutes.revision += 1
    minutes.updated_by_id = actor.id
    minutes.updated_at = utcnow()
    _keep_revision(actor, minutes)
    audit.record("minutes.refreshed", actor=actor, object_type="minutes", object_id=minutes.id,
                 details={"revision": minutes.revision})
    db.session.commit()
    return minutes


# --- review --------------------------------------------------------------------------------------


def _readers(minutes: Minutes) -> list[int]:
    """Participants (and approved deputies) cleared for the minutes' level."""
    meeting = minutes.meeting
    users = [p.user for p in meeting.participants]
    users += [p.deputy for p in meeting.participants
              if p.deputy is not None and p.deputy_status == DeputyStatus.APPROVED]
    return [u.id for u in users if u.active and (minutes.secrecy == Clearance.NONE
                                                 or access.cleared_for(u, minutes.secrecy))]


def request_review(actor: User, minutes_id: int) -> Minutes:
    """Invite the participants to read the draft and comment before it is finalized."""
    minutes = _editable(actor, minutes_id)
    minutes.review_requested_at = utcnow()
    notifications.notify([uid for uid in _readers(minutes) if uid != actor.id], kind="minutes.review",
                         title=_("Draft minutes to review: %(title)s", title=minutes.meeting.title),
                         url=f"/meetings/{minutes.meeting_id}/minutes")
    audit.record("minutes.review_requested", actor=actor, object_type="minutes", object_id=minutes.id)
    db.session.commit()
    return minutes


def comments(actor: User, minutes_id: int) -> list[MinutesComment]:
    minutes = get(actor, minutes_id)
    return list(db.session.scalars(select(MinutesComment).where(MinutesComment.minutes_id == minutes.id)
                                   .order_by(MinutesComment.id)))


def add_comment(actor: User, minutes_id: int, body: str, item_id: int | None = None) -> MinutesComment:
    """A participant's comment on the draft (the whole text, or one agenda item)."""
    minutes = get(actor, minutes_id, lock=True)
    if minutes.status != MinutesStatus.DRAFT:
        raise Conflict(_("These minutes are finalized: comments are closed."), code="minutes_locked")
    body = record.nfc(body if isinstance(body, str) else "")
    errors = {}
    if not body:
        errors["body"] = _("Write a comment.")
    elif len(body) > MAX_COMMENT:
        errors["body"] = _("The comment is too long (at most %(n)d characters).", n=MAX_COMMENT)
    if item_id is not None and (not 0 < item_id <= MAX_ID or db.session.scalar(select(AgendaItem.id).where(
            AgendaItem.id == item_id, AgendaItem.meeting_id == minutes.meeting_id)) is None):
        errors["item_id"] = _("This agenda item is not part of the meeting.")
    if errors:
        raise ValidationError.of_fields(errors, _("The comment was not added."))
    comment = MinutesComment(minutes_id=minutes.id, agenda_item_id=item_id, author_id=actor.id, body=body)
    db.session.add(comment)
    db.session.flush()
    editors = [p.user_id for p in minutes.meeting.participants if p.role == ParticipantRole.SECRETARY]
    if minutes.created_by_id:
        editors.append(minutes.created_by_id)
    notifications.notify([uid for uid in editors if uid != actor.id], kind="minutes.comment",
                         title=_("New comment on the draft minutes: %(title)s", title=minutes.meeting.title),
                         body=body[:200], url=f"/meetings/{minutes.meeting_id}/minutes")
    audit.record("minutes.comment_added", actor=actor, object_type="minutes", object_id=minutes.id,
                 details={"comment_id": comment.id, "item_id": item_id})
    db.session.commit()
    return comment


def resolve_comment(actor: User, comment_id: int) -> MinutesComment:
    comment = db.session.get(MinutesComment, comment_id) if 0 < comment_id <= MAX_ID else None
    if comment is None:
        raise NotFound(_("No such comment."))
    minutes = get(actor, comment.minutes_id)
    if not is_editor(actor, minutes.meeting):
        raise PermissionDenied(_("Only the secretariat and the meeting's secretary resolve comments."))
    if comment.resolved_at is None:
        comment.resolved_at, comment.resolved_by_id = utcnow(), actor.id
        audit.record("minutes.comment_resolved", actor=actor, object_type="minutes", object_id=minutes.id,
                     details={"comment_id": comment.id})
        db.session.commit()
    return comment


# --- finalize and sign ---------------------------------------------------------------------------


def _required_signatories(meeting: Meeting) -> None:
    if record.secretary_of(meeting) is None:
        raise Conflict(_("The meeting has no secretary among its participants: add one (role "
                         "\"secretary\") to sign the minutes."), code="no_secretary")
    if meeting.chair is None:
        raise Conflict(_("The meeting has no chair: add one to sign the minutes."), code="no_chair")


def finalize(actor: User, minutes_id: int, revision: int) -> Minutes:
    """Freeze the text and render the PDF/A that will be signed; store it with its hash.

    ``revision`` is the revision the editor looked at: a draft saved by someone else meanwhile is
    not finalized behind their back.
    """
    minutes = _editable(actor, minutes_id, lock=False)
    if revision != minutes.revision:
        raise Conflict(_("The minutes changed since you opened them. Reload before finalizing."),
                       code="stale_revision", details={"revision": minutes.revision})
    _required_signatories(minutes.meeting)
    data = dataclasses.replace(record.minutes_data(minutes), draft=False)
    end_read_transaction()
    pdf_bytes, places = documents.minutes_pdf(data)
    sha256, size = blob_store().put(io.BytesIO(pdf_bytes))
    minutes = _editable(actor, minutes_id)  # locked again, and checked again
    if minutes.revision != revision:
        raise Conflict(_("The minutes changed while they were being rendered. Reload and finalize again."),
                       code="stale_revision", details={"revision": minutes.revision})
    minutes.status = MinutesStatus.FINAL.value
    minutes.snapshot = record.to_json(data)
    minutes.signature_places = {name: {"page": p.page, "box": list(p.box)} for name, p in places.items()}
    minutes.pdf_sha256 = sha256
    minutes.finalized_at, minutes.finalized_by_id = utcnow(), actor.id
    secretary = record.secretary_of(minutes.meeting)
    notifications.notify([secretary.id], kind="minutes.sign",
                         title=_("Minutes ready to sign: %(title)s", title=minutes.meeting.title),
                         url=f"/meetings/{minutes.meeting_id}/minutes")
    audit.record("minutes.finalized", actor=actor, object_type="minutes", object_id=minutes.id,
                 details={"version": minutes.version, "sha256": sha256, "size": size,
                          "pages": max((p.page for p in places.values()), default=0) + 1})
    db.session.commit()
    return minutes


def reopen(actor: User, minutes_id: int) -> Minutes:
    """Back to draft, before anyone signed: once signed, only a new version corrects it."""
    minutes = get(actor, minutes_id, lock=True)
    if not is_editor(actor, minutes.meeting):
        raise PermissionDenied(_("Only the secretariat and the meeting's secretary may reopen the minutes."))
    if minutes.status == MinutesStatus.DRAFT:
        raise Conflict(_("These minutes are already a draft."), code="already_draft")
    if minutes.status != MinutesStatus.FINAL:
        raise Conflict(_("Signed minutes cannot be reopened: create a new version to correct them."),
                       code="minutes_locked")
    minutes.status = MinutesStatus.DRAFT.value
    minutes.snapshot = minutes.signature_places = None
    minutes.pdf_sha256 = None
    minutes.revision += 1
    audit.record("minutes.reopened", actor=actor, object_type="minutes", object_id=minutes.id)
    db.session.commit()
    return minutes


def _next_role(minutes: Minutes) -> SignatureRole | None:
    for role in SIGNING_ORDER:
        if minutes.signature_for(role) is None:
            return role
    return None


def _check_may_sign(actor: User, minutes: Minutes) -> SignatureRole:
    role = signatory_role(actor, minutes.meeting)
    if role is None:
        raise PermissionDenied(_("Only the meeting's secretary and its chair sign the minutes."))
    if minutes.status == MinutesStatus.DRAFT:
        raise Conflict(_("The minutes must be finalized before they are signed."), code="not_finalized")
    if minutes.status in (MinutesStatus.SIGNED, MinutesStatus.SUPERSEDED) or minutes.signature_for(role):
        raise Conflict(_("You have already signed these minutes."), code="already_signed")
    if any(s.signer_id == actor.id for s in minutes.signatures):
        raise Conflict(_("You have already signed these minutes."), code="already_signed")
    expected = _next_role(minutes)
    if role != expected:
        raise Conflict(_("The secretary signs first, then the chair."), code="signing_order")
    return role


def sign(actor: User, minutes_id: int, passphrase: str) -> Minutes:
    """The actor signs the finalized PDF with their own key, in the order of D11.

    The signature is an incremental update of the stored file; the new file is archived with its
    hash. A wrong passphrase is refused (and audited) without changing anything.
    """
    minutes = get(actor, minutes_id)
    role = _check_may_sign(actor, minutes)
    _limit_wrong_passphrases(actor)
    base_sha = minutes.signed_sha256 or minutes.pdf_sha256
    place = (minutes.signature_places or {}).get(FIELD_OF[role])
    try:
        signer = signer_for(actor, passphrase)
    except DomainError:
        audit.record("minutes.sign_refused", actor=actor, object_type="minutes", object_id=minutes.id,
                     details={"role": role.value, "reason": "key"})
        db.session.commit()
        raise
    base = blob_store().read(base_sha)
    end_read_transaction()
    signed = _apply(base, signer, FIELD_OF[role], place, reason="Ký biên bản phiên họp")
    return _store_signature(actor, minutes_id, role, base_sha, signed, signer, signer_id=actor.id)


def _limit_wrong_passphrases(actor: User) -> None:
    """A signing key's passphrase cannot be guessed through the signing form: after a few refused
    attempts the person waits (every attempt is in the audit trail)."""
    since = utcnow() - WRONG_PASSPHRASE_WINDOW
    refused = db.session.scalar(select(func.count()).select_from(AuditEntry).where(
        AuditEntry.action == "minutes.sign_refused", AuditEntry.actor_id == actor.id, AuditEntry.at >= since))
    if refused >= WRONG_PASSPHRASE_LIMIT:
        raise TooManyRequests(_("Too many wrong passphrases: try again in %(minutes)d minutes.",
                                minutes=int(WRONG_PASSPHRASE_WINDOW.total_seconds() // 60)),
                              retry_after=int(WRONG_PASSPHRASE_WINDOW.total_seconds()))


def sign_as_organisation(actor: User, minutes_id: int) -> Minutes:
    """The organ's seal-signature (CoQuan) with the configured organisation key, after the chair."""
    minutes = get(actor, minutes_id)
    if not access.is_staff(actor):
        raise PermissionDenied(_("Only the secretariat applies the organisation's signature."))
    if minutes.status != MinutesStatus.SIGNED:
        raise Conflict(_("The organisation signs after the secretary and the chair."), code="signing_order")
    if minutes.signature_for(SignatureRole.ORGANISATION):
        raise Conflict(_("The organisation has already signed these minutes."), code="already_signed")
    signer = organisation_signer()
    base_sha = minutes.signed_sha256
    place = (minutes.signature_places or {}).get(signing.ORGANISATION_FIELD)
    base = blob_store().read(base_sha)
    end_read_transaction()
    signed = _apply(base, signer, signing.ORGANISATION_FIELD, place, reason="Xác thực của cơ quan")
    return _store_signature(actor, minutes_id, SignatureRole.ORGANISATION, base_sha, signed, signer,
                            signer_id=None)


def _apply(base: bytes, signer, field: str, place: dict | None, *, reason: str) -> bytes:
    config = current_app.config
    box = tuple(place["box"]) if place else None
    page = place["page"] if place else -1
    return signing.sign_pdf(base, signer, field_name=field, box=box, page=page, reason=reason,
                            stamp_text_lines=signing.signer_stamp_lines(signer,
                                                                        tz=config["CABINET_TIMEZONE"]),
                            timestamp_url=config["CABINET_TSA_URL"])


def _store_signature(actor: User, minutes_id: int, role: SignatureRole, base_sha: str, signed: bytes,
                     signer, *, signer_id: int | None) -> Minutes:
    sha256, size = blob_store().put(io.BytesIO(signed))
    minutes = get(actor, minutes_id, lock=True)
    if (minutes.signed_sha256 or minutes.pdf_sha256) != base_sha or minutes.signature_for(role):
        raise Conflict(_("Someone signed these minutes at the same moment. Reload and try again."),
                       code="signing_race")
    cert = signer.signing_cert
    subject = subject_fields(cert)
    minutes.signatures.append(MinutesSignature(
        role=role.value, field_name=FIELD_OF[role], signer_id=signer_id, applied_by_id=actor.id,
        signed_at=utcnow(), certificate_subject=subject.get("common_name", "")[:300],
        certificate_serial=format(cert.serial_number, "x"),
        certificate_issuer=str(cert.issuer.native.get("common_name", ""))[:300],
        timestamped=bool(current_app.config["CABINET_TSA_URL"]), sha256=sha256, size=size))
    minutes.signed_sha256 = sha256
    meeting = minutes.meeting
    if role == SignatureRole.SECRETARY:
        minutes.status = MinutesStatus.SIGNING.value
        if meeting.chair is not None:
            notifications.notify([meeting.chair.id], kind="minutes.sign",
                                 title=_("Minutes ready to sign: %(title)s", title=meeting.title),
                                 url=f"/meetings/{meeting.id}/minutes")
    elif role == SignatureRole.CHAIR:
        minutes.status = MinutesStatus.SIGNED.value
        for older in db.session.scalars(select(Minutes).where(
                Minutes.meeting_id == meeting.id, Minutes.id != minutes.id,
                Minutes.status == MinutesStatus.SIGNED.value)):
            older.status = MinutesStatus.SUPERSEDED.value
        notifications.notify(_readers(minutes), kind="minutes.signed",
                             title=_("Signed minutes: %(title)s", title=meeting.title),
                             url=f"/meetings/{meeting.id}/minutes")
    audit.record("minutes.signed", actor=actor, object_type="minutes", object_id=minutes.id,
                 details={"role": role.value, "field": FIELD_OF[role], "sha256": sha256, "size": size,
                          "certificate_serial": format(cert.serial_number, "x"),
                          "certificate_subject": subject.get("common_name", "")})
    db.session.commit()
    return minutes


def new_version(actor: User, meeting_id: int, reason: str) -> Minutes:
    """A correction of the latest signed version: a new draft with its text, to be signed again."""
    meeting = access.get_meeting(actor, meeting_id)
    if not is_editor(actor, meeting):
        raise PermissionDenied(_("Only the secretariat and the meeting's secretary may correct the minutes."))
    reason = record.nfc(reason if isinstance(reason, str) else "")
    if not reason:
        raise ValidationError.of_fields({"reason": _("Required.")}, _("Say what the correction is for."))
    latest = db.session.scalars(select(Minutes).where(Minutes.meeting_id == meeting.id)
                                .order_by(Minutes.version.desc()).with_for_update(of=Minutes)).first()
    if latest is None:
        raise NotFound(_("There are no minutes for this meeting yet."))
    if latest.status != MinutesStatus.SIGNED:
        raise Conflict(_("Only signed minutes are corrected by a new version; edit or reopen the "
                         "current one instead."), code="not_signed")
    draft = Minutes(meeting_id=meeting.id, version=latest.version + 1, content=dict(latest.content or {}),
                    number="", secrecy=latest.secrecy, corrects_id=latest.id, correction_reason=reason[:2000],
                    created_by_id=actor.id, updated_by_id=actor.id)
    db.session.add(draft)
    db.session.flush()
    _keep_revision(actor, draft)
    audit.record("minutes.version_created", actor=actor, object_type="minutes", object_id=draft.id,
                 details={"meeting_id": meeting.id, "version": draft.version, "corrects": latest.id,
                          "reason": reason[:500]})
    db.session.commit()
    return draft


# --- export and verify ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Export:
    content: bytes
    filename: str
    media_type: str
    sha256: str


def record_view(actor: User, minutes: Minutes, *, via: str) -> None:
    """Audit that ``actor`` read ``minutes`` (a version they may read), ``via`` the page or the
    API, as reading a document is: who, which version, at what secrecy. Every read, as for
    documents (``document.viewed``): the trail of a classified text is not sampled."""
    audit.record("minutes.viewed", actor=actor, object_type="minutes", object_id=minutes.id,
                 details={"meeting_id": minutes.meeting_id, "version": minutes.version,
                          "status": minutes.status, "secrecy": minutes.secrecy, "via": via})
    db.session.commit()


def _reader_mark(actor: User, minutes: Minutes) -> Watermark | None:
    """The reader's watermark for a PDF of classified minutes (D14, as classified documents);
    None when the minutes are not classified."""
    if minutes.secrecy == Clearance.NONE:
        return None
    return reader_mark(actor, SECRECY_STAMPS[Clearance(minutes.secrecy)])


def export(actor: User, minutes_id: int, fmt: str, *, notice: bool = False) -> Export:
    """The minutes (or the conclusion notice) as PDF or DOCX; every export is audited.

    The minutes' PDF of a version that carries signatures is the archived file, byte-exact (with
    every signature so far): never watermarked, or the signatures would break. A draft is rendered
    on the fly and says DỰ THẢO on every page. The PDF of classified minutes not yet signed (a
    draft, a finalized version awaiting its first signature, the conclusion notice) carries the
    reader's watermark on every page, as a classified document does; the DOCX of classified minutes
    carries the reader's line in the footer of every page, signed or not.
    """
    if fmt not in ("pdf", "docx"):
        raise ValidationError(_("Unknown format: ask for pdf or docx."))
    minutes = get(actor, minutes_id)
    kind = "notice" if notice else "minutes"
    stored = None if notice or fmt != "pdf" else (minutes.signed_sha256 or minutes.pdf_sha256)
    signed = stored is not None and minutes.signed_sha256 is not None
    # Only the signed PDF goes out unmarked (byte-exact); the DOCX is made afresh at every export.
    mark = None if signed else _reader_mark(actor, minutes)
    data = None
    if stored is None:
        data = record.notice_data(minutes) if notice else record.minutes_data(minutes)
    number, version = minutes.number, minutes.version
    audit_details = {"format": fmt, "kind": kind, "version": version, "status": minutes.status,
                     "secrecy": minutes.secrecy, "watermarked": mark is not None}
    if stored is not None and mark is None:
        content = blob_store().read(stored)
        audit.record("minutes.exported", actor=actor, object_type="minutes", object_id=minutes.id,
                     details={**audit_details, "sha256": stored})
        db.session.commit()
    else:
        end_read_transaction()  # rendering and watermarking take a while
        if stored is not None:
            content = blob_store().read(stored)
        elif notice:
            content = documents.notice_docx(data) if fmt == "docx" else documents.notice_pdf(data)
        else:
            content = documents.minutes_docx(data) if fmt == "docx" else documents.minutes_pdf(data)[0]
        digest = stored or hashlib.sha256(content).hexdigest()  # of the text, before the watermark
        if mark is not None:
            content = watermark_bytes(content, mark) if fmt == "pdf" else watermark_docx(content, mark)
        get(actor, minutes_id)  # access again, in the transaction that audits the read
        audit.record("minutes.exported", actor=actor, object_type="minutes", object_id=minutes_id,
                     details={**audit_details, "sha256": digest})
        db.session.commit()
    # The notice has its own number (…/TB-VPCP), given by the registry: not the minutes'.
    name = documents.filename(kind, "" if notice else number, version, fmt)
    return Export(content, name, PDF if fmt == "pdf" else DOCX, hashlib.sha256(content).hexdigest())


def signed_file(actor: User, signature_id: int) -> Export:
    """The archived PDF as it was right after one signature (each step is kept byte-exact)."""
    signature = db.session.get(MinutesSignature, signature_id) if 0 < signature_id <= MAX_ID else None
    if signature is None:
        raise NotFound(_("No such signed file."))
    minutes = get(actor, signature.minutes_id)
    # Byte-exact, never watermarked: the file is what was signed.
    audit.record("minutes.exported", actor=actor, object_type="minutes", object_id=minutes.id,
                 details={"format": "pdf", "kind": "signed_file", "signature_id": signature.id,
                          "version": minutes.version, "secrecy": minutes.secrecy, "watermarked": False,
                          "sha256": signature.sha256})
    db.session.commit()
    name = documents.filename("minutes", minutes.number, minutes.version, "pdf")
    return Export(blob_store().read(signature.sha256), name, PDF, signature.sha256)


@dataclass(frozen=True)
class Verification:
    """What the verify page and ``POST /api/v1/verify`` report about an uploaded PDF."""

    sha256: str
    size: int
    signatures: list[signing.SignatureReport]
    ok: bool  # at least one signature and every one intact, trusted, not modified after
    archived: Minutes | None  # the archived version this exact file is, if any
    archived_signature: MinutesSignature | None


def verify(actor: User, data: bytes, filename: str = "") -> Verification:
    """Check every signature of an uploaded PDF, and whether it is byte-for-byte a file in our archive."""
    if not data:
        raise ValidationError.of_fields({"file": _("Required.")}, _("Choose a PDF file to verify."))
    if not data.startswith(b"%PDF-"):
        raise ValidationError.of_fields({"file": _("Not a PDF.")}, _("This file is not a PDF."))
    throttle_upload(actor)
    scan_bytes(data, actor=actor, what="verify", filename=filename)  # before any parser reads it
    sha256 = hashlib.sha256(data).hexdigest()
    end_read_transaction()
    reports = signing.verify_pdf(data, configured_trust_roots(), tz=current_app.config["CABINET_TIMEZONE"])
    found = db.session.scalars(select(MinutesSignature).where(MinutesSignature.sha256 == sha256)).first()
    archived = found.minutes if found is not None and can_read(actor, found.minutes) else None
    if archived is None:
        found = None
        archived = db.session.scalars(select(Minutes).where(Minutes.pdf_sha256 == sha256)).first()
        if archived is not None and not can_read(actor, archived):
            archived = None
    ok = signing.all_signatures_ok(reports)
    audit.record("minutes.verified", actor=actor, object_type="minutes",
                 object_id=archived.id if archived is not None else None,
                 details={"sha256": sha256, "size": len(data), "filename": filename[:200],
                          "signatures": len(reports), "ok": ok,
                          "results": [{"field": r.field_name, "signer": r.signer_name, "ok": r.ok}
                                      for r in reports]})
    db.session.commit()
    return Verification(sha256, len(data), reports, ok, archived, found)
