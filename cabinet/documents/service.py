"""Dossiers (hồ sơ): uploading documents and their versions, distribution, recall, reading.

The rules (D8, D14, D15, D16):

* Only the secretariat (and administrators) upload, publish and recall. A document belongs to a
  meeting, and optionally to one of its agenda items.
* A user reaches a document only if they may see its meeting **and** their clearance covers the
  document's secrecy level — staff included. Denials: 404 for what the user may not know exists
  (the meeting is not theirs; a draft, for a participant), 403 otherwise (recalled; not cleared).
* Drafts are seen by the secretariat only; publishing distributes them to the participants, and a
  publication after the D8 deadline is flagged late. A recall ends access for everyone but the
  secretariat at once: every request goes through :func:`get_document`.
* Classified documents are served with a per-viewer watermark on every page, never as stored.
* Every upload, publication, recall, view and download is in the audit trail.

Files live in the blob store (:mod:`cabinet.storage`), addressed by SHA-256; the database keeps
their hashes. An upload is hashed while streamed to a temp file, checked by content (PDF, or DOCX
converted to PDF with LibreOffice when it is installed), and only then kept: a refused or failed
upload leaves neither a row nor a temp file.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import unicodedata
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO
from xml.sax.saxutils import unescape

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import defer, selectinload

from cabinet.audit import service as audit
from cabinet.core import signals
from cabinet.core.errors import Conflict, NotFound, PayloadTooLarge, PermissionDenied, ValidationError
from cabinet.core.scanning import scan_file, throttle_upload
from cabinet.core.timeutil import utcnow
from cabinet.core.types import MAX_ID
from cabinet.documents.models import (
    SECRECY_LABELS,
    DocType,
    Document,
    DocumentRead,
    DocumentStatus,
    DocumentVersion,
    Urgency,
)
from cabinet.documents.watermark import Watermark, reader_mark, watermark_pdf
from cabinet.extensions import db
from cabinet.meetings.access import can_see_meeting, cleared_for, get_meeting, is_staff, require_staff
from cabinet.meetings.models import AgendaItem, DeputyStatus, Meeting, MeetingStatus, Participant
from cabinet.rules import rules
from cabinet.storage import BlobStore, BlobTooLarge, blob_store
from cabinet.users.models import Clearance, User

PDF_MEDIA_TYPE = "application/pdf"
DOCX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
TITLE_MAX = 500
REASON_MAX = 2000
FILENAME_MAX = 200
# Extracted text is for search: enough to find a document, bounded so a 2,000-page annex does not
# fill the database or hold the upload for minutes.
TEXT_MAX_CHARS = 200_000
TEXT_MAX_SECONDS = 20.0
DEFAULT_MAX_UPLOAD = 100 * 1024 * 1024
DEFAULT_CONVERT_TIMEOUT = 180  # seconds; a first LibreOffice start with a fresh profile takes ~3 s

# The stamps of Luật Bảo vệ bí mật nhà nước, printed on the pages as the law spells them.
SECRECY_STAMPS = {Clearance.MAT: "MẬT", Clearance.TOI_MAT: "TỐI MẬT", Clearance.TUYET_MAT: "TUYỆT MẬT"}

# DocumentVersion.conversion_note holds one of these codes; pages show the translated text.
NOTE_CONVERTED = "converted"
NOTE_NO_CONVERTER = "no_converter"
NOTE_CONVERSION_FAILED = "conversion_failed"
CONVERSION_NOTES = {
    NOTE_CONVERTED: _l("Converted from DOCX to PDF by LibreOffice; the original file can be downloaded."),
    NOTE_NO_CONVERTER: _l("This DOCX file could not be converted to PDF because LibreOffice is not "
                          "installed on the server. It cannot be shown in the viewer: download it."),
    NOTE_CONVERSION_FAILED: _l("LibreOffice could not convert this DOCX file to PDF. It cannot be shown "
                               "in the viewer: download it."),
}


def conversion_notice(version: DocumentVersion) -> str:
    """The translated explanation of how a version's PDF was obtained (empty for a PDF upload)."""
    note = CONVERSION_NOTES.get(version.conversion_note)
    return str(note) if note is not None else version.conversion_note


# --- reading and access ---------------------------------------------------------------------


def _versions_light():
    """Load versions without their (possibly long) extracted text."""
    return selectinload(Document.versions).options(defer(DocumentVersion.text_content))


