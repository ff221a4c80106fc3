"""Minutes pages: the secretary's drafting desk (with autosave), the participants' review, the
signatures, the downloads, the signature check of any PDF, and the administrator's signing keys.

Thin: every rule (who may, what is refused, what is audited) is in :mod:`cabinet.minutes.service`
and :mod:`cabinet.minutes.keys`.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from dataclasses import dataclass

from flask import Blueprint, flash, jsonify, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_babel import pgettext
from flask_login import current_user, login_required
from markupsafe import Markup
from sqlalchemy import select

from cabinet.account.forms import EmptyForm
from cabinet.annotations.routes import json_route
from cabinet.api.framework import parse_body
from cabinet.api.minutes import DRAFT_BODY_BYTES, MinutesDraftIn
from cabinet.core.errors import DomainError, NotFound, ValidationError
from cabinet.documents.models import SECRECY_LABELS
from cabinet.documents.routes import CONTENT_CSP
from cabinet.extensions import db
from cabinet.i18n import local
from cabinet.meetings import access
from cabinet.minutes import keys, record, richtext, service
from cabinet.minutes.content import ItemRecord
from cabinet.minutes.forms import (
    CommentForm,
    CorrectionForm,
    FinalizeForm,
    MinutesForm,
    SignForm,
    SigningKeyForm,
    VerifyForm,
)
from cabinet.minutes.models import Minutes, MinutesStatus, SignatureRole
from cabinet.users.models import User

bp = Blueprint("minutes", __name__)

# A value typed without the editor (no JavaScript) is plain text; with it, HTML.
_HTML_TAG = re.compile(r"<\s*/?\s*(p|br|ul|ol|li|strong|b|em|i|u|s|blockquote|h[1-6]|div)\b", re.I)


def _me() -> User:
    return current_user._get_current_object()


def _expired(form) -> bool:
    """Whether a form was refused for its CSRF token (an old page), not for a field."""
    return "csrf_token" in form.errors


def _check_form() -> None:
    if not EmptyForm().validate_on_submit():
        raise ValidationError(_("The form has expired. Reload the page and try again."))


def _to_page(meeting_id: int, anchor: str | None = None, **args):
    return redirect(url_for("minutes.page", meeting_id=meeting_id, _anchor=anchor, **args))


def _act(minutes_id: int, action: Callable[[User, int], object], success: str, anchor: str | None = None):
    """An action with nothing to fill in (a button): check the form, ``action(me, minutes_id)``,
    then back to the page with ``success`` or the refusal's message. Forbidden and not found stay
    errors pages: the page itself would refuse them too."""
    _check_form()
    me = _me()
    meeting_id = service.get(me, minutes_id).meeting_id
    try:
        action(me, minutes_id)
    except DomainError as exc:
        if exc.status in (403, 404):
            raise
        flash(exc.message, "error")
    else:
        flash(success, "success")
    return _to_page(meeting_id, anchor)


def _field_errors(exc: DomainError) -> dict[str, str]:
    """The service's per-field messages: ``{"fields": {...}}`` or a flat mapping of texts."""
    details = exc.details if isinstance(exc.details, dict) else {}
    fields = details.get("fields") if isinstance(details.get("fields"), dict) else details
    return {str(k): str(v) for k, v in fields.items() if isinstance(v, str)}


@bp.app_template_filter("minutes_html")
def minutes_html(value: str | None) -> Markup:
    """Stored rich text, sanitised again on the way out (it is shown as HTML)."""
    return Markup(richtext.sanitise(value))  # noqa: S704  (sanitised: no attribute, no script)


@bp.app_template_global("minutes_meeting_held")
def meeting_held(meeting) -> bool:
    """Whether the meeting has begun (opened in the room, or its start time passed): its minutes
    may be drafted from then on."""
    return service._held(meeting)


