"""Reading a ballot: its dossier files (D14) and the counts the pages list.

The dossier of a ballot is kept like a meeting's documents and read under the same rules: only
those the ballot was sent to (its recipients and its decider) and the secretariat open it, only
when cleared for its secrecy level, and classified files are watermarked for each reader on every
page. Each read is audited (``ballot.document_viewed``).
"""

from __future__ import annotations

from flask_babel import gettext as _

from cabinet.audit import service as audit
from cabinet.ballots import service
from cabinet.ballots.models import BallotDocument, BallotStatus
from cabinet.core.errors import Conflict, NotFound, PermissionDenied
from cabinet.core.types import MAX_ID
from cabinet.documents import service as documents
from cabinet.extensions import db
from cabinet.meetings.access import cleared_for, is_staff
from cabinet.users.models import User


def get_document(user: User, ballot_id: int, document_id: int) -> BallotDocument:
    """A file of the ballot's dossier, if the user may read it.

    404 when the user may not see the ballot (or the file is not in it); 403 when they may see the
    ballot but their clearance does not cover the file's level, or the ballot was recalled (its
    dossier is then for the secretariat only, like a recalled meeting document).
    """
    ballot = service.get_ballot(user, ballot_id)
    valid = isinstance(document_id, int) and 0 < document_id <= MAX_ID
    document = next((d for d in ballot.documents if d.id == document_id), None) if valid else None
    if document is None:
        raise NotFound(_("No such document in this ballot."))
    if not cleared_for(user, document.secrecy):
        raise PermissionDenied(_("Your clearance does not cover this document's secrecy level."),
                               code="not_cleared")
    if ballot.status == BallotStatus.RECALLED and not is_staff(user):
        raise PermissionDenied(_("This ballot was recalled: its dossier can no longer be opened."),
                               code="ballot_recalled")
    return document


def open_document(user: User, ballot_id: int, document_id: int) -> documents.Content:
    """Check access, prepare the PDF to send (watermarked per reader when classified), audit it.

    The same steps as :func:`cabinet.documents.service.open_content`: no transaction is held
    while the watermark is drawn, and access is checked again in the transaction that records the
    read.
    """
    document = get_document(user, ballot_id, document_id)
    if document.pdf_sha256 is None:
        raise Conflict(_("This document has no PDF version to show."), code="no_pdf")
    name = document.original_filename or "document"
    stem = name.rsplit(".", 1)[0] if "." in name else name
    sha, classified = document.pdf_sha256, document.is_classified
    content = documents.Content(document_id=document.id, version_number=1,
                                filename=f"{stem or 'document'}.pdf", media_type=documents.PDF_MEDIA_TYPE,
                                size=0, as_attachment=False, watermarked=classified)
    mark = documents.mark_for(user, document) if classified else None
    documents.end_read_transaction()
    documents.attach_file(content, sha, mark)

    try:
        document = get_document(user, ballot_id, document_id)  # a recall meanwhile wins
        audit.record("ballot.document_viewed", actor=user, object_type="ballot", object_id=ballot_id,
                     details={"document_id": document.id, "sha256": sha, "secrecy": document.secrecy,
                              "watermarked": classified})
        db.session.commit()
    except BaseException:
        if content.stream is not None:
            content.stream.close()
        raise
    return content
