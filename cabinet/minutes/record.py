"""The meeting's record, read into the printed minutes and the conclusion notice (D11).

Everything the system knows about a held meeting — when and where, who chaired and who took the
minutes, who was present, absent (and why) or sent a deputy, the guests, and per agenda item the
presenter, the documents, the votes with their results and the chair's conclusion — becomes a
:class:`~cabinet.minutes.content.MinutesData`; the secretary's own text (the summary of each
discussion, an opening and a closing paragraph) comes from the version's ``content``.

Legal Vietnamese text: fixed here, not translated.
"""

from __future__ import annotations

import unicodedata
from datetime import datetime

from sqlalchemy import select

from cabinet.core.timeutil import as_utc, utcnow
from cabinet.documents.models import Document, DocumentStatus
from cabinet.extensions import db
from cabinet.i18n import vietnamese_date
from cabinet.live import service as live
from cabinet.live.models import ABSTAIN, AGAINST, FOR, Outcome, Vote, VoteBallot, VoteStatus
from cabinet.meetings.models import (
    AgendaStatus,
    Attendance,
    DeputyStatus,
    Meeting,
    MeetingKind,
    Participant,
    ParticipantRole,
)
from cabinet.minutes import richtext
from cabinet.minutes.content import (
    Header,
    ItemRecord,
    MinutesData,
    NoticeData,
    NoticeItem,
    PersonLine,
    VoteLine,
)
from cabinet.minutes.models import Minutes
from cabinet.rules import rules
from cabinet.users.models import User

ORGAN = "CHÍNH PHỦ"
NOTICE_ORGAN = "VĂN PHÒNG CHÍNH PHỦ"
MINUTES_SYMBOL = "BB-CP"
NOTICE_SYMBOL = "TB-VPCP"
PLACE = "Hà Nội"
NUMBER_SPACE = "\u00a0" * 10
SECRECY_TEXT = {"mat": "Mật", "toi_mat": "Tối mật", "tuyet_mat": "Tuyệt mật"}
KIND_TEXT = {
    MeetingKind.REGULAR: "Phiên họp Chính phủ thường kỳ",
    MeetingKind.THEMATIC: "Phiên họp Chính phủ chuyên đề",
    MeetingKind.EXTRAORDINARY: "Phiên họp Chính phủ bất thường",
    MeetingKind.ONLINE: "Phiên họp Chính phủ trực tuyến",
}
STATUS_TEXT = {
    AgendaStatus.PLANNED: "Chưa thảo luận",
    AgendaStatus.IN_DISCUSSION: "Đang thảo luận",
    AgendaStatus.CONCLUDED: "Đã kết luận",
    AgendaStatus.DEFERRED: "Hoãn sang phiên họp sau",
}
CHOICE_TEXT = {FOR: "Tán thành", AGAINST: "Không tán thành", ABSTAIN: "Không biểu quyết"}
OUTCOME_TEXT = {
    Outcome.PASSED: "Thông qua",
    Outcome.REJECTED: "Không thông qua",
    Outcome.PASSED_BY_CHAIR: "Thông qua (số phiếu ngang nhau, theo bên có biểu quyết của Chủ tọa)",
    Outcome.REJECTED_BY_CHAIR: "Không thông qua (số phiếu ngang nhau, theo bên có biểu quyết của Chủ tọa)",
    Outcome.TIE: "Số phiếu ngang nhau; Chủ tọa quyết định",
    Outcome.COUNTED: "Đã kiểm phiếu",
}


def nfc(text: str | None) -> str:
    return unicodedata.normalize("NFC", text or "").strip()


def zone():
    from zoneinfo import ZoneInfo

    from flask import current_app

    return ZoneInfo(current_app.config.get("CABINET_TIMEZONE") or "Asia/Ho_Chi_Minh")


def moment(value: datetime | None) -> str:
    """``08 giờ 30, ngày 05 tháng 3 năm 2026`` (local time), or "" without a time."""
    if value is None:
        return ""
    local = as_utc(value).astimezone(zone())
    return f"{local.hour:02d} giờ {local.minute:02d}, {vietnamese_date(local)}"


