"""The printed minutes (Biên bản, Mẫu 1.9 of Nghị định 30/2020) and the conclusion notice (D11, D14,
D17, D18, D19), read back as a reader, an archive or a signing step would: the PDF's text through
poppler's ``pdftotext``, its fonts through ``pdffonts``, its XMP through pypdf, the DOCX through
python-docx and LibreOffice. Built from hand-made snapshots: no database."""

from __future__ import annotations

import dataclasses
import io
import re
import shutil
import subprocess
import unicodedata
from html.parser import HTMLParser
from pathlib import Path

import docx
import flask
import pytest
from docx.shared import Mm
from pypdf import PdfReader

from cabinet.documents import service as document_service
from cabinet.minutes import documents, richtext
from cabinet.minutes.content import (
    Header,
    ItemRecord,
    MinutesData,
    NoticeData,
    NoticeItem,
    PersonLine,
    VoteLine,
)
from cabinet.signing import pdf as signing
from tests.conftest import needs

POPPLER = shutil.which("pdftotext") is not None and shutil.which("pdffonts") is not None
needs_poppler = needs(POPPLER, "poppler-utils (.ci/lib.sh installs it)")

DECREE = "Dự thảo Nghị định quy định về thẩm định giá và ủy quyền phê duyệt giá đất cụ thể"
DECISION = "Dự thảo Quyết định phê duyệt Đề án chuyển đổi số quốc gia giai đoạn 2026 - 2030"
RESULT = "Thông qua: 24/27 thành viên Chính phủ tán thành (cần ít nhất 14; Điều 45 Quy chế làm việc)."
DEPUTY = PersonLine("Ngô Xuân Trường", "Thứ trưởng Bộ Y tế", "dự thay Bộ trưởng Đào Hồng Lan")
NAMES = ["Nguyễn Văn Hùng", "Trần Thị Lan", "Lê Quốc Việt", "Phạm Minh Tuấn", "Hoàng Thị Ngọc Diệp",
         "Vũ Đức Thắng", "Võ Hữu Phúc", "Đặng Thị Mai Anh", "Bùi Công Danh", "Đỗ Quang Vinh",
         "Hồ Xuân Trường", "Ngô Thị Hồng Nhung", "Dương Đăng Khoa", "Lý Văn Hùng", "Phan Thị Ngọc Diệp",
         "Trịnh Quốc Việt", "Đinh Minh Tuấn", "Lương Đức Thắng", "Tạ Hữu Phúc", "Châu Thị Mai Anh",
         "Mạc Công Danh", "Kiều Quang Vinh", "Tôn Nữ Thị Hồng Nhung", "Âu Đăng Khoa", "Phùng Văn Hùng",
         "Khổng Thị Lan", "Thân Quốc Việt"]
DISCUSSION = ("<p>Bộ trưởng Bộ Tư pháp báo cáo kết quả <strong>thẩm định</strong>; các thành viên Chính phủ "
              "đề nghị làm rõ cơ chế <em>ủy quyền</em> cho Ủy ban nhân dân cấp tỉnh.</p>"
              "<ul><li>Rà soát Điều 5 về giá đất cụ thể;</li><li>Bổ sung quy định chuyển tiếp.</li></ul>")
CONCLUSION = ("<p>Thủ tướng Chính phủ kết luận: thống nhất thông qua; giao Bộ Tư pháp hoàn thiện, trình ký "
              "ban hành trước ngày 15 tháng 4 năm 2026.</p>")
LONG_PARAGRAPH = ("<p>Các thành viên Chính phủ thảo luận kỹ từng nội dung của dự thảo Nghị định, đánh "
                  "giá tác động đến ngân sách nhà nước, quyền và lợi ích hợp pháp của người dân, doanh "
                  "nghiệp; đề nghị cơ quan chủ trì tiếp thu, giải trình đầy đủ ý kiến thẩm định.</p>")


def vote(voters: int = 27) -> VoteLine:
    choices = ["Tán thành" if i % 9 else "Không tán thành" for i in range(voters)]
    return VoteLine(question=f"Thông qua {DECREE[8:]}?", secret=False,
                    counts=(("Tán thành", choices.count("Tán thành")),
                            ("Không tán thành", choices.count("Không tán thành")), ("Không biểu quyết", 0)),
                    voted=voters, result=RESULT, voters=tuple(zip(NAMES[:voters], choices, strict=True)))


