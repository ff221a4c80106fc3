"""Rendering a 30-page minutes-like document and signing it twice (issue 6's Done-when).

    .venv/bin/python bench/sign_minutes.py [--pages 30] [--rounds 5] [--out DIR]

In a scratch folder (kept with ``--out``): makes a demo PKI, then, ``--rounds`` times each:

1. baseline — WeasyPrint rendering the sample HTML alone (PDF/A-3b, the vendored fonts);
2. the same render, then the secretary's signature *with key loading* (the key cache is cleared
   first, as in a fresh worker), the chair's signature (key already loaded), and pyHanko's
   verification of both signatures;

and prints the median and the slowest time of each step, the total against the baseline (the ratio
is our overhead), the page count and the file sizes. The sample HTML (NĐ30 header, numbered
sections of Vietnamese paragraphs and vote tables, the two signature blocks) stands in for the
minutes template, which will replace it.
"""

from __future__ import annotations

import argparse
import io
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pypdf import PdfReader  # noqa: E402

from cabinet.ballots.documents import FONTS  # noqa: E402
from cabinet.signing import pdf as signing  # noqa: E402
from cabinet.signing import pki  # noqa: E402

PASSPHRASE = "bench-passphrase-2026"  # noqa: S105 (a throw-away demo PKI)
PARAGRAPH = ("Thay mặt Chính phủ, Thủ tướng Chính phủ kết luận: thống nhất thông qua dự thảo Nghị "
             "định; giao Bộ Tư pháp chủ trì, phối hợp với Văn phòng Chính phủ và các bộ, cơ quan liên "
             "quan tiếp thu tối đa ý kiến của các thành viên Chính phủ, hoàn thiện hồ sơ, trình Thủ "
             "tướng Chính phủ xem xét, ký ban hành trước ngày 15 tháng 4 năm 2026. Đồng chí Bộ trưởng "
             "Bộ Kế hoạch và Đầu tư báo cáo tình hình kinh tế - xã hội quý I, nhấn mạnh tăng trưởng, "
             "giải ngân vốn đầu tư công và cải cách thủ tục hành chính.")
MEMBERS = ["Phạm Quốc Hưng", "Vũ Đức Thắng", "Phan Thị Ngọc Diệp", "Nguyễn Văn Hùng", "Trần Thị Lan",
           "Lê Quốc Việt", "Hoàng Minh Tuấn", "Đặng Hữu Phúc", "Bùi Thị Thu Hà", "Đỗ Đức Thắng"]


def sample_html(pages: int) -> str:
    faces = "\n".join(
        f"@font-face {{ font-family: 'Times'; font-weight: {w}; font-style: {s}; src: url({p.as_uri()}) }}"
        for (w, s), p in FONTS.items())
    items = []
    for number in range(1, pages + 1):
        rows = "".join(f"<tr><td>{i + 1}</td><td>{name}</td><td>{'Tán thành' if i % 4 else 'Không tán thành'}"
                       f"</td></tr>" for i, name in enumerate(MEMBERS))
        items.append(f"""<section><h2>{number}. Dự thảo Nghị định số {number}/2026/NĐ-CP</h2>
          <p>{PARAGRAPH}</p><p>{PARAGRAPH}</p>
          <table><thead><tr><th>STT</th><th>Thành viên Chính phủ</th><th>Biểu quyết</th></tr></thead>
          <tbody>{rows}</tbody></table></section>""")
    return f"""<!doctype html><html lang="vi"><head><meta charset="utf-8"><title>Biên bản</title><style>
      {faces}
      @page {{ size: A4; margin: 20mm 15mm 20mm 30mm;
               @bottom-center {{ content: counter(page); font: 13pt Times }} }}
      body {{ font: 14pt/1.3 Times; text-align: justify }}
      .header {{ display: table; width: 100%; text-align: center; font-size: 13pt }}
      .header > div {{ display: table-cell }} .organ {{ width: 38% }}
      .motto {{ font-weight: bold; text-decoration: underline }} .date {{ font-style: italic }}
      h1 {{ text-align: center; font-size: 14pt; margin-top: 8mm }}
      h2 {{ font-size: 14pt }} section {{ break-after: page }}
      table {{ width: 100%; border-collapse: collapse; font-size: 13pt }}
      td, th {{ border: 0.5pt solid black; padding: 1pt 4pt }}
      .signatures {{ display: table; width: 100%; text-align: center; margin-top: 10mm }}
      .signatures > div {{ display: table-cell; width: 50%; font-weight: bold }}
      .stamp {{ width: {signing.STAMP_SIZE[0]}pt; height: {signing.STAMP_SIZE[1]}pt; margin: 4mm auto }}
      </style></head><body>
      <div class="header"><div class="organ">CHÍNH PHỦ<br>Số: 12/BB-CP</div>
        <div><b>CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM</b><br><span class="motto">Độc lập - Tự do - Hạnh
        phúc</span><br><span class="date">Hà Nội, ngày 05 tháng 3 năm 2026</span></div></div>
      <h1>BIÊN BẢN<br>PHIÊN HỌP CHÍNH PHỦ THƯỜNG KỲ THÁNG 3 NĂM 2026</h1>
      {"".join(items)}
      <div class="signatures">
        <div>THƯ KÝ<div class="stamp" id="signature-{signing.SECRETARY_FIELD}"></div>Trần Thị Thu Hà</div>
        <div>CHỦ TỌA<div class="stamp" id="signature-{signing.CHAIR_FIELD}"></div>Phạm Quốc Hưng</div>
      </div>
      </body></html>"""


