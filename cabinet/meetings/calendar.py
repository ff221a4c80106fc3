"""The iCalendar feed: a per-user secret URL that phone calendars subscribe to.

Cancelled meetings stay in the feed with STATUS:CANCELLED and a higher SEQUENCE, so a
subscribed calendar shows the cancellation instead of silently dropping the event.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta

from flask import current_app
from icalendar import Calendar, Event
from sqlalchemy import select

from cabinet.audit import service as audit
from cabinet.core.timeutil import utcnow
from cabinet.extensions import db
from cabinet.meetings.models import CalendarFeed, Meeting
from cabinet.users.models import User

FEED_PAST_DAYS = 90


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def renew_feed_token(user: User) -> str:
    """Create (or replace) the user's feed token; the raw token is returned once."""
    token = CalendarFeed.new_token()
    feed = db.session.scalar(select(CalendarFeed).where(CalendarFeed.user_id == user.id))
    if feed is None:
        feed = CalendarFeed(user_id=user.id, token_hash=_digest(token))
        db.session.add(feed)
    else:
        feed.token_hash = _digest(token)
        feed.created_at = utcnow()
    audit.record("calendar.feed_renewed", actor=user, object_type="user", object_id=user.id)
    db.session.commit()
    return token


def has_feed(user: User) -> bool:
    return db.session.scalar(select(CalendarFeed.id).where(CalendarFeed.user_id == user.id)) is not None


def user_for_feed_token(token: str) -> User | None:
    if not token or len(token) > 100:
        return None
    feed = db.session.scalar(select(CalendarFeed).where(CalendarFeed.token_hash == _digest(token)))
    if feed is None or not feed.user.active:
        return None
    return feed.user


def _event(meeting: Meeting, host: str) -> Event:
    event = Event()
    event.add("uid", f"meeting-{meeting.id}@{host}")
    event.add("dtstamp", meeting.updated_at)
    event.add("last-modified", meeting.updated_at)
    event.add("dtstart", meeting.starts_at)
    event.add("dtend", meeting.ends_at)
    event.add("summary", meeting.title)
    event.add("sequence", meeting.ical_sequence)
    location = meeting.place or meeting.online_url
    if location:
        event.add("location", location)
    description = meeting.description
    if meeting.online_url:
        description = f"{description}\n{meeting.online_url}".strip()
        event.add("url", meeting.online_url)
    if description:
        event.add("description", description)
    if meeting.is_cancelled:
        event.add("status", "CANCELLED")
    else:
        event.add("status", "CONFIRMED")
    # Classification: meetings are not public events.
    event.add("class", "CONFIDENTIAL")
    return event


def feed_for(user: User, host: str) -> bytes:
    """The user's meetings from FEED_PAST_DAYS ago onwards, as an iCalendar document."""
    from cabinet.meetings.service import visible_meetings

    calendar = Calendar()
    calendar.add("prodid", "-//e-Cabinet//Lich hop//VI")
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", f"e-Cabinet — {user.full_name}")
    calendar.add("x-wr-timezone", current_app.config["CABINET_TIMEZONE"])
    for meeting in visible_meetings(user, start=utcnow() - timedelta(days=FEED_PAST_DAYS)):
        calendar.add_component(_event(meeting, host))
    return calendar.to_ical()