@bp.app_template_global("minutes_status_label")
def status_label(minutes: Minutes) -> str:
    status = minutes.status_enum
    if status == MinutesStatus.DRAFT:
        return _("Under review") if minutes.review_requested_at else pgettext("minutes status", "Draft")
    return {
        MinutesStatus.FINAL: _("Finalized, awaiting signatures"),
        MinutesStatus.SIGNING: _("Signed by the secretary, awaiting the chair"),
        MinutesStatus.SIGNED: pgettext("minutes status", "Signed"),
        MinutesStatus.SUPERSEDED: _("Superseded by a corrected version"),
    }[status]


def role_label(role: str) -> str:
    return {
        SignatureRole.SECRETARY: _("Secretary (Thư ký)"),
        SignatureRole.CHAIR: _("Chair (Chủ tọa)"),
        SignatureRole.ORGANISATION: _("Organisation (cơ quan)"),
    }.get(role, role)


# --- the minutes page ----------------------------------------------------------------------------


@dataclass
class ItemView:
    """An agenda item on the page: its id (for the form and the comments), the record's facts,
    and the secretary's text (as posted when a save was refused, else as stored)."""

    id: int
    record: ItemRecord
    discussion_html: str
    conclusion_html: str


def _items(minutes: Minutes, data, posted: dict[str, str] | None) -> list[ItemView]:
    agenda = sorted(minutes.meeting.agenda_items, key=lambda i: i.position)
    stored = (minutes.content or {}).get("items", {})
    views = []
    for item, facts in zip(agenda, data.items, strict=False):
        text = stored.get(str(item.id), {})
        if minutes.snapshot:  # final: the frozen text, not today's record
            text = {"discussion_html": facts.discussion_html, "conclusion_html": facts.conclusion_html}
        views.append(ItemView(
            item.id, facts,
            (posted or {}).get(f"item-{item.id}-discussion_html", text.get("discussion_html", "")),
            (posted or {}).get(f"item-{item.id}-conclusion_html", text.get("conclusion_html", ""))))
    return views


def _render(meeting_id: int, *, status: int = 200, form: MinutesForm | None = None,
            posted: dict[str, str] | None = None, errors: dict[str, str] | None = None,
            comment_form: CommentForm | None = None, comment_item: str | None = None,
            sign_form: SignForm | None = None, correction_form: CorrectionForm | None = None):
    me = _me()
    meeting = access.get_meeting(me, meeting_id)
    versions = service.versions(me, meeting.id)
    minutes = versions[0] if versions else None
    editor = service.is_editor(me, meeting)
    context = dict(meeting=meeting, versions=versions, minutes=minutes, editor=editor,
                   form=EmptyForm(), Status=MinutesStatus, Role=SignatureRole, status_label=status_label,
                   role_label=role_label, correction_form=correction_form or CorrectionForm(prefix="fix"),
                   errors=errors or {}, confirm_finalize=request.args.get("confirm") == "finalize",
                   held=service._held(meeting))
    if minutes is None:
        return render_template("minutes/page.html", **context), status
    data = record.minutes_data(minutes)
    draft = minutes.status == MinutesStatus.DRAFT
    editing = editor and draft
    if editing and form is None:
        form = MinutesForm(formdata=None, obj=None)
        form.revision.data = str(minutes.revision)
        form.number.data = minutes.number
        form.secrecy.data = minutes.secrecy
        content = minutes.content or {}
        form.opening_html.data = content.get("opening_html", "")
        form.closing_html.data = content.get("closing_html", "")
    if form is not None:
        form.secrecy.choices = [(c.value, label) for c, label in SECRECY_LABELS.items()
                                if access.cleared_for(me, c.value) or c.value == minutes.secrecy]
    finalize_form = FinalizeForm(formdata=None)
    finalize_form.revision.data = str(minutes.revision)
    signing = minutes.status in (MinutesStatus.FINAL, MinutesStatus.SIGNING)
    next_role = service._next_role(minutes) if signing else None
    my_role = service.signatory_role(me, meeting)
    signing_open = next_role is not None and my_role == next_role
    items = _items(minutes, data, posted)
    context.update(
        data=data, items=items, item_numbers={it.id: it.record.number for it in items}, draft=draft,
        editing=editing, editor_form=form, finalize_form=finalize_form,
        comments=(service.comments(me, minutes.id) if draft and (editor or minutes.review_requested_at)
                  else []),
        comment_form=comment_form or CommentForm(formdata=None), comment_item=comment_item,
        can_comment=draft and minutes.review_requested_at is not None,
        next_role=next_role, my_role=my_role, signing_open=signing_open,
        has_key=keys.active_key(me.id) is not None if signing_open else False,
        sign_form=sign_form or SignForm(prefix="sign"),
        can_reopen=editor and minutes.status == MinutesStatus.FINAL,
        can_correct=editor and minutes.status == MinutesStatus.SIGNED,
        can_seal=(access.is_staff(me) and minutes.status == MinutesStatus.SIGNED
                  and keys.organisation_configured()
                  and minutes.signature_for(SignatureRole.ORGANISATION) is None),
        item_errors={k: v for k, v in (errors or {}).items() if k.startswith("items.")})
    if request.method == "GET":  # a read (not a form shown again with its errors)
        service.record_view(me, minutes, via="page")
    return render_template("minutes/page.html", **context), status


