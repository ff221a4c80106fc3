"""The user's notifications through the JSON API: the list (newest first) and marking one read.

The same service as the bell and the list page (``cabinet.notifications.service``); each token
reaches only its own user's notifications (someone else's is 404, like one that does not exist).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from flask import jsonify, request
from flask_babel import gettext as _
from pydantic import BaseModel

from cabinet.api.framework import operation, query_int
from cabinet.core.errors import ValidationError
from cabinet.extensions import db
from cabinet.notifications import service
from cabinet.notifications.models import Notification

TAGS = ["notifications"]
GroupName = Literal["meetings", "documents", "ballots", "minutes"]
_BOOLEANS = {"true": True, "1": True, "false": False, "0": False}


class NotificationOut(BaseModel):
    id: int
    kind: str
    group: GroupName | None
    title: str
    body: str
    url: str
    created_at: datetime
    read: bool


class NotificationList(BaseModel):
    notifications: list[NotificationOut]
    unread: int


def _query_bool(name: str) -> bool:
    raw = request.args.get(name, "")
    if raw == "":
        return False
    if raw.lower() not in _BOOLEANS:
        raise ValidationError(_("Some fields are not valid."), details={"fields": [
            {"field": name, "message": _("true or false.")}]})
    return _BOOLEANS[raw.lower()]


@operation("GET", "/notifications", summary="Your notifications, newest first", tags=TAGS,
           response=NotificationList, errors=(422,),
           query={"unread": {"type": "boolean", "description": "Only the unread ones."},
                  "group": {"type": "string", "enum": list(service.GROUPS),
                            "description": "Only one group's (meetings, documents, ballots, minutes)."},
                  "limit": {"type": "integer", "minimum": 1, "maximum": service.MAX_LIST,
                            "description": "How many (50 by default)."}},
           description="Reading the list marks nothing as read. `unread` is your total of unread ones.")
def list_notifications(user):
    group = request.args.get("group") or None
    if group is not None and group not in service.GROUPS:
        raise ValidationError(_("Some fields are not valid."), details={"fields": [
            {"field": "group", "message": _("Unknown group.")}]})
    unread_only = _query_bool("unread")
    limit = query_int("limit", maximum=service.MAX_LIST) or 50
    notes = service.list_for(user, limit, unread_only=unread_only, group=group)
    return jsonify({"notifications": [service.item_json(n) for n in notes],
                    "unread": service.unread_count(user)})


@operation("POST", "/notifications/<int:notification_id>/read", summary="Mark one of your notifications read",
           tags=TAGS, response=NotificationOut, errors=(404,),
           description="Marking one already read changes nothing. Your other devices' badges follow.")
def read_notification(user, notification_id: int):
    service.mark_read(user, notification_id)
    return jsonify(service.item_json(db.session.get(Notification, notification_id)))