def get_document(user: User, document_id: int) -> Document:
    """The document, if ``user`` may read it now; otherwise NotFound (404) or PermissionDenied (403).

    404: no such document, its meeting is not visible to the user, or it is a draft and the user
    is not staff. 403: the user's clearance does not cover its level (staff included), or it was
    recalled and the user is not staff.
    """
    document = None
    if isinstance(document_id, int) and 0 < document_id <= MAX_ID:
        document = db.session.scalars(
            select(Document).where(Document.id == document_id).options(_versions_light())
        ).first()
    staff = is_staff(user)
    if (document is None or not can_see_meeting(user, document.meeting)
            or (document.status == DocumentStatus.DRAFT and not staff)):
        raise NotFound(_("No such document, or you may not see it."))
    if not cleared_for(user, document.secrecy):
        raise PermissionDenied(
            _("Your clearance does not cover this document's secrecy level (%(level)s).",
              level=SECRECY_LABELS[document.secrecy_enum]),
            code="not_cleared")
    if document.status == DocumentStatus.RECALLED and not staff:
        raise PermissionDenied(_("This document was recalled by the secretariat; it can no longer be read."),
                               code="recalled")
    return document


STATUS_LABELS = {
    DocumentStatus.DRAFT: _l("Draft (not published)"),
    DocumentStatus.PUBLISHED: _l("Published"),
    DocumentStatus.RECALLED: _l("Recalled (thu hồi)"),
}


@dataclass(frozen=True)
class DocumentEntry:
    """A document as one user sees it in a list: with its unread mark and translated labels."""

    document: Document
    unread: bool = False

    @property
    def type_label(self) -> str:
        return DocType(self.document.doc_type).label

    @property
    def secrecy_label(self) -> str:
        return str(SECRECY_LABELS[self.document.secrecy_enum])

    @property
    def stamp(self) -> str:
        """The secrecy stamp as the law spells it (MẬT, TỐI MẬT, TUYỆT MẬT); empty if unclassified."""
        return SECRECY_STAMPS.get(self.document.secrecy_enum, "")

    @property
    def urgency_label(self) -> str:
        return self.document.urgency_enum.label

    @property
    def status_label(self) -> str:
        return str(STATUS_LABELS[DocumentStatus(self.document.status)])


def _read_versions(user: User, document_ids: list[int]) -> dict[int, int]:
    if not document_ids:
        return {}
    rows = db.session.execute(
        select(DocumentRead.document_id, DocumentRead.version_number)
        .where(DocumentRead.user_id == user.id, DocumentRead.document_id.in_(document_ids)))
    return {row.document_id: row.version_number for row in rows}


def _is_unread(document: Document, read_version: int | None) -> bool:
    current = document.current_version
    return (document.status == DocumentStatus.PUBLISHED and current is not None
            and (read_version is None or read_version < current.number))


def _list_order(document: Document):
    item = document.agenda_item
    # Urgent first (D15); then documents of the whole meeting, then by agenda position; then title.
    return (-document.urgency_enum.rank, item.position if item is not None else -1,
            document.title.casefold(), document.id)


def documents_for_meeting(user: User, meeting: Meeting) -> list[DocumentEntry]:
    """The documents of ``meeting`` that ``user`` may see, urgent first, each with its unread mark.

    Participants see published documents; staff also see drafts and recalled ones. Documents above
    the user's clearance are not listed at all (for staff too).
    """
    if not can_see_meeting(user, meeting):
        raise NotFound(_("No such meeting, or you are not invited to it."))
    stmt = (select(Document).where(Document.meeting_id == meeting.id)
            .options(_versions_light(), selectinload(Document.agenda_item)))
    if not is_staff(user):
        stmt = stmt.where(Document.status == DocumentStatus.PUBLISHED)
    documents = [d for d in db.session.scalars(stmt) if cleared_for(user, d.secrecy)]
    reads = _read_versions(user, [d.id for d in documents])
    documents.sort(key=_list_order)
    return [DocumentEntry(d, _is_unread(d, reads.get(d.id))) for d in documents]