def minutes(*, discussion: str = DISCUSSION, draft: bool = False, secrecy: str = "",
            correction_note: str = "") -> MinutesData:
    present = tuple(PersonLine(name, "Bộ trưởng Bộ Tư pháp" if i == 4 else "Bộ trưởng") for i, name in
                    enumerate(NAMES[:25]))
    return MinutesData(
        header=Header("CHÍNH PHỦ", "Số: 12/BB-CP", "Hà Nội, ngày 05 tháng 3 năm 2026"),
        subtitle="Phiên họp Chính phủ thường kỳ tháng 3 năm 2026", version=2, draft=draft,
        correction_note=correction_note, secrecy=secrecy, started="08 giờ 30, ngày 05 tháng 3 năm 2026",
        ended="11 giờ 45, ngày 05 tháng 3 năm 2026", place="Trụ sở Chính phủ, Hà Nội",
        chair=PersonLine("Phạm Quốc Hưng", "Thủ tướng Chính phủ"),
        secretary=PersonLine("Trần Thị Thu Hà", "Thư ký phiên họp"),
        present=present, absent=(PersonLine("Đào Hồng Lan", "Bộ trưởng Bộ Y tế", "đi công tác"),),
        deputies=(DEPUTY,), guests=(PersonLine("Đinh Thị Mai Anh", "Chủ nhiệm Văn phòng Quốc hội"),),
        quorum="Có mặt 25/27 thành viên Chính phủ, đủ hai phần ba tổng số thành viên (Điều 46).",
        opening_html="<p>Thủ tướng Chính phủ chủ trì phiên họp.</p>",
        items=(ItemRecord(1, DECREE, "Bộ Tư pháp; Bộ trưởng Hoàng Thị Ngọc Diệp trình bày",
                          ("Tờ trình số 12/TTr-BTP (Mật)",), "Đã kết luận", (vote(),), discussion,
                          CONCLUSION),
               ItemRecord(2, DECISION, "", (), "Hoãn sang phiên họp sau", (), "", "")),
        closing_html="<p>Các bộ, cơ quan khẩn trương triển khai nhiệm vụ được giao.</p>",
        secretary_name="Trần Thị Thu Hà", chair_name="Phạm Quốc Hưng")


def notice(**changes) -> NoticeData:
    data = NoticeData(
        header=Header("VĂN PHÒNG CHÍNH PHỦ", "Số: 45/TB-VPCP", "Hà Nội, ngày 06 tháng 3 năm 2026"),
        subtitle="Kết luận của Thủ tướng Chính phủ tại Phiên họp Chính phủ thường kỳ tháng 3 năm 2026",
        draft=False, secrecy="",
        introduction="Ngày 05 tháng 3 năm 2026, tại Hà Nội, Thủ tướng Chính phủ Phạm Quốc Hưng chủ trì "
                     "Phiên họp Chính phủ thường kỳ tháng 3 năm 2026.",
        items=(NoticeItem(1, DECREE, CONCLUSION),), signer_name="Lê Quốc Việt")
    return dataclasses.replace(data, **changes)


# --- reading the files back ---------------------------------------------------------------------------


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def squash(text: str) -> str:
    """Text compared without its line breaks and spacing (the PDF wraps lines anywhere)."""
    return re.sub(r"\s+", "", nfc(text))


def pdftotext(data: bytes, tmp_path: Path, *, page: int | None = None) -> str:
    source = tmp_path / "read.pdf"
    source.write_bytes(data)
    pages = ["-f", str(page), "-l", str(page)] if page else []
    return subprocess.run(["pdftotext", "-enc", "UTF-8", *pages, str(source), "-"], check=True,  # noqa: S607
                          capture_output=True, text=True).stdout


def assert_contains(text: str, *expected: str) -> None:
    flat = squash(text)
    for part in expected:
        assert squash(part) in flat, f"missing: {part!r}"


def words_on_page(data: bytes, page: int, tmp_path: Path) -> list[tuple[str, tuple[float, ...]]]:
    """Each word of a page (1-based) with its box (left, top, right, bottom) in points from the
    page's top-left corner."""
    source = tmp_path / "words.pdf"
    source.write_bytes(data)
    xhtml = subprocess.run(["pdftotext", "-bbox", "-f", str(page), "-l", str(page), str(source), "-"],  # noqa: S607
                           check=True, capture_output=True, text=True).stdout
    word = re.compile(r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)</word>')
    return [(nfc(m[5]), tuple(float(v) for v in m.groups()[:4])) for m in word.finditer(xhtml)]


