"""The user account: who someone is, what they may do, how they prove it."""

from __future__ import annotations

import secrets
from datetime import datetime
from enum import StrEnum

from flask_babel import lazy_gettext as _l
from flask_login import UserMixin
from sqlalchemy import CheckConstraint, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from cabinet.core.timeutil import utcnow
from cabinet.core.types import UTCDateTime, sql_in
from cabinet.extensions import db


class Role(StrEnum):
    """Global roles (DOMAIN D1). Per-meeting roles are a separate notion (D2)."""

    ADMIN = "admin"
    SECRETARIAT = "secretariat"
    MEMBER = "member"
    GUEST = "guest"

    @property
    def label(self) -> str:
        return str(ROLE_LABELS[self])


ROLE_LABELS = {
    Role.ADMIN: _l("Administrator"),
    Role.SECRETARIAT: _l("Secretariat"),
    Role.MEMBER: _l("Government member"),
    Role.GUEST: _l("Guest"),
}


class Clearance(StrEnum):
    """Security clearance (DOMAIN D14), ordered: none < mật < tối mật < tuyệt mật."""

    NONE = "none"
    MAT = "mat"
    TOI_MAT = "toi_mat"
    TUYET_MAT = "tuyet_mat"

    @property
    def rank(self) -> int:
        return _CLEARANCE_ORDER.index(self)

    def covers(self, level: Clearance) -> bool:
        """True when someone with this clearance may read a document classified ``level``."""
        return self.rank >= Clearance(level).rank

    @property
    def label(self) -> str:
        return str(CLEARANCE_LABELS[self])


_CLEARANCE_ORDER = [Clearance.NONE, Clearance.MAT, Clearance.TOI_MAT, Clearance.TUYET_MAT]

CLEARANCE_LABELS = {
    Clearance.NONE: _l("None"),
    Clearance.MAT: _l("Confidential (Mật)"),
    Clearance.TOI_MAT: _l("Secret (Tối mật)"),
    Clearance.TUYET_MAT: _l("Top secret (Tuyệt mật)"),
}


def _new_session_version() -> str:
    return secrets.token_hex(8)


class User(UserMixin, db.Model):
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(f"role IN ({sql_in(Role)})", name="role"),
        CheckConstraint(f"clearance IN ({sql_in(Clearance)})", name="clearance"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    full_name: Mapped[str] = mapped_column(String(200))
    title: Mapped[str] = mapped_column(String(200), default="")
    organisation: Mapped[str] = mapped_column(String(200), default="")
    email: Mapped[str | None] = mapped_column(String(254))
    role: Mapped[str] = mapped_column(String(20), default=Role.MEMBER.value)
    clearance: Mapped[str] = mapped_column(String(20), default=Clearance.NONE.value)
    password_hash: Mapped[str] = mapped_column(Text)
    # A disabled account cannot log in and its sessions and tokens stop working at once.
    active: Mapped[bool] = mapped_column(default=True)
    # Set when an administrator resets the password: the user must choose a new one.
    must_change_password: Mapped[bool] = mapped_column(default=False)
    locale: Mapped[str | None] = mapped_column(String(8))

    totp_secret: Mapped[str | None] = mapped_column(String(64))
    totp_enabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The last TOTP time step accepted: a code is good once, never replayed.
    totp_last_step: Mapped[int | None] = mapped_column(Integer)

    failed_logins: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Part of the session identity: changing it logs the user out everywhere.
    session_version: Mapped[str] = mapped_column(String(32), default=_new_session_version)

    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    # --- Flask-Login -----------------------------------------------------------------
    def get_id(self) -> str:
        return f"{self.id}:{self.session_version}"

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive users
        return self.active

    # --- domain helpers ----------------------------------------------------------------
    @property
    def role_enum(self) -> Role:
        return Role(self.role)

    @property
    def clearance_enum(self) -> Clearance:
        return Clearance(self.clearance)

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN

    @property
    def is_secretariat(self) -> bool:
        """Staff who run meetings: the secretariat, and administrators who may stand in."""
        return self.role in (Role.SECRETARIAT, Role.ADMIN)

    @property
    def totp_enabled(self) -> bool:
        return self.totp_enabled_at is not None

    def rotate_session_version(self) -> None:
        """End every session and socket of this user (password change, disable, reset)."""
        from cabinet.core.signals import sessions_revoked

        self.session_version = _new_session_version()
        sessions_revoked.send(self)

    def to_public_dict(self) -> dict:
        """What the API tells about a user: never hashes, secrets or lockout internals."""
        return {
            "id": self.id,
            "username": self.username,
            "full_name": self.full_name,
            "title": self.title,
            "organisation": self.organisation,
            "email": self.email,
            "role": self.role,
            "clearance": self.clearance,
            "active": self.active,
            "totp_enabled": self.totp_enabled,
            "must_change_password": self.must_change_password,
            "last_login_at": self.last_login_at.isoformat() if self.last_login_at else None,
            "created_at": self.created_at.isoformat() if self.created_at else None,
        }

    def __repr__(self) -> str:
        return f"<User {self.username} {self.role}>"