def unread_documents(user: User) -> list[Document]:
    """Published documents the user may read whose current version they have not opened yet.

    For the home page: urgent first, then the most recently published. Documents of cancelled
    meetings are left out (nothing to prepare for).
    """
    levels = [level.value for level in Clearance if user.clearance_enum.covers(level)]
    current = (select(func.max(DocumentVersion.number))
               .where(DocumentVersion.document_id == Document.id).scalar_subquery())
    urgency_rank = case({u.value: u.rank for u in Urgency}, value=Document.urgency, else_=0)
    stmt = (
        select(Document)
        .join(Meeting, Meeting.id == Document.meeting_id)
        .outerjoin(DocumentRead, and_(DocumentRead.document_id == Document.id,
                                      DocumentRead.user_id == user.id))
        .where(Document.status == DocumentStatus.PUBLISHED,
               Meeting.status != MeetingStatus.CANCELLED,
               Document.secrecy.in_(levels),
               or_(DocumentRead.id.is_(None), DocumentRead.version_number < current))
        .options(_versions_light())
        .order_by(urgency_rank.desc(), Document.published_at.desc(), Document.id.desc())
    )
    if not is_staff(user):
        mine = select(Participant.meeting_id).where(or_(
            Participant.user_id == user.id,
            and_(Participant.deputy_id == user.id, Participant.deputy_status == DeputyStatus.APPROVED)))
        stmt = stmt.where(Document.meeting_id.in_(mine))
    # The SQL narrows the search; the access rule itself stays the one in meetings.access.
    return [d for d in db.session.scalars(stmt) if can_see_meeting(user, d.meeting)]


@dataclass
class Content:
    """What a route sends: a file on disk (``path``) or an open binary file (``stream``).

    Plain values only: the route must not touch the database while the file streams out.
    """

    document_id: int
    version_number: int
    filename: str
    media_type: str
    size: int
    as_attachment: bool
    watermarked: bool
    path: Path | None = None
    stream: BinaryIO | None = None


def _served_name(version: DocumentVersion, *, pdf: bool) -> str:
    name = version.original_filename or "document"
    if pdf:
        stem = name.rsplit(".", 1)[0] if "." in name else name
        name = f"{stem or 'document'}.pdf"
    return name


def attach_file(content: Content, sha: str, mark: Watermark | None) -> None:
    """Put the file to send into ``content``: a copy watermarked for the reader (a temporary file,
    never linked on disk), or the stored file itself. Call it with no transaction open: drawing
    the watermark takes a while (see :func:`end_read_transaction`)."""
    store = blob_store()
    if mark is not None:
        out = tempfile.TemporaryFile()  # noqa: SIM115 (closed by the response)
        try:
            with store.as_local_file(sha) as source:
                watermark_pdf(source, out, mark)
            content.size = out.tell()
            out.seek(0)
        except BaseException:
            out.close()
            raise
        content.stream = out
    else:
        content.path = store.local_path(sha)
        if content.path is None:
            content.stream = store.open(sha)
        content.size = store.size(sha)


def mark_for(user: User, document) -> Watermark:
    """The watermark of a classified document for its reader: stamp, name, organisation, time."""
    return reader_mark(user, SECRECY_STAMPS[document.secrecy_enum])


def end_read_transaction() -> None:
    """End the current (read-only) transaction before slow work: rendering, converting.

    On SQLite every transaction takes the write lock (``BEGIN IMMEDIATE``, see core/database.py),
    from the first query of the request (loading the user). Under gevent, WeasyPrint (through cffi's
    locks) and LibreOffice (a subprocess) let other greenlets run; one of them that then waits for
    the lock blocks the whole worker in SQLite's busy handler, and the holder can never finish:
    measured with 30 concurrent readers of a watermarked PDF, every request failed after 15 s with
    "database is locked". So no transaction is held across slow work; the writes that follow re-read
    what they need and check access again.
    """
    db.session.commit()


def _record_read(user: User, document_id: int, version_number: int) -> None:
    """Upsert the user's read mark (one row per user and document; two tabs at once are fine)."""
    now = utcnow()
    dialect = db.session.get_bind().dialect.name
    values = {"document_id": document_id, "user_id": user.id, "version_number": version_number,
              "first_read_at": now, "last_read_at": now}
    if dialect in ("postgresql", "sqlite"):
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert

            highest = func.greatest
        else:
            from sqlalchemy.dialects.sqlite import insert

            highest = func.max  # SQLite's two-argument max() is the greatest of its arguments
        stmt = insert(DocumentRead).values(**values)
        stmt = stmt.on_conflict_do_update(
            index_elements=[DocumentRead.document_id, DocumentRead.user_id],
            set_={"last_read_at": now,
                  "version_number": highest(stmt.excluded.version_number, DocumentRead.version_number)})
        db.session.execute(stmt)
        return
    read = db.session.scalars(select(DocumentRead).where(
        DocumentRead.document_id == document_id, DocumentRead.user_id == user.id)).first()
    if read is None:
        db.session.add(DocumentRead(**values))
    else:
        read.last_read_at = now
        read.version_number = max(read.version_number, version_number)


