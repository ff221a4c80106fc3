"""Request and response bodies of the API, as pydantic models (they also make the schema)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, field_validator

RoleName = Literal["admin", "secretariat", "member", "guest"]
ClearanceName = Literal["none", "mat", "toi_mat", "tuyet_mat"]


def _holds_nul(value) -> bool:
    """A string holding NUL, here or in a list or mapping of them (``questions: ["\\u0000"]``)."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, list | tuple):
        return any(_holds_nul(item) for item in value)
    if isinstance(value, dict):
        return any(_holds_nul(key) or _holds_nul(item) for key, item in value.items())
    return False


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_max_length=10_000)

    @field_validator("*")
    @classmethod
    def _no_nul_character(cls, value):
        # PostgreSQL cannot store or even compare a string holding NUL: refuse it here (422)
        # rather than fail in the database (500). Nested models are Strict and check their own.
        if _holds_nul(value):
            raise ValueError("must not contain the NUL character")
        return value


class TokenRequest(Strict):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)
    otp: str | None = Field(default=None, max_length=10,
                            description="Six-digit TOTP code; required once the user enrolled.")
    label: str = Field(default="api", max_length=100, description="A name to recognise the token by.")


class PasswordChange(Strict):
    current_password: str = Field(min_length=1, max_length=256)
    new_password: str = Field(min_length=1, max_length=256)


class UserOut(BaseModel):
    id: int
    username: str
    full_name: str
    title: str
    organisation: str
    email: str | None
    role: RoleName
    clearance: ClearanceName
    active: bool
    totp_enabled: bool
    must_change_password: bool
    last_login_at: datetime | None
    created_at: datetime | None


class TokenOut(BaseModel):
    token: str = Field(description="Send as `Authorization: Bearer <token>`. Shown once.")
    expires_at: datetime
    user: UserOut


class UserList(BaseModel):
    users: list[UserOut]


class UserCreate(Strict):
    username: str = Field(min_length=2, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    full_name: str = Field(min_length=1, max_length=200)
    password: str = Field(min_length=1, max_length=256)
    title: str = Field(default="", max_length=200)
    organisation: str = Field(default="", max_length=200)
    email: str | None = Field(default=None, max_length=254)
    role: RoleName = "member"
    clearance: ClearanceName = "none"
    must_change_password: StrictBool = True


class UserUpdate(Strict):
    full_name: str | None = Field(default=None, min_length=1, max_length=200)
    title: str | None = Field(default=None, max_length=200)
    organisation: str | None = Field(default=None, max_length=200)
    email: str | None = Field(default=None, max_length=254)
    role: RoleName | None = None
    clearance: ClearanceName | None = None
    active: StrictBool | None = None


class RevokedCount(BaseModel):
    revoked: int


class ErrorBody(BaseModel):
    code: str = Field(description="Stable, machine-readable reason, e.g. `invalid_credentials`.")
    message: str = Field(description="What went wrong, for a person (Vietnamese or English).")
    details: dict | list | None = None


class ErrorOut(BaseModel):
    error: ErrorBody
