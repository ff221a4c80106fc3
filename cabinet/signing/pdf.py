"""Signing and verifying PDF documents (PAdES, with pyHanko) — D11, D19.

* :func:`sign_pdf` adds one PAdES signature as an *incremental update*: the bytes signed before
  stay byte-exact, so the secretary's signature survives the chair's (and the organisation's).
  Each signature has a visible stamp on the last page, in the signature block of D18 (the
  secretary left, the chair right), written in TeX Gyre Termes (a Times metric twin with every
  Vietnamese letter, vendored in ``static/fonts/``; Liberation Serif is mis-scaled by pyHanko's
  stamp renderer).
* :func:`verify_pdf` reports, per signature: who signed and when, whether the signed bytes are
  intact, whether the certificate chains to a trusted root, and whether the document was changed
  after that signature in any way other than adding later signatures. It never relies on pyHanko's
  ``valid`` alone, which stays true on a tampered file.

These are plain functions on bytes: no database, no request. The minutes service decides who may
sign what and when, stores the result and writes the audit trail.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

from asn1crypto import x509 as asn1_x509
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.font.opentype import GlyphAccumulatorFactory
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.layout import AxisAlignment, InnerScaling, Margins, SimpleBoxLayoutRule
from pyhanko.pdf_utils.metadata.model import VENDOR
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.pdf_utils.text import TextBoxStyle
from pyhanko.sign import fields, signers, timestamps
from pyhanko.sign.diff_analysis import ModificationLevel
from pyhanko.sign.general import SigningError as PyHankoSigningError
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.status import SignatureCoverageLevel
from pyhanko.stamp import TextStampStyle
from pyhanko_certvalidator import ValidationContext

from cabinet.core.errors import Conflict, ValidationError
from cabinet.signing.pki import subject_fields

PROJECT_ROOT = Path(__file__).resolve().parent.parent.parent
STAMP_FONT = PROJECT_ROOT / "static" / "fonts" / "texgyretermes-regular.otf"
STAMP_FONT_SIZE = 9  # pt: the font and the text box must be given the same size
STAMP_LEADING = 11
DEFAULT_TIMEZONE = "Asia/Ho_Chi_Minh"
TSA_TIMEOUT = 10  # seconds

SECRETARY_FIELD = "ThuKy"
CHAIR_FIELD = "ChuToa"
ORGANISATION_FIELD = "CoQuan"

# Where each signature's stamp goes on the last page, in PDF points from the bottom-left corner of
# an A4 page (595 × 842). D18: the signature blocks sit under the text, THƯ KÝ left, CHỦ TỌA right;
# the text area runs from 30 mm (85 pt) to 15 mm (42.5 pt) from the right edge, so the two columns
# centre on x ≈ 202 and x ≈ 436. The minutes template leaves this band empty between each block's
# title and the signer's printed name; the organisation's seal-signature goes under the chair's.
STAMP_SIZE = (210, 50)
SIGNATURE_BOXES: dict[str, tuple[float, float, float, float]] = {
    SECRETARY_FIELD: (97, 150, 97 + STAMP_SIZE[0], 150 + STAMP_SIZE[1]),
    CHAIR_FIELD: (331, 150, 331 + STAMP_SIZE[0], 150 + STAMP_SIZE[1]),
    ORGANISATION_FIELD: (331, 92, 331 + STAMP_SIZE[0], 92 + STAMP_SIZE[1]),
}

SIGNATURE_ANCHOR_PREFIX = "signature-"  # HTML id of the blank space left for a stamp


@dataclass(frozen=True)
class SignaturePlace:
    """Where a signature's stamp goes: a page (0-based) and a box in PDF points from the page's
    bottom-left corner."""

    page: int
    box: tuple[float, float, float, float]


def signature_places(document) -> dict[str, SignaturePlace]:
    """The stamp positions a rendered WeasyPrint ``document`` leaves, by field name.

    The template leaves, in each signature block between the title (THƯ KÝ, CHỦ TỌA) and the
    printed name, an empty element with the id ``signature-<field>`` (``signature-ThuKy``) sized
    like the stamp (:data:`STAMP_SIZE`, in pt); WeasyPrint reports each id's box, which is turned
    into PDF coordinates here. Pass ``place.page`` and ``place.box`` to :func:`sign_pdf`. Fields
    the template does not place fall back to :data:`SIGNATURE_BOXES` on the last page.
    """
    places = {}
    for number, page in enumerate(document.pages):
        scale = 0.75  # CSS px → pt
        for anchor, (x1, y1, x2, y2) in page.anchors.items():
            if anchor.startswith(SIGNATURE_ANCHOR_PREFIX):
                height = page.height * scale
                places[anchor.removeprefix(SIGNATURE_ANCHOR_PREFIX)] = SignaturePlace(
                    number, (round(x1 * scale, 2), round(height - y2 * scale, 2),
                             round(x2 * scale, 2), round(height - y1 * scale, 2)))
    return places


# pyHanko warns on every stamp that TeX Gyre Termes (a CFF font) has no CID registry entry and
# assumes the identity mapping: that is the right mapping for it, so the warning is noise.
logging.getLogger("pyhanko.pdf_utils.font.opentype").setLevel(logging.ERROR)


class SignatureError(Conflict):
    """The document cannot be signed as asked (the field is already signed, the PDF is damaged…)."""

    code = "signature_refused"


# --- signing -----------------------------------------------------------------------------------------


@cache
def _stamp_font() -> GlyphAccumulatorFactory:
    # Parsed once per process; each signature embeds its own subset.
    return GlyphAccumulatorFactory(str(STAMP_FONT), font_size=STAMP_FONT_SIZE)


def _stamp_style(lines: Sequence[str]) -> TextStampStyle:
    # The stamp text is a %-template in pyHanko: escape any '%' of the caller's text.
    text = "\n".join(line.replace("%", "%%") for line in lines)
    return TextStampStyle(
        stamp_text=text,
        text_box_style=TextBoxStyle(font=_stamp_font(), font_size=STAMP_FONT_SIZE, leading=STAMP_LEADING),
        border_width=1,
        background=None,
        # Keep the text at its size, left-aligned and vertically centred: never scaled to the box.
        inner_content_layout=SimpleBoxLayoutRule(
            x_align=AxisAlignment.ALIGN_MIN, y_align=AxisAlignment.ALIGN_MID,
            margins=Margins(left=6, right=4), inner_content_scaling=InnerScaling.SHRINK_TO_FIT),
    )


def hanoi_time(moment: datetime | None = None, tz: str = DEFAULT_TIMEZONE) -> datetime:
    """``moment`` (default: now) in the configured zone (Hà Nội time by default)."""
    moment = moment or datetime.now(UTC)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(ZoneInfo(tz))


def stamp_lines(name: str, title: str = "", organisation: str = "", *, at: datetime | None = None,
                tz: str = DEFAULT_TIMEZONE) -> list[str]:
    """The text of a visible signature: who signed, as what, and when (local time, D19).

    ``["Ký số bởi: Trần Thị Thu Hà", "Thư ký phiên họp, Văn phòng Chính phủ",
    "Thời gian: 14:05:09 ngày 05/03/2026 (GMT+7)"]``. Legal text: not translated.
    """
    local = hanoi_time(at, tz)
    offset = local.utcoffset()
    hours = int(offset.total_seconds() // 3600) if offset is not None else 0
    lines = [f"Ký số bởi: {name}"]
    # "Thủ tướng Chính phủ, Chính phủ" says the organ twice: keep the title alone then.
    if organisation and organisation.casefold() in title.casefold():
        organisation = ""
    role = ", ".join(part for part in (title, organisation) if part)
    if role:
        lines.append(role)
    lines.append(f"Thời gian: {local:%H:%M:%S} ngày {local:%d/%m/%Y} (GMT{hours:+d})")
    return lines


def signer_stamp_lines(signer: signers.Signer, *, at: datetime | None = None,
                       tz: str = DEFAULT_TIMEZONE) -> list[str]:
    """:func:`stamp_lines` for the person (or organisation) named in the signer's certificate."""
    subject = subject_fields(signer.signing_cert)
    return stamp_lines(subject.get("common_name", ""), subject.get("title", ""),
                       subject.get("organization_name", ""), at=at, tz=tz)


