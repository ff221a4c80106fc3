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


HELD_CONCLUSION = ("Chính phủ thống nhất thông qua dự án Luật, giao Bộ Tư pháp tiếp thu, hoàn thiện hồ sơ "
                   "trình Quốc hội.")


def held_meeting(cabinet, *, conclusion=HELD_CONCLUSION, vote=True, close=True):
    """A meeting held in the live room and closed: the PM chaired, both ministers checked in (one
    of the three voters, Tôn Nữ Thanh Thủy, was absent with a reason), item 1 concluded after an
    open vote the two present members won, item 2 deferred. The minutes are drafted from it."""
    from cabinet.extensions import db
    from cabinet.live import service as live
    from cabinet.meetings.models import Participant

    meeting = room_meeting(cabinet)
    pm, tuphap, yte = cabinet["pm"], cabinet["tuphap"], cabinet["yte"]
    absent = db.session.query(Participant).filter_by(meeting_id=meeting.id, user_id=yte.id).one()
    absent.attendance, absent.absence_reason = "absent", "Đi công tác nước ngoài"
    db.session.commit()
    for user in (pm, tuphap, cabinet["guest"]):
        live.check_in(user, meeting.id)
    live.open_meeting(pm, meeting.id)
    first, second = sorted(meeting.agenda_items, key=lambda i: i.position)
    live.set_current_item(pm, meeting.id, first.id)
    if vote:
        opened = live.open_vote(pm, meeting.id, question="Thông qua dự án Luật Đất đai (sửa đổi)?")
        live.cast_vote(pm, opened.id, "for")
        live.cast_vote(tuphap, opened.id, "for")
        live.close_vote(pm, opened.id)
    live.conclude_item(pm, meeting.id, first.id, conclusion)
    live.defer_item(pm, meeting.id, second.id)
    if close:
        live.close_meeting(pm, meeting.id)
    return meeting
