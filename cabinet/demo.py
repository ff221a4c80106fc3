"""``flask --app app demo``: a demo cabinet to try the product with. Idempotent.

The people are fictional; the ministries are real names of Vietnam's Government bodies.
"""

from __future__ import annotations

import io
from datetime import datetime, timedelta
from html import escape
from zoneinfo import ZoneInfo

import click
from flask import current_app
from sqlalchemy import func, select

from cabinet.core.timeutil import utcnow
from cabinet.extensions import db
from cabinet.meetings import service as meetings
from cabinet.meetings.models import Meeting
from cabinet.users import service
from cabinet.users.models import User

DEMO_PASSWORD = "ecabinet-demo-2026"

# username, full name, title, organisation, role, clearance
DEMO_PEOPLE: list[tuple[str, str, str, str, str, str]] = [
    ("admin", "Lê Hoàng Nam", "Quản trị hệ thống", "Văn phòng Chính phủ", "admin", "none"),
    ("thuky", "Trần Thị Thu Hà", "Chuyên viên chính, Thư ký phiên họp", "Văn phòng Chính phủ",
     "secretariat", "tuyet_mat"),
    ("vanthu", "Đỗ Minh Khoa", "Chuyên viên, Văn thư", "Văn phòng Chính phủ", "secretariat", "mat"),
    ("thutuong", "Phạm Quốc Hưng", "Thủ tướng Chính phủ", "Chính phủ", "member", "tuyet_mat"),
    ("ptt.kinhte", "Vũ Đức Thắng", "Phó Thủ tướng Thường trực", "Chính phủ", "member", "tuyet_mat"),
    ("ptt.xahoi", "Hoàng Thị Lan", "Phó Thủ tướng", "Chính phủ", "member", "tuyet_mat"),
    ("ptt.hatang", "Bùi Văn Quyết", "Phó Thủ tướng", "Chính phủ", "member", "tuyet_mat"),
    ("bt.quocphong", "Ngô Xuân Trường", "Bộ trưởng", "Bộ Quốc phòng", "member", "tuyet_mat"),
    ("bt.congan", "Đặng Hữu Phúc", "Bộ trưởng", "Bộ Công an", "member", "tuyet_mat"),
    ("bt.ngoaigiao", "Lý Thị Mai Anh", "Bộ trưởng", "Bộ Ngoại giao", "member", "tuyet_mat"),
    ("bt.noivu", "Trịnh Công Danh", "Bộ trưởng", "Bộ Nội vụ", "member", "toi_mat"),
    ("bt.tuphap", "Phan Thị Ngọc Diệp", "Bộ trưởng", "Bộ Tư pháp", "member", "toi_mat"),
    ("bt.taichinh", "Hồ Quang Vinh", "Bộ trưởng", "Bộ Tài chính", "member", "toi_mat"),
    ("bt.congthuong", "Lương Văn Tài", "Bộ trưởng", "Bộ Công Thương", "member", "toi_mat"),
    ("bt.nongnghiep", "Đinh Thị Hồng Nhung", "Bộ trưởng", "Bộ Nông nghiệp và Môi trường",
     "member", "toi_mat"),
    ("bt.xaydung", "Tạ Minh Tuấn", "Bộ trưởng", "Bộ Xây dựng", "member", "toi_mat"),
    ("bt.vanhoa", "Châu Thị Bích Ngọc", "Bộ trưởng", "Bộ Văn hóa, Thể thao và Du lịch",
     "member", "mat"),
    ("bt.khcn", "Mạc Đăng Khoa", "Bộ trưởng", "Bộ Khoa học và Công nghệ", "member", "toi_mat"),
    ("bt.giaoduc", "Kiều Văn Sơn", "Bộ trưởng", "Bộ Giáo dục và Đào tạo", "member", "mat"),
    ("bt.yte", "Tôn Nữ Thanh Thủy", "Bộ trưởng", "Bộ Y tế", "member", "mat"),
    ("cn.vpcp", "Âu Dương Khải", "Bộ trưởng, Chủ nhiệm", "Văn phòng Chính phủ", "member", "tuyet_mat"),
    ("tt.thanhtra", "Quách Văn Lộc", "Tổng Thanh tra Chính phủ", "Thanh tra Chính phủ",
     "member", "toi_mat"),
    ("td.nganhang", "Giang Thị Phương", "Thống đốc", "Ngân hàng Nhà nước Việt Nam", "member", "toi_mat"),
    ("khach.vksnd", "Lâm Hữu Nghĩa", "Phó Viện trưởng", "Viện Kiểm sát nhân dân tối cao",
     "guest", "none"),
]


