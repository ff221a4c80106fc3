"""Rendering an opinion ballot's documents: the summary report (PDF, DOCX) and the blank form.

    .venv/bin/python bench/ballot_report.py [--members 30] [--questions 3] [--rounds 5] [--out DIR]

What it does, in a scratch folder (removed at the end unless ``--out`` is given):

1. builds a SQLite database with the migrations, a secretariat account and ``--members`` Government
   members (the Prime Minister first);
2. drafts and issues a ballot of ``--questions`` questions through the service; most members answer
   on screen (signed with their password), a few on paper (recorded by the secretariat), some not at
   all; one writes a long *Ý kiến khác*; the ballot is closed and the Prime Minister decides;
3. renders, ``--rounds`` times each, from a snapshot taken once (no database while rendering):
   the report as PDF and as DOCX, the blank form as PDF and DOCX, and — the baseline — WeasyPrint
   rendering a plain HTML table of the same size (same rows, no fonts, no header, no PDF/A);
4. prints the median and the slowest time of each, the page counts and the file sizes.

With ``--out DIR`` the files are kept there (report.pdf, report.docx, form.pdf, form.docx,
draft-form.pdf) to look at; ``pdftoppm -r 60 -png DIR/report.pdf DIR/report`` makes page images.
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

os.environ.setdefault("CABINET_PASSWORD_PROFILE", "CHEAPEST")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

PASSWORD = "bench-password-2026"  # noqa: S105 (throw-away accounts in a scratch database)
SURNAMES = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Vũ", "Võ", "Đặng", "Bùi", "Đỗ", "Hồ", "Ngô",
            "Dương", "Lý", "Phan", "Trịnh", "Đinh", "Lương", "Tạ", "Châu", "Mạc", "Kiều", "Tôn Nữ", "Âu"]
GIVEN = ["Văn Hùng", "Thị Lan", "Quốc Việt", "Minh Tuấn", "Thị Ngọc Diệp", "Đức Thắng", "Hữu Phúc",
         "Thị Mai Anh", "Công Danh", "Quang Vinh", "Xuân Trường", "Thị Hồng Nhung", "Đăng Khoa"]
MINISTRIES = ["Bộ Quốc phòng", "Bộ Công an", "Bộ Ngoại giao", "Bộ Nội vụ", "Bộ Tư pháp", "Bộ Tài chính",
              "Bộ Công Thương", "Bộ Nông nghiệp và Môi trường", "Bộ Xây dựng",
              "Bộ Văn hóa, Thể thao và Du lịch", "Bộ Khoa học và Công nghệ", "Bộ Giáo dục và Đào tạo",
              "Bộ Y tế", "Bộ Dân tộc và Tôn giáo", "Ngân hàng Nhà nước Việt Nam", "Thanh tra Chính phủ"]
QUESTIONS = [
    "Đồng ý thông qua dự thảo Nghị định quy định chi tiết một số điều của Luật Đất đai về bồi "
    "thường, hỗ trợ, tái định cư khi Nhà nước thu hồi đất?",
    "Đồng ý giao Bộ Tư pháp chủ trì, phối hợp với Bộ Nông nghiệp và Môi trường hoàn thiện dự thảo "
    "theo ý kiến thành viên Chính phủ trước khi trình ký ban hành?",
    "Đồng ý thời điểm có hiệu lực của Nghị định là ngày 01 tháng 7 năm 2026?",
    "Đồng ý bổ sung quy định chuyển tiếp đối với các dự án đã có quyết định thu hồi đất?",
    "Đồng ý giao Văn phòng Chính phủ theo dõi, đôn đốc việc thực hiện?",
]
LONG_COMMENT = (
    "Đề nghị cơ quan chủ trì rà soát lại Điều 5 và Điều 12 của dự thảo: quy định về giá đất cụ thể "
    "để tính bồi thường chưa thống nhất với Luật Đất đai năm 2024 và các nghị định hướng dẫn; cần bổ "
    "sung quy định chuyển tiếp đối với các dự án đã phê duyệt phương án bồi thường trước ngày Nghị "
    "định có hiệu lực, tránh khiếu kiện kéo dài. Đồng thời làm rõ trách nhiệm của Ủy ban nhân dân cấp "
    "tỉnh trong việc bố trí quỹ đất tái định cư, bảo đảm nơi ở mới có điều kiện sống bằng hoặc tốt "
    "hơn nơi ở cũ như tinh thần của Luật. Sau khi tiếp thu, đề nghị báo cáo Thủ tướng Chính phủ.")


def build(members: int, questions: int):
    """A closed, decided ballot with every kind of answer; returns (ballot id, PM)."""
    from cabinet.ballots import service
    from cabinet.core.timeutil import utcnow
    from cabinet.users import service as users

    def person(i: int, title: str, organisation: str, role: str = "member"):
        name = f"{SURNAMES[i % len(SURNAMES)]} {GIVEN[(i * 5) % len(GIVEN)]}"
        return users.create_user(None, users.UserData(
            username=f"u{i}", full_name=name, title=title, organisation=organisation, role=role,
            clearance="mat"), PASSWORD)

    secretary = person(0, "Chuyên viên", "Văn phòng Chính phủ", role="secretariat")
    people = [person(1, "Thủ tướng Chính phủ", "Chính phủ")]
    for i in range(2, members + 1):
        if i <= 5:
            people.append(person(i, "Phó Thủ tướng", "Chính phủ"))
        elif i == 6:
            people.append(person(i, "Bộ trưởng, Chủ nhiệm", "Văn phòng Chính phủ"))
        else:
            people.append(person(i, "Bộ trưởng", MINISTRIES[(i - 7) % len(MINISTRIES)]))
    texts = [QUESTIONS[i % len(QUESTIONS)] for i in range(questions)]
    start = utcnow()
    ballot = service.create_ballot(secretary, service.BallotData(
        title="Dự thảo Nghị định quy định về bồi thường, hỗ trợ, tái định cư khi Nhà nước thu hồi đất",
        number="45/PLYK-VPCP", questions=texts,
        summary="Thực hiện chỉ đạo của Thủ tướng Chính phủ, Văn phòng Chính phủ xin ý kiến thành viên "
                "Chính phủ về dự thảo Nghị định (hồ sơ kèm theo).\nĐề nghị các đồng chí cho ý kiến "
                "vào Phiếu.",
        deadline=start + timedelta(days=5), recipient_ids=[p.id for p in people]))
    service.issue_ballot(secretary, ballot.id)
    qids = [q.id for q in ballot.questions]
    cycle = ["agree", "agree", "agree", "disagree", "agree", "other"]
    silent = max(members // 8, 1)  # the last few do not answer
    for n, member in enumerate(people[:-silent]):
        choices = [cycle[(n + k) % len(cycle)] for k in range(len(qids))]
        answers = [service.AnswerData(q, c, (LONG_COMMENT if n == 5 else "Đề nghị làm rõ phạm vi áp dụng.")
                                      if c == "other" else "") for q, c in zip(qids, choices, strict=True)]
        if n % 7 == 3:  # on paper, recorded by the secretariat
            service.record_paper_response(secretary, ballot.id, member.id, answers)
        else:
            service.submit_response(member, ballot.id, answers, password=PASSWORD)
    service.close_ballot(secretary, ballot.id)
    service.record_decision(people[0], ballot.id, (
        "Đồng ý thông qua dự thảo Nghị định.\nGiao Bộ Tư pháp tiếp thu ý kiến thành viên Chính phủ, "
        "hoàn thiện dự thảo, trình ký ban hành trước ngày 15 tháng 6 năm 2026."))
    return ballot.id, people[0], secretary


def baseline_html(data) -> str:
    """The same rows as a plain HTML table: what WeasyPrint costs without our layout."""
    rows = []
    for q in data.questions:
        rows.append(f"<h3>{q.text}</h3><table><tr><th>STT</th><th>Họ và tên</th><th>Chức vụ</th>"
                    "<th>Ý kiến</th><th>Ghi chú</th></tr>")
        rows.extend(f"<tr><td>{a.number}</td><td>{a.person.name}</td><td>{a.person.position}</td>"
                    f"<td>{a.choice_text}</td><td>{a.comment}</td></tr>" for a in q.answers)
        rows.append("</table>")
    return ("<!doctype html><html><head><meta charset='utf-8'><style>@page { size: A4; margin: 20mm }"
            "table { width: 100%; border-collapse: collapse } td, th { border: 1px solid #000 }"
            f"</style></head><body>{''.join(rows)}</body></html>")


def timed(fn, rounds: int):
    times, out = [], None
    for _ in range(rounds):
        started = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - started)
    return out, times


def pages(pdf: bytes) -> int:
    from pypdf import PdfReader

    return len(PdfReader(io.BytesIO(pdf)).pages)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--members", type=int, default=30)
    parser.add_argument("--questions", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--out", type=Path, help="keep the rendered files here")
    args = parser.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="cabinet-bench-report-"))
    os.environ["CABINET_INSTANCE_PATH"] = str(scratch / "instance")
    try:
        from flask_migrate import upgrade

        from cabinet import create_app
        from cabinet.ballots import documents, service
        from cabinet.documents.service import end_read_transaction
        from cabinet.extensions import db

        app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{scratch / 'bench.sqlite3'}",
                          "SECRET_KEY": "bench", "RATELIMIT_ENABLED": False, "REDIS_URL": None})
        with app.app_context():
            upgrade()
            started = time.perf_counter()
            ballot_id, pm, secretary = build(args.members, args.questions)
            print(f"built a ballot: {args.members} members × {args.questions} questions "
                  f"in {time.perf_counter() - started:.1f} s")
            started = time.perf_counter()
            outcome = service.result(pm, ballot_id)
            report = documents.report_data(outcome)
            form = documents.form_data(outcome.ballot)
            end_read_transaction()
            print(f"snapshot (tally + report_data + form_data): {time.perf_counter() - started:.3f} s")

            import weasyprint

            weasyprint.HTML(string="<p>warm-up</p>").write_pdf()  # first-use costs (fontconfig) apart
            cases = [
                ("report PDF (WeasyPrint, PDF/A-3b)", lambda: documents.report_pdf(report)),
                ("report DOCX (python-docx)", lambda: documents.report_docx(report)),
                ("blank form PDF", lambda: documents.blank_form_pdf(form)),
                ("blank form DOCX", lambda: documents.blank_form_docx(form)),
                ("baseline: plain HTML table, same rows", lambda: weasyprint.HTML(
                    string=baseline_html(report)).write_pdf()),
            ]
            outputs = {}
            print(f"{'case':42} {'median':>8} {'max':>8} {'pages':>6} {'size':>9}")
            for name, fn in cases:
                out, times = timed(fn, args.rounds)
                outputs[name] = out
                count = pages(out) if out[:4] == b"%PDF" else "-"
                print(f"{name:42} {statistics.median(times):7.3f}s {max(times):7.3f}s {count!s:>6} "
                      f"{len(out) / 1024:7.0f} kB")
            if args.out:
                args.out.mkdir(parents=True, exist_ok=True)
                (args.out / "report.pdf").write_bytes(outputs[cases[0][0]])
                (args.out / "report.docx").write_bytes(outputs[cases[1][0]])
                (args.out / "form.pdf").write_bytes(outputs[cases[2][0]])
                (args.out / "form.docx").write_bytes(outputs[cases[3][0]])
                draft = service.create_ballot(secretary, service.BallotData(
                    title=report.ballot_title, questions=[q.text for q in report.questions],
                    summary="Bản xem trước của phiếu trước khi phát hành."))
                (args.out / "draft-form.pdf").write_bytes(documents.blank_form_pdf(draft))
                print(f"files written to {args.out}")
            db.session.remove()
            db.engine.dispose()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
