"""Keys and certificates for signing: the demo PKI, PKCS#12 loading, trust roots.

Real deployments sign with certificates issued by Vietnam's specialised Government CA (D19): one
PKCS#12 file per signer (the secretary, the chair) and one for the organisation. For the demo and
the tests, :func:`create_demo_pki` makes a self-signed *demo* CA and PKCS#12 files for the demo
signers, so that everything signs for real; its certificates say loudly that they are not for
production.

Keys are loaded once per process (:func:`load_signer` is cached): opening a PKCS#12 file costs more
than the signature itself.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID
from pyhanko.sign.signers import SimpleSigner

from cabinet.core.errors import DomainError

DEMO_CA_NAME = "e-Cabinet Demo CA"
DEMO_MARK = "DEMO - NOT FOR PRODUCTION / CHỈ DÙNG THỬ"
CA_CERT_FILE = "ca.pem"
CA_KEY_FILE = "ca-key.pem"
KEY_BITS = 2048
CA_YEARS = 10
SIGNER_YEARS = 3


class SigningKeyError(DomainError):
    """A key or certificate cannot be used: missing file, wrong passphrase, damaged data."""

    status = 400
    code = "signing_key"


@dataclass(frozen=True)
class Identity:
    """Who a certificate names: the subject of a demo certificate."""

    key: str  # file stem: ``thuky`` → ``thuky.p12``
    common_name: str  # CN: the person's full name, or the organisation's name
    title: str = ""  # chức vụ (X.520 title)
    organisation: str = ""  # O
    organisational_unit: str = ""  # OU


# The demo signers (D11: the secretary drafts and signs first, then the chair; an electronic
# original may then be signed by the organisation). Usernames match the demo cabinet.
DEMO_IDENTITIES: tuple[Identity, ...] = (
    Identity("thuky", "Trần Thị Thu Hà", "Thư ký phiên họp", "Văn phòng Chính phủ"),
    Identity("thutuong", "Phạm Quốc Hưng", "Thủ tướng Chính phủ", "Chính phủ"),
    Identity("vpcp", "VĂN PHÒNG CHÍNH PHỦ", "", "Văn phòng Chính phủ", "Khóa tổ chức"),
)


@dataclass
class DemoPki:
    """What :func:`create_demo_pki` left in ``directory``."""

    directory: Path
    ca_cert: Path
    p12: dict[str, Path]  # identity key → PKCS#12 path
    created: list[Path] = field(default_factory=list)  # files written by this run
    passphrase: str | None = None  # set only when this run generated it (print it once)


def _name(identity: Identity) -> x509.Name:
    attributes = [x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
                  x509.NameAttribute(NameOID.LOCALITY_NAME, "Hà Nội")]
    if identity.organisation:
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, identity.organisation))
    if identity.organisational_unit:
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME,
                                             identity.organisational_unit))
    if identity.title:
        attributes.append(x509.NameAttribute(NameOID.TITLE, identity.title))
    attributes.append(x509.NameAttribute(NameOID.COMMON_NAME, identity.common_name))
    return x509.Name(attributes)


def _new_key() -> rsa.RSAPrivateKey:
    # RSA, as the Government CA issues; 2048 bits keeps the demo and the tests quick.
    return rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)


def _demo_ca(now: datetime) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    key = _new_key()
    name = x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "e-Cabinet"),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, DEMO_MARK),
        x509.NameAttribute(NameOID.COMMON_NAME, DEMO_CA_NAME),
    ])
    public = key.public_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name).public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=365 * CA_YEARS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False,
                                     key_encipherment=False, data_encipherment=False,
                                     key_agreement=False, key_cert_sign=True, crl_sign=True,
                                     encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def issue_certificate(identity: Identity, ca_key: rsa.RSAPrivateKey, ca_cert: x509.Certificate,
                      *, now: datetime | None = None,
                      years: int = SIGNER_YEARS) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    """A new key and a signing certificate for ``identity``, issued by the CA.

    Key usage is digitalSignature + nonRepudiation (contentCommitment): what a document
    signature needs, and nothing else.
    """
    now = now or datetime.now(UTC)
    key = _new_key()
    public = key.public_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(identity)).issuer_name(ca_cert.subject).public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(min(now + timedelta(days=365 * years), ca_cert.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=True,
                                     key_encipherment=False, data_encipherment=False,
                                     key_agreement=False, key_cert_sign=False, crl_sign=False,
                                     encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                       critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return key, cert


def pkcs12_bytes(identity: Identity, key: rsa.RSAPrivateKey, cert: x509.Certificate,
                 ca_cert: x509.Certificate, passphrase: str) -> bytes:
    """A PKCS#12 archive holding the key, its certificate and the CA certificate."""
    return pkcs12.serialize_key_and_certificates(
        identity.key.encode(), key, cert, [ca_cert],
        serialization.BestAvailableEncryption(passphrase.encode()))