DEMO_AGENDA = [
    ("Dự án Luật Đất đai (sửa đổi)", "Bộ Nông nghiệp và Môi trường", "Đinh Thị Hồng Nhung", 45),
    ("Dự thảo Nghị định quy định chi tiết Luật Ngân sách nhà nước", "Bộ Tài chính", "Hồ Quang Vinh", 30),
    ("Báo cáo tình hình kinh tế - xã hội tháng 11", "Bộ Tài chính", "Hồ Quang Vinh", 40),
    ("Đề án chuyển đổi số trong cơ quan nhà nước", "Bộ Khoa học và Công nghệ", "Mạc Đăng Khoa", 30),
]


def load_demo_meeting() -> Meeting | None:
    """A regular Government meeting next week with its agenda, unless one was already made."""
    title = "Phiên họp Chính phủ thường kỳ tháng 11"
    if db.session.scalar(select(Meeting.id).where(Meeting.title == title)):
        return None
    people = {u.username: u for u in db.session.scalars(select(User))}
    members = [u for u in people.values() if u.role == "member"]
    zone = ZoneInfo("Asia/Ho_Chi_Minh")
    day = (utcnow().astimezone(zone) + timedelta(days=7)).date()
    starts_at = datetime(day.year, day.month, day.day, 8, 0, tzinfo=zone)
    participants = {u.id: "member" for u in members}
    participants[people["thutuong"].id] = "chair"
    participants[people["thuky"].id] = "secretary"
    participants[people["khach.vksnd"].id] = "guest"
    meeting = meetings.create_meeting(people["thuky"], meetings.MeetingData(
        title=title, starts_at=starts_at, ends_at=starts_at + timedelta(hours=3, minutes=30),
        place="Phòng họp Chính phủ, Trụ sở Chính phủ, 1 Hoàng Hoa Thám, Hà Nội",
        participants=participants))
    items = [meetings.add_item(people["thuky"], meeting.id, meetings.AgendaItemData(
        title=item_title, presenter_organisation=organisation, presenter_name=presenter,
        minutes=minutes)) for item_title, organisation, presenter, minutes in DEMO_AGENDA]
    _demo_documents(people["thuky"], meeting, items)
    return meeting


def _demo_pdf(title: str, body: str) -> io.BytesIO:
    """A small Tờ trình in the Nghị định 30/2020 layout, rendered by WeasyPrint."""
    from weasyprint import HTML

    paragraphs = "".join(f"<p>{escape(line)}</p>" for line in body.split("\n"))
    html = f"""<html><head><style>
      @page {{ size: A4; margin: 20mm 15mm 20mm 30mm; }}
      body {{ font-family: 'Liberation Serif', serif; font-size: 14pt; line-height: 1.4; }}
      h1 {{ text-align: center; font-size: 14pt; }} p {{ text-align: justify; text-indent: 1cm; }}
      </style></head><body><p style="text-align:center"><b>CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM</b><br>
      <u><b>Độc lập - Tự do - Hạnh phúc</b></u></p><h1>{escape(title)}</h1>{paragraphs}</body></html>"""
    return io.BytesIO(HTML(string=html).write_pdf())


def _demo_documents(secretary: User, meeting: Meeting, items) -> None:
    from cabinet.documents import service as documents

    land = documents.upload_document(
        secretary, meeting.id, title="Tờ trình về dự án Luật Đất đai (sửa đổi)", doc_type="to_trinh",
        secrecy="none", urgency="none", agenda_item_id=items[0].id, filename="to-trinh-luat-dat-dai.pdf",
        stream=_demo_pdf("TỜ TRÌNH về dự án Luật Đất đai (sửa đổi)",
                         "Kính gửi: Chính phủ.\nThực hiện chương trình xây dựng luật, Bộ Nông nghiệp và "
                         "Môi trường kính trình Chính phủ dự án Luật Đất đai (sửa đổi) với các nội dung "
                         "chính về quy hoạch, giao đất, cho thuê đất và bồi thường khi thu hồi đất."))
    budget = documents.upload_document(
        secretary, meeting.id, title="Dự thảo Nghị định hướng dẫn Luật Ngân sách nhà nước",
        doc_type="du_thao", secrecy="mat", urgency="khan", agenda_item_id=items[1].id,
        filename="du-thao-nghi-dinh-ngan-sach.pdf",
        stream=_demo_pdf("DỰ THẢO NGHỊ ĐỊNH quy định chi tiết Luật Ngân sách nhà nước",
                         "Điều 1. Phạm vi điều chỉnh.\nNghị định này quy định chi tiết về lập, chấp hành "
                         "và quyết toán ngân sách nhà nước."))
    documents.publish(secretary, land.id)
    documents.publish(secretary, budget.id)


