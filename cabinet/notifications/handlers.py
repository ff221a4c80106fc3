"""What meetings and documents tell their people: the notifications written when something
happens to a meeting (invitation, new time or place, cancellation, reminder) or to its documents
(publication, recall), and who was taken off a meeting.

How these are wired, and why:

* The meetings and documents services know nothing of notifications: they send a signal of
  :mod:`cabinet.core.signals` **after their commit** (``meeting_invited``, ``meeting_changed``,
  ``meeting_cancelled``, ``participant_removed``, ``documents_published``, ``document_recalled``).
  The handlers below, connected when this module is imported (by ``create_app``), write the
  notifications in a transaction of their own and commit; ``notify()`` then pushes them and
  queues the e-mail. This is the pattern of the ballots' notices (``cabinet.jobs``): a change is
  never undone, nor its request failed, because telling people about it failed — that is logged
  instead.
* The minutes service calls ``notify()`` inside its own transaction, an older pattern kept where
  it is: its notices are part of one step of a signing workflow.
* The meeting reminder is a periodic job (:func:`remind_meetings`, run every minute by
  ``cabinet.jobs``), exactly once per person and start time thanks to :class:`MeetingReminder`'s
  unique key, written in the same transaction as the notification.

Every text is written in the recipient's language (``force_locale``), Vietnamese by default, and
never names a document above the reader's clearance (D14): a reader cleared for none of a batch
is not told of it at all.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta

from flask import current_app
from flask_babel import force_locale, ngettext
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from cabinet.core import signals
from cabinet.core.timeutil import utcnow
from cabinet.extensions import db
from cabinet.notifications import service
from cabinet.notifications.models import MeetingReminder
from cabinet.users.models import User

log = logging.getLogger(__name__)

MAX_LISTED = 10  # document titles named in one notification; the rest are counted


# --- shared helpers ------------------------------------------------------------------------------------


def _locale_of(user: User) -> str:
    return user.locale or current_app.config["BABEL_DEFAULT_LOCALE"]


def _by_locale(users: Iterable[User]) -> dict[str, list[User]]:
    groups: dict[str, list[User]] = {}
    for user in users:
        groups.setdefault(_locale_of(user), []).append(user)
    return groups


def _people(meeting, *, deputies: bool = True) -> list[User]:
    """The meeting's active participants and (``deputies``) the approved deputies, once each."""
    from cabinet.meetings.models import DeputyStatus

    users = [p.user for p in meeting.participants]
    if deputies:
        users += [p.deputy for p in meeting.participants
                  if p.deputy is not None and p.deputy_status == DeputyStatus.APPROVED]
    unique = {u.id: u for u in users if u is not None and u.active}
    return list(unique.values())


def _guarded(what: str, function, *args) -> None:
    """Run a handler: the change it tells about is committed, so a failure is logged and the
    transaction rolled back, never raised into the request that made the change."""
    try:
        function(*args)
    except Exception:
        log.exception("could not notify %s", what)
        db.session.rollback()


def _meeting_url(meeting_id: int) -> str:
    return f"/meetings/{meeting_id}"


def _when(value: datetime) -> str:
    from cabinet.i18n import short_datetime, weekday

    return f"{weekday(value)} {short_datetime(value)}"


def _where(place: str, online_url: str) -> str:
    if place and online_url:
        return _("%(place)s and online", place=place)
    return place or _("online")


def _actor_id(sender) -> int | None:
    return getattr(sender, "id", None)


# --- meetings ------------------------------------------------------------------------------------------


@signals.meeting_invited.connect
def _on_meeting_invited(sender, meeting_id: int, user_ids: list[int], **_kwargs) -> None:
    _guarded(f"the invitees of meeting {meeting_id}", notify_invited, meeting_id, user_ids, _actor_id(sender))


