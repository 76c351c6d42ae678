"""``custodes registry``: the store, its people, its policy, and what is in which stage."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from custodes.cli.backend import backend
from custodes.cli.common import ListFormat, console, dump_json
from custodes.cli.govopts import DbOpt, KeyOpt, ProjectOpt, ServerOpt, governance
from custodes.errors import InputError, UsageError

__all__ = ["app"]

app = typer.Typer(
    help="The governance registry: people and roles, the policy, artifacts and their stages.",
    no_args_is_help=True,
)
people_app = typer.Typer(help="People who act on the registry, and their roles.")
app.add_typer(people_app, name="people")

FormatOpt = Annotated[ListFormat, typer.Option("--format", "-f", help="Output format.")]
RoleOpt = Annotated[
    list[str],
    typer.Option(
        "--role",
        help="admin, data-scientist, ml-engineer, security-reviewer, approver or auditor "
        "(repeatable).",
    ),
]


def _pem(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read public key: {exc}", path=path) from None


@app.command("init")
def init_command(
    admin: Annotated[str, typer.Option("--admin", help="Handle of the first admin.")],
    public_key: Annotated[
        Path, typer.Option("--public-key", help="The admin's Ed25519 public key (PEM).")
    ],
    project: ProjectOpt = Path(),
    db: DbOpt = None,
) -> None:
    """Create the store and its first admin (only while nobody is registered)."""
    with governance(project, db, create=True) as gov:
        from custodes.governance.service import ignore_store

        gov.bootstrap(admin, _pem(public_key))
        ignore_store(project)
        console.print(
            f"store ready at {gov.store.url}\n{admin} is admin; the audit log is signed with "
            f"{project / '.custodes' / 'log-key.pem'} (keep it; back it up)",
            soft_wrap=True,
        )


@people_app.command("add")
def people_add(
    name: Annotated[str, typer.Argument(help="The person's handle.")],
    public_key: Annotated[Path, typer.Option("--public-key", help="Their public key (PEM).")],
    role: RoleOpt,
    key: KeyOpt = None,
    project: ProjectOpt = Path(),
    db: DbOpt = None,
    server: ServerOpt = None,
) -> None:
    """Register a person's public key with roles (admin only)."""
    with backend(project, db, key, server) as b:
        b.add_person(name, _pem(public_key), role)
    console.print(f"added {name} ({', '.join(role)})")


@people_app.command("roles")
def people_roles(
    name: Annotated[str, typer.Argument(help="The person's handle.")],
    role: RoleOpt,
    key: KeyOpt = None,
    project: ProjectOpt = Path(),
    db: DbOpt = None,
    server: ServerOpt = None,
) -> None:
    """Replace a person's roles (admin only; the change is in the audit log)."""
    with backend(project, db, key, server) as b:
        b.set_roles(name, role)
    console.print(f"{name} now: {', '.join(role)}")


@people_app.command("deactivate")
def people_deactivate(
    name: Annotated[str, typer.Argument(help="The person's handle.")],
    key: KeyOpt = None,
    project: ProjectOpt = Path(),
    db: DbOpt = None,
    server: ServerOpt = None,
) -> None:
    """Stop a person's key from acting (admin only); their past actions stay on record."""
    with backend(project, db, key, server) as b:
        b.deactivate(name)
    console.print(f"{name} deactivated")


@people_app.command("list")
def people_list(
    key: KeyOpt = None,
    project: ProjectOpt = Path(),
    db: DbOpt = None,
    server: ServerOpt = None,
    fmt: FormatOpt = ListFormat.console,
) -> None:
    """Everyone registered, with roles and key ids."""
    with backend(project, db, key, server) as b:
        rows = b.people()
    if fmt is ListFormat.json:
        typer.echo(dump_json(rows))
        return
    table = Table("person", "roles", "key id", "active", "since")
    for r in rows:
        table.add_row(
            r["id"], ", ".join(r["roles"]), r["key_id"], "yes" if r["active"] else "no", r["since"]
        )
    console.print(table)


@app.command("policy")
def policy_command(
    key: KeyOpt = None, project: ProjectOpt = Path(), db: DbOpt = None, server: ServerOpt = None
) -> None:
    """Put the project's custodes-policy.yaml in force (admin only; audited). With
    --server, the policy file of the server's project."""
    with backend(project, db, key, server) as b:
        digest, previous = b.record_policy()
    if previous == digest:
        console.print(f"policy unchanged ({digest})", soft_wrap=True)
    else:
        console.print(
            f"policy in force: {digest}" + (f" (was {previous})" if previous else ""),
            soft_wrap=True,
        )