DEMO_BALLOT_NUMBER = "45/PLYK-VPCP"
DEMO_BALLOT_QUESTIONS = [
    "Đồng ý thông qua dự thảo Nghị định sửa đổi, bổ sung một số điều của Nghị định số 177/2013/NĐ-CP "
    "quy định chi tiết và hướng dẫn thi hành một số điều của Luật Giá?",
    "Đồng ý giao Bộ Tài chính tiếp thu ý kiến thành viên Chính phủ, hoàn thiện dự thảo, trình Thủ tướng "
    "Chính phủ ký ban hành?",
]
# username, answer to each question, comment (D12: a comment is required with "other")
DEMO_BALLOT_ANSWERS = [
    ("ptt.kinhte", ("agree", "agree"), ""),
    ("bt.tuphap", ("agree", "other"),
     "Đề nghị Bộ Tài chính rà soát lại Điều 5 cho thống nhất với Luật Giá 2023."),
    ("bt.congthuong", ("agree", "agree"), ""),
    ("bt.taichinh", ("agree", "agree"), ""),
    ("bt.xaydung", ("disagree", "agree"), "Chưa đánh giá đủ tác động đến giá vật liệu xây dựng."),
]


def load_demo_ballot():
    """An open opinion ballot with its dossier and a few members' answers, unless already made."""
    from cabinet.ballots import service as ballots
    from cabinet.ballots.models import Ballot

    if db.session.scalar(select(Ballot.id).where(Ballot.number == DEMO_BALLOT_NUMBER)):
        return None
    people = {u.username: u for u in db.session.scalars(select(User))}
    secretary = people["thuky"]
    ballot = ballots.create_ballot(secretary, ballots.BallotData(
        number=DEMO_BALLOT_NUMBER, questions=DEMO_BALLOT_QUESTIONS,
        title="Dự thảo Nghị định sửa đổi, bổ sung một số điều của Nghị định số 177/2013/NĐ-CP về Luật Giá",
        summary="Thực hiện chỉ đạo của Thủ tướng Chính phủ, Văn phòng Chính phủ xin ý kiến thành viên Chính "
                "phủ về dự thảo Nghị định do Bộ Tài chính trình (Tờ trình số 112/TTr-BTC).\n"
                "Đề nghị các đồng chí thành viên Chính phủ cho ý kiến vào Phiếu và gửi lại trước thời hạn."))
    ballots.add_document(secretary, ballot.id, title="Tờ trình số 112/TTr-BTC của Bộ Tài chính",
                         doc_type="to_trinh", secrecy="none", filename="to-trinh-112-btc.pdf",
                         stream=_demo_pdf("TỜ TRÌNH về dự thảo Nghị định sửa đổi Nghị định số 177/2013/NĐ-CP",
                                          "Kính gửi: Chính phủ.\nBộ Tài chính kính trình Chính phủ dự thảo "
                                          "Nghị định sửa đổi, bổ sung một số điều của Nghị định số "
                                          "177/2013/NĐ-CP về quản lý giá."))
    ballots.add_document(secretary, ballot.id, title="Dự thảo Nghị định (bản trình Chính phủ)",
                         doc_type="du_thao", secrecy="mat", filename="du-thao-nghi-dinh.pdf",
                         stream=_demo_pdf("DỰ THẢO NGHỊ ĐỊNH sửa đổi, bổ sung Nghị định số 177/2013/NĐ-CP",
                                          "Điều 1. Sửa đổi, bổ sung một số điều của Nghị định số "
                                          "177/2013/NĐ-CP.\nĐiều 2. Hiệu lực thi hành."))
    ballot = ballots.issue_ballot(secretary, ballot.id)
    for username, choices, comment in DEMO_BALLOT_ANSWERS:
        member = people.get(username)
        if member is None or not ballot.is_recipient(member.id):
            continue
        answers = [ballots.AnswerData(q.id, choice, comment if choice != "agree" else "")
                   for q, choice in zip(ballot.questions, choices, strict=True)]
        ballots.submit_response(member, ballot.id, answers, password=DEMO_PASSWORD)
    return ballot