def _align_producer(writer: IncrementalPdfFileWriter) -> None:
    """Keep PDF/A's rule that the document info agrees with the XMP metadata.

    pyHanko writes ``pdf:Producer="pyHanko x.y"`` into the XMP but *appends* "; pyHanko x.y" to
    the info dictionary's Producer ("WeasyPrint 70.0; pyHanko 0.38.0"): the two would differ.
    Setting the info's Producer to pyHanko's own string first makes pyHanko leave it alone.
    """
    info_ref = writer.trailer.raw_get("/Info") if "/Info" in writer.trailer else None
    if "/Metadata" not in writer.root or not isinstance(info_ref, generic.IndirectObject):
        return
    info = info_ref.get_object()
    if info.get("/Producer") != VENDOR:
        info["/Producer"] = generic.TextStringObject(VENDOR)
        writer.mark_update(info_ref)


def sign_pdf(pdf_bytes: bytes, signer: signers.Signer, *, field_name: str,
             stamp_text_lines: Sequence[str], timestamp_url: str | None = None,
             box: tuple[float, float, float, float] | None = None, page: int = -1,
             reason: str | None = None, location: str = "Hà Nội") -> bytes:
    """Return ``pdf_bytes`` with one more PAdES signature, in the field ``field_name``.

    The signature is an incremental update: earlier signatures stay valid. The field is created
    on ``page`` (default: the last) at ``box`` (default: :data:`SIGNATURE_BOXES` for the field's
    name) with a visible stamp showing ``stamp_text_lines``. ``timestamp_url`` adds an RFC 3161
    time-stamp from that server (``CABINET_TSA_URL``); ``None`` signs without one (the signing
    time is then the server's clock, as stated in the signature).

    Raises :class:`SignatureError` when the field is already signed or the file is not a PDF
    pyHanko can update.
    """
    if box is None:
        try:
            box = SIGNATURE_BOXES[field_name]
        except KeyError:
            raise ValidationError(f"No default position for the signature field {field_name!r}: "
                                  "give a box.") from None
    try:
        writer = IncrementalPdfFileWriter(io.BytesIO(pdf_bytes), strict=False)
    except (PdfError, ValueError) as exc:
        raise SignatureError(f"Not a PDF that can be signed: {exc}") from exc
    _align_producer(writer)
    meta = signers.PdfSignatureMetadata(
        field_name=field_name, subfilter=fields.SigSeedSubFilter.PADES, md_algorithm="sha256",
        reason=reason, location=location)
    pdf_signer = signers.PdfSigner(
        meta, signer=signer, stamp_style=_stamp_style(stamp_text_lines),
        timestamper=timestamps.HTTPTimeStamper(timestamp_url, timeout=TSA_TIMEOUT) if timestamp_url else None,
        new_field_spec=fields.SigFieldSpec(sig_field_name=field_name, on_page=page, box=box))
    output = io.BytesIO()
    try:
        pdf_signer.sign_pdf(writer, output=output)
    except PyHankoSigningError as exc:
        raise SignatureError(f"Cannot sign the field {field_name!r}: {exc}") from exc
    return output.getvalue()


