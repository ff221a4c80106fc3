"""Document endpoints: upload (multipart), list, metadata, the PDF, publish, recall.

Thin wrappers around :mod:`cabinet.documents.service`, which decides who may read what (meeting,
draft, recall, clearance), checks uploads by content, watermarks classified pages and audits.
"""

from __future__ import annotations

from flask import jsonify, request
from flask_babel import gettext as _
from pydantic import ValidationError as PydanticValidationError

from cabinet.api.framework import operation
from cabinet.api.meeting_schemas import DocumentList, DocumentOut, DocumentUpload, RecallIn
from cabinet.core.errors import BadRequest, ValidationError
from cabinet.documents import service
from cabinet.documents.models import Document
from cabinet.documents.routes import _send as send_content
from cabinet.meetings import access
from cabinet.meetings.json import iso

TAGS = ["documents"]


def document_json(document: Document) -> dict:
    version = document.current_version
    return {
        "id": document.id,
        "meeting_id": document.meeting_id,
        "agenda_item_id": document.agenda_item_id,
        "title": document.title,
        "doc_type": document.doc_type,
        "secrecy": document.secrecy,
        "urgency": document.urgency,
        "status": document.status,
        "published_at": iso(document.published_at),
        "published_late": document.published_late,
        "recalled_at": iso(document.recalled_at),
        "recall_reason": document.recall_reason,
        "created_at": iso(document.created_at),
        "updated_at": iso(document.updated_at),
        "version": None if version is None else {
            "number": version.number,
            "filename": version.original_filename,
            "media_type": version.media_type,
            "size": version.size,
            "page_count": version.page_count,
            "has_pdf": version.pdf_sha256 is not None,
            "conversion_note": service.conversion_notice(version),
            "uploaded_at": iso(version.uploaded_at),
        },
    }


def parse_upload() -> DocumentUpload:
    """Read the multipart form into :class:`DocumentUpload`: 400 when not multipart, 422 invalid."""
    if request.mimetype != "multipart/form-data":
        raise BadRequest(_("Send the document as multipart/form-data: a file part and the fields."),
                         code="not_multipart")
    parts = {**request.form.to_dict(), **request.files.to_dict()}
    try:
        return DocumentUpload.model_validate(parts)
    except PydanticValidationError as exc:
        problems = [{"field": ".".join(str(p) for p in err["loc"]) or "(body)", "message": err["msg"]}
                    for err in exc.errors(include_url=False, include_input=False)]
        raise ValidationError(_("Some fields are missing or not valid."),
                              details={"fields": problems}) from exc


@operation("POST", "/meetings/<int:meeting_id>/documents", summary="Upload a document (secretariat)",
           tags=TAGS, form=DocumentUpload, response=DocumentOut, status=201,
           errors=(400, 404, 413, 422, 429, 503),
           description="multipart/form-data with a `file` part (PDF or DOCX) and the fields. The "
                       "document starts as a draft, seen by the secretariat only, until published.")
def upload_document(user, meeting_id: int):
    form = parse_upload()
    document = service.upload_document(
        user, meeting_id, title=form.title, doc_type=form.doc_type, secrecy=form.secrecy,
        urgency=form.urgency, agenda_item_id=form.agenda_item_id, stream=form.file.stream,
        filename=form.file.filename)
    return jsonify(document_json(document)), 201


@operation("GET", "/meetings/<int:meeting_id>/documents", summary="A meeting's documents",
           tags=TAGS, response=DocumentList, errors=(404,),
           description="Urgent first, then by agenda item. Participants see published documents "
                       "their clearance covers; the secretariat also sees drafts and recalled ones.")
def list_documents(user, meeting_id: int):
    meeting = access.get_meeting(user, meeting_id)
    entries = service.documents_for_meeting(user, meeting)
    return jsonify({"documents": [document_json(e.document) | {"unread": e.unread} for e in entries]})


@operation("GET", "/documents/<int:document_id>", summary="A document's metadata", tags=TAGS,
           response=DocumentOut, errors=(404,),
           description="403 with code `not_cleared` when your clearance does not cover its secrecy "
                       "level, `recalled` when it was recalled.")
def get_document(user, document_id: int):
    return jsonify(document_json(service.get_document(user, document_id)))


@operation("GET", "/documents/<int:document_id>/content", summary="The document as a PDF", tags=TAGS,
           produces="application/pdf", errors=(404, 409),
           description="Classified documents carry your name, organisation and the time on every "
                       "page. Never cached (`Cache-Control: no-store`); each read is audited. 409 "
                       "(`no_pdf`) for a Word file that could not be converted.")
def document_content(user, document_id: int):
    return send_content(service.open_content(user, document_id, download=False))


@operation("POST", "/documents/<int:document_id>/publish", summary="Publish a draft (secretariat)",
           tags=TAGS, response=DocumentOut, errors=(404, 409, 422),
           description="Distributes the document to the meeting's participants; a publication after "
                       "the deadline for documents is flagged `published_late`.")
def publish_document(user, document_id: int):
    return jsonify(document_json(service.publish(user, document_id)))


@operation("POST", "/documents/<int:document_id>/recall", summary="Recall a document (secretariat)",
           tags=TAGS, body=RecallIn, response=DocumentOut, errors=(400, 404, 409, 413, 422),
           description="From now on only the secretariat can open it.")
def recall_document(user, document_id: int, body: RecallIn):
    return jsonify(document_json(service.recall(user, document_id, body.reason)))
