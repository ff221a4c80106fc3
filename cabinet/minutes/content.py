"""What the printed minutes and the conclusion notice show: plain, frozen snapshots (D11, D17, D18).

The service (:mod:`cabinet.minutes.service`) builds these from the meeting's record and the
secretary's text inside the request's transaction; :mod:`cabinet.minutes.documents` renders them to
PDF/A and DOCX without touching the database. Every string is already NFC Vietnamese legal text
(not translated); every ``*_html`` field is sanitised rich text (:mod:`cabinet.minutes.richtext`).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PersonLine:
    """One person in the minutes: ``Phan Thị Ngọc Diệp, Bộ trưởng Bộ Tư pháp``."""

    name: str
    position: str  # chức vụ, as Government documents write it ("" when unknown)
    note: str = ""  # an absence reason, "dự thay Bộ trưởng …", "trực tuyến"…

    @property
    def text(self) -> str:
        line = f"{self.name}, {self.position}" if self.position else self.name
        return f"{line} ({self.note})" if self.note else line


@dataclass(frozen=True)
class VoteLine:
    """One vote held on an agenda item, as it closed (D7, D10)."""

    question: str
    secret: bool
    counts: tuple[tuple[str, int], ...]  # (label, count) per option, in the ballot's order
    voted: int  # members who voted
    result: str  # "Thông qua: 18/27 thành viên Chính phủ tán thành (cần ít nhất 14; Điều 45 …)."
    voters: tuple[tuple[str, str], ...] = ()  # open votes: (name, choice label); empty when secret


@dataclass(frozen=True)
class ItemRecord:
    """One agenda item: the facts from the record and the secretary's text."""

    number: int
    title: str
    presenter: str  # "Bộ Tư pháp; Bộ trưởng Phan Thị Ngọc Diệp trình bày" or ""
    documents: tuple[str, ...]  # "Tờ trình số 12/TTr-BTP (Mật)"
    status: str  # "Đã kết luận", "Hoãn sang phiên họp sau", "Thông qua không thảo luận"…
    votes: tuple[VoteLine, ...]
    discussion_html: str  # the summary of the discussion (rich text), may be ""
    conclusion_html: str  # the chair's conclusion (rich text), may be ""


@dataclass(frozen=True)
class Header:
    """The two header columns of D18."""

    organ: str  # "CHÍNH PHỦ"
    number_line: str  # "Số: 12/BB-CP", or "Số:      /BB-CP" before a number is given
    date_line: str  # "Hà Nội, ngày 05 tháng 3 năm 2026"
    parent_organ: str = ""  # the organ above, when there is one (shown above ``organ``)


@dataclass(frozen=True)
class MinutesData:
    """Biên bản phiên họp (Mẫu 1.9, Nghị định 30/2020/NĐ-CP)."""

    header: Header
    subtitle: str  # "Phiên họp Chính phủ thường kỳ tháng 3 năm 2026"
    version: int  # 1, 2 … (a correction is a new version)
    draft: bool  # not final yet: every page says so
    correction_note: str  # "" or "Bản đính chính, thay thế Biên bản số … (phiên bản 1): <reason>"
    secrecy: str  # "" or "Mật" / "Tối mật" / "Tuyệt mật": stamped on the first page (D14)
    started: str  # "08 giờ 30, ngày 05 tháng 3 năm 2026"
    ended: str  # "11 giờ 45, ngày 05 tháng 3 năm 2026" or "" when unknown
    place: str
    chair: PersonLine
    secretary: PersonLine
    present: tuple[PersonLine, ...]  # voting members present
    absent: tuple[PersonLine, ...]  # note = the reason given
    deputies: tuple[PersonLine, ...]  # note = "dự thay …"
    guests: tuple[PersonLine, ...]
    quorum: str  # "Có mặt 20/27 thành viên Chính phủ, đủ hai phần ba tổng số thành viên (Điều 46 …)."
    opening_html: str
    items: tuple[ItemRecord, ...]
    closing_html: str
    secretary_name: str  # printed under the secretary's signature block
    chair_name: str
    recipients: tuple[str, ...] = ("Các thành viên Chính phủ;", "Lưu: VT, TKBT.")

    @property
    def title(self) -> str:
        return "BIÊN BẢN"


@dataclass(frozen=True)
class NoticeItem:
    number: int
    title: str
    conclusion_html: str


@dataclass(frozen=True)
class NoticeData:
    """Thông báo kết luận của Thủ tướng Chính phủ tại phiên họp (drawn from the same record)."""

    header: Header  # organ "VĂN PHÒNG CHÍNH PHỦ", "Số: …/TB-VPCP"
    subtitle: str  # "Kết luận của Thủ tướng Chính phủ tại Phiên họp Chính phủ thường kỳ tháng 3 năm 2026"
    draft: bool
    secrecy: str
    introduction: str  # "Ngày 05 tháng 3 năm 2026, tại Hà Nội, Thủ tướng … chủ trì …"
    items: tuple[NoticeItem, ...]
    signature: tuple[str, ...] = ("KT. BỘ TRƯỞNG, CHỦ NHIỆM", "PHÓ CHỦ NHIỆM")
    signer_name: str = ""
    recipients: tuple[str, ...] = ("Thủ tướng, các Phó Thủ tướng Chính phủ;",
                                   "Các Bộ, cơ quan ngang Bộ, cơ quan thuộc Chính phủ;",
                                   "Lưu: VT, TKBT.")

    @property
    def title(self) -> str:
        return "THÔNG BÁO"