def open_content(user: User, document_id: int, *, download: bool = False, to_store: bool = False) -> Content:
    """Check access, prepare the file to send, audit the read and mark it read.

    ``to_store``: the PDF goes to the member's device for reading offline (the service worker asks
    for it when a meeting is made available offline), not before their eyes: it is audited as
    ``document.stored_offline`` and the document is not marked read.

    Viewing (``download=False``) gives the PDF inline. Downloading gives the original file (PDF or
    DOCX) as an attachment — except for classified documents, which are only ever served as the
    PDF with the viewer's watermark on every page (name, organisation, local time, secrecy stamp).
    Raises Conflict when there is no PDF to show (a DOCX that could not be converted).
    """
    document = get_document(user, document_id)
    version = document.current_version
    if version is None:  # cannot happen through this service; a clear error if data says otherwise
        raise Conflict(_("This document has no file."))
    classified = document.is_classified
    if download and not classified:
        sha, media_type, filename = version.blob_sha256, version.media_type, _served_name(version, pdf=False)
    else:
        if version.pdf_sha256 is None:
            raise Conflict(_("This document has no PDF version to show; download the original file."),
                           code="no_pdf")
        sha, media_type, filename = version.pdf_sha256, PDF_MEDIA_TYPE, _served_name(version, pdf=True)
    content = Content(document_id=document.id, version_number=version.number, filename=filename,
                      media_type=media_type, size=0, as_attachment=download, watermarked=classified)
    mark = mark_for(user, document) if classified else None
    end_read_transaction()
    attach_file(content, sha, mark)

    try:
        # Access is checked again in the transaction that records the read: a recall that landed
        # while the watermark was drawn wins.
        document = get_document(user, document_id)
        action = ("document.downloaded" if download else
                  "document.stored_offline" if to_store else "document.viewed")
        audit.record(action, actor=user, object_type="document", object_id=document.id,
                     details={"version": content.version_number, "sha256": sha, "secrecy": document.secrecy,
                              "watermarked": classified, "meeting_id": document.meeting_id})
        if action != "document.stored_offline":
            _record_read(user, document.id, content.version_number)
        db.session.commit()
    except BaseException:
        if content.stream is not None:
            content.stream.close()
        raise
    return content


# --- uploading -------------------------------------------------------------------------------


def _invalid(field: str, message: str, *, code: str | None = None) -> ValidationError:
    """A 422 naming the field at fault (the form shows the message next to it)."""
    return ValidationError(message, code=code, details={"fields": {field: message}})


def _max_upload() -> int:
    return int(current_app.config.get("MAX_CONTENT_LENGTH") or DEFAULT_MAX_UPLOAD)


def _too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(_("The file is larger than the limit of %(mb)s MB.",
                             mb=f"{limit / (1024 * 1024):.3g}"))


def safe_filename(filename: str | None) -> str:
    """A file name fit to store and to send back: no folders, no control characters, bounded."""
    name = unicodedata.normalize("NFC", filename or "")
    name = re.split(r"[\\/]", name)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip().strip(".")
    name = re.sub(r"\s+", " ", name)
    if len(name) > FILENAME_MAX:
        stem, dot, ext = name.rpartition(".")
        name = (stem[: FILENAME_MAX - len(ext) - 1] + dot + ext) if dot and len(ext) <= 10 \
            else name[:FILENAME_MAX]
    return name or "document"


def _with_extension(name: str, extension: str) -> str:
    stem, dot, ext = name.rpartition(".")
    if dot and ext.lower() == extension:
        return name
    return f"{stem if dot and len(ext) <= 10 else name}.{extension}"


def _sniff(path: Path) -> str | None:
    """``"pdf"``, ``"docx"`` or None, from the content (the name and the browser's type prove nothing)."""
    with open(path, "rb") as fh:
        head = fh.read(1024)
    if b"%PDF-" in head:
        return "pdf"
    if head.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(path) as archive:
                names = set(archive.namelist())
        except (zipfile.BadZipFile, OSError, ValueError):
            return None
        if "word/document.xml" in names and "[Content_Types].xml" in names:
            return "docx"
    return None


@dataclass
class PdfFacts:
    pages: int
    text: str


def _clean_text(text: str) -> str:
    # PostgreSQL stores neither NUL nor lone surrogates; some PDFs' text layers contain both.
    return text.replace("\x00", "").encode("utf-8", "ignore").decode("utf-8")