def notify_invited(meeting_id: int, user_ids: list[int], actor_id: int | None = None) -> None:
    """``meeting.invited``: each invited person (not the one who scheduled it) is told the
    meeting's title, time, place and their role, and asked to answer; not for a meeting that is
    already over."""
    from cabinet.meetings.models import Meeting

    meeting = db.session.get(Meeting, meeting_id)
    if meeting is None or meeting.is_cancelled or meeting.ends_at <= utcnow():
        return  # a meeting entered after it was held (its record) invites nobody
    wanted = set(user_ids) - {actor_id}
    invitees = [p for p in meeting.participants if p.user_id in wanted and p.user.active]
    for participant in invitees:
        with force_locale(_locale_of(participant.user)):
            service.notify(
                [participant.user_id], kind="meeting.invited",
                title=_("Invitation: %(title)s, %(when)s", title=meeting.title,
                        when=_when(meeting.starts_at)),
                body=_("You are invited as %(role)s. Place: %(place)s. Please confirm your attendance or "
                       "report your absence.", role=participant.role_enum.label,
                       place=_where(meeting.place, meeting.online_url)),
                url=_meeting_url(meeting.id))
    db.session.commit()


@signals.meeting_changed.connect
def _on_meeting_changed(sender, meeting_id: int, changes: dict, newly_invited: list[int] = (),
                        **_kwargs) -> None:
    _guarded(f"the participants of meeting {meeting_id} of its change", notify_changed, meeting_id, changes,
             list(newly_invited), _actor_id(sender))


def _parse(value) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) and value else None


def _change_lines(changes: dict) -> list[str]:
    """``Time: Thứ Hai 09:00 05/03/2026 → Thứ Ba 14:00 06/03/2026`` and the like, old → new."""
    lines = []
    if "starts_at" in changes or "ends_at" in changes:
        old_start, new_start = (_parse(v) for v in changes.get("starts_at", [None, None]))
        old_end, new_end = (_parse(v) for v in changes.get("ends_at", [None, None]))
        if old_start and new_start:
            lines.append(_("Start: %(old)s → %(new)s", old=_when(old_start), new=_when(new_start)))
        if old_end and new_end:
            lines.append(_("End: %(old)s → %(new)s", old=_when(old_end), new=_when(new_end)))
    if "place" in changes:
        old, new = changes["place"]
        lines.append(_("Place: %(old)s → %(new)s", old=old or "—", new=new or "—"))
    if "online_url" in changes:
        old, new = changes["online_url"]
        lines.append(_("Online link: %(old)s → %(new)s", old=old or "—", new=new or "—"))
    return lines


def notify_changed(meeting_id: int, changes: dict, newly_invited: list[int],
                   actor_id: int | None = None) -> None:
    """``meeting.changed``: the time or place changed; everyone already invited (and approved
    deputies) is told what it was and what it is now. Those invited by the same edit are not:
    their invitation already says the new time."""
    from cabinet.meetings.models import Meeting

    meeting = db.session.get(Meeting, meeting_id)
    if meeting is None or meeting.is_cancelled:
        return
    skip = set(newly_invited) | {actor_id}
    people = [u for u in _people(meeting) if u.id not in skip]
    moved = "starts_at" in changes or "ends_at" in changes
    for locale, users in _by_locale(people).items():
        with force_locale(locale):
            title = (_("New time for %(title)s: %(when)s", title=meeting.title, when=_when(meeting.starts_at))
                     if moved else _("New place for %(title)s", title=meeting.title))
            service.notify([u.id for u in users], kind="meeting.changed", title=title,
                           body="\n".join(_change_lines(changes)), url=_meeting_url(meeting.id))
    db.session.commit()


@signals.meeting_cancelled.connect
def _on_meeting_cancelled(sender, meeting_id: int, **_kwargs) -> None:
    _guarded(f"the participants of meeting {meeting_id} of its cancellation", notify_cancelled, meeting_id,
             _actor_id(sender))


def notify_cancelled(meeting_id: int, actor_id: int | None = None) -> None:
    """``meeting.cancelled``: everyone invited (and approved deputies) is told, with the reason.
    Its e-mail is mandatory (:data:`service.MANDATORY_EMAIL`)."""
    from cabinet.meetings.models import Meeting

    meeting = db.session.get(Meeting, meeting_id)
    if meeting is None or not meeting.is_cancelled:
        return
    people = [u for u in _people(meeting) if u.id != actor_id]
    for locale, users in _by_locale(people).items():
        with force_locale(locale):
            service.notify([u.id for u in users], kind="meeting.cancelled",
                           title=_("Cancelled: %(title)s, %(when)s", title=meeting.title,
                                   when=_when(meeting.starts_at)),
                           body=_("Reason: %(reason)s", reason=meeting.cancel_reason),
                           url=_meeting_url(meeting.id))
    db.session.commit()