@app.command("register")
def register_command(
    kind: Annotated[str, typer.Argument(help="dataset, notebook, model or pipeline.")],
    name: Annotated[str, typer.Argument(help="The artifact's name in the registry.")],
    path: Annotated[Path, typer.Argument(help="File or folder holding this version.")],
    manifest: Annotated[
        Path | None, typer.Option("--manifest", help="Its provenance manifest, if not beside it.")
    ] = None,
    key: KeyOpt = None,
    project: ProjectOpt = Path(),
    db: DbOpt = None,
    server: ServerOpt = None,
) -> None:
    """Register the content at PATH as a version of NAME, named by its digest."""
    with backend(project, db, key, server) as b:
        done = b.register(kind, name, path, manifest)
    what = "registered" if done["new"] else "already registered"
    console.print(f"{what}: {name} {done['digest']} in {done['stage']}", soft_wrap=True)


@app.command("list")
def list_command(
    stage: Annotated[str | None, typer.Option("--stage", help="Only this stage.")] = None,
    kind: Annotated[str | None, typer.Option("--kind", help="Only this kind.")] = None,
    key: KeyOpt = None,
    project: ProjectOpt = Path(),
    db: DbOpt = None,
    server: ServerOpt = None,
    fmt: FormatOpt = ListFormat.console,
) -> None:
    """Artifacts and their versions by stage."""
    with backend(project, db, key, server) as b:
        rows = b.versions(stage, kind)
    if fmt is ListFormat.json:
        typer.echo(dump_json(rows))
        return
    if not rows:
        console.print("the registry is empty" if not (stage or kind) else "nothing matches")
        return
    table = Table("artifact", "kind", "stage", "digest", "registered by", "at")
    for r in rows:
        table.add_row(
            r["artifact"],
            r["kind"],
            r["stage"],
            r["digest"][:19] + "…",
            r["registered_by"],
            r["registered_at"],
        )
    console.print(table)


@app.command("show")
def show_command(
    name: Annotated[str, typer.Argument(help="Artifact name.")],
    key: KeyOpt = None,
    project: ProjectOpt = Path(),
    db: DbOpt = None,
    server: ServerOpt = None,
    fmt: FormatOpt = ListFormat.console,
) -> None:
    """An artifact's versions and their promotion requests."""
    with backend(project, db, key, server) as b:
        doc = b.show(name)
    if fmt is ListFormat.json:
        typer.echo(dump_json(doc))
        return
    console.print(f"[bold]{doc['artifact']}[/bold] ({doc['kind']})")
    for v in doc["versions"]:
        console.print(f"  {v['digest']}  [bold]{v['stage']}[/bold]  {v['path']}", soft_wrap=True)
        for r in v["requests"]:
            console.print(
                f"    request {r['id']}: {r['from']} → {r['to']} by {r['by']} ({r['state']})"
            )


def _instant(value: str) -> datetime:
    """``--at``: a date (end of that day, UTC) or an RFC 3339 instant."""
    try:
        if len(value) == 10:
            d = date.fromisoformat(value)
            return datetime(d.year, d.month, d.day, 23, 59, 59, 999999, tzinfo=UTC)
        at = datetime.fromisoformat(value)
    except ValueError:
        raise UsageError(f"--at expects YYYY-MM-DD or an ISO 8601 time, got {value!r}") from None
    return at if at.tzinfo else at.replace(tzinfo=UTC)


@app.command("history")
def history_command(
    name: Annotated[
        str | None, typer.Argument(help="Artifact name (all artifacts with --at).")
    ] = None,
    at: Annotated[
        str | None,
        typer.Option("--at", help="What was in --stage at this date (end of day, UTC) or time."),
    ] = None,
    stage: Annotated[
        str, typer.Option("--stage", help="The stage --at asks about.")
    ] = "production",
    key: KeyOpt = None,
    project: ProjectOpt = Path(),
    db: DbOpt = None,
    server: ServerOpt = None,
    fmt: FormatOpt = ListFormat.console,
) -> None:
    """An artifact's stage changes, or what was in production on a date and who put it there."""
    if name is None and at is None:
        raise UsageError("give an artifact NAME, or --at DATE to see what was in a stage then")
    with backend(project, db, key, server) as b:
        rows: list[dict[str, Any]]
        if at is not None:
            rows = b.in_stage(stage, _instant(at), name)
        else:
            assert name is not None
            rows = b.history(name)
    if fmt is ListFormat.json:
        typer.echo(dump_json(rows))
        return
    if at is not None:
        if not rows:
            console.print(f"nothing was in {stage} at {at}")
        for r in rows:
            who = f" approved by {', '.join(r['approvers'])}" if r["approvers"] else ""
            console.print(
                f"{r['artifact']} {r['digest'][:19]}… in {stage} since {r['since']}, "
                f"moved by {r['by']}{who}",
                soft_wrap=True,
            )
        return
    table = Table("at", "digest", "from", "to", "by", "approvers")
    for r in rows:
        table.add_row(
            r["at"], r["digest"][:19] + "…", r["from"], r["to"], r["by"], ", ".join(r["approvers"])
        )
    console.print(table)