def date_line(value: datetime | None) -> str:
    local = as_utc(value or utcnow()).astimezone(zone())
    return f"{PLACE}, {vietnamese_date(local)}"


def number_line(number: str, symbol: str) -> str:
    number = nfc(number)
    return f"Số: {number}" if number else f"Số:{NUMBER_SPACE}/{symbol}"


def position(user: User) -> str:
    """Chức vụ as Government documents write it: the title, then the organisation unless the title
    already names it (``Thủ tướng Chính phủ``, ``Bộ trưởng Bộ Tư pháp``)."""
    title, organisation = nfc(user.title), nfc(user.organisation)
    if not organisation or organisation.casefold() in title.casefold() or title.endswith("Chính phủ"):
        return title
    return f"{title} {organisation}".strip()


def person(user: User | None, note: str = "") -> PersonLine:
    if user is None:
        return PersonLine("", "")
    return PersonLine(nfc(user.full_name), position(user), note)


def secretary_of(meeting: Meeting) -> User | None:
    """The participant who takes the minutes (D2: role ``secretary``)."""
    found = next((p for p in meeting.participants if p.role == ParticipantRole.SECRETARY), None)
    return found.user if found is not None else None


def subtitle(meeting: Meeting) -> str:
    local = as_utc(meeting.starts_at).astimezone(zone())
    kind = KIND_TEXT.get(meeting.kind_enum, "Phiên họp Chính phủ")
    if meeting.kind_enum is MeetingKind.REGULAR:
        return f"{kind} tháng {local.month} năm {local.year}"
    return f"{kind}: {nfc(meeting.title)}"


# --- attendance ----------------------------------------------------------------------------------


def _attendance(meeting: Meeting):
    """Present voting members, absent ones (with the reason), deputies, guests — from the check-ins
    when the meeting ran in the live room, else from the invitation answers."""
    checked = live.check_ins(meeting)
    ran_live = bool(checked)
    present, absent, deputies, guests = [], [], [], []
    for participant in sorted(meeting.participants, key=_order):
        here = _was_present(participant, checked, ran_live)
        if participant.role == ParticipantRole.GUEST:
            if here:
                guests.append(person(participant.user))
            continue
        if not participant.votes:  # the secretary: named on a line of their own
            continue
        if here:
            present.append(person(participant.user))
            continue
        reason = nfc(participant.absence_reason) or "không có lý do"
        absent.append(person(participant.user, f"vắng mặt: {reason}" if reason else "vắng mặt"))
        deputy = participant.deputy
        if deputy is not None and participant.deputy_status == DeputyStatus.APPROVED:
            came = (not ran_live) or ((c := checked.get(deputy.id)) is not None and c.present)
            if came:
                replaced = position(participant.user) or participant.user.full_name
                deputies.append(person(deputy, f"dự thay {replaced}"))
    return tuple(present), tuple(absent), tuple(deputies), tuple(guests)


def _order(participant: Participant) -> tuple:
    # The chair first, then the protocol order the secretariat entered (participant ids).
    return (participant.role != ParticipantRole.CHAIR, participant.id)


def _was_present(participant: Participant, checked: dict, ran_live: bool) -> bool:
    if ran_live:
        entry = checked.get(participant.user_id)
        return entry is not None and entry.present
    return participant.attendance != Attendance.ABSENT