def docx_text(data: bytes) -> str:
    document = docx.Document(io.BytesIO(data))
    parts = [p.text for p in document.paragraphs]
    for table in document.tables:
        for row in table.rows:
            for cell in row.cells:
                parts.extend(p.text for p in cell.paragraphs)
    return "\n".join(parts)


@pytest.fixture(scope="module")
def rendered() -> tuple[bytes, dict[str, signing.SignaturePlace]]:
    return documents.minutes_pdf(minutes())


# --- the minutes as PDF/A ----------------------------------------------------------------------------


@needs_poppler
def test_the_minutes_read_back_with_the_national_header_the_items_and_the_vote_results_in_vietnamese(
        rendered, tmp_path):
    text = pdftotext(rendered[0], tmp_path)
    assert unicodedata.is_normalized("NFC", text), "letters with stacked diacritics came out decomposed"
    assert_contains(text, "CHÍNH PHỦ", "Số: 12/BB-CP", "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
                    "Độc lập - Tự do - Hạnh phúc", "Hà Nội, ngày 05 tháng 3 năm 2026", "BIÊN BẢN",
                    "Phiên họp Chính phủ thường kỳ tháng 3 năm 2026",
                    "Thời gian bắt đầu: 08 giờ 30, ngày 05 tháng 3 năm 2026.",
                    "Chủ trì (chủ tọa): Phạm Quốc Hưng, Thủ tướng Chính phủ.",
                    "Thư ký (người ghi biên bản): Trần Thị Thu Hà, Thư ký phiên họp.",
                    "Hoàng Thị Ngọc Diệp, Bộ trưởng Bộ Tư pháp;",
                    "Đào Hồng Lan, Bộ trưởng Bộ Y tế (đi công tác).", DEPUTY.text,
                    "Có mặt 25/27 thành viên Chính phủ", f"1. {DECREE}", f"2. {DECISION}",
                    "Tờ trình số 12/TTr-BTP (Mật).", "báo cáo kết quả thẩm định", RESULT,
                    "Tán thành 24", "Không tán thành 3", "Số thành viên đã biểu quyết 27",
                    "27 Thân Quốc Việt Tán thành", "Kết luận của chủ tọa:",
                    "Tình trạng: Hoãn sang phiên họp sau.",
                    "Phiên họp kết thúc vào hồi 11 giờ 45, ngày 05 tháng 3 năm 2026./.", "THƯ KÝ", "CHỦ TỌA",
                    "Nơi nhận:", "Lưu: VT, TKBT.")
    # The lists of the rich text keep their markers.
    assert_contains(text, "- Rà soát Điều 5 về giá đất cụ thể;")


def test_the_minutes_pdf_says_it_is_pdf_a_3b_in_its_xmp_metadata(rendered):
    reader = PdfReader(io.BytesIO(rendered[0]))
    xmp = reader.xmp_metadata
    assert xmp is not None, "no XMP metadata: not an archival PDF/A"
    raw = xmp.stream.get_data().decode("utf-8")
    part = re.search(r"pdfaid:part(?:>|=\")(\d)", raw)
    conformance = re.search(r"pdfaid:conformance(?:>|=\")([A-Za-z])", raw)
    assert part and part.group(1) == "3" and conformance and conformance.group(1).upper() == "B"
    assert reader.metadata.title == "BIÊN BẢN Phiên họp Chính phủ thường kỳ tháng 3 năm 2026"


@needs_poppler
def test_every_font_of_the_minutes_is_embedded_and_is_the_vendored_times_twin(rendered, tmp_path):
    source = tmp_path / "fonts.pdf"
    source.write_bytes(rendered[0])
    listing = subprocess.run(["pdffonts", str(source)], check=True, capture_output=True,  # noqa: S607
                             text=True).stdout.splitlines()[2:]
    assert listing, "pdffonts listed no font"
    for line in listing:
        # name type… encoding emb sub uni object ID: "emb" is the fifth column from the end.
        assert line.split()[-5] == "yes", f"font not embedded: {line}"
        assert "Cabinet-Serif" in line.split()[0]


