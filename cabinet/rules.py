"""The legal and policy numbers the software applies, each with the basis it cites (DOMAIN.md).

Laws change often; every number here can be overridden by an environment variable, and pages show
the basis where a rule decides something. *(policy)* marks numbers that are settings, not law.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from fractions import Fraction
from zoneinfo import ZoneInfo

# Fixed-date public holidays (Bộ luật Lao động 2019, Điều 112). Lunar holidays (Tết Nguyên đán,
# Giỗ Tổ Hùng Vương) move every year: list their dates in CABINET_HOLIDAYS (YYYY-MM-DD, comma-separated).
_FIXED_HOLIDAYS = {(1, 1), (4, 30), (5, 1), (9, 1), (9, 2)}


def _env_dates(name: str) -> frozenset[date]:
    raw = os.environ.get(name, "")
    return frozenset(date.fromisoformat(part.strip()) for part in raw.split(",") if part.strip())


@dataclass(frozen=True)
class Rules:
    quorum: Fraction = Fraction(2, 3)
    quorum_basis: str = "Luật Tổ chức Chính phủ 2015, Điều 46"
    # D7: a decision needs more than this share of *all* members voting for it; on a tie between
    # for and against, the side the chair (the Prime Minister) voted for wins.
    decision_majority: Fraction = Fraction(1, 2)
    decision_basis: str = "Luật Tổ chức Chính phủ 2015, Điều 45"
    # *(policy)* members may check in this long before the meeting starts.
    check_in_opens_minutes: int = int(os.environ.get("CABINET_CHECK_IN_OPENS_MINUTES", "120"))
    # *(policy)* the time a speaker is given unless the chair says otherwise.
    speaking_seconds: int = int(os.environ.get("CABINET_SPEAKING_SECONDS", "300"))
    dossier_lead_working_days: int = int(os.environ.get("CABINET_DOSSIER_LEAD_DAYS", "3"))
    dossier_lead_basis: str = "Quy chế làm việc của Chính phủ (policy: 3 working days)"
    holidays: frozenset[date] = field(default_factory=lambda: _env_dates("CABINET_HOLIDAYS"))
    timezone: str = os.environ.get("CABINET_TIMEZONE", "Asia/Ho_Chi_Minh")

    # D13: opinion ballots.
    ballot_working_days: int = int(os.environ.get("CABINET_BALLOT_WORKING_DAYS", "5"))
    ballot_deadline_hour: int = int(os.environ.get("CABINET_BALLOT_DEADLINE_HOUR", "17"))
    ballot_deadline_basis: str = "Quy chế làm việc của Chính phủ (policy: 5 working days)"
    ballot_reminder_hours: tuple[int, ...] = field(default_factory=lambda: tuple(
        int(h) for h in os.environ.get("CABINET_BALLOT_REMINDER_HOURS", "48,24").split(",") if h.strip()))
    # *(policy)* a ballot is issued at least this long before its deadline.
    ballot_min_notice_minutes: int = int(os.environ.get("CABINET_BALLOT_MIN_NOTICE_MINUTES", "60"))
    ballot_majority: Fraction = Fraction(1, 2)
    ballot_basis: str = "Quy chế làm việc của Chính phủ (Nghị định 39/2022/NĐ-CP): quá nửa tổng số thành viên"
    no_answer_basis: str = "policy (legal text unverified): a missing answer counts as not agreeing"

    def is_working_day(self, day: date) -> bool:
        return day.weekday() < 5 and (day.month, day.day) not in _FIXED_HOLIDAYS \
            and day not in self.holidays

    def working_days_before(self, moment: datetime, days: int) -> datetime:
        """The start (00:00 local time) of the working day ``days`` working days before ``moment``."""
        zone = ZoneInfo(self.timezone)
        day = moment.astimezone(zone).date()
        counted = 0
        while counted < days:
            day -= timedelta(days=1)
            if self.is_working_day(day):
                counted += 1
        return datetime(day.year, day.month, day.day, tzinfo=zone)

    def working_days_after(self, moment: datetime, days: int) -> datetime:
        """``ballot_deadline_hour`` o'clock (local time) on the ``days``-th working day after ``moment``."""
        zone = ZoneInfo(self.timezone)
        day = moment.astimezone(zone).date()
        counted = 0
        while counted < days:
            day += timedelta(days=1)
            if self.is_working_day(day):
                counted += 1
        return datetime(day.year, day.month, day.day, self.ballot_deadline_hour, tzinfo=zone)

    def ballot_deadline(self, issued: datetime) -> datetime:
        """D13's default deadline for a ballot issued at ``issued``."""
        return self.working_days_after(issued, self.ballot_working_days)

    def dossier_deadline(self, meeting_start: datetime) -> datetime:
        """Documents published after this moment are late (D8)."""
        return self.working_days_before(meeting_start, self.dossier_lead_working_days)


def rules() -> Rules:
    return Rules()
