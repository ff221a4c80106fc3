"""Small factories for meetings, shared by the meeting, document and API tests."""

from __future__ import annotations

from datetime import timedelta

from cabinet.core.timeutil import utcnow
from cabinet.meetings import service


def schedule(actor, *, chair, members=(), secretaries=(), guests=(), title="Phiên họp Chính phủ thường kỳ",
             starts_in=timedelta(days=10), hours=3, **extra):
    """Create a meeting through the real service (the actor must be secretariat)."""
    participants = {u.id: "guest" for u in guests}
    participants.update({u.id: "secretary" for u in secretaries})
    participants.update({u.id: "member" for u in members})
    participants[chair.id] = "chair"
    starts_at = (utcnow() + starts_in).replace(microsecond=0)
    return service.create_meeting(actor, service.MeetingData(
        title=title, starts_at=starts_at, ends_at=starts_at + timedelta(hours=hours),
        place=extra.pop("place", "Phòng họp Chính phủ, 1 Hoàng Hoa Thám"), participants=participants,
        **extra))