@needs_poppler
def test_the_stamp_boxes_sit_on_the_last_page_between_each_block_title_and_the_printed_name(
        rendered, tmp_path):
    pdf, places = rendered
    pages = len(PdfReader(io.BytesIO(pdf)).pages)
    assert set(places) >= {signing.SECRETARY_FIELD, signing.CHAIR_FIELD, signing.ORGANISATION_FIELD}
    for place in places.values():
        x1, y1, x2, y2 = place.box
        assert place.page == pages - 1
        assert (round(x2 - x1), round(y2 - y1)) == signing.STAMP_SIZE
        assert 85 <= x1 and x2 <= 595.3 - 42.5, "the stamp leaves the text area (30 mm / 15 mm margins)"
    secretary, chair = places[signing.SECRETARY_FIELD].box, places[signing.CHAIR_FIELD].box
    organisation = places[signing.ORGANISATION_FIELD].box
    assert secretary[2] < chair[0] and secretary[1] == chair[1], "THƯ KÝ left, CHỦ TỌA right, level"
    assert organisation[3] < chair[1] and organisation[0] == chair[0], "the seal under the chair's name"

    words = words_on_page(pdf, pages, tmp_path)
    height = float(PdfReader(io.BytesIO(pdf)).pages[-1].mediabox.height)

    def box_from_top(box: tuple[float, ...]) -> tuple[float, ...]:
        return box[0], height - box[3], box[2], height - box[1]

    def where(word: str) -> tuple[float, ...]:
        found = [box for w, box in words if w == word]
        assert found, f"{word!r} is not on the last page (the signature table split?)"
        return found[-1]

    stamps = [box_from_top(place.box) for place in places.values()]
    for text, (left, top, right, bottom) in words:
        for s_left, s_top, s_right, s_bottom in stamps:
            overlaps = left < s_right and right > s_left and top < s_bottom and bottom > s_top
            assert not overlaps, f"{text!r} is printed where a stamp goes"
    for title, name, field in (("KÝ", "Hà", signing.SECRETARY_FIELD), ("TỌA", "Hưng", signing.CHAIR_FIELD)):
        _, stamp_top, _, stamp_bottom = box_from_top(places[field].box)
        assert where(title)[3] <= stamp_top, f"{title} is not above its stamp"
        assert 0 <= where(name)[1] - stamp_bottom < 30, f"{name} is not right under its stamp"


def test_signing_puts_each_stamp_in_the_box_the_template_left(rendered, tmp_path):
    from cabinet.signing import pki

    pdf, places = rendered
    demo = pki.create_demo_pki(tmp_path / "pki", "test-passphrase")
    for field, key in ((signing.SECRETARY_FIELD, "thuky"), (signing.CHAIR_FIELD, "thutuong")):
        signer = pki.load_signer(demo.p12[key], "test-passphrase")
        place = places[field]
        pdf = signing.sign_pdf(pdf, signer, field_name=field, box=place.box, page=place.page,
                               stamp_text_lines=signing.signer_stamp_lines(signer))
    reader = PdfReader(io.BytesIO(pdf))
    widgets = {str(a.get_object()["/T"]): [float(v) for v in a.get_object()["/Rect"]]
               for a in reader.pages[-1].get("/Annots", [])}
    for field in (signing.SECRETARY_FIELD, signing.CHAIR_FIELD):
        assert widgets[field] == pytest.approx(list(places[field].box), abs=0.01)
    reports = signing.verify_pdf(pdf, pki.trust_roots(demo.directory))
    assert [r.field_name for r in reports] == [signing.SECRETARY_FIELD, signing.CHAIR_FIELD]
    assert signing.all_signatures_ok(reports)


def test_a_long_discussion_runs_onto_more_pages_and_the_signatures_follow_it():
    short_pdf, short_places = documents.minutes_pdf(minutes())
    long_pdf, long_places = documents.minutes_pdf(minutes(discussion=DISCUSSION + LONG_PARAGRAPH * 40))
    short_pages = len(PdfReader(io.BytesIO(short_pdf)).pages)
    long_pages = len(PdfReader(io.BytesIO(long_pdf)).pages)
    assert long_pages >= short_pages + 3
    assert long_places[signing.CHAIR_FIELD].page == long_pages - 1


