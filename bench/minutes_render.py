"""Rendering the minutes of a long meeting (Mẫu 1.9, ~30 pages) to PDF/A and DOCX, and signing them.

    .venv/bin/python bench/minutes_render.py [--items 12] [--voters 27] [--runs 5] [--out DIR]

Builds by hand (no database) a ``MinutesData`` of ``--items`` agenda items, each with a long
discussion in rich text (paragraphs, a list, emphasis), the chair's conclusion and an open vote
with ``--voters`` named members, then times, ``--runs`` times each (after one warm-up):

a. WeasyPrint alone rendering the very same HTML (``HTML(string=…).write_pdf(pdf_variant="pdf/a-3b")``):
   the baseline;
b. ``minutes_pdf``: the same render, plus reading where the signature boxes landed;
c. (b) then the secretary's and the chair's signatures with the demo PKI (keys loaded once, as a
   worker would), each stamp put in the box (b) found;
d. ``minutes_docx``.

It prints the page count, the file sizes, the median of each and its ratio to (a). With ``--out
DIR`` it writes minutes.pdf, minutes-signed.pdf, minutes.docx, notice.pdf and notice.docx there;
``pdftoppm -r 60 -png DIR/minutes-signed.pdf DIR/page`` makes page images.
"""

from __future__ import annotations

import argparse
import io
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pypdf import PdfReader  # noqa: E402

from cabinet.minutes import documents  # noqa: E402
from cabinet.minutes.content import (  # noqa: E402
    Header,
    ItemRecord,
    MinutesData,
    NoticeData,
    NoticeItem,
    PersonLine,
    VoteLine,
)
from cabinet.signing import pdf as signing  # noqa: E402
from cabinet.signing import pki  # noqa: E402

PASSPHRASE = "bench-passphrase"  # noqa: S105 (a throw-away demo PKI)
SURNAMES = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Vũ", "Võ", "Đặng", "Bùi", "Đỗ", "Hồ", "Ngô",
            "Dương", "Lý", "Phan", "Trịnh", "Đinh", "Lương"]
GIVEN = ["Văn Hùng", "Thị Lan", "Quốc Việt", "Minh Tuấn", "Thị Ngọc Diệp", "Đức Thắng", "Hữu Phúc",
         "Thị Mai Anh", "Công Danh", "Quang Vinh", "Xuân Trường", "Thị Hồng Nhung", "Đăng Khoa"]
MINISTRIES = ["Bộ Quốc phòng", "Bộ Công an", "Bộ Ngoại giao", "Bộ Nội vụ", "Bộ Tư pháp", "Bộ Tài chính",
              "Bộ Công Thương", "Bộ Nông nghiệp và Môi trường", "Bộ Xây dựng", "Bộ Y tế",
              "Bộ Văn hóa, Thể thao và Du lịch", "Bộ Khoa học và Công nghệ", "Bộ Giáo dục và Đào tạo"]
TOPICS = ["Nghị định quy định chi tiết Luật Đất đai về bồi thường, hỗ trợ, tái định cư",
          "Nghị định sửa đổi, bổ sung Nghị định về quản lý đầu tư công",
          "Nghị quyết phiên họp Chính phủ thường kỳ tháng 2 năm 2026",
          "Đề án chuyển đổi số quốc gia giai đoạn 2026 - 2030",
          "Nghị định quy định về thẩm định giá và ủy quyền phê duyệt giá đất cụ thể",
          "Quyết định phê duyệt Chiến lược phát triển năng lượng quốc gia"]
DISCUSSION = (
    "<p>Các thành viên Chính phủ cơ bản thống nhất với sự cần thiết ban hành và nội dung dự thảo; "
    "đánh giá cao Bộ Tư pháp đã chủ trì, phối hợp với các bộ, cơ quan <strong>thẩm định</strong> kỹ "
    "lưỡng, tiếp thu, giải trình đầy đủ ý kiến của các địa phương, hiệp hội doanh nghiệp.</p>"
    "<p>Bộ trưởng Bộ Tài chính đề nghị làm rõ <em>nguồn lực bảo đảm thực hiện</em>, cơ chế phân cấp, "
    "ủy quyền cho Ủy ban nhân dân cấp tỉnh; bổ sung quy định chuyển tiếp đối với các dự án đã phê "
    "duyệt phương án bồi thường trước ngày Nghị định có hiệu lực, tránh khiếu kiện kéo dài.</p>"
    "<ul><li>Rà soát Điều 5 và Điều 12 về giá đất cụ thể để tính bồi thường;</li>"
    "<li>Làm rõ trách nhiệm bố trí quỹ đất tái định cư;</li>"
    "<li>Đánh giá tác động đến ngân sách địa phương.</li></ul>"
    "<p>Bộ trưởng Bộ Xây dựng đề nghị thống nhất cách hiểu về <u>suất tái định cư tối thiểu</u>; Thống "
    "đốc Ngân hàng Nhà nước Việt Nam đề nghị bổ sung cơ chế hỗ trợ tín dụng cho người dân bị thu hồi "
    "đất sản xuất, bảo đảm nơi ở mới có điều kiện sống bằng hoặc tốt hơn nơi ở cũ.</p>"
)
CONCLUSION = (
    "<p>Thay mặt Chính phủ, Thủ tướng Chính phủ kết luận: thống nhất thông qua dự thảo; giao Bộ Tư pháp "
    "chủ trì, phối hợp với Văn phòng Chính phủ và các bộ, cơ quan liên quan tiếp thu tối đa ý kiến "
    "thành viên Chính phủ, hoàn thiện hồ sơ, trình Thủ tướng Chính phủ ký ban hành trước ngày 15 "
    "tháng 4 năm 2026.</p>"
)
CHOICES = ("Tán thành", "Không tán thành", "Không biểu quyết")


