"""Plain-text e-mail through an SMTP server (the ministry's relay on the closed network).

The standard library is enough: ``email.message.EmailMessage`` writes correct UTF-8 messages
(RFC 2047 subjects, encoded bodies) and ``smtplib`` speaks SMTP with STARTTLS and login. A
mail library would add templating and HTML we do not need, and one more dependency to audit.
Sending only ever happens in a background job, never in a request or inside a transaction.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

log = logging.getLogger(__name__)

_disabled_logged = False


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    user: str
    password: str
    starttls: bool
    timeout: int
    sender: str


def settings_from(config) -> SmtpSettings | None:
    """The SMTP settings of the app, or None when e-mail is off (no ``CABINET_SMTP_HOST``)."""
    host = (config.get("CABINET_SMTP_HOST") or "").strip()
    if not host:
        return None
    return SmtpSettings(host=host, port=int(config.get("CABINET_SMTP_PORT") or 25),
                        user=config.get("CABINET_SMTP_USER") or "",
                        password=config.get("CABINET_SMTP_PASSWORD") or "",
                        starttls=bool(config.get("CABINET_SMTP_STARTTLS")),
                        timeout=int(config.get("CABINET_SMTP_TIMEOUT") or 30),
                        sender=config.get("CABINET_MAIL_FROM") or "e-cabinet@localhost")


def log_disabled_once() -> None:
    global _disabled_logged
    if not _disabled_logged:
        _disabled_logged = True
        log.info("e-mail is off (CABINET_SMTP_HOST is not set): notifications stay in the app")


def compose(settings: SmtpSettings, *, to: tuple[str, str], subject: str, body: str) -> EmailMessage:
    """A plain-text UTF-8 message to one person: ``to`` is (display name, address)."""
    message = EmailMessage()
    message["From"] = Address("e-Cabinet", addr_spec=settings.sender)
    name, address = to
    message["To"] = Address(name, addr_spec=address)
    message["Subject"] = " ".join(subject.split())  # no line breaks in a header
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = make_msgid(domain=settings.sender.rpartition("@")[2] or "localhost")
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies
    message.set_content(body, charset="utf-8")
    return message


def send(settings: SmtpSettings, message: EmailMessage) -> None:
    """Hand the message to the SMTP server. Raises (``OSError``, ``smtplib.SMTPException``) when
    it cannot: the job queue retries."""
    try:
        with smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout) as smtp:
            if settings.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if settings.user:
                smtp.login(settings.user, settings.password)
            smtp.send_message(message)
    except (OSError, smtplib.SMTPException) as exc:
        log.warning("could not send e-mail to %s through %s:%s: %s", message["To"], settings.host,
                    settings.port, exc)
        raise