def render(html: str) -> bytes:
    """WeasyPrint alone: the baseline."""
    import weasyprint

    return weasyprint.HTML(string=html).write_pdf(pdf_variant="pdf/a-3b")


def render_with_places(html: str) -> tuple[bytes, dict[str, signing.SignaturePlace]]:
    """What the minutes will do: render once, read where the template left the stamps' space."""
    import weasyprint

    document = weasyprint.HTML(string=html).render()
    return document.write_pdf(pdf_variant="pdf/a-3b"), signing.signature_places(document)


def timed(fn, *args, **kwargs):
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    return result, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="sign-bench-"))
    out = args.out or scratch
    out.mkdir(parents=True, exist_ok=True)
    demo = pki.create_demo_pki(scratch / "pki", PASSPHRASE)
    roots = pki.trust_roots(demo.directory)
    html = sample_html(args.pages)
    render(html)  # warm-up: fonts parsed, modules imported

    times: dict[str, list[float]] = {
        k: [] for k in ("baseline", "render", "sign1", "sign2", "verify", "total")}
    for _ in range(args.rounds):
        _, t = timed(render, html)
        times["baseline"].append(t)

        (unsigned, places), t_render = timed(render_with_places, html)
        pki.clear_signer_cache()  # the first signature pays for loading the key, as in a new worker
        start = time.perf_counter()
        secretary = pki.load_signer(demo.p12["thuky"], PASSPHRASE)
        place = places[signing.SECRETARY_FIELD]
        once = signing.sign_pdf(unsigned, secretary, field_name=signing.SECRETARY_FIELD,
                                stamp_text_lines=signing.signer_stamp_lines(secretary),
                                page=place.page, box=place.box)
        t_sign1 = time.perf_counter() - start
        chair = pki.load_signer(demo.p12["thutuong"], PASSPHRASE)  # a key already loaded
        start = time.perf_counter()
        place = places[signing.CHAIR_FIELD]
        twice = signing.sign_pdf(once, chair, field_name=signing.CHAIR_FIELD,
                                 stamp_text_lines=signing.signer_stamp_lines(chair),
                                 page=place.page, box=place.box)
        t_sign2 = time.perf_counter() - start
        reports, t_verify = timed(signing.verify_pdf, twice, roots)
        assert signing.all_signatures_ok(reports) and len(reports) == 2
        for key, value in (("render", t_render), ("sign1", t_sign1), ("sign2", t_sign2),
                           ("verify", t_verify), ("total", t_render + t_sign1 + t_sign2)):
            times[key].append(value)

    pages = len(PdfReader(io.BytesIO(twice)).pages)
    (out / "unsigned.pdf").write_bytes(unsigned)
    (out / "signed.pdf").write_bytes(twice)
    labels = {"baseline": "WeasyPrint alone (baseline)", "render": "render (ours, same HTML)",
              "sign1": "1st signature, key loading included", "sign2": "2nd signature, key already loaded",
              "verify": "verify 2 signatures (pyHanko)", "total": "render + 2 signatures"}
    print(f"{pages} pages, {args.rounds} rounds; unsigned {len(unsigned) / 1024:.0f} KiB, "
          f"signed {len(twice) / 1024:.0f} KiB")
    for key, label in labels.items():
        print(f"  {label:<38} median {statistics.median(times[key]):6.3f} s   max {max(times[key]):6.3f} s")
    ratio = statistics.median(times["total"]) / statistics.median(times["baseline"])
    print(f"  render + sign twice / WeasyPrint alone: {ratio:.2f}×")
    shutil.rmtree(scratch)
    if args.out is not None:
        print(f"Files in {out}: unsigned.pdf, signed.pdf (pdftoppm -r 80 -png -f {pages} -l {pages} …)")


if __name__ == "__main__":
    main()
