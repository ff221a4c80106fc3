"""Who may see and do what with a meeting and its documents (D1, D2, D3, D14).

These are the only places the rules are written; services call them before they act.
404 for what the user may not know exists, 403 for what they know but may not do.
"""

from __future__ import annotations

from flask_babel import gettext as _

from cabinet.core.errors import NotFound, PermissionDenied
from cabinet.core.types import MAX_ID
from cabinet.extensions import db
from cabinet.meetings.models import DeputyStatus, Meeting, ParticipantRole
from cabinet.users.models import Clearance, User


def is_staff(user: User) -> bool:
    """Secretariat and administrators manage every meeting."""
    return user.is_secretariat


def can_see_meeting(user: User, meeting: Meeting) -> bool:
    if is_staff(user):
        return True
    for participant in meeting.participants:
        if participant.user_id == user.id:
            return True
        if participant.deputy_id == user.id and participant.deputy_status == DeputyStatus.APPROVED:
            return True
    return False


def meeting_role(user: User, meeting: Meeting) -> str | None:
    """The user's per-meeting role; an approved deputy counts as a guest (D3: no vote)."""
    participant = meeting.participant_for(user.id)
    if participant is not None:
        return participant.role
    for participant in meeting.participants:
        if participant.deputy_id == user.id and participant.deputy_status == DeputyStatus.APPROVED:
            return ParticipantRole.GUEST.value
    return None


def is_chair(user: User, meeting: Meeting) -> bool:
    return meeting_role(user, meeting) == ParticipantRole.CHAIR


def get_meeting(user: User, meeting_id: int) -> Meeting:
    """The meeting, if the user may see it; otherwise 404 (its existence is not revealed)."""
    meeting = db.session.get(Meeting, meeting_id) if 0 < meeting_id <= MAX_ID else None
    if meeting is None or not can_see_meeting(user, meeting):
        raise NotFound(_("No such meeting, or you are not invited to it."))
    return meeting


def require_staff(user: User) -> None:
    if not is_staff(user):
        raise PermissionDenied(_("Only the secretariat may do this."))


def require_chair_or_staff(user: User, meeting: Meeting) -> None:
    if not (is_staff(user) or is_chair(user, meeting)):
        raise PermissionDenied(_("Only the chair or the secretariat may do this."))


def cleared_for(user: User, secrecy: str) -> bool:
    """D14: the user's clearance covers the document's level."""
    return user.clearance_enum.covers(Clearance(secrecy))
