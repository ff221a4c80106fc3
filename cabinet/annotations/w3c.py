"""Annotations as W3C Web Annotations (https://www.w3.org/TR/annotation-model/), plus our fields.

The stored ``target`` already holds the selectors (see :func:`build_target`); this module adds
what depends on who asks and where: the URLs, the author, ``mine``, ``outdated``.
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import has_request_context, url_for

from cabinet.annotations.models import Annotation, AnnotationKind
from cabinet.users.models import User

CONTEXT = "http://www.w3.org/ns/anno.jsonld"
PDF_FRAGMENT = "http://tools.ietf.org/rfc/rfc3778"
DECIMALS = 4  # 1/10,000 of a page: finer than a finger, a pen or a screen pixel


def _round(value: float) -> float:
    return round(float(value), DECIMALS)


def build_target(kind: AnnotationKind, page: int, *, strokes=None, rects=None, quote=None,
                 point=None) -> dict:
    """The ``target`` column: a FragmentSelector for the page, then the kind's own selectors.

    Takes validated values (cabinet.annotations.schemas); coordinates are rounded to 4 decimals.
    """
    selectors: list[dict] = [
        {"type": "FragmentSelector", "conformsTo": PDF_FRAGMENT, "value": f"page={page}"}]
    if kind == AnnotationKind.PEN:
        selectors.append({"type": "StrokesSelector", "strokes": [
            {"points": [[_round(x), _round(y)] for x, y in stroke.points], "width": _round(stroke.width)}
            for stroke in strokes]})
    elif kind == AnnotationKind.HIGHLIGHT:
        selectors.append({"type": "RectsSelector",
                          "rects": [[_round(v) for v in rect] for rect in rects]})
        if quote is not None:
            selectors.append({"type": "TextQuoteSelector", "exact": quote.exact, "prefix": quote.prefix,
                              "suffix": quote.suffix})
    else:
        x, y = point
        selectors.append({"type": "PointSelector", "x": _round(x), "y": _round(y)})
    return {"selector": selectors}


def selector(annotation: Annotation, kind: str) -> dict | None:
    """The stored selector of ``kind`` (e.g. "StrokesSelector"), or None."""
    for entry in (annotation.target or {}).get("selector", []):
        if entry.get("type") == kind:
            return entry
    return None


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat()


def _url(endpoint: str, fallback: str, **values) -> str:
    """An absolute URL within a request; outside one (CLI, tests of the service) a relative one."""
    if has_request_context():
        return url_for(endpoint, _external=True, **values)
    return fallback


def annotation_url(annotation: Annotation) -> str:
    return _url("api.get_annotation", f"/api/v1/annotations/{annotation.public_id}",
                annotation_id=annotation.public_id)


def version_url(annotation: Annotation) -> str:
    """The annotated version: its row in the versions table of the document page."""
    number = annotation.version.number
    return _url("documents.view", f"/documents/{annotation.document_id}#version-{number}",
                document_id=annotation.document_id, _anchor=f"version-{number}")


def to_json(annotation: Annotation, viewer: User, *, current_version: int | None) -> dict:
    """The annotation as ``viewer`` receives it. ``current_version``: the document's newest number."""
    kind = AnnotationKind(annotation.kind)
    mine = annotation.owner_id == viewer.id
    owner = annotation.owner
    number = annotation.version.number
    body = []
    if annotation.body_text:
        body.append({"type": "TextualBody", "value": annotation.body_text, "format": "text/plain"})
    return {
        "@context": CONTEXT,
        "type": "Annotation",
        "id": annotation_url(annotation),
        "annotation_id": annotation.public_id,
        "motivation": kind.motivation,
        "created": _iso(annotation.created_at),
        "modified": _iso(annotation.updated_at),
        "creator": {"type": "Person", "id": f"urn:e-cabinet:user:{owner.id}", "user_id": owner.id,
                    "name": owner.full_name},
        "body": body,
        "target": {"source": version_url(annotation),
                   "selector": list((annotation.target or {}).get("selector", []))},
        "document_id": annotation.document_id,
        "version": number,
        "page": annotation.page,
        "kind": kind.value,
        "colour": annotation.colour,
        "visibility": annotation.visibility,
        "outdated": current_version is not None and current_version > number,
        "mine": mine,
        "shared_with": annotation.shared_user_ids if mine else None,
    }
