"""JSON shapes of people and agenda items shared by the API and the meeting room's payloads."""

from __future__ import annotations

from datetime import UTC, datetime

from cabinet.meetings.models import AgendaItem
from cabinet.users.models import User


def iso(value: datetime | None) -> str | None:
    """ISO 8601 in UTC."""
    return value.astimezone(UTC).isoformat() if value is not None else None


def person_ref(user: User | None) -> dict | None:
    return {"id": user.id, "full_name": user.full_name} if user is not None else None


def person(user: User) -> dict:
    return {"id": user.id, "full_name": user.full_name, "title": user.title,
            "organisation": user.organisation}


def item_json(item: AgendaItem) -> dict:
    return {
        "id": item.id,
        "meeting_id": item.meeting_id,
        "position": item.position,
        "title": item.title,
        "presenter_organisation": item.presenter_organisation,
        "presenter_name": item.presenter_name,
        "minutes": item.minutes,
        "status": item.status,
        "conclusion": item.conclusion,
        "passes_without_debate": item.passes_without_debate,
    }