def inspect_pdf(path: Path) -> PdfFacts:
    """Open a PDF with pypdf: its page count and (capped) text; 422 when damaged or protected."""
    from pypdf import PdfReader

    try:
        reader = PdfReader(path, strict=False)
        encrypted = reader.is_encrypted
        if not encrypted:
            pages = list(reader.pages)
            for page in pages:
                box = page.mediabox
                if float(box.width) == 0 or float(box.height) == 0:
                    raise ValueError("empty page box")
    except Exception as exc:  # a parser of untrusted input fails in many ways: all mean "damaged"
        raise ValidationError(
            _("The PDF is damaged and cannot be opened. Save or export it again and upload the new file."),
            code="pdf_damaged", details={"fields": {"file": _("The PDF is damaged.")}}) from exc
    if encrypted:
        raise ValidationError(
            _("The PDF is password-protected; remove the protection and upload it again."),
            code="pdf_encrypted", details={"fields": {"file": _("The PDF is password-protected.")}})
    if not pages:
        raise ValidationError(_("The PDF has no pages."), code="pdf_damaged",
                              details={"fields": {"file": _("The PDF has no pages.")}})
    parts: list[str] = []
    total = 0
    started = time.monotonic()
    for page in pages:
        if total >= TEXT_MAX_CHARS or time.monotonic() - started > TEXT_MAX_SECONDS:
            break
        try:
            text = page.extract_text() or ""
        except Exception:  # noqa: S112 — an unreadable text layer is not a reason to refuse the file
            continue
        parts.append(text)
        total += len(text) + 1
    return PdfFacts(pages=len(pages), text=_clean_text("\n".join(parts))[:TEXT_MAX_CHARS])


_DOCX_TEXT_RE = re.compile(rb"<w:t(?:\s[^>]*)?>([^<]*)</w:t>|</w:p>")


def docx_text(path: Path) -> str:
    """The text of a DOCX for search, read with a bound on the decompressed size (zip bombs)."""
    try:
        with zipfile.ZipFile(path) as archive, archive.open("word/document.xml") as xml:
            data = xml.read(20 * 1024 * 1024)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError, RuntimeError):
        return ""
    words = []
    for match in _DOCX_TEXT_RE.finditer(data):
        words.append(match.group(1).decode("utf-8", "ignore") if match.group(1) is not None else "\n")
    return _clean_text(unescape("".join(words)))[:TEXT_MAX_CHARS]


def libreoffice() -> str | None:
    """The LibreOffice executable, if installed."""
    return shutil.which("libreoffice") or shutil.which("soffice")


@contextlib.contextmanager
def convert_docx(path: Path) -> Iterator[Path | None]:
    """Convert a DOCX to PDF with LibreOffice headless; yields the PDF's path, or None on failure.

    Each conversion runs in its own temp folder with its own LibreOffice profile (two conversions
    sharing a profile fail), in its own process group so a timeout kills the whole tree, and the
    folder is removed when the block ends.
    """
    exe = libreoffice()
    if exe is None:
        yield None
        return
    timeout = int(current_app.config.get("CABINET_CONVERT_TIMEOUT")
                  or os.environ.get("CABINET_CONVERT_TIMEOUT") or DEFAULT_CONVERT_TIMEOUT)
    with tempfile.TemporaryDirectory(prefix="cabinet-convert-") as tmp:
        work = Path(tmp)
        source = work / "document.docx"
        shutil.copyfile(path, source)
        outdir = work / "out"
        command = [exe, "--headless", "--norestore", "--nologo", "--nodefault", "--nolockcheck",
                   f"-env:UserInstallation={(work / 'profile').as_uri()}",
                   "--convert-to", "pdf", "--outdir", str(outdir), str(source)]
        env = {**os.environ, "HOME": str(work)}
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,  # noqa: S603
                                   env=env, start_new_session=True)
        try:
            _out, err = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
            current_app.logger.warning("LibreOffice conversion timed out after %s s", timeout)
            yield None
            return
        result = outdir / "document.pdf"
        if process.returncode != 0 or not result.is_file() or result.stat().st_size == 0:
            current_app.logger.warning("LibreOffice conversion failed (%s): %s", process.returncode,
                                       err.decode("utf-8", "replace")[-500:])
            yield None
            return
        yield result