@needs_poppler
def test_scripts_event_handlers_styles_and_links_in_the_discussion_never_reach_the_document(tmp_path):
    # As if a stored row had bypassed the service's sanitising: the renderer cleans it again.
    hostile = ('<p style="color:red" onclick="steal()">Ý kiến của Bộ Công an</p>'
               '<script>alert("x")</script><img src="x" onerror="alert(1)">'
               '<p><a href="https://evil.example/phish">liên kết lạ</a></p>'
               '<iframe src="https://evil.example"></iframe><style>p{display:none}</style>')
    data = minutes(discussion=hostile)
    html = documents.minutes_html(data)
    body = html[html.index("<body>"):]
    for needle in ("<script", "alert", "onerror", "onclick", "style=", "href", "evil.example", "<img",
                   "<iframe", "display:none"):
        assert needle not in body, f"{needle!r} reached the HTML"
    pdf, _ = documents.minutes_pdf(data)
    text = pdftotext(pdf, tmp_path)
    assert_contains(text, "Ý kiến của Bộ Công an", "liên kết lạ")
    assert "alert" not in text and "steal" not in text
    assert b"/URI" not in pdf, "a link annotation reached the PDF"


@needs_poppler
def test_a_draft_says_du_thao_on_every_page_and_a_final_version_nowhere(tmp_path):
    draft, _ = documents.minutes_pdf(minutes(draft=True, discussion=DISCUSSION + LONG_PARAGRAPH * 15))
    pages = len(PdfReader(io.BytesIO(draft)).pages)
    assert pages >= 2
    for page in range(1, pages + 1):
        assert "DỰ THẢO" in nfc(pdftotext(draft, tmp_path, page=page)), f"page {page} lacks the draft mark"
    assert "DỰ THẢO" not in nfc(pdftotext(documents.minutes_pdf(minutes())[0], tmp_path))


@needs_poppler
def test_classified_minutes_carry_their_secrecy_level_under_the_number_on_the_first_page(tmp_path):
    pdf, _ = documents.minutes_pdf(minutes(secrecy="Tối mật", correction_note="Bản đính chính, thay thế "
                                           "Biên bản số 12/BB-CP (phiên bản 1): sửa tên đại biểu."))
    first = pdftotext(pdf, tmp_path, page=1)
    lines = [line.strip() for line in nfc(first).splitlines() if line.strip()]
    assert lines.index("TỐI MẬT") == lines.index("Số: 12/BB-CP") + 1
    assert_contains(first, "Bản đính chính, thay thế Biên bản số 12/BB-CP (phiên bản 1)")


def test_download_names_are_ascii_with_the_number_and_the_version():
    assert documents.filename("minutes", "12/BB-CP", 2, "pdf") == "bien-ban-12-bb-cp-v2.pdf"
    assert documents.filename("notice", "45/TB-VPCP", None, "docx") == "thong-bao-ket-luan-45-tb-vpcp.docx"
    assert documents.filename("minutes", "Số: 7/BB-CP đ", 1, ".pdf") == "bien-ban-so-7-bb-cp-d-v1.pdf"
    assert documents.filename("minutes", "", 1, "pdf") == "bien-ban-v1.pdf"


# --- the minutes as DOCX ---------------------------------------------------------------------------------


def test_the_minutes_docx_opens_with_the_two_column_header_the_items_and_the_signature_blocks():
    document = docx.Document(io.BytesIO(documents.minutes_docx(minutes(secrecy="Mật"))))
    text = docx_text(documents.minutes_docx(minutes(secrecy="Mật")))
    assert_contains(text, "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "Độc lập - Tự do - Hạnh phúc", "BIÊN BẢN",
                    f"1. {DECREE}", f"2. {DECISION}", RESULT, DEPUTY.text, "MẬT", "THƯ KÝ", "CHỦ TỌA",
                    "Thân Quốc Việt", "Phiên họp kết thúc vào hồi 11 giờ 45, ngày 05 tháng 3 năm 2026./.")
    header = document.tables[0]
    assert len(header.columns) == 2
    assert [round(c.width / Mm(1)) for c in header.columns] == [62, 103]
    assert [round(c.width / Mm(1)) for c in header.rows[0].cells] == [62, 103]
    right = "\n".join(p.text for p in header.rows[0].cells[1].paragraphs)
    assert "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM" in right and "Hà Nội, ngày 05 tháng 3 năm 2026" in right
    motto = next(p for p in header.rows[0].cells[1].paragraphs if "Độc lập" in p.text)
    assert motto.runs[0].bold and motto.runs[0].underline
    signatures = document.tables[-1]
    first_row = [c.text for c in signatures.rows[0].cells]
    assert first_row[0].startswith("THƯ KÝ") and first_row[0].rstrip().endswith("Trần Thị Thu Hà")
    assert first_row[1].startswith("CHỦ TỌA") and first_row[1].rstrip().endswith("Phạm Quốc Hưng")
    section = document.sections[0]
    assert round(section.left_margin / Mm(1)) == 30 and round(section.right_margin / Mm(1)) == 15


