"""``flask --app app user ...``: account management from the command line."""

from __future__ import annotations

import sys

import click
from flask.cli import AppGroup

from cabinet.core.errors import DomainError
from cabinet.users import service
from cabinet.users.models import Clearance, Role

user_cli = AppGroup("user", help="Manage accounts.")


@user_cli.command("create")
@click.argument("username")
@click.option("--role", type=click.Choice([r.value for r in Role]), default="member", show_default=True)
@click.option("--name", "full_name", required=True, help="Full name, e.g. \"Nguyễn Văn A\".")
@click.option("--title", default="", help="Title (chức vụ).")
@click.option("--organisation", default="", help="Ministry or agency.")
@click.option("--email", default=None)
@click.option("--clearance", type=click.Choice([c.value for c in Clearance]), default="none",
              show_default=True)
@click.option("--password-stdin", is_flag=True,
              help="Read the password from standard input (first line) instead of prompting.")
def create_command(username, role, full_name, title, organisation, email, clearance,
                   password_stdin):
    """Create an account named USERNAME."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    data = service.UserData(username=username, full_name=full_name, title=title,
                            organisation=organisation, email=email, role=role, clearance=clearance)
    try:
        user = service.create_user(None, data, password)
    except DomainError as exc:
        fields = (exc.details or {}).get("fields") if isinstance(exc.details, dict) else None
        click.echo(f"Error: {exc.message}", err=True)
        for name, message in (fields or {}).items():
            click.echo(f"  {name}: {message}", err=True)
        sys.exit(1)
    click.echo(f"Created {user.username} ({user.role}), id {user.id}.")
