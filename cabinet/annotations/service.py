"""Annotations: members draw, highlight and write notes on a document version, and share them.

The rules:

* Reaching a document's annotations needs reaching the document itself: every call goes through
  :func:`cabinet.documents.service.get_document` (meeting, draft, recall, clearance — 404/403 as
  for opening it). Nobody adds to, changes or shares annotations on a recalled document (409 for
  the secretariat, who may still read it; members cannot reach it at all).
* An annotation is private to its author unless shared: with the meeting (everyone who may read
  the document; clearance applies per person), or with chosen participants of the meeting (who
  see it only while they may read the document). Only the author changes, shares or deletes it.
* The secretariat (and administrators) may collect the *shared* annotations of a document; a
  private annotation is never shown to anyone but its author.
* An annotation stays on the version it was drawn on; after a new version it is listed as
  outdated, never moved and never dropped.
* A client may choose the id (uuid4 hex) to create offline and retry: the same id from the same
  author on the same document answers the annotation already made.
* Every change is audited, with ids and facts only: the text of an annotation is private and
  never goes into the audit trail.

After each committed change :data:`annotation_changed` is sent (cabinet/annotations/events.py
turns it into Socket.IO messages).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from blinker import Namespace
from flask_babel import gettext as _
from sqlalchemy import and_, or_, select
from sqlalchemy.exc import IntegrityError

from cabinet.annotations.models import (
    Annotation,
    AnnotationKind,
    AnnotationShare,
    Visibility,
    new_public_id,
)
from cabinet.annotations.schemas import AnnotationCreate, AnnotationUpdate, SharingIn
from cabinet.annotations.w3c import build_target, selector
from cabinet.audit import service as audit
from cabinet.core.errors import Conflict, DomainError, NotFound, PermissionDenied, ValidationError
from cabinet.core.timeutil import utcnow
from cabinet.documents import service as documents
from cabinet.documents.models import Document, DocumentStatus, DocumentVersion
from cabinet.extensions import db
from cabinet.meetings.access import is_staff
from cabinet.meetings.models import DeputyStatus, Meeting
from cabinet.users.models import Role, User

_PUBLIC_ID = re.compile(r"[0-9a-f]{32}")

_signals = Namespace()
#: Sent after a committed change, with ``action`` ("saved", "shared" or "deleted"),
#: ``annotation`` (None once deleted), ``public_id``, ``document_id``, ``owner_id``, and the ids of
#: the other people who could see it ``before`` and can see it ``after`` the change.
annotation_changed = _signals.signal("annotation-changed")

SCOPES = ("visible", "shared")


# --- reading -------------------------------------------------------------------------------------


def _fields_error(errors: dict[str, str]) -> ValidationError:
    return ValidationError(_("Some fields are missing or not valid."), details={"fields": errors})


def _find(public_id: str) -> Annotation | None:
    if not isinstance(public_id, str) or not _PUBLIC_ID.fullmatch(public_id):
        return None
    return db.session.scalars(select(Annotation).where(Annotation.public_id == public_id)).first()


def _not_found() -> NotFound:
    return NotFound(_("No such annotation, or you may not see it."))


def _shared_with(annotation: Annotation, user: User) -> bool:
    return any(share.user_id == user.id for share in annotation.shares)


def _visible_to(annotation: Annotation, user: User) -> bool:
    """The annotation's own rule (the document's rules are checked separately)."""
    if annotation.owner_id == user.id:
        return True
    if annotation.visibility == Visibility.MEETING:
        return True
    if annotation.visibility == Visibility.PARTICIPANTS:
        return _shared_with(annotation, user) or is_staff(user)
    return False  # private: the author alone, whoever asks


def get_annotation(user: User, public_id: str) -> tuple[Annotation, Document]:
    """The annotation and its document, if ``user`` may see both; else 404 (or the document's 403)."""
    annotation = _find(public_id)
    if annotation is None or not _visible_to(annotation, user):
        raise _not_found()
    document = documents.get_document(user, annotation.document_id)
    return annotation, document


def list_annotations(user: User, document_id: int,
                     scope: str = "visible") -> tuple[Document, list[Annotation]]:
    """The annotations of a document ``user`` may see, on every version, oldest version first.

    ``visible``: their own, those shared with the meeting, and those shared with them.
    ``shared`` (secretariat only, 403 otherwise): every shared annotation, never a private one.
    """
    if scope not in SCOPES:
        raise _fields_error({"scope": _("Choose one of: %(values)s.", values=", ".join(SCOPES))})
    document = documents.get_document(user, document_id)
    stmt = (select(Annotation).join(DocumentVersion, DocumentVersion.id == Annotation.version_id)
            .where(Annotation.document_id == document.id)
            .order_by(DocumentVersion.number, Annotation.page, Annotation.created_at, Annotation.id))
    if scope == "shared":
        if not is_staff(user):
            raise PermissionDenied(_("Only the secretariat may collect the shared annotations."))
        stmt = stmt.where(Annotation.visibility != Visibility.PRIVATE)
    else:
        mine = select(AnnotationShare.annotation_id).where(AnnotationShare.user_id == user.id)
        stmt = stmt.where(or_(Annotation.owner_id == user.id,
                              Annotation.visibility == Visibility.MEETING,
                              and_(Annotation.visibility == Visibility.PARTICIPANTS,
                                   Annotation.id.in_(mine))))
    return document, list(db.session.scalars(stmt))


def current_version_number(document: Document) -> int | None:
    version = document.current_version
    return version.number if version is not None else None


def meeting_people(meeting: Meeting) -> list[User]:
    """Everyone taking part in a meeting: participants and approved deputies."""
    ids = {p.user_id for p in meeting.participants}
    ids |= {p.deputy_id for p in meeting.participants
            if p.deputy_id is not None and p.deputy_status == DeputyStatus.APPROVED}
    if not ids:
        return []
    return list(db.session.scalars(select(User).where(User.id.in_(ids)).order_by(User.full_name, User.id)))


def share_candidates(user: User, document: Document) -> list[User]:
    """The people ``user`` may choose to share an annotation on ``document`` with.

    The meeting's participants (and approved deputies), not the user. Their clearance is not
    revealed here: someone who may not read the document simply never sees the annotation.
    """
    return [person for person in meeting_people(document.meeting) if person.id != user.id and person.active]


def _may_open(user: User, document_id: int) -> bool:
    try:
        documents.get_document(user, document_id)
    except DomainError:
        return False
    return True


def audience(annotation: Annotation) -> set[int]:
    """The ids of the people other than the author who may see ``annotation`` now.

    Shared with the meeting: every participant, approved deputy and member of the secretariat who
    may open the document (clearance, publication and recall apply to each). Shared with chosen
    participants: those of them who may open it.
    """
    if annotation.visibility == Visibility.PRIVATE:
        return set()
    document = annotation.document
    if annotation.visibility == Visibility.MEETING:
        people = meeting_people(document.meeting)
        people += list(db.session.scalars(select(User).where(
            User.role.in_([Role.SECRETARIAT.value, Role.ADMIN.value]), User.active.is_(True))))
    else:
        ids = [share.user_id for share in annotation.shares]
        people = list(db.session.scalars(select(User).where(User.id.in_(ids)))) if ids else []
    return {person.id for person in people
            if person.id != annotation.owner_id and person.active and _may_open(person, document.id)}


# --- changes -------------------------------------------------------------------------------------


@dataclass
class Change:
    """What a change did, for the live messages sent after it is committed."""

    action: str
    annotation: Annotation | None
    public_id: str
    document_id: int
    owner_id: int
    before: set[int] = field(default_factory=set)
    after: set[int] = field(default_factory=set)


def _announce(actor: User, change: Change) -> None:
    annotation_changed.send(actor, action=change.action, annotation=change.annotation,
                            public_id=change.public_id, document_id=change.document_id,
                            owner_id=change.owner_id, before=change.before, after=change.after)


def _writable_document(user: User, document_id: int) -> Document:
    document = documents.get_document(user, document_id)
    if document.status == DocumentStatus.RECALLED:
        raise Conflict(_("This document was recalled: its annotations can no longer be changed."),
                       code="recalled")
    return document


def _own(user: User, public_id: str) -> Annotation:
    """The user's own annotation: 404 when they may not see it, 403 when it is someone else's."""
    annotation = _find(public_id)
    if annotation is None or not _visible_to(annotation, user):
        raise _not_found()
    if annotation.owner_id != user.id:
        # The document's rules first: someone who may no longer read it learns nothing more.
        documents.get_document(user, annotation.document_id)
        raise PermissionDenied(_("Only the author of an annotation may change or delete it."),
                               code="not_author")
    return annotation


def _clean_text(text: str) -> str:
    # NFC: the same Vietnamese letter typed on two keyboards is stored the same way.
    return unicodedata.normalize("NFC", text.replace("\r\n", "\n")).strip()


def _geometry_errors(kind: AnnotationKind, data) -> dict[str, str]:
    """The geometry fields ``kind`` needs are given, and no other (create: all needed ones)."""
    needed = {AnnotationKind.PEN: {"strokes"}, AnnotationKind.HIGHLIGHT: {"rects"},
              AnnotationKind.NOTE: {"point"}}[kind]
    allowed = needed | ({"quote"} if kind == AnnotationKind.HIGHLIGHT else set())
    errors = {}
    for name in ("strokes", "rects", "quote", "point"):
        given = getattr(data, name) is not None
        if given and name not in allowed:
            errors[name] = _("Not used by this kind of annotation (%(kind)s).", kind=kind.value)
        elif not given and name in needed and isinstance(data, AnnotationCreate):
            errors[name] = {"strokes": _("Draw at least one stroke."),
                            "rects": _("Select the text to highlight."),
                            "point": _("Choose where to pin the note.")}[name]
    return errors


def _version(document: Document, number: int | None) -> DocumentVersion | None:
    if number is None:
        return document.current_version
    return next((v for v in document.versions if v.number == number), None)


def _sharing_errors(actor: User, document: Document, visibility: str, user_ids: list[int]) -> dict[str, str]:
    if visibility != Visibility.PARTICIPANTS:
        if user_ids:
            return {"user_ids": _("Choose people only when sharing with chosen participants.")}
        return {}
    if not user_ids:
        return {"user_ids": _("Choose at least one participant to share with.")}
    allowed = {person.id for person in share_candidates(actor, document)}
    if not set(user_ids) <= allowed:
        return {"user_ids": _("Share only with participants of this meeting (not with yourself).")}
    return {}


def _set_shares(annotation: Annotation, visibility: str, user_ids: list[int]) -> None:
    annotation.visibility = visibility
    wanted = set(user_ids) if visibility == Visibility.PARTICIPANTS else set()
    for share in list(annotation.shares):
        if share.user_id not in wanted:
            annotation.shares.remove(share)
    have = {share.user_id for share in annotation.shares}
    for user_id in sorted(wanted - have):
        annotation.shares.append(AnnotationShare(user_id=user_id))


def _existing_for_retry(actor: User, document: Document, public_id: str) -> Annotation | None:
    """The annotation a retried create already made, or None; 409 if the id is someone else's."""
    existing = _find(public_id)
    if existing is None:
        return None
    if existing.owner_id != actor.id or existing.document_id != document.id:
        raise Conflict(_("This annotation id is already in use. Generate a new one."), code="id_taken")
    return existing


def create_annotation(actor: User, document_id: int, data: AnnotationCreate) -> tuple[Annotation, bool]:
    """Create an annotation on a document version; returns it and whether it is new.

    Sending again an id already created by the same author on the same document returns that
    annotation unchanged (``False``): retries after a lost answer make no duplicate.
    """
    document = _writable_document(actor, document_id)
    public_id = data.id or new_public_id()
    existing = _existing_for_retry(actor, document, public_id)
    if existing is not None:
        return existing, False

    kind = AnnotationKind(data.kind)
    errors = _geometry_errors(kind, data)
    version = _version(document, data.version)
    if version is None:
        errors["version"] = _("This document has no version %(n)d.", n=data.version)
    elif version.pdf_sha256 is None:
        errors["version"] = _("This version has no PDF to annotate (a Word file that could not be "
                              "converted).")
    elif version.page_count is not None and data.page > version.page_count:
        errors["page"] = _("This version has %(n)d pages.", n=version.page_count)
    body = _clean_text(data.body)
    if kind == AnnotationKind.NOTE and not body:
        errors["body"] = _("Write the text of the note.")
    errors.update(_sharing_errors(actor, document, data.visibility, data.user_ids))
    if errors:
        raise _fields_error(errors)

    annotation = Annotation(
        public_id=public_id, document_id=document.id, version_id=version.id, page=data.page,
        owner_id=actor.id, kind=kind.value, colour=data.colour, body_text=body,
        target=build_target(kind, data.page, strokes=data.strokes, rects=data.rects, quote=data.quote,
                            point=data.point))
    _set_shares(annotation, data.visibility, data.user_ids)
    db.session.add(annotation)
    try:
        db.session.flush()
    except IntegrityError:
        # The same id sent twice at the same moment (a retry racing the first attempt).
        db.session.rollback()
        existing = _existing_for_retry(actor, documents.get_document(actor, document_id), public_id)
        if existing is None:
            raise
        return existing, False
    audit.record("annotation.created", actor=actor, object_type="annotation", object_id=public_id,
                 details={"document_id": document.id, "version": version.number, "page": data.page,
                          "kind": kind.value, "visibility": annotation.visibility,
                          "user_ids": annotation.shared_user_ids})
    db.session.commit()
    _announce(actor, Change("saved", annotation, public_id, document.id, actor.id,
                            after=audience(annotation)))
    return annotation, True


def update_annotation(actor: User, public_id: str, data: AnnotationUpdate) -> Annotation:
    """Change the text, colour or geometry of one's own annotation (fields left out are kept)."""
    annotation = _own(actor, public_id)
    document = _writable_document(actor, annotation.document_id)
    kind = AnnotationKind(annotation.kind)
    errors = _geometry_errors(kind, data)
    body = _clean_text(data.body) if data.body is not None else None
    if body is not None and kind == AnnotationKind.NOTE and not body:
        errors["body"] = _("Write the text of the note.")
    if errors:
        raise _fields_error(errors)

    changed = []
    if body is not None and body != annotation.body_text:
        annotation.body_text = body
        changed.append("body")
    if data.colour is not None and data.colour != annotation.colour:
        annotation.colour = data.colour
        changed.append("colour")
    if any(getattr(data, name) is not None for name in ("strokes", "rects", "quote", "point")):
        strokes, rects, quote, point = data.strokes, data.rects, data.quote, data.point
        if kind == AnnotationKind.HIGHLIGHT and rects is None:
            # New quote, same area. (New rectangles without a quote drop the old quote: it
            # would describe other text.)
            rects = _stored_rects(annotation)
            quote = quote if quote is not None else _stored_quote(annotation)
        target = build_target(kind, annotation.page, strokes=strokes, rects=rects, quote=quote, point=point)
        if target != annotation.target:
            annotation.target = target
            changed.append("geometry")
    if changed:
        annotation.updated_at = utcnow()
        audit.record("annotation.updated", actor=actor, object_type="annotation", object_id=public_id,
                     details={"document_id": document.id, "fields": changed})
    db.session.commit()
    if changed:
        audience_now = audience(annotation)
        _announce(actor, Change("saved", annotation, public_id, document.id, actor.id,
                                before=audience_now, after=audience_now))
    return annotation


def _stored_rects(annotation: Annotation) -> list:
    entry = selector(annotation, "RectsSelector")
    return [tuple(rect) for rect in entry["rects"]] if entry else []


def _stored_quote(annotation: Annotation):
    from cabinet.annotations.schemas import AnnotationQuote

    entry = selector(annotation, "TextQuoteSelector")
    if not entry:
        return None
    return AnnotationQuote(exact=entry["exact"], prefix=entry.get("prefix", ""),
                           suffix=entry.get("suffix", ""))


def set_sharing(actor: User, public_id: str, data: SharingIn) -> Annotation:
    """Make one's own annotation private, shared with the meeting, or with chosen participants."""
    annotation = _own(actor, public_id)
    document = _writable_document(actor, annotation.document_id)
    errors = _sharing_errors(actor, document, data.visibility, data.user_ids)
    if errors:
        raise _fields_error(errors)
    before = audience(annotation)
    previous = annotation.visibility
    previous_ids = annotation.shared_user_ids
    _set_shares(annotation, data.visibility, data.user_ids)
    db.session.flush()
    if (annotation.visibility, annotation.shared_user_ids) != (previous, previous_ids):
        annotation.updated_at = utcnow()
        audit.record("annotation.sharing_changed", actor=actor, object_type="annotation",
                     object_id=public_id,
                     details={"document_id": document.id, "visibility": annotation.visibility,
                              "previous_visibility": previous, "user_ids": annotation.shared_user_ids,
                              "previous_user_ids": previous_ids})
    db.session.commit()
    _announce(actor, Change("shared", annotation, public_id, document.id, actor.id,
                            before=before, after=audience(annotation)))
    return annotation


def delete_annotation(actor: User, public_id: str) -> None:
    """Delete one's own annotation (those it was shared with see it go)."""
    annotation = _own(actor, public_id)
    document = documents.get_document(actor, annotation.document_id)
    before = audience(annotation)
    details = {"document_id": document.id, "version": annotation.version.number,
               "page": annotation.page, "kind": annotation.kind, "visibility": annotation.visibility}
    db.session.delete(annotation)
    audit.record("annotation.deleted", actor=actor, object_type="annotation", object_id=public_id,
                 details=details)
    db.session.commit()
    _announce(actor, Change("deleted", None, public_id, document.id, actor.id, before=before))
