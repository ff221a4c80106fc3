"""Exporting a ballot's documents — the summary report and the blank form — for pages and API alike.

Each export is audited. The data is loaded and the transaction ended before rendering (WeasyPrint
takes a second; no database lock is held meanwhile: see documents.service.end_read_transaction).
"""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import gettext as _

from cabinet.audit import service as audit
from cabinet.ballots import documents, service
from cabinet.ballots.models import BallotStatus
from cabinet.core.errors import PermissionDenied
from cabinet.extensions import db
from cabinet.meetings.access import is_staff
from cabinet.users.models import User

PDF = "application/pdf"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


@dataclass(frozen=True)
class Export:
    content: bytes
    filename: str
    media_type: str


def report(actor: User, ballot_id: int, fmt: str) -> Export:
    """The summary report (Báo cáo tổng hợp ý kiến), PDF or DOCX: secretariat and decider only."""
    data = documents.report_data(service.result(actor, ballot_id))
    audit.record("ballot.report_exported", actor=actor, object_type="ballot", object_id=ballot_id,
                 details={"format": fmt})
    db.session.commit()
    if fmt == "docx":
        return Export(documents.report_docx(data), documents.filename(data, "docx"), DOCX)
    return Export(documents.report_pdf(data), documents.filename(data, "pdf"), PDF)


def blank_form(actor: User, ballot_id: int, fmt: str = "pdf") -> Export:
    """The printed form (PHIẾU LẤY Ý KIẾN): a draft's preview for the secretariat; once issued, for
    the secretariat (to send on paper) and for each recipient (their own copy)."""
    ballot = service.get_ballot(actor, ballot_id)
    if not is_staff(actor) and not ballot.is_recipient(actor.id):
        raise PermissionDenied(_("The form is for the ballot's recipients and the secretariat."))
    recipient = actor if ballot.is_recipient(actor.id) and ballot.status != BallotStatus.DRAFT else None
    data = documents.form_data(ballot, recipient=recipient)
    audit.record("ballot.form_exported", actor=actor, object_type="ballot", object_id=ballot.id,
                 details={"format": fmt, "draft": ballot.status == BallotStatus.DRAFT})
    db.session.commit()
    if fmt == "docx":
        return Export(documents.blank_form_docx(data), documents.filename(data, "docx"), DOCX)
    return Export(documents.blank_form_pdf(data), documents.filename(data, "pdf"), PDF)