def _write_private(path: Path, data: bytes) -> None:
    """Write a secret file readable by its owner only (replacing any previous one)."""
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def create_demo_pki(directory: str | os.PathLike, passphrase: str | None = None, *,
                    force: bool = False,
                    identities: Iterable[Identity] = DEMO_IDENTITIES) -> DemoPki:
    """Make the demo CA (``ca.pem``, ``ca-key.pem``) and one PKCS#12 file per identity.

    Idempotent: existing files are kept unless ``force``. Missing PKCS#12 files are issued by the
    existing CA, whose key is then opened with ``passphrase`` (the one printed when the CA was
    made). Without ``passphrase`` a new one is generated and returned in ``DemoPki.passphrase``:
    it protects every file written by this run and is stored nowhere.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    identities = tuple(identities)
    ca_cert_path, ca_key_path = directory / CA_CERT_FILE, directory / CA_KEY_FILE
    result = DemoPki(directory=directory, ca_cert=ca_cert_path,
                     p12={i.key: directory / f"{i.key}.p12" for i in identities})
    missing = [i for i in identities if force or not result.p12[i.key].exists()]
    ca_exists = ca_cert_path.exists() and ca_key_path.exists() and not force
    if ca_exists and not missing:
        return result
    if passphrase is None:
        if ca_exists:
            raise SigningKeyError("The demo CA exists: give its passphrase to issue the missing "
                                  "PKCS#12 files, or use --force to make a new demo PKI.")
        passphrase = result.passphrase = secrets.token_urlsafe(12)
    now = datetime.now(UTC)
    if ca_exists:
        ca_cert = x509.load_pem_x509_certificate(ca_cert_path.read_bytes())
        try:
            ca_key = serialization.load_pem_private_key(ca_key_path.read_bytes(), passphrase.encode())
        except (ValueError, TypeError) as exc:
            raise SigningKeyError(f"Cannot open {ca_key_path}: wrong passphrase?") from exc
    else:
        ca_key, ca_cert = _demo_ca(now)
        ca_cert_path.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
        _write_private(ca_key_path, ca_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(passphrase.encode())))
        result.created += [ca_cert_path, ca_key_path]
    for identity in missing:
        key, cert = issue_certificate(identity, ca_key, ca_cert, now=now)
        path = result.p12[identity.key]
        _write_private(path, pkcs12_bytes(identity, key, cert, ca_cert, passphrase))
        result.created.append(path)
    clear_signer_cache()  # files may have been replaced
    return result


# --- loading keys ------------------------------------------------------------------------------------


def open_pkcs12(data: bytes, passphrase: str, name: str = "the PKCS#12 file") -> SimpleSigner:
    """A pyHanko signer from PKCS#12 bytes, not cached: a person's key is opened for one signature
    with the passphrase they typed, and not kept in memory afterwards."""
    try:
        signer = SimpleSigner.load_pkcs12_data(data, other_certs=(), passphrase=passphrase.encode())
    except ValueError as exc:
        raise SigningKeyError(f"Cannot open {name}: wrong passphrase or not a PKCS#12 file.") from exc
    if signer.signing_cert is None or signer.signing_key is None:
        raise SigningKeyError(f"{name} holds no key with its certificate.")
    return signer


@lru_cache(maxsize=32)
def _cached_signer(path: str, mtime_ns: int, passphrase: str) -> SimpleSigner:
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise SigningKeyError(f"Cannot read the PKCS#12 file {path}: {exc.strerror}.") from exc
    return open_pkcs12(data, passphrase, f"the PKCS#12 file {path}")


def load_signer(p12_path: str | os.PathLike, passphrase: str) -> SimpleSigner:
    """The pyHanko signer for a PKCS#12 file, loaded once per process.

    The cache is keyed on the path, the file's modification time and the passphrase, so a
    replaced file is loaded again. Raises :class:`SigningKeyError` with a clear message when the
    file is missing, the passphrase is wrong or the file is not PKCS#12.
    """
    path = Path(p12_path).resolve()
    try:
        mtime = path.stat().st_mtime_ns
    except OSError as exc:
        raise SigningKeyError(f"Cannot read the PKCS#12 file {path}: {exc.strerror}.") from exc
    return _cached_signer(str(path), mtime, passphrase)


def clear_signer_cache() -> None:
    """Forget loaded keys (after a PKCS#12 file was replaced or removed)."""
    _cached_signer.cache_clear()


# --- trust roots -------------------------------------------------------------------------------------


def load_certificates(path: str | os.PathLike) -> list[asn1_x509.Certificate]:
    """Every certificate in a PEM (or DER) file, as asn1crypto objects (what pyHanko takes)."""
    data = Path(path).read_bytes()
    if b"-----BEGIN" in data:
        certs = x509.load_pem_x509_certificates(data)
    else:
        certs = [x509.load_der_x509_certificate(data)]
    return [asn1_x509.Certificate.load(c.public_bytes(serialization.Encoding.DER)) for c in certs]


def trust_roots(pki_dir: str | os.PathLike | None = None,
                extra_files: Iterable[str | os.PathLike] = ()) -> list[asn1_x509.Certificate]:
    """The certificates signatures are validated against: the demo CA of ``pki_dir`` (when it
    exists) and every certificate in ``extra_files`` (``CABINET_TRUST_ROOTS``)."""
    roots: list[asn1_x509.Certificate] = []
    if pki_dir is not None and (Path(pki_dir) / CA_CERT_FILE).exists():
        roots += load_certificates(Path(pki_dir) / CA_CERT_FILE)
    for path in extra_files:
        try:
            roots += load_certificates(path)
        except (OSError, ValueError) as exc:
            raise SigningKeyError(f"Cannot read the trust root {path}: {exc}") from exc
    return roots


def configured_trust_roots(app=None) -> list[asn1_x509.Certificate]:
    """Trust roots from the application's settings (``CABINET_PKI_DIR``, ``CABINET_TRUST_ROOTS``)."""
    from flask import current_app

    config = (app or current_app).config
    return trust_roots(config["CABINET_PKI_DIR"], config["CABINET_TRUST_ROOTS"])


def subject_fields(cert: asn1_x509.Certificate) -> dict[str, str]:
    """The subject of a certificate as ``{"common_name": …, "title": …, "organization_name": …}``."""
    return {k: str(v) for k, v in cert.subject.native.items()}
