"""Settings, read from environment variables, with defaults that make the embedded
(single-process, SQLite) mode work with no configuration at all.

Every legal number the domain depends on lives in :mod:`cabinet.rules`, not here:
this module is about running the software, not about the law.
"""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path

from cabinet.core.resilience import redis_client_options


def _env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


def _env_list(name: str) -> list[str]:
    """A comma-separated setting as a list, blanks dropped."""
    return [item.strip() for item in os.environ.get(name, "").split(",") if item.strip()]


def load_or_create_secret_key(instance_path: Path) -> str:
    """Return the signing key kept in ``instance/secret_key``, creating it on first run.

    The key is never a constant in the code: a fresh installation generates its own,
    and the file is readable by its owner only.
    """
    key_file = instance_path / "secret_key"
    if key_file.exists():
        return key_file.read_text().strip()
    instance_path.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    # O_EXCL: two workers starting at once must not end up with different keys.
    try:
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return key_file.read_text().strip()
    with os.fdopen(fd, "w") as fh:
        fh.write(key)
    return key


def build_config(instance_path: Path) -> dict:
    """Collect the settings for one application instance."""
    default_db = f"sqlite:///{instance_path / 'cabinet.sqlite3'}"
    database_url = os.environ.get("DATABASE_URL", default_db)
    # Heroku-style URLs name the driver "postgres"; SQLAlchemy wants psycopg 3 spelled out.
    if database_url.startswith("postgres://"):
        database_url = "postgresql+psycopg://" + database_url[len("postgres://") :]
    elif database_url.startswith("postgresql://"):
        database_url = "postgresql+psycopg://" + database_url[len("postgresql://") :]

    secret_key = os.environ.get("SECRET_KEY") or load_or_create_secret_key(instance_path)
    behind_tls = _env_bool("CABINET_HTTPS", False)

    return {
        "SECRET_KEY": secret_key,
        # Earlier keys, still accepted (never used to sign): set the old SECRET_KEY here when you
        # rotate it, so sessions signed with it survive; remove it once they have expired.
        "SECRET_KEY_FALLBACKS": _env_list("SECRET_KEY_FALLBACKS"),
        # Monitoring (cabinet.core.logging, cabinet.metrics): "json" lines for servers, "text" for a
        # person; GET /metrics answers only a bearer of CABINET_METRICS_TOKEN (unset: metrics off).
        "CABINET_LOG_FORMAT": os.environ.get("CABINET_LOG_FORMAT", "text").strip().lower() or "text",
        "CABINET_LOG_LEVEL": os.environ.get("CABINET_LOG_LEVEL", "INFO").strip().upper() or "INFO",
        "CABINET_METRICS_TOKEN": os.environ.get("CABINET_METRICS_TOKEN", "").strip() or None,
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        "REDIS_URL": os.environ.get("REDIS_URL") or None,
        # Uploads are streamed to disk by later features; this caps any request body.
        "MAX_CONTENT_LENGTH": _env_int("CABINET_MAX_UPLOAD_MB", 100) * 1024 * 1024,
        # JSON bodies are small; anything larger is refused with 413 before parsing.
        "CABINET_MAX_JSON_BYTES": _env_int("CABINET_MAX_JSON_KB", 256) * 1024,
        # Sessions: an idle session ends after SESSION_IDLE_MINUTES; any session ends
        # SESSION_MAX_HOURS after login, whatever the activity.
        "PERMANENT_SESSION_LIFETIME": timedelta(minutes=_env_int("CABINET_SESSION_IDLE_MINUTES", 60)),
        "SESSION_REFRESH_EACH_REQUEST": True,
        "CABINET_SESSION_MAX_HOURS": _env_int("CABINET_SESSION_MAX_HOURS", 12),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": behind_tls,
        # Behind TLS the "__Host-" prefix makes browsers refuse a cookie set by a sibling subdomain
        # or over plain HTTP: nobody can plant a session cookie in a user's browser (fixation).
        "SESSION_COOKIE_NAME": "__Host-cabinet_session" if behind_tls else "cabinet_session",
        # "Remember me" is never offered; should a remember cookie ever be set, it is as guarded.
        "REMEMBER_COOKIE_DURATION": timedelta(seconds=0),
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SECURE": behind_tls,
        "CABINET_HTTPS": behind_tls,
        # How many reverse proxies (nginx…) stand in front and set X-Forwarded-For/-Proto/-Host:
        # their headers are believed, so the audit trail and the rate limits see the user's address
        # rather than the proxy's. 0 (the default) trusts no such header: right when serving directly.
        "CABINET_PROXIES": _env_int("CABINET_PROXIES", 0),
        # Login throttling: after LOCKOUT_THRESHOLD failures the account is locked for
        # LOCKOUT_MINUTES (stored in the database, so every worker agrees).
        "CABINET_LOCKOUT_THRESHOLD": _env_int("CABINET_LOCKOUT_THRESHOLD", 5),
        "CABINET_LOCKOUT_MINUTES": _env_int("CABINET_LOCKOUT_MINUTES", 15),
        # Per-address limit on the login and token endpoints, on top of the account lockout.
        "CABINET_LOGIN_RATE_LIMIT": os.environ.get("CABINET_LOGIN_RATE_LIMIT", "30 per minute"),
        "CABINET_TOKEN_HOURS": _env_int("CABINET_TOKEN_HOURS", 12),
        # Per-user limit on uploads of every kind (documents, dossiers, keys, PDFs to verify).
        "CABINET_UPLOAD_RATE_LIMIT": os.environ.get("CABINET_UPLOAD_RATE_LIMIT", "60 per minute"),
        # Virus scanner run on every upload before it is kept (cabinet.core.scanning); unset: none.
        "CABINET_UPLOAD_SCAN_COMMAND": os.environ.get("CABINET_UPLOAD_SCAN_COMMAND", "").strip() or None,
        "CABINET_UPLOAD_SCAN_TIMEOUT": _env_int("CABINET_UPLOAD_SCAN_TIMEOUT", 120),
        # Document files live outside the database, addressed by their SHA-256.
        "CABINET_STORAGE_DIR": os.environ.get("CABINET_STORAGE_DIR") or str(instance_path / "blobs"),
        # LibreOffice's DOCX → PDF conversion is stopped after this many seconds.
        "CABINET_CONVERT_TIMEOUT": _env_int("CABINET_CONVERT_TIMEOUT", 180),
        "CABINET_ORG_NAME": os.environ.get("CABINET_ORG_NAME", "CHÍNH PHỦ"),
        "CABINET_TIMEZONE": os.environ.get("CABINET_TIMEZONE", "Asia/Ho_Chi_Minh"),
        "BABEL_DEFAULT_LOCALE": "vi",
        "BABEL_DEFAULT_TIMEZONE": os.environ.get("CABINET_TIMEZONE", "Asia/Ho_Chi_Minh"),
        "CABINET_LANGUAGES": {"vi": "Tiếng Việt", "en": "English"},
        "WTF_CSRF_TIME_LIMIT": None,  # the token lives as long as the session
        "RATELIMIT_STORAGE_URI": os.environ.get("REDIS_URL") or "memory://",
        # Redis down: count in this process's memory meanwhile (logged once), rather than fail every
        # login; short timeouts, so an unanswering Redis host does not hold requests for minutes.
        "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": True,
        "RATELIMIT_STORAGE_OPTIONS": redis_client_options() if os.environ.get("REDIS_URL") else {},
        "RATELIMIT_HEADERS_ENABLED": True,
        "SOCKETIO_ASYNC_MODE": os.environ.get("CABINET_ASYNC_MODE") or None,
        # Redis pub/sub ignores the database number: two deployments (or test runs) sharing one
        # Redis must use different channels, or each hears the other's broadcasts.
        "SOCKETIO_CHANNEL": os.environ.get("CABINET_SOCKETIO_CHANNEL") or "flask-socketio",
        # Background jobs (cabinet.jobs): with REDIS_URL, a separate `flask jobs worker` runs them;
        # without it, a consumer inside each serving process, on instance/jobs.sqlite3.
        "CABINET_JOBS_FILE": os.environ.get("CABINET_JOBS_FILE") or str(instance_path / "jobs.sqlite3"),
        "CABINET_JOBS_IN_APP": _env_bool("CABINET_JOBS_IN_APP", True),
        # E-mail (notifications, reminders). An empty host turns e-mail off.
        "CABINET_SMTP_HOST": os.environ.get("CABINET_SMTP_HOST", "").strip(),
        "CABINET_SMTP_PORT": _env_int("CABINET_SMTP_PORT", 25),
        "CABINET_SMTP_USER": os.environ.get("CABINET_SMTP_USER", ""),
        "CABINET_SMTP_PASSWORD": os.environ.get("CABINET_SMTP_PASSWORD", ""),
        "CABINET_SMTP_STARTTLS": _env_bool("CABINET_SMTP_STARTTLS", False),
        "CABINET_SMTP_TIMEOUT": _env_int("CABINET_SMTP_TIMEOUT", 30),
        "CABINET_MAIL_FROM": os.environ.get("CABINET_MAIL_FROM") or "e-cabinet@localhost",
        # Notifications (cabinet.notifications): participants are reminded of a meeting this many
        # hours before it starts (0: no reminders); e-mail copies still unsent this many minutes
        # after their notification (their job was lost) are queued again, up to this many hours.
        "CABINET_MEETING_REMINDER_HOURS": _env_int("CABINET_MEETING_REMINDER_HOURS", 24),
        "CABINET_EMAIL_OUTBOX_DELAY_MINUTES": _env_int("CABINET_EMAIL_OUTBOX_DELAY_MINUTES", 10),
        "CABINET_EMAIL_OUTBOX_MAX_AGE_HOURS": _env_int("CABINET_EMAIL_OUTBOX_MAX_AGE_HOURS", 48),
        # Digital signatures (cabinet.signing): the demo PKI's directory (its CA is trusted when
        # present), extra trust roots (PEM files, comma-separated) and an RFC 3161 time-stamping
        # server (unset: signatures carry the signer's clock only).
        "CABINET_PKI_DIR": os.environ.get("CABINET_PKI_DIR") or str(instance_path / "pki"),
        "CABINET_TRUST_ROOTS": [p.strip() for p in os.environ.get("CABINET_TRUST_ROOTS", "").split(",")
                                if p.strip()],
        "CABINET_TSA_URL": os.environ.get("CABINET_TSA_URL", "").strip() or None,
        # The organisation's own key (PKCS#12), for the organ's seal-signature on signed minutes
        # (D11: the competent person signs first, then the organisation). Optional.
        "CABINET_ORG_P12": os.environ.get("CABINET_ORG_P12", "").strip() or None,
        "CABINET_ORG_P12_PASSPHRASE": os.environ.get("CABINET_ORG_P12_PASSPHRASE", ""),
        # The address users reach the server at: links in e-mails are built on it.
        "CABINET_BASE_URL": (os.environ.get("CABINET_BASE_URL") or _default_base_url(behind_tls)).rstrip("/"),
    }


def _default_base_url(behind_tls: bool) -> str:
    host = os.environ.get("CABINET_HOST", "127.0.0.1")
    port = os.environ.get("CABINET_PORT", "5000")
    return f"{'https' if behind_tls else 'http'}://{host}:{port}"