@bp.route("/meetings/<int:meeting_id>/minutes")
@login_required
def page(meeting_id: int):
    return _render(meeting_id)


@bp.route("/meetings/<int:meeting_id>/minutes/start", methods=["POST"])
@login_required
def start(meeting_id: int):
    _check_form()
    try:
        service.start(_me(), meeting_id)
    except DomainError as exc:
        if exc.status in (403, 404):
            raise
        flash(exc.message, "error")
    else:
        flash(_("The draft was started from the meeting's record. Write the summary of each discussion; "
                "it is saved as you type."), "success")
    return _to_page(meeting_id)


# --- drafting --------------------------------------------------------------------------------------


def _as_html(value: str) -> str:
    return value if _HTML_TAG.search(value) else richtext.plain_to_html(value)


def _posted_items(minutes: Minutes) -> dict[str, str]:
    """The items' texts the form sent, by field name (only the fields present in the form)."""
    posted = {}
    for item in minutes.meeting.agenda_items:
        for field in ("discussion_html", "conclusion_html"):
            name = f"item-{item.id}-{field}"
            if name in request.form:
                posted[name] = request.form[name]
    return posted


def _changes(form: MinutesForm, posted: dict[str, str], revision: int) -> service.DraftChanges:
    items: dict[int, dict[str, str]] = {}
    for name, value in posted.items():
        _prefix, item_id, field = name.split("-", 2)
        items.setdefault(int(item_id), {})[field] = _as_html(value)
    return service.DraftChanges(
        revision=revision, number=form.number.data or "", secrecy=form.secrecy.data or None,
        opening_html=_as_html(form.opening_html.data or ""),
        closing_html=_as_html(form.closing_html.data or ""), items=items)


