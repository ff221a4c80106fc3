"""Signals through which modules tell each other what happened, without importing each other."""

from blinker import Namespace

_signals = Namespace()

#: Sent with ``user`` when all of a user's sessions and tokens were ended (disable, reset…).
sessions_revoked = _signals.signal("sessions-revoked")

#: Sent with ``session_ids`` and ``reason`` after browser sessions were ended (committed): their
#: open sockets are told ``session.ended`` and closed.
browser_sessions_ended = _signals.signal("browser-sessions-ended")

#: Sent with ``meeting_id`` and ``document_ids`` after documents were published (committed).
documents_published = _signals.signal("documents-published")

#: Sent with ``meeting_id`` and ``document_id`` after a document was recalled (committed):
#: open viewers close it and offline copies are deleted.
document_recalled = _signals.signal("document-recalled")

#: Sent with ``ballot_id`` after a ballot was issued (committed): recipients are notified.
ballot_issued = _signals.signal("ballot-issued")

#: Sent with ``ballot_id`` after an answer, a recall, a close or a decision (committed).
ballot_changed = _signals.signal("ballot-changed")

#: Sent with ``meeting_id`` and ``user_ids`` after people were invited to a meeting (committed):
#: at scheduling, or when participants are added to it.
meeting_invited = _signals.signal("meeting-invited")

#: Sent with ``meeting_id`` and ``changes`` ({field: [old, new]}, times as ISO strings) after the
#: time or place of a meeting changed (committed); ``newly_invited``: the people added by the same
#: edit (they get the invitation instead).
meeting_changed = _signals.signal("meeting-changed")

#: Sent with ``meeting_id`` after a meeting was cancelled (committed).
meeting_cancelled = _signals.signal("meeting-cancelled")

#: Sent with ``meeting_id`` and ``user_ids`` after people lost access to a meeting (committed):
#: taken off its participants, or a deputy withdrawn or rejected. Their sockets leave the
#: meeting's room and are told ``meeting.removed`` (cabinet.live.events).
participant_removed = _signals.signal("participant-removed")