# --- verifying ---------------------------------------------------------------------------------------

# What a later revision may do without the earlier signature's document counting as modified:
# add or fill signature fields (pyHanko's FORM_FILLING level), or add validation data.
_ALLOWED_LATER = (ModificationLevel.NONE, ModificationLevel.LTA_UPDATES, ModificationLevel.FORM_FILLING)


@dataclass(frozen=True)
class SignatureReport:
    """What can be said about one signature of a PDF."""

    field_name: str
    signer_name: str  # the certificate's CN
    signer_title: str
    signer_organisation: str
    issuer_name: str
    signing_time: datetime | None  # as stated by the signer (UTC), or the time-stamp's
    timestamped: bool  # an RFC 3161 time-stamp vouches for the time
    intact: bool  # the signed bytes are unchanged
    valid: bool  # the cryptographic signature checks out (meaningless without ``intact``)
    trusted: bool  # the certificate chains to a trust root and is fit for signing
    modified_after: bool  # the document changed after this signature (beyond later signatures)
    later_revisions: int  # incremental updates after the signed one (later signatures count)
    coverage: str  # pyHanko's coverage level: ENTIRE_FILE, ENTIRE_REVISION …
    modification_level: str | None  # pyHanko: NONE, FORM_FILLING, ANNOTATIONS, OTHER
    summary_vi: str
    summary_en: str

    @property
    def ok(self) -> bool:
        """Intact, valid, trusted and nothing but later signatures added since."""
        return self.intact and self.valid and self.trusted and not self.modified_after

    def to_dict(self) -> dict:
        data = asdict(self)
        data["signing_time"] = self.signing_time.isoformat() if self.signing_time else None
        data["ok"] = self.ok
        return data