def _ingest(stream: BinaryIO, filename: str | None, *, classified: bool, actor: User | None = None,
            what: str = "document") -> DocumentVersion:
    """Stream, check and keep an upload; returns an unsaved DocumentVersion (no number, no uploader).

    Runs outside any database transaction (it may take seconds: see :func:`end_read_transaction`).
    The virus scanner, when configured, sees the file before anything else reads it
    (:func:`cabinet.core.scanning.scan_file`; ``actor`` and ``what`` go to the audit trail).

    Raises ValidationError (wrong type, damaged or protected PDF, classified DOCX that cannot be
    converted, a virus), ScannerUnavailable (503) or PayloadTooLarge; in every failure case the temp
    files are gone and nothing was added to the store.
    """
    store: BlobStore = blob_store()
    limit = _max_upload()
    name = safe_filename(filename)
    try:
        with store.stage(stream, max_size=limit) as staged:
            if staged.size == 0:
                raise _invalid("file", _("The file is empty."))
            scan_file(staged.path, actor=actor, what=what, filename=name)
            kind = _sniff(staged.path)
            if kind == "pdf":
                facts = inspect_pdf(staged.path)
                store.commit(staged)
                return DocumentVersion(
                    original_filename=_with_extension(name, "pdf"), media_type=PDF_MEDIA_TYPE,
                    blob_sha256=staged.sha256, size=staged.size, pdf_sha256=staged.sha256,
                    page_count=facts.pages, text_content=facts.text, conversion_note="")
            if kind == "docx":
                return _ingest_docx(store, staged, _with_extension(name, "docx"), classified)
            message = _("Only PDF and Word (DOCX) files are accepted; this file is neither "
                        "(its content was checked, not its name).")
            raise _invalid("file", message, code="unsupported_type")
    except BlobTooLarge as exc:
        raise _too_large(exc.limit) from exc


ingest = _ingest  # public name: ballots keep their dossiers the same way


def _ingest_docx(store: BlobStore, staged, name: str, classified: bool) -> DocumentVersion:
    with convert_docx(staged.path) as pdf_path:
        if pdf_path is None:
            if classified:
                # D14: a classified document is only ever served watermarked, which needs a PDF.
                message = _("A classified document must be a PDF so that it can be watermarked, and this "
                            "DOCX file could not be converted on the server. Convert it to PDF and upload "
                            "the PDF.")
                raise _invalid("file", message, code="conversion_required")
            note = NOTE_CONVERSION_FAILED if libreoffice() else NOTE_NO_CONVERTER
            text = docx_text(staged.path)
            store.commit(staged)
            return DocumentVersion(
                original_filename=name, media_type=DOCX_MEDIA_TYPE, blob_sha256=staged.sha256,
                size=staged.size, pdf_sha256=None, page_count=None, text_content=text,
                conversion_note=note)
        facts = inspect_pdf(pdf_path)
        with open(pdf_path, "rb") as fh, store.stage(fh) as pdf_staged:
            store.commit(pdf_staged)
            pdf_sha = pdf_staged.sha256
    store.commit(staged)
    return DocumentVersion(
        original_filename=name, media_type=DOCX_MEDIA_TYPE, blob_sha256=staged.sha256, size=staged.size,
        pdf_sha256=pdf_sha, page_count=facts.pages, text_content=facts.text,
        conversion_note=NOTE_CONVERTED)


@dataclass
class _Metadata:
    title: str
    doc_type: str
    secrecy: str
    urgency: str
    agenda_item_id: int | None


def _agenda_item(meeting: Meeting, agenda_item_id: int | None) -> AgendaItem | None:
    if agenda_item_id in (None, "", 0):
        return None
    for item in meeting.agenda_items:
        if item.id == agenda_item_id:
            return item
    raise _invalid("agenda_item_id", _("This agenda item is not part of the meeting."))


def _clean_metadata(actor: User, meeting: Meeting, *, title, doc_type, secrecy, urgency,
                    agenda_item_id) -> _Metadata:
    errors: dict[str, str] = {}
    title = unicodedata.normalize("NFC", (title or "").strip())
    if not title:
        errors["title"] = _("Give the document a title.")
    elif len(title) > TITLE_MAX:
        errors["title"] = _("At most %(max)d characters.", max=TITLE_MAX)
    if doc_type not in {t.value for t in DocType}:
        errors["doc_type"] = _("Choose a document type from the list.")
    if secrecy not in {c.value for c in Clearance}:
        errors["secrecy"] = _("Choose a secrecy level from the list.")
    elif not cleared_for(actor, secrecy):
        # The uploader handles the file: their own clearance must cover it (D14 applies to staff).
        errors["secrecy"] = _("Your clearance does not cover this secrecy level.")
    if urgency not in {u.value for u in Urgency}:
        errors["urgency"] = _("Choose an urgency from the list.")
    item_id = None
    if agenda_item_id not in (None, "", 0):
        try:
            item_id = _agenda_item(meeting, int(agenda_item_id)).id
        except (TypeError, ValueError):
            errors["agenda_item_id"] = _("This agenda item is not part of the meeting.")
        except ValidationError as exc:
            errors["agenda_item_id"] = exc.details["fields"]["agenda_item_id"]
    if errors:
        raise ValidationError(_("Some fields are missing or not valid."), details={"fields": errors})
    return _Metadata(title, doc_type, secrecy, urgency, item_id)