def test_a_draft_docx_marks_every_page_in_its_headers():
    document = docx.Document(io.BytesIO(documents.minutes_docx(minutes(draft=True))))
    section = document.sections[0]
    assert "DỰ THẢO" in section.first_page_header.paragraphs[0].text
    assert "DỰ THẢO" in section.header.paragraphs[0].text
    final = docx.Document(io.BytesIO(documents.minutes_docx(minutes())))
    assert "DỰ THẢO" not in final.sections[0].header.paragraphs[0].text


@needs(document_service.libreoffice() is not None, "LibreOffice (.ci/lib.sh installs it)")
def test_the_minutes_docx_converts_to_pdf_with_libreoffice(tmp_path):
    source = tmp_path / "minutes.docx"
    source.write_bytes(documents.minutes_docx(minutes()))
    with flask.Flask(__name__).app_context(), document_service.convert_docx(source) as converted:
        assert converted is not None, "LibreOffice could not convert the minutes"
        pdf = Path(converted).read_bytes()
    reader = PdfReader(io.BytesIO(pdf))
    assert abs(float(reader.pages[0].mediabox.width) - 595.3) < 1
    text = "\n".join(page.extract_text() for page in reader.pages)
    assert_contains(text, "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "BIÊN BẢN", DECREE, RESULT, "Ngô Xuân Trường")


# --- the conclusion notice ---------------------------------------------------------------------------------


@needs_poppler
def test_the_conclusion_notice_names_the_office_each_conclusion_and_the_signer(tmp_path):
    data = notice()
    text = pdftotext(documents.notice_pdf(data), tmp_path)
    assert_contains(text, "VĂN PHÒNG CHÍNH PHỦ", "Số: 45/TB-VPCP", "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
                    "THÔNG BÁO", data.subtitle, data.introduction, f"1. {DECREE}",
                    "thống nhất thông qua; giao Bộ Tư pháp hoàn thiện", "KT. BỘ TRƯỞNG, CHỦ NHIỆM",
                    "PHÓ CHỦ NHIỆM", "Lê Quốc Việt", "Nơi nhận:")
    assert "DỰ THẢO" not in nfc(text)
    draft = pdftotext(documents.notice_pdf(notice(draft=True, secrecy="Mật")), tmp_path)
    assert_contains(draft, "DỰ THẢO", "MẬT")
    document_text = docx_text(documents.notice_docx(data))
    assert_contains(document_text, "VĂN PHÒNG CHÍNH PHỦ", "THÔNG BÁO", f"1. {DECREE}", "Lê Quốc Việt",
                    "thống nhất thông qua; giao Bộ Tư pháp hoàn thiện")


# --- rich text ---------------------------------------------------------------------------------------------


def test_sanitising_keeps_the_structure_tags_and_drops_every_attribute():
    kept = ("<p>Một <strong>hai</strong> <b>ba</b> <em>bốn</em> <i>năm</i> <u>sáu</u> <s>bảy</s><br>tám</p>"
            "<ul><li>chín</li></ul><ol><li>mười</li></ol><blockquote>trích</blockquote><h3>A</h3><h4>B</h4>")
    assert richtext.sanitise(kept) == kept
    cleaned = richtext.sanitise('<p class="x" style="color:red" id="y" onclick="z()">văn bản</p>'
                                '<a href="https://example.org" title="t">liên kết</a> '
                                '<img src="a.png" alt="ảnh">'
                                '<span style="font-weight:bold">đậm</span><script>alert(1)</script>')
    # Links, images and spans are unwrapped (their text stays), scripts dropped with their content.
    assert cleaned == "<p>văn bản</p>liên kết đậm"


def test_sanitising_normalises_to_nfc_and_keeps_blocks_from_editors_apart():
    decomposed = unicodedata.normalize("NFD", "<p>Quyết định thẩm định</p>")
    assert richtext.sanitise(decomposed) == "<p>Quyết định thẩm định</p>"
    assert richtext.sanitise("<div>Một</div><div>Hai</div><h1>Ba</h1>") == "<p>Một</p><p>Hai</p><h3>Ba</h3>"


def test_sanitising_what_was_stored_gives_back_the_same_text_even_for_badly_nested_input():
    # The service sanitises on save and the renderer again: both must agree byte for byte.
    for messy in ("chữ <p><div></blockquote>&amp;<blockquote><em> </em>&amp; </h4><h4><a>x<h4><em><p></em>",
                  "<ul><li>một<li>hai</ul></ol><h3><h4>ba</h3>", "<p><p><p>bốn</b></i>"):
        once = richtext.sanitise(messy)
        assert once and richtext.sanitise(once) == once


def test_empty_rich_text_is_blank_and_becomes_an_empty_string():
    for blank in ("", None, "   ", "<p></p>", "<p><br></p>", "<p>&nbsp;</p>", "<script>x()</script>",
                  '<img src="x">'):
        assert richtext.sanitise(blank) == "" and richtext.is_blank(blank), blank
    assert not richtext.is_blank("<p>Có nội dung</p>")


def test_plain_text_becomes_escaped_paragraphs_and_rich_text_reads_back_as_lines():
    assert richtext.plain_to_html("Dòng một\n\n  <b>hai</b> & ba \n") == (
        "<p>Dòng một</p><p>&lt;b&gt;hai&lt;/b&gt; &amp; ba</p>")
    html = ("<p>Mở  đầu <b>đậm</b></p><ul><li>một</li><li>hai</li></ul>"
            "<ol><li>ba<ol><li>bốn</li></ol></li></ol>")
    assert richtext.to_text(html) == "Mở đầu đậm\n- một\n- hai\n1. ba\n  1. bốn"


def test_rich_text_becomes_docx_paragraphs_with_formatted_runs_and_list_markers():
    from cabinet.core.nd30 import _Docx

    doc = _Docx("thử")
    written = richtext.add_html_to_docx(doc, (
        "<p>Ý kiến <strong>thẩm định</strong>, <em>ủy quyền</em>, <u>gạch</u>, <s>xóa</s>.</p>"
        "<ul><li>Rà soát Điều 5;</li><li>Bổ sung.</li></ul><ol><li>Một</li><li>Hai</li></ol>"
        "<blockquote>Trích dẫn</blockquote><h3>Tiêu đề</h3><p onclick='x()'>Cuối<br>dòng</p>"))
    paragraphs = doc.doc.paragraphs
    assert [p.text for p in paragraphs] == [
        "Ý kiến thẩm định, ủy quyền, gạch, xóa.", "- Rà soát Điều 5;", "- Bổ sung.", "1. Một", "2. Hai",
        "Trích dẫn", "Tiêu đề", "Cuối\ndòng"]
    assert written == len(paragraphs)
    runs = {r.text: r for r in paragraphs[0].runs}
    assert runs["thẩm định"].bold and runs["ủy quyền"].italic and runs["gạch"].underline
    assert runs["xóa"].font.strike and not runs["Ý kiến "].bold
    item = paragraphs[1].paragraph_format
    assert item.first_line_indent < 0 < item.left_indent, "list items hang from their marker"
    assert paragraphs[5].paragraph_format.left_indent > 0, "a quotation is indented"
    assert all(r.bold for r in paragraphs[6].runs), "a heading is bold"


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.seen: set[str] = set()

    def handle_starttag(self, tag, attrs) -> None:
        self.seen.add(tag)


def test_the_printed_html_uses_no_flex_layout_and_no_tag_outside_the_print_set():
    html = documents.minutes_html(minutes(draft=True, secrecy="Mật"))
    assert "display: flex" not in html and "display:flex" not in html
    tags = _Tags()
    tags.feed(html)
    assert tags.seen <= {"html", "head", "meta", "title", "style", "body", "table", "colgroup", "col", "tr",
                         "td", "th", "thead", "tbody", "div", "span", "p", "h1", "h2", "br", "strong", "em",
                         "ul", "li"}
