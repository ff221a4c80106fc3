"""Password hashing with Argon2id (argon2-cffi's recommended parameters)."""

from __future__ import annotations

import os
import sys

from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError

# RFC 9106's low-memory profile (argon2-cffi's default: ~0.14 s per hash here). The test suite
# sets CABINET_PASSWORD_PROFILE=CHEAPEST, argon2-cffi's profile meant for tests; hashes made
# with another profile are upgraded at the next login (see needs_rehash).
_PROFILE = os.environ.get("CABINET_PASSWORD_PROFILE", "RFC_9106_LOW_MEMORY")
_hasher = PasswordHasher.from_parameters(getattr(profiles, _PROFILE))

# Verified against when the username is unknown, so that a wrong username takes as long
# as a wrong password and response times do not reveal which accounts exist.
_DUMMY_HASH = _hasher.hash("not-a-real-password")

MIN_LENGTH = 10


_hashing_thread = None  # gevent's ThreadPool of one, made at the first hash in a gevent worker


def _off_the_event_loop(function, *args):
    """Call ``function`` in this worker's hashing thread when the process serves with gevent
    (gunicorn's gevent worker), else here.

    A hash takes ~0.13 s of CPU in C code that releases the GIL. Run on the event loop, it would
    freeze every other greenlet of the worker for that long: each tablet's socket, and a request
    holding the audit trail's lock, which then keeps every other writer waiting (at 08:00, when
    the ministers log in together). In a thread the loop goes on meanwhile. One thread, not
    gevent's pool of ten: ten hashes at once would share the cores with the loop thread ten to
    one, and everything else in the worker would slow down more than when the hashes blocked it
    (bench/load.py measured both). Logins queue for that thread, cooperatively."""
    global _hashing_thread
    monkey = sys.modules.get("gevent.monkey")
    if monkey is None or not monkey.is_module_patched("threading"):
        return function(*args)
    if _hashing_thread is None:
        from gevent.threadpool import ThreadPool

        _hashing_thread = ThreadPool(1)
    return _hashing_thread.apply(function, args)


def hash_password(password: str) -> str:
    return _off_the_event_loop(_hasher.hash, password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        verified = _off_the_event_loop(_hasher.verify, password_hash or _DUMMY_HASH, password)
    # (UnicodeEncodeError: a hash damaged in the database, with characters no hash has)
    except (VerificationError, InvalidHashError, UnicodeEncodeError):
        return False
    return verified and password_hash is not None


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


def password_problem(password: str, *, username: str = "") -> str | None:
    """Return why ``password`` is unacceptable, or None. Messages are user-facing."""
    from flask_babel import gettext as _

    if len(password) < MIN_LENGTH:
        return _("The password must have at least %(n)d characters.", n=MIN_LENGTH)
    if username and username.lower() in password.lower():
        return _("The password must not contain the username.")
    if len(set(password)) < 5:
        return _("The password is too simple: use more different characters.")
    return None