def _refuse_if_cancelled(meeting: Meeting) -> None:
    if meeting.is_cancelled:
        raise ValidationError(_("This meeting was cancelled: documents can no longer be added or published."),
                              code="meeting_cancelled")


def upload_document(actor: User, meeting_id: int, *, title: str, doc_type: str, secrecy: str,
                    urgency: str, agenda_item_id: int | None, stream: BinaryIO,
                    filename: str | None) -> Document:
    """Upload a new document (a draft) to a meeting, or to one of its agenda items. Staff only.

    The file is checked by content: a PDF (not damaged, not password-protected) or a DOCX,
    converted to PDF when LibreOffice is installed (otherwise kept as a download, with a notice;
    a classified DOCX must be convertible). 422 on a wrong type or invalid fields, 413 past the
    size limit (``MAX_CONTENT_LENGTH``).
    """
    require_staff(actor)
    meeting = get_meeting(actor, meeting_id)
    _refuse_if_cancelled(meeting)
    meta = _clean_metadata(actor, meeting, title=title, doc_type=doc_type, secrecy=secrecy,
                           urgency=urgency, agenda_item_id=agenda_item_id)
    throttle_upload(actor)
    end_read_transaction()
    version = _ingest(stream, filename, classified=meta.secrecy != Clearance.NONE, actor=actor)

    # The meeting may have changed while the file was checked and converted: look again.
    require_staff(actor)
    meeting = get_meeting(actor, meeting_id)
    _refuse_if_cancelled(meeting)
    _agenda_item(meeting, meta.agenda_item_id)
    version.number = 1
    version.uploaded_by_id = actor.id
    document = Document(meeting_id=meeting.id, agenda_item_id=meta.agenda_item_id, title=meta.title,
                        doc_type=meta.doc_type, secrecy=meta.secrecy, urgency=meta.urgency,
                        status=DocumentStatus.DRAFT.value, created_by_id=actor.id)
    document.versions.append(version)
    db.session.add(document)
    db.session.flush()
    audit.record("document.uploaded", actor=actor, object_type="document", object_id=document.id,
                 details={"meeting_id": meeting.id, "agenda_item_id": meta.agenda_item_id,
                          "title": meta.title, "doc_type": meta.doc_type, "secrecy": meta.secrecy,
                          "urgency": meta.urgency, "version": 1, **_version_facts(version)})
    db.session.commit()
    return document


def _version_facts(version: DocumentVersion) -> dict:
    return {"filename": version.original_filename, "media_type": version.media_type,
            "sha256": version.blob_sha256, "size": version.size, "pdf_sha256": version.pdf_sha256,
            "pages": version.page_count, "conversion": version.conversion_note or None}


def add_version(actor: User, document_id: int, *, stream: BinaryIO, filename: str | None) -> DocumentVersion:
    """Upload a new version of a document; earlier versions are kept, the new one becomes current.

    Staff only; not for recalled documents (409) nor in cancelled meetings (422). Readers of a
    published document see the new version at once, marked unread.
    """

    def check() -> Document:
        require_staff(actor)
        document = get_document(actor, document_id)
        _refuse_if_cancelled(document.meeting)
        if document.status == DocumentStatus.RECALLED:
            raise Conflict(_("This document was recalled; it can no longer be changed."), code="recalled")
        return document

    classified = check().is_classified
    throttle_upload(actor)
    end_read_transaction()
    version = _ingest(stream, filename, classified=classified, actor=actor)
    document = check()  # again: it may have been recalled while the file was converted
    current = db.session.scalar(select(func.max(DocumentVersion.number))
                                .where(DocumentVersion.document_id == document.id)) or 0
    version.number = current + 1
    version.document_id = document.id
    version.uploaded_by_id = actor.id
    db.session.add(version)
    document.updated_at = utcnow()
    try:
        db.session.flush()
    except IntegrityError as exc:  # someone else added a version at the same moment
        db.session.rollback()
        raise Conflict(_("Someone else uploaded a version at the same moment. Reload the page and "
                         "try again.")) from exc
    audit.record("document.version_added", actor=actor, object_type="document", object_id=document.id,
                 details={"version": version.number, **_version_facts(version)})
    db.session.commit()
    return version


