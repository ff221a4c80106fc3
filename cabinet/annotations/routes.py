"""The viewer's annotation routes (session cookie, CSRF token in the ``X-CSRFToken`` header) and
the secretariat's page of a document's shared annotations.

The JSON routes take and give exactly what the API does (``/api/v1``, bearer tokens); they exist
so that the viewer page can use its session. They always answer JSON, errors included.
"""

from __future__ import annotations

from functools import wraps

from flask import Blueprint, jsonify, render_template, request
from flask_babel import gettext as _
from flask_login import current_user, login_required

from cabinet.annotations import service
from cabinet.annotations.models import AnnotationKind, Visibility
from cabinet.annotations.payloads import annotation_payload, list_payload
from cabinet.annotations.schemas import AnnotationCreate, AnnotationUpdate, SharingIn
from cabinet.annotations.w3c import selector
from cabinet.api.framework import parse_body
from cabinet.core.errors import DomainError
from cabinet.core.http import json_details
from cabinet.documents.service import DocumentEntry
from cabinet.meetings.access import require_staff
from cabinet.users.models import User

bp = Blueprint("annotations", __name__)


def _me() -> User:
    return current_user._get_current_object()


def _json_error(status: int, code: str, message: str, details=None):
    body = {"code": code, "message": message}
    if details is not None:
        body["details"] = details
    return jsonify({"error": body}), status


def json_route(view):
    """Answer JSON whatever the client accepts: a 401 rather than a redirect to the login page,
    and domain errors as ``{"error": {...}}`` with their status."""

    @wraps(view)
    def wrapper(**kwargs):
        if not current_user.is_authenticated:
            return _json_error(401, "unauthenticated", _("Your session has ended. Please log in again."))
        try:
            return view(**kwargs)
        except DomainError as exc:
            return _json_error(exc.status, exc.code, exc.message, json_details(exc.details))

    return wrapper


@bp.route("/documents/<int:document_id>/annotations", methods=["GET"])
@json_route
def list_json(document_id: int):
    me = _me()
    document, annotations = service.list_annotations(me, document_id, request.args.get("scope", "visible"))
    return jsonify(list_payload(me, document, annotations))


@bp.route("/documents/<int:document_id>/annotations", methods=["POST"])
@json_route
def create_json(document_id: int):
    me = _me()
    annotation, created = service.create_annotation(me, document_id, parse_body(AnnotationCreate))
    return jsonify(annotation_payload(annotation, me)), 201 if created else 200


@bp.route("/annotations/<annotation_id>", methods=["GET"])
@json_route
def get_json(annotation_id: str):
    me = _me()
    annotation, document = service.get_annotation(me, annotation_id)
    return jsonify(annotation_payload(annotation, me, document))


@bp.route("/annotations/<annotation_id>", methods=["PATCH"])
@json_route
def update_json(annotation_id: str):
    me = _me()
    annotation = service.update_annotation(me, annotation_id, parse_body(AnnotationUpdate))
    return jsonify(annotation_payload(annotation, me))


@bp.route("/annotations/<annotation_id>/sharing", methods=["PUT"])
@json_route
def share_json(annotation_id: str):
    me = _me()
    annotation = service.set_sharing(me, annotation_id, parse_body(SharingIn))
    return jsonify(annotation_payload(annotation, me))


@bp.route("/annotations/<annotation_id>", methods=["DELETE"])
@json_route
def delete_json(annotation_id: str):
    service.delete_annotation(_me(), annotation_id)
    return "", 204


# --- the secretariat's collection ------------------------------------------------------------


def _polyline(points) -> str:
    return " ".join(f"{x:.4f},{y:.4f}" for x, y in points)


@bp.route("/documents/<int:document_id>/annotations/shared")
@login_required
def shared_page(document_id: int):
    """Every shared annotation of a document, by version and page (secretariat only)."""
    me = _me()
    require_staff(me)
    document, annotations = service.list_annotations(me, document_id, "shared")
    current = service.current_version_number(document)
    people = {p.id: p for p in service.meeting_people(document.meeting)}
    return render_template(
        "annotations/shared.html", document=document, entry=DocumentEntry(document),
        annotations=annotations, current=current, people=people, selector=selector,
        polyline=_polyline, Kind=AnnotationKind, Visibility=Visibility)