def members(count: int) -> list[PersonLine]:
    people = []
    for i in range(count):
        name = f"{SURNAMES[i % len(SURNAMES)]} {GIVEN[(i * 5) % len(GIVEN)]}"
        people.append(PersonLine(name, f"Bộ trưởng {MINISTRIES[i % len(MINISTRIES)]}"))
    return people


def sample_minutes(items: int = 12, voters: int = 27, *, draft: bool = False) -> MinutesData:
    """A long meeting's minutes, as the service would snapshot them."""
    people = members(voters)
    chair = PersonLine("Phạm Quốc Hưng", "Thủ tướng Chính phủ")
    secretary = PersonLine("Trần Thị Thu Hà", "Thư ký phiên họp, Văn phòng Chính phủ")
    records = []
    for number in range(1, items + 1):
        choices = [CHOICES[0] if i % 9 else CHOICES[1 + i % 2] for i in range(voters)]
        counts = tuple((label, choices.count(label)) for label in CHOICES)
        vote = VoteLine(
            question=f"Thông qua dự thảo {TOPICS[number % len(TOPICS)]}?", secret=False, counts=counts,
            voted=voters, voters=tuple((p.name, c) for p, c in zip(people, choices, strict=True)),
            result=(f"Thông qua: {counts[0][1]}/{voters} thành viên Chính phủ tán thành (cần ít nhất "
                    f"{voters // 2 + 1}; Điều 45 Quy chế làm việc của Chính phủ)."))
        records.append(ItemRecord(
            number=number, title=f"Dự thảo {TOPICS[number % len(TOPICS)]}",
            presenter=(f"{MINISTRIES[number % len(MINISTRIES)]}; Bộ trưởng {people[number % voters].name} "
                       "trình bày"),
            documents=(f"Tờ trình số {number}/TTr-BTP ngày 20 tháng 2 năm 2026",
                       f"Dự thảo Nghị định (Mật), Báo cáo thẩm định số {number}/BCTĐ-BTP"),
            status="Đã kết luận", votes=(vote,), discussion_html=DISCUSSION * 2, conclusion_html=CONCLUSION))
    return MinutesData(
        header=Header("CHÍNH PHỦ", "Số: 12/BB-CP", "Hà Nội, ngày 05 tháng 3 năm 2026"),
        subtitle="Phiên họp Chính phủ thường kỳ tháng 3 năm 2026", version=1, draft=draft,
        correction_note="", secrecy="Mật", started="08 giờ 30, ngày 05 tháng 3 năm 2026",
        ended="17 giờ 15, ngày 05 tháng 3 năm 2026", place="Trụ sở Chính phủ, số 1 Hoàng Hoa Thám, Hà Nội",
        chair=chair, secretary=secretary, present=tuple(people[:-2]),
        absent=tuple(PersonLine(p.name, p.position, "đi công tác nước ngoài") for p in people[-2:-1]),
        deputies=(PersonLine("Ngô Xuân Trường", "Thứ trưởng Bộ Y tế",
                             f"dự thay Bộ trưởng {people[-1].name}"),),
        guests=(PersonLine("Đinh Thị Mai Anh", "Chủ nhiệm Văn phòng Quốc hội"),),
        quorum=(f"Có mặt {voters - 2}/{voters} thành viên Chính phủ, đủ hai phần ba tổng số thành viên "
                "(Điều 46 Quy chế làm việc của Chính phủ)."),
        opening_html="<p>Thủ tướng Chính phủ Phạm Quốc Hưng chủ trì phiên họp; phiên họp thảo luận "
                     f"{items} nội dung sau:</p>",
        items=tuple(records),
        closing_html="<p>Thủ tướng Chính phủ đề nghị các thành viên Chính phủ khẩn trương triển khai "
                     "các nhiệm vụ được giao.</p>",
        secretary_name=secretary.name, chair_name=chair.name)