@signals.participant_removed.connect
def _on_participant_removed(sender, meeting_id: int, user_ids: list[int], **_kwargs) -> None:
    _guarded(f"the people taken off meeting {meeting_id}", notify_removed, meeting_id, list(user_ids),
             _actor_id(sender))


def notify_removed(meeting_id: int, user_ids: list[int], actor_id: int | None = None) -> None:
    """``meeting.removed``: someone who lost access to a meeting (taken off its participants, or a
    deputy withdrawn or not approved) learns it here rather than from a page that no longer opens.
    The link goes to their own meetings: the meeting itself is closed to them now."""
    from cabinet.meetings.models import Meeting

    meeting = db.session.get(Meeting, meeting_id)
    if meeting is None or meeting.is_cancelled:
        return  # a cancelled meeting has told everyone already
    people = [user for uid in sorted(set(user_ids) - {actor_id})
              if (user := db.session.get(User, uid)) is not None and user.active]
    for locale, users in _by_locale(people).items():
        with force_locale(locale):
            service.notify([u.id for u in users], kind="meeting.removed",
                           title=_("No longer on the list: %(title)s, %(when)s", title=meeting.title,
                                   when=_when(meeting.starts_at)),
                           body=_("You are no longer among the participants of this meeting; its "
                                  "documents and its room are closed to you. Ask the secretariat if this "
                                  "is a mistake."),
                           url="/meetings/")
    db.session.commit()


# --- documents -----------------------------------------------------------------------------------------


@signals.documents_published.connect
def _on_documents_published(sender, meeting_id: int, document_ids: list[int], **_kwargs) -> None:
    _guarded(f"the publication of documents {document_ids}", notify_published, meeting_id, document_ids,
             _actor_id(sender))


def notify_published(meeting_id: int, document_ids: list[int], actor_id: int | None = None) -> None:
    """``documents.published``: one notification per publication (one document or a whole batch)
    to each participant and approved deputy, naming only the documents their clearance covers
    (D14). Someone cleared for none of them is not told: even the fact would say too much."""
    from cabinet.documents.models import Document, DocumentStatus
    from cabinet.meetings.access import cleared_for
    from cabinet.meetings.models import Meeting

    meeting = db.session.get(Meeting, meeting_id)
    if meeting is None or not document_ids:
        return
    documents = list(db.session.scalars(select(Document).where(
        Document.id.in_(document_ids), Document.meeting_id == meeting_id,
        Document.status == DocumentStatus.PUBLISHED.value).order_by(Document.id)))
    for user in _people(meeting):
        if user.id == actor_id:
            continue
        visible = [d for d in documents if cleared_for(user, d.secrecy)]
        if not visible:
            continue
        with force_locale(_locale_of(user)):
            title = ngettext("%(num)d new document for %(meeting)s", "%(num)d new documents for %(meeting)s",
                             len(visible), meeting=meeting.title)
            lines = [f"• {d.title}" for d in visible[:MAX_LISTED]]
            if len(visible) > MAX_LISTED:
                lines.append(ngettext("… and %(num)d more", "… and %(num)d more", len(visible) - MAX_LISTED))
            url = f"/documents/{visible[0].id}" if len(visible) == 1 else _meeting_url(meeting.id)
            service.notify([user.id], kind="documents.published", title=title, body="\n".join(lines), url=url)
    db.session.commit()


@signals.document_recalled.connect
def _on_document_recalled(sender, meeting_id: int, document_id: int, **_kwargs) -> None:
    _guarded(f"the recall of document {document_id}", notify_recalled, document_id, _actor_id(sender))


def notify_recalled(document_id: int, actor_id: int | None = None) -> None:
    """``document.recalled``: those who could read it (participants and approved deputies cleared
    for its level) are told it can no longer be opened, and why. A draft was never distributed:
    nobody is told of its recall."""
    from cabinet.documents.models import Document
    from cabinet.meetings.access import cleared_for

    document = db.session.get(Document, document_id)
    if document is None or document.published_at is None:
        return
    meeting = document.meeting
    people = [u for u in _people(meeting) if u.id != actor_id and cleared_for(u, document.secrecy)]
    for locale, users in _by_locale(people).items():
        with force_locale(locale):
            body = _("The secretariat recalled this document of %(meeting)s; it can no longer be opened.",
                     meeting=meeting.title)
            if document.recall_reason:
                body += "\n" + _("Reason: %(reason)s", reason=document.recall_reason)
            service.notify([u.id for u in users], kind="document.recalled",
                           title=_("Document recalled: %(title)s", title=document.title),
                           body=body, url=_meeting_url(meeting.id))
    db.session.commit()


