"""Signals through which modules tell each other what happened, without importing each other."""

from blinker import Namespace

_signals = Namespace()

#: Sent with ``user`` when all of a user's sessions and tokens were ended (disable, reset…).
sessions_revoked = _signals.signal("sessions-revoked")
