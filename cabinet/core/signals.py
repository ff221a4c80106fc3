"""Signals through which modules tell each other what happened, without importing each other."""

from blinker import Namespace

_signals = Namespace()

#: Sent with ``user`` when all of a user's sessions and tokens were ended (disable, reset…).
sessions_revoked = _signals.signal("sessions-revoked")

#: Sent with ``meeting_id`` and ``document_ids`` after documents were published (committed).
documents_published = _signals.signal("documents-published")

#: Sent with ``meeting_id`` and ``document_id`` after a document was recalled (committed):
#: open viewers close it and offline copies are deleted.
document_recalled = _signals.signal("document-recalled")

#: Sent with ``ballot_id`` after a ballot was issued (committed): recipients are notified.
ballot_issued = _signals.signal("ballot-issued")

#: Sent with ``ballot_id`` after an answer, a recall, a close or a decision (committed).
ballot_changed = _signals.signal("ballot-changed")