def _quorum_sentence(present: int, voters: int) -> str:
    required = -(-voters * rules().quorum.numerator // rules().quorum.denominator) if voters else 0
    enough = "đủ" if present >= required else "không đủ"
    return (f"Có mặt {present}/{voters} thành viên Chính phủ; {enough} hai phần ba tổng số thành viên "
            f"(cần ít nhất {required}; {rules().quorum_basis}).")


# --- agenda items --------------------------------------------------------------------------------


def _documents(meeting: Meeting) -> dict[int | None, list[str]]:
    rows = db.session.scalars(select(Document).where(
        Document.meeting_id == meeting.id,
        Document.status.in_([DocumentStatus.PUBLISHED.value, DocumentStatus.RECALLED.value]))
        .order_by(Document.id))
    found: dict[int | None, list[str]] = {}
    for document in rows:
        level = SECRECY_TEXT.get(document.secrecy)
        found.setdefault(document.agenda_item_id, []).append(
            nfc(document.title) + (f" ({level})" if level else ""))
    return found


def vote_line(vote: Vote) -> VoteLine:
    """A closed vote as the minutes print it: counts per option, the result under D7, and for an
    open vote each member's choice."""
    result = vote.result or {}
    tally = result.get("counts", {})
    labels = {o["key"]: (CHOICE_TEXT.get(o["key"], o.get("label", o["key"])) if vote.standard
                         else nfc(o.get("label", o["key"]))) for o in vote.options}
    counts = tuple((labels[key], int(tally.get(key, 0))) for key in vote.option_keys)
    cast = int(result.get("cast", sum(n for _, n in counts)))
    eligible = int(result.get("eligible", vote.eligible_count))
    outcome = Outcome(vote.outcome) if vote.outcome else Outcome.COUNTED
    if vote.standard:
        basis = result.get("basis", rules().decision_basis)
        text = (f"{OUTCOME_TEXT[outcome]}: {int(tally.get(FOR, 0))}/{eligible} thành viên Chính phủ tán "
                f"thành (cần ít nhất {result.get('threshold', '')}; {basis}).")
    else:
        leading = [labels.get(key, key) for key in result.get("leading", [])]
        text = f"{OUTCOME_TEXT[outcome]}: nhiều phiếu nhất: {', '.join(leading) or 'không có'}."
    voters: tuple[tuple[str, str], ...] = ()
    if not vote.secret:
        ballots = db.session.scalars(select(VoteBallot).where(VoteBallot.vote_id == vote.id)).all()
        voters = tuple(sorted(((nfc(b.voter.full_name), labels.get(b.choice or "", b.choice or ""))
                               for b in ballots), key=lambda row: _name_key(row[0])))
    return VoteLine(nfc(vote.question), vote.secret, counts, cast, text, voters)


def _name_key(name: str):
    from cabinet.i18n import vietnamese_name_key

    return vietnamese_name_key(name)


def default_content(meeting: Meeting) -> dict:
    """The secretary's starting text: each item's conclusion as the chair gave it in the room."""
    items = {str(item.id): {"discussion_html": "",
                            "conclusion_html": richtext.plain_to_html(item.conclusion)}
             for item in meeting.agenda_items}
    return {"opening_html": "", "closing_html": "", "items": items}


def item_records(meeting: Meeting, content: dict) -> tuple[ItemRecord, ...]:
    documents = _documents(meeting)
    texts = content.get("items", {})
    records = []
    for number, item in enumerate(sorted(meeting.agenda_items, key=lambda i: i.position), start=1):
        text = texts.get(str(item.id), {})
        presenter = "; ".join(part for part in (nfc(item.presenter_organisation),
                                                nfc(item.presenter_name)) if part)
        status = STATUS_TEXT.get(AgendaStatus(item.status), item.status)
        if item.passes_without_debate and item.status == AgendaStatus.CONCLUDED:
            status = "Thông qua không thảo luận (không thành viên nào đề nghị thảo luận)"
        votes = tuple(vote_line(v) for v in getattr(item, "votes", [])
                      if v.status == VoteStatus.CLOSED)
        records.append(ItemRecord(
            number=number, title=nfc(item.title), presenter=presenter,
            documents=tuple(documents.get(item.id, ())), status=status, votes=votes,
            discussion_html=richtext.sanitise(text.get("discussion_html", "")),
            conclusion_html=richtext.sanitise(text.get("conclusion_html", ""))))
    return tuple(records)


def minutes_data(minutes: Minutes) -> MinutesData:
    """What the version prints: its frozen snapshot once finalized, else the live record."""
    if minutes.snapshot:
        return from_json(minutes.snapshot)
    meeting = minutes.meeting
    progress = live.progress_of(meeting)
    present, absent, deputies, guests = _attendance(meeting)
    voters = len(present) + len(absent)
    chair, secretary = meeting.chair, secretary_of(meeting)
    content = minutes.content or {}
    correction = ""
    if minutes.corrects is not None:
        old = minutes.corrects
        label = f"Biên bản số {old.number}" if old.number else "Biên bản"
        correction = (f"Bản đính chính (phiên bản {minutes.version}), thay thế {label} "
                      f"phiên bản {old.version}: {nfc(minutes.correction_reason)}")
    return MinutesData(
        header=Header(ORGAN, number_line(minutes.number, MINUTES_SYMBOL),
                      date_line(progress.opened_at or meeting.starts_at)),
        subtitle=subtitle(meeting), version=minutes.version, draft=not minutes.locked,
        correction_note=correction, secrecy=SECRECY_TEXT.get(minutes.secrecy, ""),
        started=moment(progress.opened_at or meeting.starts_at), ended=moment(progress.closed_at),
        place=nfc(meeting.place) or ("Trực tuyến" if meeting.online_url else ""),
        chair=person(chair), secretary=person(secretary),
        present=present, absent=absent, deputies=deputies, guests=guests,
        quorum=_quorum_sentence(len(present), voters),
        opening_html=richtext.sanitise(content.get("opening_html", "")),
        items=item_records(meeting, content),
        closing_html=richtext.sanitise(content.get("closing_html", "")),
        secretary_name=nfc(secretary.full_name) if secretary else "",
        chair_name=nfc(chair.full_name) if chair else "")


def notice_data(minutes: Minutes, *, number: str = "") -> NoticeData:
    """Thông báo kết luận: the chair's conclusion on each item, from the same record."""
    data = minutes_data(minutes)
    chair = data.chair
    chair_title = chair.position or "Chủ tọa"
    introduction = (f"Vào hồi {data.started}, tại {data.place or PLACE}, {chair_title} {chair.name} "
                    f"chủ trì {data.subtitle[0].lower() + data.subtitle[1:]}. Sau khi nghe các cơ quan "
                    f"trình bày và ý kiến của các thành viên Chính phủ, {chair_title} kết luận như sau:")
    items = tuple(NoticeItem(i.number, i.title, i.conclusion_html) for i in data.items
                  if not richtext.is_blank(i.conclusion_html))
    return NoticeData(
        header=Header(NOTICE_ORGAN, number_line(number, NOTICE_SYMBOL), data.header.date_line),
        subtitle=f"Kết luận của {chair_title} tại {data.subtitle[0].lower() + data.subtitle[1:]}",
        draft=data.draft, secrecy=data.secrecy, introduction=introduction, items=items)


# --- the snapshot as JSON --------------------------------------------------------------------------


def to_json(data: MinutesData) -> dict:
    from dataclasses import asdict

    return asdict(data)


def from_json(raw: dict) -> MinutesData:
    def people(rows) -> tuple[PersonLine, ...]:
        return tuple(PersonLine(**row) for row in rows)

    items = tuple(ItemRecord(**{**item, "documents": tuple(item["documents"]),
                                "votes": tuple(VoteLine(**{**v, "counts": tuple(map(tuple, v["counts"])),
                                                           "voters": tuple(map(tuple, v["voters"]))})
                                               for v in item["votes"])})
                  for item in raw["items"])
    return MinutesData(**{
        **raw, "header": Header(**raw["header"]), "chair": PersonLine(**raw["chair"]),
        "secretary": PersonLine(**raw["secretary"]), "present": people(raw["present"]),
        "absent": people(raw["absent"]), "deputies": people(raw["deputies"]),
        "guests": people(raw["guests"]), "items": items, "recipients": tuple(raw["recipients"])})