def _summaries(name: str, when: datetime | None, timestamped: bool, intact: bool, trusted: bool,
               modified_after: bool, later_signatures: int, tz: str) -> tuple[str, str]:
    local = hanoi_time(when, tz) if when else None
    at_vi = f" lúc {local:%H:%M:%S} ngày {local:%d/%m/%Y}" if local else ""
    at_en = f" at {local:%H:%M:%S} on {local:%d/%m/%Y}" if local else ""
    if local:
        at_vi += " (theo dấu thời gian)" if timestamped else " (theo đồng hồ máy ký)"
        at_en += " (time-stamped)" if timestamped else " (signer's clock)"
    vi = [f"Chữ ký của {name}{at_vi}:"]
    en = [f"Signature of {name}{at_en}:"]
    if intact:
        vi.append("nội dung đã ký nguyên vẹn;")
        en.append("the signed content is intact;")
    else:
        vi.append("KHÔNG nguyên vẹn — nội dung đã ký bị thay đổi;")
        en.append("NOT intact — the signed content was altered;")
    if trusted:
        vi.append("chứng thư số hợp lệ, do tổ chức tin cậy cấp;")
        en.append("the certificate is valid and issued by a trusted authority;")
    else:
        vi.append("chứng thư số KHÔNG được tin cậy;")
        en.append("the certificate is NOT trusted;")
    if modified_after:
        vi.append("tài liệu ĐÃ bị sửa đổi sau khi ký.")
        en.append("the document WAS modified after signing.")
    elif later_signatures:
        vi.append(f"sau khi ký chỉ có thêm {later_signatures} chữ ký.")
        en.append(f"only {later_signatures} later signature(s) added since.")
    else:
        vi.append("tài liệu không thay đổi sau khi ký.")
        en.append("the document is unchanged since.")
    return " ".join(vi), " ".join(en)


def verify_pdf(pdf_bytes: bytes, trust_roots: Iterable[asn1_x509.Certificate], *,
               tz: str = DEFAULT_TIMEZONE) -> list[SignatureReport]:
    """Validate every signature of a PDF against ``trust_roots``; one report per signature, in
    signing order. An unsigned or unreadable PDF gives an empty list (unreadable raises
    :class:`ValidationError`).

    No network access: certificates are not fetched and revocation is not checked online
    (the closed network has no OCSP responder; a configured TSA is the only outside service).
    """
    try:
        reader = PdfFileReader(io.BytesIO(pdf_bytes), strict=False)
        signatures = list(reader.embedded_signatures)
    except (PdfError, ValueError) as exc:
        raise ValidationError(f"Not a readable PDF: {exc}") from exc
    roots = list(trust_roots)
    total_revisions = reader.xrefs.total_revisions
    signed_revisions = {s.signed_revision for s in signatures}
    reports = []
    for sig in signatures:
        context = ValidationContext(trust_roots=roots, allow_fetching=False, revocation_mode="soft-fail")
        status = validate_pdf_signature(sig, signer_validation_context=context)
        later = range(sig.signed_revision + 1, total_revisions)
        unsigned_later = [r for r in later if r not in signed_revisions]
        level = status.modification_level
        modified_after = bool(
            unsigned_later
            or status.coverage is None
            or status.coverage < SignatureCoverageLevel.ENTIRE_REVISION
            or (level is not None and level not in _ALLOWED_LATER)
            or status.docmdp_ok is False
        )
        subject = subject_fields(sig.signer_cert)
        timestamp = status.timestamp_validity
        when = timestamp.timestamp if timestamp is not None else status.signer_reported_dt
        when = when.astimezone(UTC) if when else None
        name = subject.get("common_name", "")
        trusted = bool(status.trusted) and (timestamp is None or bool(timestamp.trusted))
        vi, en = _summaries(name, when, timestamp is not None, status.intact, trusted, modified_after,
                            len(later) - len(unsigned_later), tz)
        reports.append(SignatureReport(
            field_name=sig.field_name, signer_name=name, signer_title=subject.get("title", ""),
            signer_organisation=subject.get("organization_name", ""),
            issuer_name=str(sig.signer_cert.issuer.native.get("common_name", "")),
            signing_time=when, timestamped=timestamp is not None, intact=bool(status.intact),
            valid=bool(status.valid), trusted=trusted, modified_after=modified_after,
            later_revisions=len(later),
            coverage=status.coverage.name if status.coverage is not None else "NONE",
            modification_level=level.name if level is not None else None,
            summary_vi=vi, summary_en=en))
    return reports


def all_signatures_ok(reports: Sequence[SignatureReport]) -> bool:
    """At least one signature, every one intact and trusted, nothing changed after the last."""
    return bool(reports) and all(r.ok for r in reports)
