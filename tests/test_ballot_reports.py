"""The printed documents of an opinion ballot (D12, D13, D17, D18): the summary report as PDF and
DOCX, and the blank form (the draft's preview and the paper a member answers on). Read back as a
reader would get them: the PDF's text extracted with pypdf, the DOCX opened with python-docx."""

from __future__ import annotations

import io
import re
import unicodedata
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import docx
import pytest
from docx.oxml.ns import qn
from docx.shared import Mm
from pypdf import PdfReader
from sqlalchemy import event

from cabinet.ballots import documents, service
from cabinet.core.timeutil import utcnow
from cabinet.documents import service as document_service
from cabinet.extensions import db
from tests.conftest import PASSWORD, needs
from tests.test_documents import blank_pdf

HANOI = ZoneInfo("Asia/Ho_Chi_Minh")
TITLE = "Dự thảo Nghị định quy định chi tiết Luật Đất đai về bồi thường, hỗ trợ, tái định cư"
QUESTIONS = [
    "Đồng ý thông qua dự thảo Nghị định?",
    "Đồng ý giao Bộ Tư pháp thẩm định lại Điều 5 trước khi ban hành?",
    "Đồng ý thời điểm có hiệu lực là ngày 01 tháng 7 năm 2026?",
]
OTHER_OPINION = ("Đề nghị bổ sung quy định chuyển tiếp đối với các dự án đã phê duyệt phương án bồi "
                 "thường trước ngày Nghị định có hiệu lực; làm rõ trách nhiệm của Ủy ban nhân dân cấp tỉnh.")
DECISION = "Đồng ý thông qua dự thảo Nghị định; giao Bộ Tư pháp hoàn thiện, trình ký trước ngày 15/6/2026."