def _revision(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


@bp.route("/minutes/<int:minutes_id>/save", methods=["POST"])
@login_required
def save(minutes_id: int):
    """The Save button (and the form without JavaScript); autosave uses :func:`autosave`."""
    me = _me()
    minutes = service.get(me, minutes_id)
    meeting_id = minutes.meeting_id
    form = MinutesForm()
    posted = _posted_items(minutes)
    revision = _revision(form.revision.data)
    if not form.validate_on_submit() or revision is None:
        if _expired(form) or revision is None:
            flash(_("The form has expired. Reload the page and try again."), "error")
            return _render(meeting_id, status=400, form=form, posted=posted)
        flash(_("The minutes were not saved: check the marked fields."), "error")
        return _render(meeting_id, status=422, form=form, posted=posted)
    try:
        service.save(me, minutes_id, _changes(form, posted, revision))
    except DomainError as exc:
        if exc.status in (403, 404):
            raise
        db.session.rollback()
        errors = _field_errors(exc)
        for name in ("number", "secrecy", "opening_html", "closing_html"):
            if name in errors:
                form[name].errors = [*form[name].errors, errors[name]]
        flash(exc.message, "error")
        if exc.code == "stale_revision":
            # Their text stays on the page, unsaved; a second Save replaces the newer one knowingly.
            form.revision.data = str((exc.details or {}).get("revision", revision))
            flash(_("Your text below was NOT saved. Compare it with the saved version (open the page in "
                    "another tab); press Save again to replace it with yours."), "warning")
        return _render(meeting_id, status=exc.status, form=form, posted=posted, errors=errors)
    flash(_("Minutes saved."), "success")
    return _to_page(meeting_id, "editor")


def _draft_payload(minutes: Minutes) -> dict:
    return {"id": minutes.id, "meeting_id": minutes.meeting_id, "version": minutes.version,
            "status": minutes.status, "revision": minutes.revision,
            "updated_at": minutes.updated_at.isoformat() if minutes.updated_at else None,
            "saved_at_local": local(minutes.updated_at).strftime("%H:%M") if minutes.updated_at else "",
            "updated_by": minutes.updated_by.full_name if minutes.updated_by else None}


@bp.route("/minutes/<int:minutes_id>/draft", methods=["PUT"])
@json_route
def autosave(minutes_id: int):
    """The editor's autosave (session cookie, CSRF token in ``X-CSRFToken``): the body of
    ``PUT /api/v1/meetings/<id>/minutes``, for one version."""
    body = parse_body(MinutesDraftIn, DRAFT_BODY_BYTES)
    items = None
    if body.items is not None:
        items = {}
        for entry in body.items:
            texts = {"discussion_html": entry.discussion_html, "conclusion_html": entry.conclusion_html}
            items[entry.item_id] = {k: v for k, v in texts.items() if v is not None}
    minutes = service.save(_me(), minutes_id, service.DraftChanges(
        revision=body.revision, opening_html=body.opening_html, closing_html=body.closing_html,
        items=items, number=body.number, secrecy=body.secrecy))
    return jsonify(_draft_payload(minutes))


@bp.route("/minutes/<int:minutes_id>/refresh", methods=["POST"])
@login_required
def refresh(minutes_id: int):
    return _act(minutes_id, service.refresh_from_record,
                _("Conclusions given in the meeting room were added where yours were empty."), "editor")


@bp.route("/minutes/<int:minutes_id>/review", methods=["POST"])
@login_required
def request_review(minutes_id: int):
    return _act(minutes_id, service.request_review,
                _("The participants were invited to read the draft and comment on it."), "actions")


@bp.route("/minutes/<int:minutes_id>/finalize", methods=["POST"])
@login_required
def finalize(minutes_id: int):
    me = _me()
    minutes = service.get(me, minutes_id)
    meeting_id = minutes.meeting_id
    form = FinalizeForm()
    revision = _revision(form.revision.data)
    if not form.validate_on_submit() or revision is None:
        flash(_("The form has expired. Reload the page and try again."), "error")
        return _to_page(meeting_id, "actions")
    if form.confirm.data != "yes":
        flash(_("Press “Finalize” again to confirm: the text can then no longer be edited."), "warning")
        return _to_page(meeting_id, "finalize", confirm="finalize")
    try:
        service.finalize(me, minutes_id, revision)
    except DomainError as exc:
        if exc.status in (403, 404):
            raise
        flash(exc.message, "error")
        return _to_page(meeting_id, "actions")
    flash(_("Finalized. The PDF is ready to be signed: first by the secretary, then by the chair."),
          "success")
    return _to_page(meeting_id)


@bp.route("/minutes/<int:minutes_id>/reopen", methods=["POST"])
@login_required
def reopen(minutes_id: int):
    return _act(minutes_id, service.reopen,
                _("The minutes are a draft again: edit them, then finalize again."))


# --- review comments -----------------------------------------------------------------------------


@bp.route("/minutes/<int:minutes_id>/comments", methods=["POST"])
@login_required
def add_comment(minutes_id: int):
    me = _me()
    minutes = service.get(me, minutes_id)
    meeting_id = minutes.meeting_id
    form = CommentForm()
    item_id = _revision(form.item_id.data) if form.item_id.data else None
    anchor = f"item-{item_id}" if item_id else "comments"
    if not form.validate_on_submit():
        return _render(meeting_id, status=422, comment_form=form, comment_item=form.item_id.data or "")
    try:
        service.add_comment(me, minutes_id, form.body.data, item_id=item_id)
    except DomainError as exc:
        if exc.status in (403, 404):
            raise
        db.session.rollback()
        errors = _field_errors(exc)
        if "body" in errors:
            form.body.errors = [*form.body.errors, errors["body"]]
        flash(exc.message, "error")
        return _render(meeting_id, status=exc.status, comment_form=form, comment_item=form.item_id.data or "")
    flash(_("Your comment was sent to the secretary."), "success")
    return _to_page(meeting_id, anchor)


@bp.route("/minutes/comments/<int:comment_id>/resolve", methods=["POST"])
@login_required
def resolve_comment(comment_id: int):
    _check_form()
    comment = service.resolve_comment(_me(), comment_id)
    meeting_id = service.get(_me(), comment.minutes_id).meeting_id
    flash(_("Comment marked as resolved."), "success")
    return _to_page(meeting_id, "comments")


# --- signatures ----------------------------------------------------------------------------------


@bp.route("/minutes/<int:minutes_id>/sign", methods=["POST"])
@login_required
def sign(minutes_id: int):
    me = _me()
    minutes = service.get(me, minutes_id)
    meeting_id = minutes.meeting_id
    form = SignForm(prefix="sign")
    if not form.validate_on_submit():
        flash(_("The form has expired. Reload the page and try again."), "error")
        return _render(meeting_id, status=400, sign_form=form)
    try:
        signed = service.sign(me, minutes_id, form.passphrase.data or "")
    except DomainError as exc:
        if exc.status in (403, 404):
            raise
        db.session.rollback()
        if "passphrase" in _field_errors(exc):
            form.passphrase.errors = [exc.message]
        else:
            flash(exc.message, "error")
        return _render(meeting_id, status=exc.status, sign_form=form)
    if signed.status == MinutesStatus.SIGNED:
        flash(_("You signed the minutes. They are now signed by the secretary and the chair: this is the "
                "record."), "success")
    else:
        flash(_("You signed the minutes. The chair has been asked to sign next."), "success")
    return _to_page(meeting_id)


@bp.route("/minutes/<int:minutes_id>/seal", methods=["POST"])
@login_required
def seal(minutes_id: int):
    return _act(minutes_id, service.sign_as_organisation, _("The organisation's signature was added."))


@bp.route("/meetings/<int:meeting_id>/minutes/versions", methods=["POST"])
@login_required
def new_version(meeting_id: int):
    form = CorrectionForm(prefix="fix")
    if not form.validate_on_submit():
        return _render(meeting_id, status=422, correction_form=form)
    try:
        service.new_version(_me(), meeting_id, form.reason.data)
    except DomainError as exc:
        if exc.status in (403, 404):
            raise
        db.session.rollback()
        errors = _field_errors(exc)
        if "reason" in errors:
            form.reason.errors = [*form.reason.errors, errors["reason"]]
        flash(exc.message, "error")
        return _render(meeting_id, status=exc.status, correction_form=form)
    flash(_("A new version was created from the signed text. Correct it, then finalize and sign it again; "
            "the signed version stays valid until then."), "success")
    return _to_page(meeting_id, "editor")


# --- files -----------------------------------------------------------------------------------------


def _send(export: service.Export, *, inline: bool = False):
    response = send_file(io.BytesIO(export.content), mimetype=export.media_type, as_attachment=not inline,
                         download_name=export.filename, conditional=False, etag=False, last_modified=None,
                         max_age=0)
    # D14: never kept by the browser or a proxy; the next request checks access again.
    response.headers["Cache-Control"] = "no-store"
    response.headers["Content-Security-Policy"] = CONTENT_CSP
    return response


@bp.route("/minutes/<int:minutes_id>/<any(minutes, notice):kind>.<any(pdf, docx):fmt>")
@login_required
def download(minutes_id: int, kind: str, fmt: str):
    """The minutes or the conclusion notice; ``?inline=1`` shows a PDF in the browser (preview)."""
    export = service.export(_me(), minutes_id, fmt, notice=kind == "notice")
    return _send(export, inline=fmt == "pdf" and request.args.get("inline") == "1")


@bp.route("/minutes/signed/<int:signature_id>.pdf")
@login_required
def signed_file(signature_id: int):
    """The archived PDF as it was right after one signature."""
    return _send(service.signed_file(_me(), signature_id))


# --- verify a signed PDF -------------------------------------------------------------------------


@bp.route("/minutes/verify", methods=["GET", "POST"])
@login_required
def verify():
    form = VerifyForm()
    result, status = None, 200
    if request.method == "POST":
        if not form.validate_on_submit():
            form.file.errors = [_("The form has expired. Reload the page and try again.")]
            return render_template("minutes/verify.html", form=form, result=None, role_label=role_label), 400
        upload = form.file.data
        data = upload.read(service.MAX_VERIFY_BYTES + 1) if upload else b""
        try:
            if len(data) > service.MAX_VERIFY_BYTES:
                raise ValidationError(_("This file is too large to verify (at most %(mb)d MB).",
                                        mb=service.MAX_VERIFY_BYTES // (1024 * 1024)))
            result = service.verify(_me(), data, getattr(upload, "filename", "") or "")
        except DomainError as exc:
            if exc.status in (403, 404):
                raise
            db.session.rollback()
            form.file.errors = [exc.message]
            status = exc.status
    return render_template("minutes/verify.html", form=form, result=result, role_label=role_label), status


# --- signing keys (administrators) -----------------------------------------------------------------


def _key_form() -> SigningKeyForm:
    form = SigningKeyForm(prefix="key")
    people = db.session.scalars(select(User).where(User.active.is_(True)).order_by(User.full_name))
    form.user.choices = [(0, "—")] + [(u.id, f"{u.full_name} — {u.title}" if u.title else u.full_name)
                                      for u in people]
    return form


def _render_keys(form: SigningKeyForm | None = None, status: int = 200):
    entries = keys.keys(_me())  # administrators only
    ids = {k.uploaded_by_id for k in entries if k.uploaded_by_id}
    uploaders = dict(db.session.execute(select(User.id, User.full_name).where(User.id.in_(ids))).all())
    return render_template("minutes/signing_keys.html", entries=entries, key_form=form or _key_form(),
                           form=EmptyForm(), uploaders=uploaders,
                           organisation=keys.organisation_configured()), status


@bp.route("/admin/signing-keys")
@login_required
def signing_keys():
    return _render_keys()


@bp.route("/admin/signing-keys", methods=["POST"])
@login_required
def upload_key():
    me = _me()
    keys.require_admin(me)
    form = _key_form()
    if not form.validate_on_submit():
        flash(_("The form has expired. Reload the page and try again."), "error")
        return _render_keys(form, 400)
    upload = form.file.data
    data = upload.read(keys.MAX_P12_BYTES + 1) if upload else b""
    try:
        if not form.user.data:
            raise NotFound(_("Choose the person the key belongs to."))
        entry = keys.upload(me, form.user.data, data, form.passphrase.data or "")
    except DomainError as exc:
        if exc.status == 403:
            raise
        db.session.rollback()
        errors = _field_errors(exc)
        target = "passphrase" if "passphrase" in errors else "file"
        if isinstance(exc, NotFound):
            target = "user"
        form[target].errors = [exc.message]
        flash(_("The signing key was not registered: see the marked field."), "error")
        return _render_keys(form, 422 if exc.status == 404 else exc.status)
    flash(_("Signing key registered for %(name)s (certificate %(subject)s).", name=entry.user.full_name,
            subject=entry.certificate_subject), "success")
    return redirect(url_for("minutes.signing_keys"))


@bp.route("/admin/signing-keys/<int:key_id>/revoke", methods=["POST"])
@login_required
def revoke_key(key_id: int):
    keys.require_admin(_me())
    _check_form()
    entry = keys.revoke(_me(), key_id)
    flash(_("The signing key of %(name)s was revoked. Signatures already made with it stay valid.",
            name=entry.user.full_name), "success")
    return redirect(url_for("minutes.signing_keys"))
