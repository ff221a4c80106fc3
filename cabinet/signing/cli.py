"""``flask --app app pki …`` (demo keys, signing by hand) and ``flask --app app minutes verify``."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from cabinet.core.errors import DomainError
from cabinet.signing import pdf, pki

pki_cli = AppGroup("pki", help="Keys and certificates for digital signatures.")
minutes_cli = AppGroup("minutes", help="Minutes: signed PDF tools.")


def _fail(message: str) -> None:
    click.echo(f"Error: {message}", err=True)
    sys.exit(1)


def _read_passphrase(from_stdin: bool, prompt: str = "Passphrase") -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return click.prompt(prompt, hide_input=True)


@pki_cli.command("demo")
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where to write the files (default: CABINET_PKI_DIR, instance/pki).")
@click.option("--passphrase-stdin", is_flag=True,
              help="Read the passphrase from standard input (first line) instead of generating one.")
@click.option("--force", is_flag=True, help="Replace existing files with a new demo CA and keys.")
def demo_command(directory: Path | None, passphrase_stdin: bool, force: bool) -> None:
    """Make a DEMO certificate authority and PKCS#12 files for the demo signers.

    Not for production: real signatures use certificates from the Government CA.
    """
    directory = directory or Path(current_app.config["CABINET_PKI_DIR"])
    passphrase = sys.stdin.readline().rstrip("\r\n") if passphrase_stdin else None
    if passphrase is not None and len(passphrase) < 8:
        _fail("the passphrase must have at least 8 characters.")
    try:
        result = pki.create_demo_pki(directory, passphrase, force=force)
    except DomainError as exc:
        _fail(exc.message)
    if not result.created:
        click.echo(f"The demo PKI in {directory} is complete; nothing written (use --force to replace it).")
        return
    click.echo(f"Demo PKI ({pki.DEMO_CA_NAME}, NOT FOR PRODUCTION) in {directory}:")
    for path in result.created:
        click.echo(f"  wrote {path.name}")
    click.echo(f"Trust root: {result.ca_cert}")
    if result.passphrase:
        click.echo(f"Passphrase of the keys (shown once, stored nowhere): {result.passphrase}")


@pki_cli.command("sign")
@click.argument("source", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--p12", "p12_path", required=True, help="The signer's PKCS#12 file.",
              type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--field", "field_name", default=pdf.SECRETARY_FIELD, show_default=True,
              help=f"Signature field: {pdf.SECRETARY_FIELD} (left), {pdf.CHAIR_FIELD} (right), "
                   f"{pdf.ORGANISATION_FIELD} (under the chair).")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Where to write the signed PDF (default: replaces SOURCE).")
@click.option("--passphrase-stdin", is_flag=True, help="Read the passphrase from standard input.")
def sign_command(source: Path, p12_path: Path, field_name: str, output: Path | None,
                 passphrase_stdin: bool) -> None:
    """Sign the PDF file SOURCE (a developer's tool: the minutes are signed from their page)."""
    passphrase = _read_passphrase(passphrase_stdin)
    try:
        signer = pki.load_signer(p12_path, passphrase)
        signed = pdf.sign_pdf(source.read_bytes(), signer, field_name=field_name,
                              stamp_text_lines=pdf.signer_stamp_lines(signer),
                              timestamp_url=current_app.config["CABINET_TSA_URL"])
    except DomainError as exc:
        _fail(exc.message)
    (output or source).write_bytes(signed)
    click.echo(f"Signed {field_name} → {output or source}")


@minutes_cli.command("verify")
@click.argument("source", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def verify_command(source: Path) -> None:
    """Report each signature of the PDF file SOURCE.

    Exit 0 when every signature is intact and trusted and nothing but later signatures was added
    after each; 1 otherwise (also for a PDF without signatures).
    """
    # pyHanko logs every failed path validation with a traceback; the report says it in words.
    logging.getLogger("pyhanko").setLevel(logging.CRITICAL)
    try:
        reports = pdf.verify_pdf(source.read_bytes(), pki.configured_trust_roots(),
                                 tz=current_app.config["CABINET_TIMEZONE"])
    except DomainError as exc:
        _fail(exc.message)
    if not reports:
        click.echo("No signature in this file. / Tệp này không có chữ ký số.")
        sys.exit(1)
    for number, report in enumerate(reports, start=1):
        verdict = "OK" if report.ok else "FAILED"
        click.echo(f"#{number} [{verdict}] {report.field_name}: {report.signer_name}"
                   + (f", {report.signer_title}" if report.signer_title else "")
                   + f" (issuer: {report.issuer_name})")
        click.echo(f"   {report.summary_vi}")
        click.echo(f"   {report.summary_en}")
    if pdf.all_signatures_ok(reports):
        click.echo(f"All {len(reports)} signature(s) valid. / Tất cả chữ ký hợp lệ.")
        return
    click.echo("At least one signature fails. / Có chữ ký không hợp lệ.", err=True)
    sys.exit(1)
