"""The user's notifications: the list, marking read, and the unread count for the top-bar badge."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, abort, jsonify, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy.exc import SQLAlchemyError

from cabinet.account.forms import EmptyForm
from cabinet.auth.routes import _safe_next
from cabinet.core.http import wants_json
from cabinet.extensions import db
from cabinet.i18n import local
from cabinet.notifications import service
from cabinet.notifications.forms import GROUP_NAMES
from cabinet.notifications.models import Notification
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


PANEL_SIZE = 8  # the bell's dropdown shows the latest few; the list page shows the rest


def _by_day(notifications: list[Notification]) -> list[tuple[date, list[Notification]]]:
    """Consecutive notifications grouped by their local day (Asia/Ho_Chi_Minh), newest first."""
    days: list[tuple[date, list[Notification]]] = []
    for notification in notifications:
        day = local(notification.created_at).date()
        if days and days[-1][0] == day:
            days[-1][1].append(notification)
        else:
            days.append((day, [notification]))
    return days


@bp.route("")
@login_required
def index():
    """Newest first, grouped by day; ``?unread=1`` only the unread ones, ``?group=meetings`` (or
    documents, ballots, minutes) one group's. Opening the list marks nothing as read."""
    me = _me()
    unread_only = request.args.get("unread") == "1"
    group = request.args.get("group") or None
    if group is not None and group not in service.GROUPS:
        abort(404)
    notifications = service.list_for(me, limit=100, unread_only=unread_only, group=group)
    return render_template("notifications/list.html", days=_by_day(notifications), form=EmptyForm(),
                           unread=service.unread_count(me), unread_only=unread_only, group=group,
                           group_names=GROUP_NAMES, any_shown=bool(notifications))


@bp.route("/unread-count")
@login_required
def unread_count():
    return jsonify({"unread": service.unread_count(_me())})


@bp.route("/latest")
@login_required
def latest():
    """The bell's dropdown panel: the latest notifications and the unread count (session auth)."""
    me = _me()
    items = service.list_for(me, limit=PANEL_SIZE)
    return jsonify({"unread": service.unread_count(me),
                    "notifications": [service.item_json(n) for n in items]})


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
