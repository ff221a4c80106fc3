"""The JSON answers shared by the API (``/api/v1``) and the viewer's routes (cookie session)."""

from __future__ import annotations

from cabinet.annotations import service
from cabinet.annotations.models import Annotation
from cabinet.annotations.w3c import to_json
from cabinet.documents.models import Document
from cabinet.users.models import User


def annotation_payload(annotation: Annotation, viewer: User, document: Document | None = None) -> dict:
    document = document or annotation.document
    return to_json(annotation, viewer, current_version=service.current_version_number(document))


def list_payload(viewer: User, document: Document, annotations: list[Annotation]) -> dict:
    current = service.current_version_number(document)
    return {
        "annotations": [to_json(a, viewer, current_version=current) for a in annotations],
        "current_version": current,
        "share_candidates": [{"id": p.id, "full_name": p.full_name, "title": p.title or ""}
                             for p in service.share_candidates(viewer, document)],
    }
