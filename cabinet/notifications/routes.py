"""The user's notifications: the list, marking read, and the unread count for the top-bar badge."""

from __future__ import annotations

from flask import Blueprint, abort, jsonify, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy.exc import SQLAlchemyError

from cabinet.account.forms import EmptyForm
from cabinet.auth.routes import _safe_next
from cabinet.core.http import wants_json
from cabinet.extensions import db
from cabinet.notifications import service
from cabinet.users.models import User

bp = Blueprint("notifications", __name__, url_prefix="/notifications")


def _me() -> User:
    return current_user._get_current_object()


@bp.app_context_processor
def _badge():
    """``unread_notifications()`` for the top bar: counted only when a page shows the badge."""
    def unread_notifications() -> int:
        if not current_user.is_authenticated:
            return 0
        try:
            return service.unread_count(_me())
        except SQLAlchemyError:  # e.g. on the error page of a failed transaction: no badge, no crash
            db.session.rollback()
            return 0

    return {"unread_notifications": unread_notifications}


@bp.route("")
@login_required
def index():
    """Newest first; opening the list marks nothing as read."""
    notifications = service.list_for(_me(), limit=100)
    return render_template("notifications/list.html", notifications=notifications, form=EmptyForm(),
                           unread=sum(1 for n in notifications if n.unread))


@bp.route("/unread-count")
@login_required
def unread_count():
    return jsonify({"unread": service.unread_count(_me())})


@bp.route("/<int:notification_id>/read", methods=["POST"])
@login_required
def read(notification_id: int):
    return _mark(notification_id)


@bp.route("/read-all", methods=["POST"])
@login_required
def read_all():
    return _mark("all")


def _mark(which):
    if not EmptyForm().validate_on_submit():
        abort(400)
    me = _me()
    service.mark_read(me, which)
    if wants_json():
        return jsonify({"ok": True, "unread": service.unread_count(me)})
    target = request.form.get("next") or ""
    if "\\" in target:  # "/\host" is read as "//host" by browsers
        target = ""
    return redirect(_safe_next(target) if target else url_for("notifications.index"))
