"""Document pages: upload, the document page, reading and downloading, publish and recall.

Thin: every rule (who may, what is refused, what is audited) is in :mod:`cabinet.documents.service`.
"""

from __future__ import annotations

from flask import (
    Blueprint,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required
from jinja2 import TemplateNotFound
from werkzeug.exceptions import RequestEntityTooLarge

from cabinet.account.forms import EmptyForm
from cabinet.core.errors import DomainError
from cabinet.core.forms import show_service_errors
from cabinet.core.http import error_response, json_details, wants_json
from cabinet.documents import service
from cabinet.documents.forms import RecallForm, UploadForm, VersionForm
from cabinet.documents.models import SECRECY_LABELS, DocumentStatus
from cabinet.meetings import access
from cabinet.rules import rules
from cabinet.users.models import User

bp = Blueprint("documents", __name__)

PDF_VIEWER_TEMPLATE = "documents/_pdf_viewer.html"
# The PDF itself is not a page: nothing in it may run or load anything.
CONTENT_CSP = "default-src 'none'; object-src 'self'; frame-ancestors 'none'"


def _me() -> User:
    return current_user._get_current_object()


def _has_pdf_viewer() -> bool:
    try:
        current_app.jinja_env.get_template(PDF_VIEWER_TEMPLATE)
    except TemplateNotFound:
        return False
    return True


def _max_upload_mb() -> str:
    return f"{service._max_upload() / (1024 * 1024):.3g}"


# --- upload ------------------------------------------------------------------------------------
# The upload forms are sent by static/js/progress.js with XMLHttpRequest (to show a progress bar)
# asking for JSON: the answers below are then JSON (a redirect to follow, or an error naming the
# fields), so the script can show the message in the form without losing the chosen file.


@bp.errorhandler(RequestEntityTooLarge)
def _request_too_large(exc: RequestEntityTooLarge):
    """A request past ``MAX_CONTENT_LENGTH`` is cut before any view runs: say what the limit is."""
    return error_response(413, "payload_too_large",
                          _("The file is larger than the limit of %(mb)s MB.", mb=_max_upload_mb()))


def _json_form_errors(form, status: int = 400):
    """WTForms' refusals (a missing file, an empty title) as the API's error shape."""
    fields = {name: str(errors[0]) for name, errors in form.errors.items() if errors}
    return error_response(status, "invalid_form", _("Some fields are missing or not valid."),
                          json_details({"fields": fields}))


def _json_redirect(location: str):
    """Where the script goes once the upload is stored (the flashed message waits there)."""
    return jsonify({"redirect": location}), 201



def _upload_choices(form: UploadForm, me: User, meeting) -> None:
    form.secrecy.choices = [(level.value, label) for level, label in SECRECY_LABELS.items()
                            if access.cleared_for(me, level.value)]
    form.agenda_item_id.choices = [("", _("The whole meeting"))] + [
        (str(item.id), f"{item.position}. {item.title}") for item in meeting.agenda_items]


@bp.route("/meetings/<int:meeting_id>/documents/new", methods=["GET", "POST"])
@login_required
def new(meeting_id: int):
    me = _me()
    access.require_staff(me)
    meeting = access.get_meeting(me, meeting_id)
    form = UploadForm()
    _upload_choices(form, me, meeting)
    if request.method == "GET" and request.args.get("item", "").isdigit():
        form.agenda_item_id.data = request.args["item"]
    status = 200
    if form.validate_on_submit():
        upload = form.file.data
        try:
            document = service.upload_document(
                me, meeting.id, title=form.title.data, doc_type=form.doc_type.data,
                secrecy=form.secrecy.data, urgency=form.urgency.data,
                agenda_item_id=form.agenda_item_id.data or None,
                stream=upload.stream, filename=upload.filename)
        except DomainError as exc:
            if wants_json():
                raise  # the error handler answers {"error": {..., "details": {"fields": [...]}}}
            show_service_errors(form, exc)
            status = exc.status
        else:
            flash(_("Document uploaded as a draft: only the secretariat sees it until it is published."),
                  "success")
            location = url_for("documents.view", document_id=document.id)
            return _json_redirect(location) if wants_json() else redirect(location)
    elif request.method == "POST":
        if wants_json():
            return _json_form_errors(form)
        status = 400
    return render_template("documents/upload.html", form=form, meeting=meeting,
                           max_mb=_max_upload_mb()), status


# --- the document page ----------------------------------------------------------------------


def _render_view(document, *, version_form=None, status: int = 200):
    me = _me()
    return render_template(
        "documents/view.html", document=document, entry=service.DocumentEntry(document),
        version=document.current_version, is_staff=access.is_staff(me),
        people=service.people(document), version_form=version_form or VersionForm(),
        recall_form=RecallForm(), form=EmptyForm(), deadline=service.dossier_deadline(document.meeting),
        deadline_basis=rules().dossier_lead_basis, notice=service.conversion_notice,
        has_pdf_viewer=_has_pdf_viewer(), max_mb=_max_upload_mb(), Status=DocumentStatus), status


@bp.route("/documents/<int:document_id>")
@login_required
def view(document_id: int):
    return _render_view(service.get_document(_me(), document_id))


def send_content(content: service.Content):
    """The response for :func:`service.open_content` (pages and API alike): streamed, never cached."""
    source = str(content.path) if content.path is not None else content.stream
    response = send_file(source, mimetype=content.media_type, as_attachment=content.as_attachment,
                         download_name=content.filename, conditional=False, etag=False,
                         last_modified=None, max_age=0)
    response.content_length = content.size
    # D14: never kept by the browser or a proxy; the next request checks access again.
    response.headers["Cache-Control"] = "no-store"
    response.headers["Content-Security-Policy"] = CONTENT_CSP
    return response


_send = send_content  # the name the JSON API first imported


@bp.route("/documents/<int:document_id>/content")
@login_required
def content(document_id: int):
    # Sent by the service worker when it stores the meeting for offline reading (static/js/sw.js).
    to_store = request.headers.get("X-Cabinet-Purpose") == "offline"
    return send_content(service.open_content(_me(), document_id, download=False, to_store=to_store))


@bp.route("/documents/<int:document_id>/download")
@login_required
def download(document_id: int):
    return send_content(service.open_content(_me(), document_id, download=True))


# --- changes (staff) -------------------------------------------------------------------------


def _back_to(document_id: int):
    return redirect(url_for("documents.view", document_id=document_id))


@bp.route("/documents/<int:document_id>/versions", methods=["POST"])
@login_required
def add_version(document_id: int):
    me = _me()
    access.require_staff(me)
    document = service.get_document(me, document_id)
    form = VersionForm()
    if not form.validate_on_submit():
        if wants_json():
            return _json_form_errors(form)
        return _render_view(document, version_form=form, status=400)
    try:
        version = service.add_version(me, document.id, stream=form.file.data.stream,
                                      filename=form.file.data.filename)
    except DomainError as exc:
        if exc.status in (403, 404) or wants_json():
            raise
        show_service_errors(form, exc)
        return _render_view(service.get_document(me, document_id), version_form=form, status=exc.status)
    flash(_("Version %(n)d uploaded; it is now the current version.", n=version.number), "success")
    if wants_json():
        return _json_redirect(url_for("documents.view", document_id=document.id))
    return _back_to(document.id)


@bp.route("/documents/<int:document_id>/publish", methods=["POST"])
@login_required
def publish(document_id: int):
    try:
        document = service.publish(_me(), document_id)
    except DomainError as exc:
        if exc.status in (403, 404):
            raise
        flash(exc.message, "error")
        return _back_to(document_id)
    if document.published_late:
        flash(_("Published after the deadline for documents: it is flagged as late."), "warning")
    else:
        flash(_("Published: the participants can now read it."), "success")
    return _back_to(document.id)


@bp.route("/documents/<int:document_id>/recall", methods=["POST"])
@login_required
def recall(document_id: int):
    form = RecallForm()
    try:
        service.recall(_me(), document_id, form.reason.data or "")
    except DomainError as exc:
        if exc.status in (403, 404):
            raise
        flash(exc.message, "error")
        return _back_to(document_id)
    flash(_("Recalled: only the secretariat can open it now."), "success")
    return _back_to(document_id)


@bp.route("/meetings/<int:meeting_id>/documents/publish", methods=["POST"])
@login_required
def publish_meeting(meeting_id: int):
    raw = (request.form.get("agenda_item_id") or "").strip()
    # ASCII digits only ("²".isdigit() is true, int("²") fails); an id past MAX_ID names no item.
    item_id = int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 10 else (-1 if raw else None)
    try:
        published = service.publish_meeting(_me(), meeting_id, item_id)
    except DomainError as exc:
        if exc.status in (403, 404):
            raise
        flash(exc.message, "error")
    else:
        late = sum(1 for d in published if d.published_late)
        if not published:
            flash(_("There was no draft to publish."), "info")
        elif late:
            flash(_("%(n)d document(s) published; %(late)d after the deadline, flagged as late.",
                    n=len(published), late=late), "warning")
        else:
            flash(_("%(n)d document(s) published to the participants.", n=len(published)), "success")
    return redirect(url_for("meetings.view", meeting_id=meeting_id, _anchor="documents"))
