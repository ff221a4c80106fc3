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


ROOM_ITEMS = ("Dự án Luật Đất đai (sửa đổi)", "Nghị quyết phiên họp thường kỳ tháng 11")


def room_meeting(cabinet, *, items=ROOM_ITEMS, guests=True, starts_in=timedelta(minutes=30), **item_fields):
    """The ``cabinet``'s meeting starting soon (check-in is open), with agenda items: the live
    room's tests start from it."""
    meeting = schedule(cabinet["thuky"], chair=cabinet["pm"], members=[cabinet["tuphap"], cabinet["yte"]],
                       secretaries=[cabinet["thuky"]], guests=[cabinet["guest"]] if guests else (),
                       starts_in=starts_in)
    for title in items:
        service.add_item(cabinet["thuky"], meeting.id, service.AgendaItemData(title=title, **item_fields))
    return meeting
