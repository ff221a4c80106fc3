"""``flask --app app audit verify``: check the hash chain of the audit trail."""

from __future__ import annotations

import sys

import click
from flask.cli import AppGroup

from cabinet.audit.service import verify_chain

audit_cli = AppGroup("audit", help="Audit trail tools.")


@audit_cli.command("verify")
def verify_command() -> None:
    """Exit 0 if the trail is intact; otherwise name the first broken entry and exit 1."""
    result = verify_chain()
    if result.ok:
        click.echo(f"OK: {result.checked} entries, chain intact.")
        if result.head_seq:
            click.echo(f"Head: entry {result.head_seq}, hash {result.head_hash}")
            click.echo("Keep this head hash elsewhere: a later check must show it (or a longer chain).")
        return
    click.echo(f"BROKEN at entry {result.broken_seq}: {result.reason}", err=True)
    click.echo(f"{result.checked} entries before it are intact.", err=True)
    sys.exit(1)
