"""Checking signed PDFs with an independent validator, poppler's ``pdfsig`` (shared by the signing
and the minutes tests).

``pdfsig`` trusts a custom CA only through an NSS database; it exits 0 even on "Digest Mismatch.",
so its text is read, one dict per signature.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

PDFSIG = shutil.which("pdfsig")
CERTUTIL = shutil.which("certutil")


def nss_database(directory: Path, ca_cert: Path) -> str:
    """An NSS database in ``directory`` trusting ``ca_cert``; the ``-nssdir`` argument for pdfsig."""
    if not (PDFSIG and CERTUTIL):  # CI installs them (.ci/lib.sh): never skipped
        pytest.fail("pdfsig and certutil are needed: apt-get install poppler-utils libnss3-tools")
    subprocess.run([CERTUTIL, "-N", "-d", f"sql:{directory}", "--empty-password"], check=True)
    subprocess.run([CERTUTIL, "-A", "-d", f"sql:{directory}", "-n", "ecabinet-demo-ca",
                    "-t", "CT,C,C", "-i", str(ca_cert)], check=True)
    return f"sql:{directory}"


def pdfsig(pdf_bytes: bytes, nss_db: str, tmp_path: Path) -> list[dict[str, str]]:
    """``pdfsig``'s report, one dict per signature. It exits 0 even on a digest mismatch: read it."""
    path = tmp_path / "check.pdf"
    path.write_bytes(pdf_bytes)
    out = subprocess.run([PDFSIG, "-nssdir", nss_db, str(path)], capture_output=True, text=True,
                         timeout=30).stdout
    reports = []
    for block in re.split(r"^Signature #\d+:$", out, flags=re.M)[1:]:
        lines = [line.strip().removeprefix("- ") for line in block.splitlines() if line.strip()]
        reports.append(dict(line.partition(": ")[::2] for line in lines))
    return reports