# --- distribution ----------------------------------------------------------------------------


def _publish(actor: User, document: Document, *, bulk: bool) -> None:
    meeting = document.meeting
    now = utcnow()
    deadline = rules().dossier_deadline(meeting.starts_at)
    document.status = DocumentStatus.PUBLISHED.value
    document.published_at = now
    document.published_by_id = actor.id
    document.published_late = now > deadline
    audit.record("document.published", actor=actor, object_type="document", object_id=document.id,
                 details={"meeting_id": meeting.id, "version": document.current_version.number,
                          "late": document.published_late, "deadline": deadline.isoformat(),
                          "bulk": bulk})


def publish(actor: User, document_id: int) -> Document:
    """Distribute a draft to the meeting's participants. Staff only.

    Late (after the D8 deadline: ``rules().dossier_deadline``) is recorded on the document.
    422 in a cancelled meeting; 409 when the document is not a draft.
    """
    require_staff(actor)
    document = get_document(actor, document_id)
    _refuse_if_cancelled(document.meeting)
    db.session.refresh(document, ["status"], with_for_update=True)
    if document.status == DocumentStatus.PUBLISHED:
        raise Conflict(_("This document is already published."), code="already_published")
    if document.status == DocumentStatus.RECALLED:
        raise Conflict(_("This document was recalled; it cannot be published again. Upload it again "
                         "as a new document if needed."), code="recalled")
    _publish(actor, document, bulk=False)
    db.session.commit()
    signals.documents_published.send(actor, meeting_id=document.meeting_id, document_ids=[document.id])
    return document


def publish_meeting(actor: User, meeting_id: int, agenda_item_id: int | None = None) -> list[Document]:
    """Publish every draft of a meeting (or of one of its agenda items) at once. Staff only.

    Only the drafts the acting person is cleared for are published: nobody distributes what they
    may not read. Returns the documents published (possibly none).
    """
    require_staff(actor)
    meeting = get_meeting(actor, meeting_id)
    _refuse_if_cancelled(meeting)
    item = _agenda_item(meeting, agenda_item_id)
    stmt = (select(Document).where(Document.meeting_id == meeting.id,
                                   Document.status == DocumentStatus.DRAFT)
            .options(_versions_light()).order_by(Document.id).with_for_update())
    if item is not None:
        stmt = stmt.where(Document.agenda_item_id == item.id)
    documents = [d for d in db.session.scalars(stmt) if cleared_for(actor, d.secrecy)]
    for document in documents:
        _publish(actor, document, bulk=True)
    db.session.commit()
    if documents:
        signals.documents_published.send(actor, meeting_id=meeting.id,
                                         document_ids=[d.id for d in documents])
    return documents


def recall(actor: User, document_id: int, reason: str = "") -> Document:
    """Recall (thu hồi) a document: from now on only the secretariat can open it. Staff only.

    Works in cancelled meetings too (that is when it matters). 409 if already recalled.
    """
    require_staff(actor)
    document = get_document(actor, document_id)
    reason = unicodedata.normalize("NFC", (reason or "").strip())
    if len(reason) > REASON_MAX:
        raise _invalid("reason", _("At most %(max)d characters.", max=REASON_MAX))
    db.session.refresh(document, ["status"], with_for_update=True)
    if document.status == DocumentStatus.RECALLED:
        raise Conflict(_("This document is already recalled."), code="already_recalled")
    previous = document.status
    document.status = DocumentStatus.RECALLED.value
    document.recalled_at = utcnow()
    document.recalled_by_id = actor.id
    document.recall_reason = reason
    audit.record("document.recalled", actor=actor, object_type="document", object_id=document.id,
                 details={"meeting_id": document.meeting_id, "reason": reason, "previous_status": previous})
    db.session.commit()
    signals.document_recalled.send(actor, meeting_id=document.meeting_id, document_id=document.id)
    return document


def dossier_deadline(meeting: Meeting):
    """The D8 deadline for a meeting's documents (shown on the pages with its basis)."""
    return rules().dossier_deadline(meeting.starts_at)


def people(document: Document) -> dict[str, User | None]:
    """Who uploaded, published and recalled the document (for its page)."""
    ids = {document.created_by_id, document.published_by_id, document.recalled_by_id} - {None}
    users = {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(ids)))} if ids else {}
    return {"created_by": users.get(document.created_by_id),
            "published_by": users.get(document.published_by_id),
            "recalled_by": users.get(document.recalled_by_id)}