def sample_notice(data: MinutesData) -> NoticeData:
    return NoticeData(
        header=Header("VĂN PHÒNG CHÍNH PHỦ", "Số: 45/TB-VPCP", "Hà Nội, ngày 06 tháng 3 năm 2026"),
        subtitle=f"Kết luận của Thủ tướng Chính phủ tại {data.subtitle}", draft=False, secrecy="",
        introduction=("Ngày 05 tháng 3 năm 2026, tại Trụ sở Chính phủ, Thủ tướng Chính phủ Phạm Quốc "
                      "Hưng chủ trì Phiên họp Chính phủ thường kỳ tháng 3 năm 2026. Sau khi nghe báo cáo "
                      "và ý kiến của các thành viên Chính phủ, Thủ tướng Chính phủ kết luận như sau:"),
        items=tuple(NoticeItem(i.number, i.title, i.conclusion_html) for i in data.items),
        signer_name="Lê Quốc Việt")


def timed(runs: int, fn: Callable[[], object]) -> tuple[object, float]:
    """The last result and the median time of ``runs`` calls."""
    times = []
    result = None
    for _ in range(runs):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return result, statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=12)
    parser.add_argument("--voters", type=int, default=27)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--draft", action="store_true", help="render a draft (DỰ THẢO on every page)")
    parser.add_argument("--out", type=Path, default=None, help="write the PDFs and DOCX files here")
    args = parser.parse_args()

    import weasyprint

    data = sample_minutes(args.items, args.voters, draft=args.draft)
    html = documents.minutes_html(data)
    scratch = Path(tempfile.mkdtemp(prefix="minutes-bench-"))
    try:
        demo = pki.create_demo_pki(scratch / "pki", PASSPHRASE)
        secretary = pki.load_signer(demo.p12["thuky"], PASSPHRASE)  # once, as a worker would
        chair = pki.load_signer(demo.p12["thutuong"], PASSPHRASE)

        def baseline() -> bytes:
            return weasyprint.HTML(string=html).write_pdf(pdf_variant="pdf/a-3b")

        def signed() -> tuple[bytes, bytes]:
            unsigned, places = documents.minutes_pdf(data)
            out = unsigned
            for field, signer in ((signing.SECRETARY_FIELD, secretary), (signing.CHAIR_FIELD, chair)):
                place = places[field]
                out = signing.sign_pdf(out, signer, field_name=field, box=place.box, page=place.page,
                                       stamp_text_lines=signing.signer_stamp_lines(signer))
            return unsigned, out

        baseline()  # warm-up: modules imported, fonts parsed
        _, t_base = timed(args.runs, baseline)
        (unsigned, places), t_ours = timed(args.runs, lambda: documents.minutes_pdf(data))
        (_, twice), t_signed = timed(args.runs, signed)
        docx, t_docx = timed(args.runs, lambda: documents.minutes_docx(data))
    finally:
        shutil.rmtree(scratch)

    pages = len(PdfReader(io.BytesIO(unsigned)).pages)
    print(f"{args.items} items, {args.voters} named voters per vote: {pages} pages; "
          f"median of {args.runs} runs")
    print(f"  PDF {len(unsigned) / 1024:.0f} KiB, signed twice {len(twice) / 1024:.0f} KiB, "
          f"DOCX {len(docx) / 1024:.0f} KiB")
    print("  signature boxes: "
          + ", ".join(f"{k} p.{v.page + 1} {v.box}" for k, v in sorted(places.items())))
    print(f"  {'step':<46}{'median':>9}{'vs (a)':>9}")
    for label, seconds in (("(a) WeasyPrint alone, same HTML, PDF/A-3b", t_base),
                           ("(b) minutes_pdf (render + signature places)", t_ours),
                           ("(c) (b) + secretary's and chair's signatures", t_signed),
                           ("(d) minutes_docx", t_docx)):
        print(f"  {label:<46}{seconds:8.3f}s{seconds / t_base:8.2f}×")
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        notice = sample_notice(data)
        files = {"minutes.pdf": unsigned, "minutes-signed.pdf": twice, "minutes.docx": docx,
                 "notice.pdf": documents.notice_pdf(notice), "notice.docx": documents.notice_docx(notice)}
        for name, content in files.items():
            (args.out / name).write_bytes(content)
        print(f"Written to {args.out}: {', '.join(files)} "
              f"(pdftoppm -r 60 -png {args.out}/minutes-signed.pdf {args.out}/page)")


if __name__ == "__main__":
    main()