# --- the meeting reminder (a periodic job) -------------------------------------------------------------


def _hours_left(delta: timedelta) -> str:
    minutes = max(0, int(delta.total_seconds() // 60))
    if minutes >= 60:
        return ngettext("%(num)d hour", "%(num)d hours", round(minutes / 60))
    return ngettext("%(num)d minute", "%(num)d minutes", minutes)


def _to_remind(meeting) -> list[tuple[User, bool]]:
    """(user, has confirmed) for the participants who confirmed or have not answered, and the
    approved deputies (they attend in an absent member's place)."""
    from cabinet.meetings.models import Attendance, DeputyStatus

    people: dict[int, tuple[User, bool]] = {}
    for p in meeting.participants:
        if p.attendance in (Attendance.CONFIRMED, Attendance.INVITED) and p.user.active:
            people[p.user_id] = (p.user, p.attendance == Attendance.CONFIRMED)
        if p.deputy is not None and p.deputy_status == DeputyStatus.APPROVED and p.deputy.active:
            people.setdefault(p.deputy_id, (p.deputy, True))
    return list(people.values())


def remind_meetings(now: datetime | None = None) -> int:
    """``meeting.reminder``: ``CABINET_MEETING_REMINDER_HOURS`` before a meeting starts, remind
    each participant who confirmed or has not answered — once per person and start time, even
    when several workers run this at the same moment or a job is retried. Returns how many were
    reminded. A meeting scheduled after its reminder time is not reminded (the invitation, a
    moment ago, said when it starts)."""
    from cabinet.meetings.models import Meeting, MeetingStatus

    now = now or utcnow()
    hours = current_app.config["CABINET_MEETING_REMINDER_HOURS"]
    if hours <= 0:
        return 0
    lead = timedelta(hours=hours)
    meetings = list(db.session.scalars(
        select(Meeting).where(Meeting.status == MeetingStatus.SCHEDULED.value, Meeting.starts_at > now,
                              Meeting.starts_at <= now + lead)
        .options(selectinload(Meeting.participants)).order_by(Meeting.starts_at)))
    candidates = [m.id for m in meetings if m.created_at < m.starts_at - lead]
    db.session.rollback()
    sent = 0
    for meeting_id in candidates:
        try:
            sent += _remind_one(meeting_id, now)
        except Exception:
            log.exception("could not remind the participants of meeting %s", meeting_id)
            db.session.rollback()
    return sent


def _remind_one(meeting_id: int, now: datetime) -> int:
    """Record and write the reminders of one meeting in one transaction; another worker that
    recorded them first makes this one's insert fail, and it sends nothing."""
    from cabinet.meetings.models import Meeting

    meeting = db.session.get(Meeting, meeting_id)
    if meeting is None or meeting.is_cancelled:
        return 0
    done = set(db.session.scalars(select(MeetingReminder.user_id).where(
        MeetingReminder.meeting_id == meeting.id, MeetingReminder.starts_at == meeting.starts_at)))
    due = [(user, confirmed) for user, confirmed in _to_remind(meeting) if user.id not in done]
    if not due:
        db.session.rollback()
        return 0
    db.session.add_all(MeetingReminder(meeting_id=meeting.id, user_id=user.id, starts_at=meeting.starts_at,
                                       sent_at=now) for user, _c in due)
    try:
        db.session.flush()
    except IntegrityError:  # another worker is sending them
        db.session.rollback()
        return 0
    for user, confirmed in due:
        with force_locale(_locale_of(user)):
            answer = (_("You have confirmed your attendance.") if confirmed else
                      _("You have not answered the invitation yet: please confirm or report your absence."))
            service.notify(
                [user.id], kind="meeting.reminder",
                title=_("Reminder: %(title)s starts in %(left)s", title=meeting.title,
                        left=_hours_left(meeting.starts_at - now)),
                body=_("%(when)s, %(place)s.", when=_when(meeting.starts_at),
                       place=_where(meeting.place, meeting.online_url)) + " " + answer,
                url=_meeting_url(meeting.id))
    db.session.commit()
    return len(due)
