"""``custodes registry token``: bearer tokens for the team server's API and dashboard."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from custodes.cli.backend import backend
from custodes.cli.common import ListFormat, console, dump_json, err_console
from custodes.cli.govopts import DbOpt, KeyOpt, ProjectOpt, ServerOpt

__all__ = ["app"]

app = typer.Typer(help="Tokens for the server (shown once, stored hashed).", no_args_is_help=True)


@app.command("create")
def create_command(
    name: Annotated[str, typer.Option("--name", help="What it is for: laptop, ci, ...")],
    for_person: Annotated[
        str | None, typer.Option("--for", help="Another person (admins only, e.g. a CI account).")
    ] = None,
    key: KeyOpt = None,
    project: ProjectOpt = Path(),
    db: DbOpt = None,
    server: ServerOpt = None,
) -> None:
    """Create a token; it is printed once and cannot be shown again."""
    with backend(project, db, key, server) as b:
        token = b.create_token(name, for_person)
    typer.echo(token)
    err_console.print(
        "[dim]Keep this token secret: it acts as you on the server. "
        "It is stored only as a hash and cannot be shown again.[/dim]",
        soft_wrap=True,
    )


@app.command("list")
def list_command(
    key: KeyOpt = None,
    project: ProjectOpt = Path(),
    db: DbOpt = None,
    server: ServerOpt = None,
    fmt: Annotated[ListFormat, typer.Option("--format", "-f")] = ListFormat.console,
) -> None:
    """Your tokens (admins: everyone's), without secrets."""
    with backend(project, db, key, server) as b:
        rows = b.tokens()
    if fmt is ListFormat.json:
        typer.echo(dump_json(rows))
        return
    table = Table("id", "person", "name", "created", "last used", "revoked")
    for t in rows:
        table.add_row(
            str(t["id"]),
            t["principal"],
            t["name"],
            t["created_at"],
            t["last_used_at"] or "never",
            "yes" if t["revoked"] else "",
        )
    console.print(table)


@app.command("revoke")
def revoke_command(
    token_id: Annotated[int, typer.Argument(help="The token's id (from token list).")],
    key: KeyOpt = None,
    project: ProjectOpt = Path(),
    db: DbOpt = None,
    server: ServerOpt = None,
) -> None:
    """Revoke a token and end its dashboard sessions."""
    with backend(project, db, key, server) as b:
        b.revoke_token(token_id)
    console.print(f"token {token_id} revoked")
