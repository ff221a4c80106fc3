"""Annotation endpoints: a document's annotations, creating (idempotent), editing, sharing, deleting.

Thin wrappers around :mod:`cabinet.annotations.service` (who may see and change what, the
audit trail, the live messages). Annotations are W3C Web Annotations with e-Cabinet's fields.
"""

from __future__ import annotations

from flask import jsonify, request

from cabinet.annotations import service
from cabinet.annotations.payloads import annotation_payload, list_payload
from cabinet.annotations.schemas import (
    AnnotationCreate,
    AnnotationList,
    AnnotationOut,
    AnnotationUpdate,
    SharingIn,
)
from cabinet.api.framework import operation

TAGS = ["annotations"]
BODY_ERRORS = (400, 413, 422)


@operation("GET", "/documents/<int:document_id>/annotations", summary="A document's annotations",
           tags=TAGS, response=AnnotationList, errors=(404, 422),
           query={"scope": {"type": "string", "enum": list(service.SCOPES), "default": "visible"}},
           description="`visible` (default): yours, those shared with the meeting and those shared "
                       "with you, on every version of the document (`outdated` marks those made on "
                       "an earlier version). `shared` (secretariat): every shared annotation, for "
                       "collection; private annotations are never listed for anyone else. The "
                       "document's own rules apply first: 403 `recalled` or `not_cleared`, 404.")
def list_annotations(user, document_id: int):
    document, annotations = service.list_annotations(user, document_id, request.args.get("scope", "visible"))
    return jsonify(list_payload(user, document, annotations))


@operation("POST", "/documents/<int:document_id>/annotations", summary="Annotate a document",
           tags=TAGS, body=AnnotationCreate, response=AnnotationOut, status=201,
           also={200: "Already created: an annotation with this id was made by you before (a retry)"},
           errors=(*BODY_ERRORS, 404, 409),
           description="A pen drawing (`strokes`), a highlight (`rects`, and `quote` for the text) or "
                       "a note (`point` and `body`), in fractions of the page (0..1, from the top "
                       "left). Private unless `visibility` says otherwise. Send your own `id` (a "
                       "UUID4 without dashes) to retry safely. 409 `recalled` on a recalled "
                       "document, `id_taken` when the id is someone else's.")
def create_annotation(user, document_id: int, body: AnnotationCreate):
    annotation, created = service.create_annotation(user, document_id, body)
    return jsonify(annotation_payload(annotation, user)), 201 if created else 200


@operation("GET", "/annotations/<annotation_id>", summary="One annotation", tags=TAGS,
           response=AnnotationOut, errors=(404,))
def get_annotation(user, annotation_id: str):
    annotation, document = service.get_annotation(user, annotation_id)
    return jsonify(annotation_payload(annotation, user, document))


@operation("PATCH", "/annotations/<annotation_id>", summary="Change your annotation", tags=TAGS,
           body=AnnotationUpdate, response=AnnotationOut, errors=(*BODY_ERRORS, 404, 409),
           description="Its text, colour or geometry; fields left out are kept. The author only "
                       "(403 `not_author`).")
def update_annotation(user, annotation_id: str, body: AnnotationUpdate):
    annotation = service.update_annotation(user, annotation_id, body)
    return jsonify(annotation_payload(annotation, user))


@operation("PUT", "/annotations/<annotation_id>/sharing", summary="Share or unshare your annotation",
           tags=TAGS, body=SharingIn, response=AnnotationOut, errors=(*BODY_ERRORS, 404, 409),
           description="`private`, `meeting` (every participant who may read the document: their "
                       "clearance applies) or `participants` with `user_ids` chosen among the "
                       "meeting's participants. The author only.")
def share_annotation(user, annotation_id: str, body: SharingIn):
    annotation = service.set_sharing(user, annotation_id, body)
    return jsonify(annotation_payload(annotation, user))


@operation("DELETE", "/annotations/<annotation_id>", summary="Delete your annotation", tags=TAGS,
           status=204, errors=(404,), description="The author only (403 `not_author`).")
def delete_annotation(user, annotation_id: str):
    service.delete_annotation(user, annotation_id)
    return "", 204
