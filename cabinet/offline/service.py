"""What a member may keep on their device to read a meeting offline (issue 8, D14).

A meeting made "available offline" is a set of URLs the service worker stores: the meeting page,
and for each document the member may read now its viewer page, its PDF and its annotations.
The list is computed from the same access rules as the pages (:mod:`cabinet.meetings.access`,
:func:`cabinet.documents.service.documents_for_meeting`), so a document the member can no longer
read (recalled, withdrawn from the meeting, clearance lowered) is simply absent from it, and the
device deletes what the current list no longer names at its next contact with the server.

Documents classified ``Tối mật`` or ``Tuyệt mật`` are never stored on a device: they are left out
of the list and their responses carry :data:`NEVER_OFFLINE_HEADER`, which the service worker obeys
even when asked to store such a URL.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cabinet.documents.models import Document, DocumentStatus
from cabinet.documents.service import documents_for_meeting
from cabinet.meetings.access import get_meeting
from cabinet.users.models import Clearance, User

# Secrecy levels whose documents never leave the server for a device's storage (issue 8).
NEVER_OFFLINE = frozenset({Clearance.TOI_MAT, Clearance.TUYET_MAT})
# Set on every response that carries such a document; the service worker refuses to store it.
NEVER_OFFLINE_HEADER = "X-Cabinet-Offline"
NEVER_OFFLINE_VALUE = "never"


def may_keep_offline(document: Document) -> bool:
    """True when a copy of ``document`` may be stored on a device (not Tối mật / Tuyệt mật)."""
    return document.secrecy_enum not in NEVER_OFFLINE


@dataclass(frozen=True)
class OfflineDocument:
    """A document the member may keep, with what identifies the stored copy's freshness."""

    id: int
    title: str
    secrecy: str
    version: int
    size: int
    has_pdf: bool


@dataclass
class OfflinePlan:
    """What ``user`` may keep of one meeting: documents to store, and those withheld by secrecy."""

    meeting_id: int
    title: str
    documents: list[OfflineDocument] = field(default_factory=list)
    withheld: list[OfflineDocument] = field(default_factory=list)


def _offline_document(document: Document) -> OfflineDocument:
    version = document.current_version
    return OfflineDocument(
        id=document.id, title=document.title, secrecy=document.secrecy,
        version=version.number if version is not None else 0,
        size=version.size if version is not None else 0,
        has_pdf=bool(version is not None and version.pdf_sha256))


def offline_plan(user: User, meeting_id: int) -> OfflinePlan:
    """What ``user`` may keep on their device of meeting ``meeting_id``.

    NotFound (404) when the meeting is not theirs to see, as for its page. Only published
    documents are listed — for the secretariat too: a draft or a recalled document has no place
    on a tablet — and only those the user may read now (clearance included). Tối mật and Tuyệt
    mật documents the user may read are returned apart, in ``withheld``, so the page can say
    that they stay on the server.
    """
    meeting = get_meeting(user, meeting_id)
    plan = OfflinePlan(meeting_id=meeting.id, title=meeting.title)
    for entry in documents_for_meeting(user, meeting):
        document = entry.document
        if document.status != DocumentStatus.PUBLISHED:
            continue
        target = plan.documents if may_keep_offline(document) else plan.withheld
        target.append(_offline_document(document))
    return plan


def never_offline(document_id: int) -> bool:
    """True when the document exists and must never be stored on a device (by its secrecy)."""
    from cabinet.extensions import db

    document = db.session.get(Document, document_id)
    return document is not None and not may_keep_offline(document)
