"""Managing accounts: creating, editing, disabling, resetting. Administrators only.

Each function takes the acting user, checks that they may act, commits, and audits.
"""

from __future__ import annotations

import re
import secrets
import string
from dataclasses import dataclass

from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from cabinet.audit import service as audit
from cabinet.auth import service as auth_service
from cabinet.auth.passwords import hash_password, password_problem
from cabinet.core.errors import Conflict, NotFound, PermissionDenied, ValidationError
from cabinet.core.types import MAX_ID
from cabinet.extensions import db
from cabinet.users.models import Clearance, Role, User

USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
EDITABLE_FIELDS = ("full_name", "title", "organisation", "email", "role", "clearance", "locale")


@dataclass
class UserData:
    """Fields of an account as an administrator enters them (all optional on update)."""

    username: str | None = None
    full_name: str | None = None
    title: str | None = None
    organisation: str | None = None
    email: str | None = None
    role: str | None = None
    clearance: str | None = None
    locale: str | None = None


def require_admin(actor: User | None) -> None:
    if actor is None or not actor.is_authenticated or not actor.is_admin:
        raise PermissionDenied(_("Only an administrator may manage accounts."))


def get_user(actor: User, user_id: int) -> User:
    require_admin(actor)
    # An id beyond the INTEGER column's range names no one (and would fail in the database).
    user = db.session.get(User, user_id) if 0 < user_id <= MAX_ID else None
    if user is None:
        raise NotFound(_("No user with id %(id)s.", id=user_id))
    return user


def list_users(actor: User, *, query: str = "", role: str | None = None) -> list[User]:
    require_admin(actor)
    stmt = select(User).order_by(User.role, User.full_name)
    if query:
        # "%" and "_" typed in the search box are characters to find, not wildcards.
        needle = query.lower()
        stmt = stmt.where(
            func.lower(User.username).contains(needle, autoescape=True)
            | func.lower(User.full_name).contains(needle, autoescape=True)
            | func.lower(User.organisation).contains(needle, autoescape=True)
        )
    if role:
        stmt = stmt.where(User.role == role)
    return list(db.session.scalars(stmt))


