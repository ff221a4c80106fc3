"""Virus scanning of uploads, and the per-user upload rate limit.

Every file a user sends — meeting documents and their new versions, ballot dossier files, signing
keys, PDFs sent to the verify page — goes through :func:`scan_file` (or :func:`scan_bytes`) before
it is stored or parsed, when ``CABINET_UPLOAD_SCAN_COMMAND`` is set, e.g.::

    CABINET_UPLOAD_SCAN_COMMAND="clamdscan --no-summary --fdpass {path}"

``{path}`` is replaced by the file's path (appended when the command has no ``{path}``); the command
is split like a shell would, but no shell runs it. Its exit status decides, as ClamAV's do:

* 0 — clean: the upload goes on;
* 1 — a virus was found: refused with 422 (``virus_found``), audited as ``upload.infected``;
* anything else, a timeout (``CABINET_UPLOAD_SCAN_TIMEOUT`` seconds) or a scanner that cannot be
  started — refused with 503 (``scanner_unavailable``), logged and audited as ``upload.scan_failed``:
  when the scanner cannot say the file is clean, the file is not kept (fail closed).

The file to scan is a private temp file of the application (mode 0600): a scanner daemon running as
another user needs ``--fdpass`` (clamdscan) to read it.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import shlex
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from flask import current_app, has_request_context
from flask_babel import gettext as _
from limits import parse

from cabinet.core.errors import DomainError, TooManyRequests, ValidationError

log = logging.getLogger(__name__)

CLEAN, INFECTED = 0, 1
DEFAULT_TIMEOUT = 120


class ScannerUnavailable(DomainError):
    """The virus scanner could not give an answer: the upload is refused until it can."""

    status = 503
    code = "scanner_unavailable"


def scan_command() -> list[str] | None:
    """The configured scanner command as an argument list, or None when scanning is off."""
    template = (current_app.config.get("CABINET_UPLOAD_SCAN_COMMAND") or "").strip()
    return shlex.split(template) if template else None


def _argv(command: list[str], path: Path) -> list[str]:
    if any("{path}" in part for part in command):
        return [part.replace("{path}", str(path)) for part in command]
    return [*command, str(path)]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1024 * 1024), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _audit(action: str, actor, details: dict) -> None:
    """Record the refusal in its own transaction: the caller rolls back what follows."""
    from cabinet.audit import service as audit
    from cabinet.extensions import db

    try:
        audit.record(action, actor=actor, object_type="upload", details=details)
        db.session.commit()
    except Exception:  # the refusal stands even if the trail cannot be written right now
        db.session.rollback()
        log.exception("could not audit %s", action)


def scan_file(path: Path | str, *, actor=None, what: str, filename: str = "") -> None:
    """Scan the file at ``path`` with the configured scanner; return if clean, raise otherwise.

    ``what`` names the kind of upload for the audit trail (``document``, ``ballot_document``,
    ``signing_key``, ``verify``); ``filename`` is the name the user gave. Does nothing when
    ``CABINET_UPLOAD_SCAN_COMMAND`` is not set.
    """
    command = scan_command()
    if command is None:
        return
    path = Path(path)
    timeout = float(current_app.config.get("CABINET_UPLOAD_SCAN_TIMEOUT") or DEFAULT_TIMEOUT)
    details = {"what": what, "filename": (filename or "")[:200], "size": path.stat().st_size,
               "sha256": _sha256(path)}
    try:
        # Own process group: a timeout kills the scanner and anything it started.
        process = subprocess.Popen(_argv(command, path), stdin=subprocess.DEVNULL,  # noqa: S603
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    except OSError as exc:
        log.error("virus scanner %r could not be started: %s", command[0], exc)
        _audit("upload.scan_failed", actor, {**details, "reason": f"not started: {exc}"[:300]})
        raise ScannerUnavailable(_("The virus scanner is not available, so the file was not accepted. "
                                   "Please try again later or contact the administrator.")) from exc
    try:
        output, _unused = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        log.error("virus scanner timed out after %s s on %s (%s)", timeout, what, details["sha256"])
        _audit("upload.scan_failed", actor, {**details, "reason": f"timeout after {timeout:g} s"})
        raise ScannerUnavailable(_("The virus scanner did not answer in time, so the file was not "
                                   "accepted. Please try again later.")) from None
    report = output.decode("utf-8", "replace").strip()[-500:]
    if process.returncode == CLEAN:
        return
    if process.returncode == INFECTED:
        log.warning("virus scanner refused an upload (%s, %s): %s", what, details["sha256"], report)
        _audit("upload.infected", actor, {**details, "scanner": report})
        message = _("The file was refused by the virus scanner.")
        raise ValidationError(message, code="virus_found", details={"fields": {"file": message}})
    log.error("virus scanner failed with exit status %s on %s (%s): %s", process.returncode, what,
              details["sha256"], report)
    _audit("upload.scan_failed", actor, {**details, "reason": f"exit status {process.returncode}",
                                         "scanner": report})
    raise ScannerUnavailable(_("The virus scanner failed, so the file was not accepted. Please try "
                               "again later or contact the administrator."))


def scan_bytes(data: bytes, *, actor=None, what: str, filename: str = "") -> None:
    """:func:`scan_file` for an upload held in memory (signing keys, PDFs to verify)."""
    if scan_command() is None:
        return
    from cabinet.storage import blob_store

    staging = blob_store().staging_dir
    staging.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix="scan-", suffix=".part", dir=staging)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        scan_file(Path(name), actor=actor, what=what, filename=filename)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(name)


def throttle_upload(actor) -> None:
    """Count an upload by ``actor`` against ``CABINET_UPLOAD_RATE_LIMIT`` (per user, every kind of
    upload together); raise 429 past it.

    Uploads are the most expensive requests (storage, conversion, scanning, PDF parsing): the limit
    keeps one account — or one stolen token — from filling the disk or starving the workers. Only
    requests are counted; command-line tools and jobs are not.
    """
    from cabinet.extensions import limiter

    if actor is None or not has_request_context():
        return
    if not (current_app.config.get("RATELIMIT_ENABLED", True) and limiter.enabled):
        return
    item = parse(current_app.config["CABINET_UPLOAD_RATE_LIMIT"])
    if limiter.limiter.hit(item, "upload", str(actor.id)):
        return
    reset = limiter.limiter.get_window_stats(item, "upload", str(actor.id)).reset_time
    retry = max(1, int(reset - time.time()))
    log.warning("upload rate limit reached by user %s", actor.id)
    raise TooManyRequests(_("Too many uploads in a short time. Please wait a moment and try again."),
                          code="upload_rate_limited", retry_after=retry)
