"""API endpoints: thin wrappers that call the same services as the pages."""

from __future__ import annotations

from flask import current_app, g, jsonify, request
from flask_babel import gettext as _

from cabinet.api.framework import operation
from cabinet.api.schemas import (
    PasswordChange,
    RevokedCount,
    TokenOut,
    TokenRequest,
    UserCreate,
    UserList,
    UserOut,
    UserUpdate,
)
from cabinet.auth import service as auth_service
from cabinet.core.errors import ValidationError
from cabinet.extensions import limiter
from cabinet.users import service as users_service
from cabinet.users.models import ROLE_LABELS


def _limit() -> str:
    return current_app.config["CABINET_LOGIN_RATE_LIMIT"]


@operation("POST", "/auth/token", summary="Log in and get a bearer token", tags=["auth"],
           body=TokenRequest, response=TokenOut, status=201, auth=False,
           errors=(400, 401, 403, 413, 422, 429),
           description="A user enrolled in two-step verification must send `otp`; without it "
                       "the answer is 401 with code `otp_required`. Repeated failures lock the "
                       "account for a while (429 with `Retry-After`).")
@limiter.limit(_limit)
def issue_token(body: TokenRequest):
    user = auth_service.check_password(body.username, body.password)
    if user.totp_enabled:
        auth_service.check_otp(user, body.otp)
    auth_service.complete_login(user, via="api")
    raw, token = auth_service.issue_token(user, label=body.label)
    return jsonify({"token": raw, "expires_at": token.expires_at.isoformat(),
                    "user": user.to_public_dict()}), 201


@operation("DELETE", "/auth/token", summary="Revoke the token used for this request",
           tags=["auth"], status=204, errors=(401,), before_password_change=True)
def revoke_current_token(user):
    auth_service.revoke_token(g.api_token, actor=user)
    return "", 204


@operation("GET", "/me", summary="The user behind the token", tags=["users"], response=UserOut,
           errors=(401,), before_password_change=True)
def me(user):
    return jsonify(user.to_public_dict())


@operation("POST", "/me/password", summary="Change your own password", tags=["users"],
           body=PasswordChange, status=204, errors=(400, 401, 413, 422, 429),
           before_password_change=True,
           description="Every token of the account is revoked, this one included, and its web "
                       "sessions end: log in again with the new password.")
def change_password(user, body: PasswordChange):
    auth_service.change_own_password(user, body.current_password, body.new_password)
    return "", 204


@operation("GET", "/users", summary="List accounts", tags=["users"], response=UserList,
           admin=True, errors=(401, 403, 422),
           query={"q": {"type": "string", "description": "Search username, name, organisation"},
                  "role": {"type": "string", "enum": ["admin", "secretariat", "member", "guest"]}})
def list_users(user):
    role = request.args.get("role") or None
    if role is not None and role not in ROLE_LABELS:
        raise ValidationError(_("Unknown role."), details={"fields": [{"field": "role",
                              "message": "admin, secretariat, member or guest"}]})
    users = users_service.list_users(user, query=request.args.get("q", "")[:100], role=role)
    return jsonify({"users": [u.to_public_dict() for u in users]})


@operation("POST", "/users", summary="Create an account", tags=["users"], body=UserCreate,
           response=UserOut, status=201, admin=True, errors=(400, 401, 403, 409, 413, 422))
def create_user(user, body: UserCreate):
    data = users_service.UserData(**body.model_dump(exclude={"password", "must_change_password"}))
    created = users_service.create_user(user, data, body.password,
                                        must_change_password=body.must_change_password)
    return jsonify(created.to_public_dict()), 201


@operation("GET", "/users/<int:user_id>", summary="One account", tags=["users"],
           response=UserOut, admin=True, errors=(401, 403, 404))
def get_user(user, user_id: int):
    return jsonify(users_service.get_user(user, user_id).to_public_dict())


@operation("PATCH", "/users/<int:user_id>", summary="Edit, disable or enable an account",
           tags=["users"], body=UserUpdate, response=UserOut, admin=True,
           errors=(400, 401, 403, 404, 413, 422),
           description="Changing the role, lowering the clearance or disabling the account ends "
                       "the user's sessions and revokes their tokens.")
def update_user(user, user_id: int, body: UserUpdate):
    fields = body.model_dump(exclude_unset=True)
    active = fields.pop("active", None)
    updated = users_service.update_user(user, user_id, users_service.UserData(**fields))
    if active is not None:
        updated = users_service.set_active(user, user_id, active)
    return jsonify(updated.to_public_dict())


@operation("DELETE", "/users/<int:user_id>/tokens", summary="Revoke every token of an account",
           tags=["users"], response=RevokedCount, admin=True, errors=(401, 403, 404))
def revoke_user_tokens(user, user_id: int):
    return jsonify({"revoked": users_service.revoke_tokens(user, user_id)})


@operation("GET", "/openapi.json", summary="This API's OpenAPI 3.1 description", tags=["meta"],
           auth=False)
def openapi_document():
    from cabinet.api.openapi import build_document

    return jsonify(build_document())