HELD_TITLE = "Phiên họp Chính phủ thường kỳ tháng 10"
HELD_AGENDA = [
    ("Dự thảo Nghị quyết phiên họp Chính phủ thường kỳ tháng 10", "Văn phòng Chính phủ", "Âu Dương Khải", 20),
    ("Dự án Luật Chuyển đổi số", "Bộ Khoa học và Công nghệ", "Mạc Đăng Khoa", 40),
    ("Báo cáo tình hình thực hiện dự toán ngân sách nhà nước 10 tháng", "Bộ Tài chính", "Hồ Quang Vinh", 30),
]
HELD_ABSENT = {"bt.ngoaigiao": "Đi công tác nước ngoài", "bt.yte": "Dự hội nghị của Tổ chức Y tế thế giới"}
HELD_DISCUSSION = [
    "<p>Các thành viên Chính phủ thống nhất với dự thảo Nghị quyết; đề nghị bổ sung nhiệm vụ "
    "<strong>thúc đẩy giải ngân vốn đầu tư công</strong> trong các tháng cuối năm.</p>",
    "<p>Bộ trưởng Bộ Tư pháp đề nghị làm rõ phạm vi điều chỉnh, tránh chồng chéo với Luật Giao dịch "
    "điện tử; Bộ trưởng Bộ Công an đề nghị bổ sung quy định về bảo vệ dữ liệu cá nhân.</p>",
    "",
]
HELD_CONCLUSIONS = [
    "Chính phủ thống nhất thông qua dự thảo Nghị quyết; giao Văn phòng Chính phủ tiếp thu ý kiến, "
    "hoàn thiện, trình Thủ tướng Chính phủ ký ban hành.",
    "Giao Bộ Khoa học và Công nghệ chủ trì, phối hợp với Bộ Tư pháp tiếp thu ý kiến thành viên Chính "
    "phủ, hoàn thiện hồ sơ dự án Luật, trình Quốc hội tại kỳ họp gần nhất.",
    "",
]


def load_demo_held_meeting() -> Meeting | None:
    """Last month's meeting, held in the live room (check-ins, a vote, conclusions) and closed,
    with its minutes drafted from the record: ready for the secretary to finalize and sign."""
    from cabinet.live import service as live
    from cabinet.meetings.models import Participant
    from cabinet.minutes import service as minutes

    if db.session.scalar(select(Meeting.id).where(Meeting.title == HELD_TITLE)):
        return None
    people = {u.username: u for u in db.session.scalars(select(User))}
    pm, thuky = people["thutuong"], people["thuky"]
    zone = ZoneInfo("Asia/Ho_Chi_Minh")
    day = (utcnow().astimezone(zone) - timedelta(days=28)).date()
    starts_at = datetime(day.year, day.month, day.day, 8, 0, tzinfo=zone)
    participants = {u.id: "member" for u in people.values() if u.role == "member"}
    participants[pm.id], participants[thuky.id] = "chair", "secretary"
    meeting = meetings.create_meeting(thuky, meetings.MeetingData(
        title=HELD_TITLE, starts_at=starts_at, ends_at=starts_at + timedelta(hours=3),
        place="Phòng họp Chính phủ, Trụ sở Chính phủ, 1 Hoàng Hoa Thám, Hà Nội", participants=participants))
    items = [meetings.add_item(thuky, meeting.id, meetings.AgendaItemData(
        title=title, presenter_organisation=organisation, presenter_name=presenter, minutes=length))
        for title, organisation, presenter, length in HELD_AGENDA]
    for participant in db.session.scalars(select(Participant).where(Participant.meeting_id == meeting.id)):
        reason = HELD_ABSENT.get(participant.user.username)
        if reason:
            participant.attendance, participant.absence_reason = "absent", reason
    db.session.commit()
    voters = [people[name] for name in participants_usernames(people, participants)
              if name not in HELD_ABSENT]
    for user in voters:
        live.check_in(thuky, meeting.id, user.id)
    live.open_meeting(pm, meeting.id)
    for number, item in enumerate(items):
        live.set_current_item(pm, meeting.id, item.id)
        if number == 0:
            vote = live.open_vote(pm, meeting.id, question="Thông qua dự thảo Nghị quyết phiên họp?")
            for user in voters:
                if user.role == "member":
                    live.cast_vote(user, vote.id, "abstain" if user.username == "bt.congan" else "for")
            live.close_vote(pm, vote.id)
        if HELD_CONCLUSIONS[number]:
            live.conclude_item(pm, meeting.id, item.id, HELD_CONCLUSIONS[number])
        else:
            live.defer_item(pm, meeting.id, item.id)
    live.close_meeting(pm, meeting.id)
    # The room ran just now; the record says it ran on the day, from 08:00 to 11:00.
    progress = live.progress_of(meeting)
    progress.opened_at, progress.closed_at = starts_at + timedelta(minutes=2), starts_at + timedelta(hours=3)
    db.session.commit()
    draft = minutes.start(thuky, meeting.id)
    minutes.save(thuky, draft.id, minutes.DraftChanges(
        revision=draft.revision,
        opening_html="<p>Thủ tướng Chính phủ Phạm Quốc Hưng khai mạc phiên họp, nêu mục đích, yêu cầu "
                     "và chương trình làm việc.</p>",
        items={item.id: {"discussion_html": text} for item, text in zip(items, HELD_DISCUSSION, strict=True)
               if text}))
    return meeting


