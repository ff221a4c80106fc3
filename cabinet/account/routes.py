"""The user's own account pages."""

from __future__ import annotations

import base64
import io

import qrcode
import qrcode.image.svg
from flask import Blueprint, abort, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select

from cabinet.account.forms import EmptyForm, PasswordChangeForm, TotpDisableForm, TotpEnableForm
from cabinet.auth import service
from cabinet.auth.models import ApiToken
from cabinet.auth.web import begin_session
from cabinet.core.errors import DomainError
from cabinet.core.timeutil import utcnow
from cabinet.extensions import db

bp = Blueprint("account", __name__, url_prefix="/account")


def _me():
    return current_user._get_current_object()


@bp.route("/")
@login_required
def index():
    now = utcnow()
    tokens = db.session.scalars(
        select(ApiToken)
        .where(ApiToken.user_id == current_user.id, ApiToken.revoked_at.is_(None),
               ApiToken.expires_at > now)
        .order_by(ApiToken.created_at.desc())
    ).all()
    return render_template("account/index.html", tokens=tokens, form=EmptyForm())


@bp.route("/password", methods=["GET", "POST"])
@login_required
def password():
    form = PasswordChangeForm()
    status = 200
    if form.validate_on_submit():
        user = _me()
        try:
            service.change_own_password(user, form.current_password.data, form.new_password.data)
        except DomainError as exc:
            flash(exc.message, "error")
            status = exc.status
        else:
            # The session version changed and every session row was revoked (other devices are
            # logged out); this browser gets a new session.
            begin_session(user)
            flash(_("Your password was changed. Other devices were logged out."), "success")
            return redirect(url_for("account.index"))
    elif request.method == "POST":
        status = 400
    return render_template("account/password.html", form=form), status


def _qr_data_uri(uri: str) -> str:
    image = qrcode.make(uri, image_factory=qrcode.image.svg.SvgPathImage, box_size=8, border=2)
    buffer = io.BytesIO()
    image.save(buffer)
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode()


@bp.route("/two-step", methods=["GET", "POST"])
@login_required
def totp():
    user = _me()
    if user.totp_enabled:
        return render_template("account/totp_on.html", form=TotpDisableForm())
    # The secret waits in the session until the user proves their app has it.
    secret = session.get("totp_pending") or service.new_totp_secret()
    session["totp_pending"] = secret
    form = TotpEnableForm()
    status = 200
    if form.validate_on_submit():
        try:
            service.enable_totp(user, secret, form.code.data)
        except DomainError as exc:
            flash(exc.message, "error")
            status = exc.status
        else:
            session.pop("totp_pending", None)
            flash(_("Two-step verification is on. You will be asked for a code at each login."),
                  "success")
            return redirect(url_for("account.index"))
    elif request.method == "POST":
        status = 400
    uri = service.totp_uri(user, secret)
    return render_template("account/totp_enrol.html", form=form, secret=secret,
                           qr=_qr_data_uri(uri)), status


@bp.route("/two-step/disable", methods=["POST"])
@login_required
def totp_disable():
    user = _me()
    form = TotpDisableForm()
    if not user.totp_enabled:
        return redirect(url_for("account.totp"))
    if form.validate_on_submit():
        try:
            service.disable_own_totp(user, form.password.data, form.code.data)
        except DomainError as exc:
            flash(exc.message, "error")
            return render_template("account/totp_on.html", form=form), exc.status
        flash(_("Two-step verification is off."), "success")
        return redirect(url_for("account.index"))
    return render_template("account/totp_on.html", form=form), 400


@bp.route("/tokens/<int:token_id>/revoke", methods=["POST"])
@login_required
def revoke_token(token_id: int):
    form = EmptyForm()
    if not form.validate_on_submit():
        abort(400)
    token = db.session.get(ApiToken, token_id)
    if token is None or token.user_id != current_user.id:
        abort(404)
    service.revoke_token(token, actor=_me())
    flash(_("The token was revoked."), "success")
    return redirect(url_for("account.index"))


@bp.route("/notifications", methods=["GET", "POST"])
@login_required
def notification_preferences():
    """The user's own e-mail preferences per group of notifications (no id in the URL: nobody
    can change another's). Saving is audited as a settings change by the service."""
    from cabinet.notifications import service as notifications
    from cabinet.notifications.forms import GROUP_LABELS, NotificationPreferencesForm

    me = _me()
    form = NotificationPreferencesForm(data=notifications.preferences_for(me.id))
    status = 200
    if form.validate_on_submit():
        choices = {group: getattr(form, group).data for group in notifications.GROUPS}
        notifications.set_preferences(me, choices)
        flash(_("Your e-mail preferences were saved."), "success")
        return redirect(url_for("account.notification_preferences"))
    if request.method == "POST":
        status = 400
    return render_template("notifications/preferences.html", form=form, groups=list(GROUP_LABELS),
                           has_email=bool(me.email)), status