def squash(text: str) -> str:
    """Text compared without its line breaks and spacing (the PDF wraps lines anywhere)."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFC", text))


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def docx_text(data: bytes) -> str:
    """Every paragraph of the body, of the table cells and of the headers."""
    document = docx.Document(io.BytesIO(data))
    parts = [p.text for p in document.paragraphs]
    for table in document.tables:
        for row in table.rows:
            for cell in row.cells:
                parts.extend(p.text for p in cell.paragraphs)
    return "\n".join(parts)


def assert_contains(text: str, *expected: str) -> None:
    flat = squash(text)
    missing = [e for e in expected if squash(e) not in flat]
    assert not missing, f"not found: {missing}"


def hanoi(year, month, day, hour=17, minute=0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=HANOI)


def _deadline() -> datetime:
    """17:00 Hà Nội time, three to four days from now."""
    day = (utcnow() + timedelta(days=3)).astimezone(HANOI)
    return hanoi(day.year, day.month, day.day)


@pytest.fixture
def cabinet(cabinet):
    """The shared small cabinet, each member with their own ministry."""
    for key, title, organisation in (("pm", "Thủ tướng Chính phủ", "Chính phủ"),
                                     ("tuphap", "Bộ trưởng", "Bộ Tư pháp"), ("yte", "Bộ trưởng", "Bộ Y tế"),
                                     ("outsider", "Bộ trưởng", "Bộ Ngoại giao"),
                                     ("thu_truong", "Thứ trưởng", "Bộ Tư pháp")):
        cabinet[key].title, cabinet[key].organisation = title, organisation
    db.session.commit()
    return cabinet


def _draft(cabinet, **changes):
    data = service.BallotData(title=TITLE, number="45/PLYK-VPCP", questions=list(QUESTIONS),
                              summary="Xin ý kiến thành viên Chính phủ về dự thảo Nghị định.\n"
                                      "Hồ sơ gửi kèm theo Phiếu này.",
                              deadline=changes.pop("deadline", _deadline()))
    for key, value in changes.items():
        setattr(data, key, value)
    return service.create_ballot(cabinet["thuky"], data)


def _answers(ballot, *choices, comment=""):
    return [service.AnswerData(q.id, c, comment if c == "other" else "")
            for q, c in zip(ballot.questions, choices, strict=True)]


@pytest.fixture
def answered(cabinet):
    """Issued to the 5 members: the PM and Justice answer on screen, Health on paper, two are silent."""
    ballot = _draft(cabinet)
    service.issue_ballot(cabinet["thuky"], ballot.id)
    service.submit_response(cabinet["pm"], ballot.id, _answers(ballot, "agree", "agree", "agree"),
                            password=PASSWORD)
    service.submit_response(cabinet["tuphap"], ballot.id,
                            _answers(ballot, "agree", "other", "disagree", comment=OTHER_OPINION),
                            password=PASSWORD)
    service.record_paper_response(cabinet["thuky"], ballot.id, cabinet["yte"].id,
                                  _answers(ballot, "agree", "disagree", "agree"))
    return ballot


@pytest.fixture
def decided(cabinet, answered):
    service.close_ballot(cabinet["thuky"], answered.id)
    service.record_decision(cabinet["pm"], answered.id, DECISION)
    return answered


def report_of(cabinet, ballot, **kwargs) -> documents.ReportData:
    return documents.report_data(service.result(cabinet["thuky"], ballot.id), **kwargs)


# --- the report as PDF ---------------------------------------------------------------------------------


def test_the_report_pdf_holds_the_header_the_counts_every_answer_and_the_decision(cabinet, decided):
    pdf = documents.report_pdf(report_of(cabinet, decided))
    text = pdf_text(pdf)
    closed = decided.closed_at.astimezone(HANOI)
    assert_contains(
        text, "VĂN PHÒNG CHÍNH PHỦ", "Số:", "/BC-VPCP",
        "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "Độc lập - Tự do - Hạnh phúc",
        f"Hà Nội, {documents.vietnamese_date(closed)}",
        "BÁO CÁO", f"Tổng hợp ý kiến thành viên Chính phủ về {TITLE}",
        "Phiếu lấy ý kiến thành viên Chính phủ số 45/PLYK-VPCP", "hạn trả lời: 17 giờ 00",
        *QUESTIONS,
        # Per question: recipients, Đồng ý, Không đồng ý, Ý kiến khác, Chưa trả lời.
        "Tổng số thành viên được lấy ý kiến Đồng ý Không đồng ý Ý kiến khác Chưa trả lời",
        "5 3 0 0 2", "5 1 1 1 2", "5 2 1 0 2",
        "Kết quả: Đạt quá nửa tổng số thành viên Chính phủ (3/5 thành viên đồng ý; cần ít nhất 3)",
        "Kết quả: Không đạt quá nửa tổng số thành viên Chính phủ (1/5 thành viên đồng ý; cần ít nhất 3)",
        "thành viên không trả lời được tính là không đồng ý",
        "Phạm Quốc Hưng", "Thủ tướng Chính phủ", "Phan Thị Ngọc Diệp", "Bộ trưởng Bộ Tư pháp",
        "Tôn Nữ Thanh Thủy", "(phiếu giấy)", "Ý kiến khác", OTHER_OPINION,
        "Thành viên chưa trả lời (2): Người Không Mời (Bộ trưởng Bộ Ngoại giao); "
        "Thứ trưởng Tư pháp (Thứ trưởng Bộ Tư pháp).",
        "II. Ý KIẾN QUYẾT ĐỊNH CỦA THỦ TƯỚNG CHÍNH PHỦ", "Thủ tướng Chính phủ Phạm Quốc Hưng", DECISION,
        "KT. BỘ TRƯỞNG, CHỦ NHIỆM", "PHÓ CHỦ NHIỆM", "Nơi nhận:")
    # Each member's own answer on their row (name, title, answer, [paper], comment).
    assert_contains(text, "Phan Thị Ngọc Diệp Bộ trưởng Bộ Tư pháp Ý kiến khác " + OTHER_OPINION,
                    "Tôn Nữ Thanh Thủy Bộ trưởng Bộ Y tế Không đồng ý (phiếu giấy)",
                    "Phạm Quốc Hưng Thủ tướng Chính phủ Đồng ý")
    # The silent members are never counted as agreeing (D13): 3 of 5 agree on question 1, not 5.
    assert "5/5" not in text


def test_the_report_pdf_is_a4_with_embedded_fonts_pdfa_and_page_numbers_from_page_two(cabinet, decided):
    pdf = documents.report_pdf(report_of(cabinet, decided))
    reader = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) >= 2
    for page in reader.pages:
        box = page.mediabox
        assert abs(float(box.width) - 595.28) < 1 and abs(float(box.height) - 841.89) < 1  # A4
    fonts = {}
    for page in reader.pages:
        for font in page["/Resources"]["/Font"].values():
            font = font.get_object()
            for descendant in font.get("/DescendantFonts", [font]):
                descriptor = descendant.get_object()["/FontDescriptor"].get_object()
                fonts[str(descriptor["/FontName"])] = "/FontFile2" in descriptor
    assert fonts and all(fonts.values()), fonts  # every font embedded (TrueType)
    assert all("Cabinet-Serif" in name for name in fonts), fonts  # the vendored Liberation Serif
    assert b'pdfaid:part="3"' in reader.trailer["/Root"]["/Metadata"].get_object().get_data()
    lines = [page.extract_text().splitlines() for page in reader.pages]
    assert "1" not in lines[0]  # NĐ30: no number on the first page
    for number, page_lines in enumerate(lines[1:], start=2):
        assert str(number) in page_lines


def test_rendering_needs_no_database_once_the_snapshot_is_taken(cabinet, decided):
    data = report_of(cabinet, decided)
    form = documents.form_data(decided)
    document_service.end_read_transaction()  # what the route does before rendering
    statements = []

    def count(*args):
        statements.append(args[2])

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        outputs = [documents.report_pdf(data), documents.report_docx(data), documents.blank_form_pdf(form),
                   documents.blank_form_docx(form)]
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    assert statements == []
    assert all(len(out) > 1000 for out in outputs)


def test_an_open_ballot_gives_an_interim_report_dated_today(cabinet, answered):
    now = utcnow()
    data = report_of(cabinet, answered, now=now)
    text = pdf_text(documents.report_pdf(data))
    assert_contains(text, "Phiếu lấy ý kiến chưa hết hạn", "số liệu tạm thời",
                    f"Hà Nội, {documents.vietnamese_date(now.astimezone(HANOI))}",
                    "Chưa có ý kiến quyết định.", "kính trình Thủ tướng Chính phủ xem xét, quyết định")


def test_when_silence_is_deemed_agreement_the_report_says_so(cabinet):
    ballot = _draft(cabinet, no_answer_policy="agree")
    service.issue_ballot(cabinet["thuky"], ballot.id)
    service.submit_response(cabinet["pm"], ballot.id, _answers(ballot, "agree", "disagree", "agree"),
                            password=PASSWORD)
    text = pdf_text(documents.report_pdf(report_of(cabinet, ballot)))
    assert_contains(text, "thành viên không trả lời được coi là đồng ý",
                    "Đạt quá nửa tổng số thành viên Chính phủ (5/5 thành viên đồng ý, trong đó 4 thành viên "
                    "không trả lời được coi là đồng ý",
                    "Thành viên chưa trả lời (4):")


def test_a_recalled_ballot_nobody_answered_still_reports_plainly(cabinet):
    ballot = _draft(cabinet)
    service.issue_ballot(cabinet["thuky"], ballot.id)
    service.recall_ballot(cabinet["thuky"], ballot.id, "Hồ sơ cần bổ sung báo cáo thẩm định.")
    data = report_of(cabinet, ballot)
    for output in (pdf_text(documents.report_pdf(data)), docx_text(documents.report_docx(data))):
        assert_contains(output, "Phiếu lấy ý kiến đã được thu hồi",
                        "Lý do: Hồ sơ cần bổ sung báo cáo thẩm định.", "Chưa có thành viên nào trả lời.",
                        "5 0 0 0 5", "Không đạt quá nửa tổng số thành viên Chính phủ (0/5",
                        "Thành viên chưa trả lời (5):")


def test_members_text_is_escaped_not_interpreted(cabinet):
    ballot = _draft(cabinet, title="Về việc <b>in đậm</b> & thử")
    html = documents.form_html(ballot)
    assert "&lt;b&gt;in đậm&lt;/b&gt; &amp; thử" in html and "<b>in đậm" not in html


# --- the report as DOCX -------------------------------------------------------------------------------


def test_the_report_docx_opens_and_holds_the_same_content(cabinet, decided):
    data = report_of(cabinet, decided)
    text = docx_text(documents.report_docx(data))
    pdf = pdf_text(documents.report_pdf(data))
    expected = ["VĂN PHÒNG CHÍNH PHỦ", "/BC-VPCP", "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
                "Độc lập - Tự do - Hạnh phúc", data.header.date_line, "BÁO CÁO", data.subtitle,
                data.reference[:-1], *QUESTIONS, data.introduction,
                *(data.outcome(q) for q in data.questions), data.rule(), data.non_respondents_line,
                "Phạm Quốc Hưng", "Phan Thị Ngọc Diệp", "Tôn Nữ Thanh Thủy", "(phiếu giấy)", OTHER_OPINION,
                data.decision_line, DECISION, "KT. BỘ TRƯỞNG, CHỦ NHIỆM", "PHÓ CHỦ NHIỆM"]
    assert_contains(text, *expected)
    assert_contains(pdf, *expected)  # the same texts in both formats
    document = docx.Document(io.BytesIO(documents.report_docx(data)))
    members = [t for t in document.tables if t.rows[0].cells[0].text == "STT"]
    assert len(members) == len(QUESTIONS)
    rows = [[c.text for c in row.cells] for row in members[1].rows[1:]]
    assert ["1", "Phan Thị Ngọc Diệp", "Bộ trưởng Bộ Tư pháp", "Ý kiến khác", OTHER_OPINION] in rows
    assert ["3", "Tôn Nữ Thanh Thủy", "Bộ trưởng Bộ Y tế", "Không đồng ý\n(phiếu giấy)", ""] in rows
    counts = [t for t in document.tables if t.rows[0].cells[1].text == "Đồng ý"]
    assert [[c.text for c in t.rows[1].cells] for t in counts] == [
        ["5", "3", "0", "0", "2"], ["5", "1", "1", "1", "2"], ["5", "2", "1", "0", "2"]]


def test_the_report_docx_is_a4_in_times_new_roman_with_nd30_margins_and_page_numbers(cabinet, decided):
    document = docx.Document(io.BytesIO(documents.report_docx(report_of(cabinet, decided))))
    section = document.sections[0]
    mm = lambda length: round(length / Mm(1), 1)  # noqa: E731
    assert (mm(section.page_width), mm(section.page_height)) == (210, 297)
    assert 20 <= mm(section.top_margin) <= 25 and 20 <= mm(section.bottom_margin) <= 25
    assert 30 <= mm(section.left_margin) <= 35 and 15 <= mm(section.right_margin) <= 20
    normal = document.styles["Normal"]
    assert normal.font.name == "Times New Roman" and 13 <= normal.font.size.pt <= 14
    fonts = normal.element.rPr.rFonts
    assert {fonts.get(qn(f"w:{a}")) for a in ("ascii", "hAnsi", "eastAsia", "cs")} == {"Times New Roman"}
    # NĐ30: page numbers in the top margin from page 2: a PAGE field, and an empty first-page header.
    assert section.different_first_page_header_footer
    assert "PAGE" in "".join(t.text for t in section.header._element.iter(qn("w:instrText")))
    assert not "".join(p.text for p in section.first_page_header.paragraphs).strip()
    # The two-column header is borderless with fixed widths, on the grid and on every cell.
    header = document.tables[0]
    assert [round(c.width / Mm(1)) for c in header.columns] == [62, 103]
    assert [round(c.width / Mm(1)) for c in header.rows[0].cells] == [62, 103]


@needs(document_service.libreoffice() is not None, "LibreOffice (.ci/lib.sh installs it)")
def test_the_report_docx_converts_to_pdf_with_libreoffice(cabinet, decided, tmp_path):
    data = report_of(cabinet, decided)
    source = tmp_path / "report.docx"
    source.write_bytes(documents.report_docx(data))
    with document_service.convert_docx(source) as converted:
        assert converted is not None, "LibreOffice could not convert the report"
        pdf = Path(converted).read_bytes()
    reader = PdfReader(io.BytesIO(pdf))
    assert abs(float(reader.pages[0].mediabox.width) - 595.3) < 1
    assert_contains(pdf_text(pdf), "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", data.subtitle,
                    "Phan Thị Ngọc Diệp", OTHER_OPINION, DECISION)


# --- the blank form ------------------------------------------------------------------------------------


def test_the_blank_form_lists_every_question_with_the_three_choices_and_the_deadline(cabinet, answered):
    form = documents.form_data(answered)
    text = pdf_text(documents.blank_form_pdf(form))
    deadline = answered.deadline.astimezone(HANOI)
    assert_contains(text, "VĂN PHÒNG CHÍNH PHỦ", "Số: 45/PLYK-VPCP", "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
                    "PHIẾU LẤY Ý KIẾN THÀNH VIÊN CHÍNH PHỦ", f"Về {TITLE}",
                    "Xin ý kiến thành viên Chính phủ về dự thảo Nghị định.",
                    "Đề nghị đồng chí gửi lại Phiếu này về Văn phòng Chính phủ trước 17 giờ 00, "
                    + documents.vietnamese_date(deadline),
                    "thành viên không trả lời được tính là không đồng ý",
                    "Họ và tên, chức vụ người cho ý kiến", "NGƯỜI CHO Ý KIẾN")
    flat = squash(text)
    for number, question in enumerate(QUESTIONS, start=1):
        assert squash(f"Câu hỏi {number}: {question}") in flat
    assert flat.count(squash("□ Đồng ý □ Không đồng ý □ Ý kiến khác")) == len(QUESTIONS)
    assert "DỰ THẢO" not in text  # issued: no draft mark

    word = docx_text(documents.blank_form_docx(form))
    assert_contains(word, "PHIẾU LẤY Ý KIẾN THÀNH VIÊN CHÍNH PHỦ", f"Về {TITLE}", *QUESTIONS,
                    "Họ và tên, chức vụ người cho ý kiến", form.deadline_line)
    assert squash(word).count(squash("□ Đồng ý □ Không đồng ý □ Ý kiến khác")) == len(QUESTIONS)


def test_a_draft_previews_as_the_printed_form_with_its_dossier(cabinet):
    ballot = _draft(cabinet, number="")
    service.add_document(cabinet["thuky"], ballot.id, stream=io.BytesIO(blank_pdf(1)),
                         filename="to-trinh.pdf", title="Tờ trình số 112/TTr-BTP về dự thảo Nghị định")
    pdf = documents.blank_form_pdf(ballot)
    text = pdf_text(pdf)
    assert_contains(text, "DỰ THẢO (bản xem trước)", "Số:", "/PLYK-VPCP", "Hà Nội, ngày", "Hồ sơ kèm theo:",
                    "- Tờ trình số 112/TTr-BTP về dự thảo Nghị định", *QUESTIONS)
    assert PdfReader(io.BytesIO(pdf)).pages[0].mediabox.height > 841  # A4


def test_a_paper_copy_printed_for_a_member_names_them(cabinet, answered):
    form = documents.form_data(answered, recipient=cabinet["yte"])
    text = pdf_text(documents.blank_form_pdf(form))
    assert_contains(text, "Kính gửi: Đồng chí Tôn Nữ Thanh Thủy, Bộ trưởng Bộ Y tế.")
    assert documents.filename(form, "pdf") == "phieu-lay-y-kien-45-plyk-vpcp.pdf"