def participants_usernames(people: dict[str, User], participants: dict[int, str]) -> list[str]:
    by_id = {u.id: name for name, u in people.items()}
    return [by_id[uid] for uid in participants]


def load_demo_keys(app) -> list[str]:
    """A demo CA and keys for the secretary and the Prime Minister (passphrase: the demo password),
    so the demo signs for real. Returns the usernames given a key."""
    from pathlib import Path

    from cabinet.core.errors import DomainError
    from cabinet.minutes import keys
    from cabinet.signing import pki

    directory = Path(app.config["CABINET_PKI_DIR"])
    try:
        made = pki.create_demo_pki(directory, DEMO_PASSWORD)
    except DomainError as exc:
        click.echo(f"Demo signing keys not made: {exc.message}")
        return []
    admin = db.session.scalar(select(User).where(User.username == "admin"))
    registered = []
    for username, identity in (("thuky", "thuky"), ("thutuong", "thutuong")):
        user = db.session.scalar(select(User).where(User.username == username))
        if user is None or admin is None or keys.active_key(user.id) is not None:
            continue
        try:
            keys.upload(admin, user.id, made.p12[identity].read_bytes(), DEMO_PASSWORD)
        except DomainError as exc:
            click.echo(f"Demo signing key of {username} not registered: {exc.message}")
            continue
        registered.append(username)
    return registered


def load_demo() -> tuple[list[User], list[str]]:
    """Create the demo accounts that do not exist yet. Returns (created, already there)."""
    created, existing = [], []
    for username, full_name, title, organisation, role, clearance in DEMO_PEOPLE:
        if db.session.scalar(select(User.id).where(func.lower(User.username) == username)):
            existing.append(username)
            continue
        data = service.UserData(username=username, full_name=full_name, title=title,
                                organisation=organisation, role=role, clearance=clearance,
                                locale="vi")
        created.append(service.create_user(None, data, DEMO_PASSWORD))
    return created, existing


@click.command("demo")
def demo_command() -> None:
    """Load a demo cabinet (Prime Minister, deputies, ministers, secretariat, admin)."""
    created, existing = load_demo()
    if created:
        click.echo(f"Created {len(created)} demo accounts. Password for each (shown once): "
                   f"{DEMO_PASSWORD}")
        for user in created:
            click.echo(f"  {user.username:<16} {user.role:<12} {user.full_name} — {user.title}, "
                       f"{user.organisation}")
    if existing:
        click.echo(f"{len(existing)} demo accounts were already there and were left unchanged.")
    meeting = load_demo_meeting()
    if meeting is not None:
        click.echo(f"Scheduled the demo meeting “{meeting.title}” with {len(DEMO_AGENDA)} agenda items.")
    held = load_demo_held_meeting()
    if held is not None:
        click.echo(f"Held the demo meeting “{held.title}” and drafted its minutes from the record.")
    signers = load_demo_keys(current_app)
    if signers:
        click.echo(f"Registered demo signing keys for {', '.join(signers)} (passphrase: {DEMO_PASSWORD}; "
                   f"demo CA in {current_app.config['CABINET_PKI_DIR']}).")
    ballot = load_demo_ballot()
    if ballot is not None:
        click.echo(f"Issued the demo opinion ballot {ballot.number} with {len(DEMO_BALLOT_ANSWERS)} answers.")