def _clean(data: UserData, *, creating: bool) -> dict:
    """Validate and normalise input; raise ValidationError naming each bad field."""
    errors: dict[str, str] = {}
    values: dict = {}
    if creating or data.username is not None:
        username = (data.username or "").strip().lower()
        if not USERNAME_RE.match(username):
            errors["username"] = _(
                "2–64 characters: lower-case letters, digits, dot, dash or underscore; "
                "starting with a letter or digit."
            )
        values["username"] = username
    if creating or data.full_name is not None:
        full_name = " ".join((data.full_name or "").split())
        if not full_name:
            errors["full_name"] = _("The full name is required.")
        elif len(full_name) > 200:
            errors["full_name"] = _("At most 200 characters.")
        values["full_name"] = full_name
    for field in ("title", "organisation"):
        value = getattr(data, field)
        if value is not None:
            value = " ".join(value.split())
            if len(value) > 200:
                errors[field] = _("At most 200 characters.")
            values[field] = value
    if data.email is not None:
        email = data.email.strip() or None
        if email and not re.match(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", email):
            errors["email"] = _("Not a valid e-mail address.")
        values["email"] = email
    if creating or data.role is not None:
        role = data.role or Role.MEMBER.value
        if role not in Role.__members__.values():
            errors["role"] = _("Unknown role. Choose one of: %(roles)s.",
                               roles=", ".join(r.value for r in Role))
        values["role"] = role
    if creating or data.clearance is not None:
        clearance = data.clearance or Clearance.NONE.value
        if clearance not in Clearance.__members__.values():
            errors["clearance"] = _("Unknown clearance. Choose one of: %(levels)s.",
                                    levels=", ".join(c.value for c in Clearance))
        values["clearance"] = clearance
    if data.locale is not None:
        if data.locale not in ("", "vi", "en"):
            errors["locale"] = _("Language must be vi or en.")
        values["locale"] = data.locale or None
    if errors:
        raise ValidationError(_("Some fields are not valid."), details={"fields": errors})
    return values


def create_user(actor: User | None, data: UserData, password: str, *,
                must_change_password: bool = False) -> User:
    """Create an account. ``actor`` None means the command line (a trusted operator)."""
    if actor is not None:
        require_admin(actor)
    values = _clean(data, creating=True)
    problem = password_problem(password, username=values["username"])
    if problem:
        raise ValidationError(problem, details={"fields": {"password": problem}})
    if db.session.scalar(select(User.id).where(func.lower(User.username) == values["username"])):
        raise Conflict(_("The username %(u)s is already taken.", u=values["username"]),
                       code="username_taken")
    user = User(**values, password_hash=hash_password(password),
                must_change_password=must_change_password)
    db.session.add(user)
    try:
        db.session.flush()
    except IntegrityError as exc:  # a concurrent creation of the same username
        db.session.rollback()
        raise Conflict(_("The username %(u)s is already taken.", u=values["username"]),
                       code="username_taken") from exc
    audit.record("user.created", actor=actor, actor_name="cli" if actor is None else None,
                 object_type="user", object_id=user.id,
                 details={k: v for k, v in values.items() if k != "email"} | {"role": user.role})
    db.session.commit()
    return user


def update_user(actor: User, user_id: int, data: UserData) -> User:
    """Edit profile, role and clearance. Lowering someone's rights ends their sessions."""
    user = get_user(actor, user_id)
    values = _clean(data, creating=False)
    values.pop("username", None)  # usernames are permanent: they name the person in the audit
    if user.id == actor.id and values.get("role", user.role) != Role.ADMIN.value:
        raise ValidationError(_("You cannot remove your own administrator role."),
                              details={"fields": {"role": _("Ask another administrator.")}})
    changes = {k: [getattr(user, k), v] for k, v in values.items() if getattr(user, k) != v}
    if not changes:
        return user
    demoted = ("role" in changes) or (
        "clearance" in changes
        and Clearance(changes["clearance"][1]).rank < Clearance(changes["clearance"][0]).rank
    )
    for key, (_old, new) in changes.items():
        setattr(user, key, new)
    if demoted:
        user.rotate_session_version()
        auth_service.revoke_all_tokens(user, commit=False)
    audit.record("user.updated", actor=actor, object_type="user", object_id=user.id,
                 details={"changes": changes})
    db.session.commit()
    return user


def set_active(actor: User, user_id: int, active: bool) -> User:
    """Disable (or re-enable) an account; disabling ends its sessions and tokens at once."""
    user = get_user(actor, user_id)
    if user.id == actor.id and not active:
        raise ValidationError(_("You cannot disable your own account."))
    if user.active == active:
        return user
    user.active = active
    if not active:
        user.rotate_session_version()
        auth_service.revoke_all_tokens(user, commit=False)
    audit.record("user.enabled" if active else "user.disabled", actor=actor,
                 object_type="user", object_id=user.id)
    db.session.commit()
    return user


def generate_password(length: int = 14) -> str:
    """A temporary password that is easy to read aloud (no 0/O, 1/l/I)."""
    alphabet = "".join(c for c in string.ascii_letters + string.digits if c not in "0O1lI")
    while True:
        candidate = "".join(secrets.choice(alphabet) for _ in range(length))
        if password_problem(candidate) is None and any(c.isdigit() for c in candidate):
            return candidate


def reset_password(actor: User, user_id: int, *, reset_totp: bool = False) -> str:
    """Give the user a temporary password they must change at next login; returns it once."""
    user = get_user(actor, user_id)
    temporary = generate_password()
    user.password_hash = hash_password(temporary)
    user.must_change_password = True
    user.failed_logins = 0
    user.locked_until = None
    if reset_totp:
        user.totp_secret = None
        user.totp_enabled_at = None
        user.totp_last_step = None
    user.rotate_session_version()
    auth_service.revoke_all_tokens(user, commit=False)
    audit.record("user.password_reset", actor=actor, object_type="user", object_id=user.id,
                 details={"totp_reset": reset_totp})
    db.session.commit()
    return temporary


def unlock(actor: User, user_id: int) -> User:
    user = get_user(actor, user_id)
    user.failed_logins = 0
    user.locked_until = None
    audit.record("user.unlocked", actor=actor, object_type="user", object_id=user.id)
    db.session.commit()
    return user


def revoke_tokens(actor: User, user_id: int) -> int:
    """Revoke every API token of an account (a lost tablet, a leaked script); returns how many."""
    user = get_user(actor, user_id)
    count = auth_service.revoke_all_tokens(user, commit=False)
    audit.record("auth.tokens_revoked", actor=actor, object_type="user", object_id=user.id,
                 details={"count": count})
    db.session.commit()
    return count
