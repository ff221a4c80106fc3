"""Signing keys: each signatory's PKCS#12 file, uploaded by an administrator, and the organisation's
configured key (D19).

The PKCS#12 file is stored as uploaded — encrypted by its passphrase — in the blob store; the
passphrase is stored nowhere. The signer types it at the moment of signing, as they would type the
PIN of the USB token the Government CA issues: a stolen database or file store yields no usable key.
"""

from __future__ import annotations

import io
from datetime import UTC

from cryptography.hazmat.primitives.serialization import pkcs12
from flask import current_app
from flask_babel import gettext as _
from pyhanko.sign.signers import SimpleSigner
from sqlalchemy import select

from cabinet.audit import service as audit
from cabinet.core.errors import Conflict, NotFound, PermissionDenied, ValidationError
from cabinet.core.scanning import scan_bytes, throttle_upload
from cabinet.core.timeutil import as_utc, utcnow
from cabinet.core.types import MAX_ID
from cabinet.extensions import db
from cabinet.minutes.models import SigningKey
from cabinet.signing import pki
from cabinet.storage import blob_store
from cabinet.users.models import User

MAX_P12_BYTES = 64 * 1024


def require_admin(actor: User) -> None:
    if not actor.is_admin:
        raise PermissionDenied(_("Only an administrator manages signing keys."))


def active_key(user_id: int) -> SigningKey | None:
    return db.session.scalars(select(SigningKey).where(SigningKey.user_id == user_id,
                                                       SigningKey.revoked_at.is_(None))).first()


def keys(actor: User) -> list[SigningKey]:
    require_admin(actor)
    return list(db.session.scalars(select(SigningKey).order_by(SigningKey.revoked_at.is_not(None),
                                                               SigningKey.id.desc())))


def upload(actor: User, user_id: int, p12: bytes, passphrase: str) -> SigningKey:
    """Register a person's PKCS#12 file; the passphrase proves it opens, and is then forgotten.

    A key already in use for that person is revoked (kept for the record): signatures made with it
    stay valid.
    """
    require_admin(actor)
    owner = db.session.get(User, user_id) if 0 < user_id <= MAX_ID else None
    if owner is None:
        raise NotFound(_("No such user."))
    if not p12:
        raise ValidationError.of_fields({"file": _("Required.")},
                                        _("Choose the PKCS#12 file (.p12 or .pfx)."))
    if len(p12) > MAX_P12_BYTES:
        raise ValidationError.of_fields({"file": _("Too large.")},
                                        _("This file is too large for a PKCS#12 key file."))
    throttle_upload(actor)
    scan_bytes(p12, actor=actor, what="signing_key")
    try:
        key, cert, _others = pkcs12.load_key_and_certificates(p12, passphrase.encode())
    except (ValueError, TypeError):
        raise ValidationError.of_fields(
            {"passphrase": _("Wrong passphrase?")}, _("This file cannot be opened with that passphrase: a "
                                                      "wrong passphrase, or not a PKCS#12 file."),
            code="signing_key") from None
    if key is None or cert is None:
        raise ValidationError.of_fields(
            {"file": _("No key.")}, _("This PKCS#12 file holds no private key with its certificate."),
            code="signing_key")
    if cert.not_valid_after_utc <= utcnow():
        raise ValidationError.of_fields({"file": _("Expired.")}, _("This certificate has expired."),
                                        code="signing_key")
    sha256, _size = blob_store().put(io.BytesIO(p12))
    previous = active_key(owner.id)
    if previous is not None:
        previous.revoked_at, previous.revoked_by_id = utcnow(), actor.id
        db.session.flush()
    subject = cert.subject.rfc4514_string()
    common = next((a.value for a in cert.subject if a.oid.dotted_string == "2.5.4.3"), subject)
    issuer = next((a.value for a in cert.issuer if a.oid.dotted_string == "2.5.4.3"),
                  cert.issuer.rfc4514_string())
    entry = SigningKey(user_id=owner.id, p12_sha256=sha256, certificate_subject=str(common)[:300],
                       certificate_serial=format(cert.serial_number, "x"),
                       certificate_issuer=str(issuer)[:300],
                       not_valid_after=cert.not_valid_after_utc.astimezone(UTC), uploaded_by_id=actor.id)
    db.session.add(entry)
    db.session.flush()
    audit.record("signing_key.uploaded", actor=actor, object_type="user", object_id=owner.id,
                 details={"key_id": entry.id, "subject": entry.certificate_subject,
                          "serial": entry.certificate_serial, "issuer": entry.certificate_issuer,
                          "replaced": previous.id if previous is not None else None})
    db.session.commit()
    return entry


def revoke(actor: User, key_id: int) -> SigningKey:
    require_admin(actor)
    entry = db.session.get(SigningKey, key_id) if 0 < key_id <= MAX_ID else None
    if entry is None:
        raise NotFound(_("No such signing key."))
    if entry.revoked_at is None:
        entry.revoked_at, entry.revoked_by_id = utcnow(), actor.id
        audit.record("signing_key.revoked", actor=actor, object_type="user", object_id=entry.user_id,
                     details={"key_id": entry.id, "serial": entry.certificate_serial})
        db.session.commit()
    return entry


def signer_for(user: User, passphrase: str) -> SimpleSigner:
    """The user's pyHanko signer, opened with the passphrase they typed.

    Raises a clear error when they have no key, when it has expired, or when the passphrase is wrong.
    """
    entry = active_key(user.id)
    if entry is None:
        raise Conflict(_("You have no signing key yet: ask an administrator to register your "
                         "certificate (PKCS#12 file)."), code="no_signing_key")
    if as_utc(entry.not_valid_after) <= utcnow():
        raise Conflict(_("Your signing certificate has expired: ask an administrator for a new one."),
                       code="certificate_expired")
    if not isinstance(passphrase, str) or not passphrase:
        raise ValidationError.of_fields({"passphrase": _("Required.")},
                                        _("Type the passphrase of your signing key."), code="signing_key")
    try:
        return pki.open_pkcs12(blob_store().read(entry.p12_sha256), passphrase)
    except pki.SigningKeyError:
        raise ValidationError.of_fields({"passphrase": _("Wrong passphrase.")},
                                        _("Wrong passphrase for your signing key."),
                                        code="signing_key") from None


def organisation_configured() -> bool:
    return bool(current_app.config.get("CABINET_ORG_P12"))


def organisation_signer() -> SimpleSigner:
    """The organisation's key (``CABINET_ORG_P12``), for the organ's seal-signature."""
    path = current_app.config.get("CABINET_ORG_P12")
    if not path:
        raise Conflict(_("The organisation's signing key is not configured (CABINET_ORG_P12)."),
                       code="no_signing_key")
    return pki.load_signer(path, current_app.config.get("CABINET_ORG_P12_PASSPHRASE", ""))
