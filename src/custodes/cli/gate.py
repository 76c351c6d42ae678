"""``custodes gate``: evidence, requests, sign-offs and promotions of registered versions.

Exit codes: 0 done; 1 the gate refused (what is missing is listed); 2 a usage or input
error, a failed authentication or a role that may not do this.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from custodes.cli.backend import backend
from custodes.cli.common import ListFormat, console, dump_json
from custodes.cli.govopts import DbOpt, KeyOpt, ProjectOpt, ServerOpt

__all__ = ["app"]

app = typer.Typer(
    help="Move datasets, notebooks and models dev → staging → production through policy "
    "checks and sign-offs.",
    no_args_is_help=True,
)

RefArg = Annotated[
    str, typer.Argument(help="NAME (its newest version) or NAME@sha256:PREFIX.", metavar="ARTIFACT")
]
FormatOpt = Annotated[ListFormat, typer.Option("--format", "-f", help="Output format.")]


def _print_decision(missing: list[str], satisfied: list[str]) -> None:
    for s in satisfied:
        console.print(f"  [green]✓[/green] {s}", soft_wrap=True)
    for m in missing:
        console.print(f"  [red]✗[/red] {m}", soft_wrap=True)


def _brief(kind: str, s: dict[str, Any]) -> str:
    """One line a reviewer reads for a piece of evidence."""
    if kind == "scan":
        return f"worst finding {s.get('max_severity') or 'none'} in {s.get('files', 0)} files"
    if kind == "data_check":
        return f"verdict {s.get('verdict')}"
    if kind == "threat_model":
        worst = s.get("max_unmitigated")
        return ("stale" if s.get("stale") else "current") + (
            f", worst unmitigated threat {worst}" if worst else ""
        )
    return str(s.get("detail", ""))


@app.command("evidence")
def evidence_command(
    ref: RefArg,
    scan: Annotated[
        bool, typer.Option("--scan", help="Scan the version (secrets, model files, notebooks).")
    ] = False,
    data_check: Annotated[
        bool, typer.Option("--data-check", help="Check the dataset version against --baseline.")
    ] = False,
    threat_model: Annotated[
        bool, typer.Option("--threat-model", help="Analyze the project's custodes.yaml.")
    ] = False,
    provenance: Annotated[
        bool, typer.Option("--provenance", help="Verify the version against its manifest.")
    ] = False,
    baseline: Annotated[
        Path | None, typer.Option("--baseline", help="Baseline for --data-check.")
    ] = None,
    public_key: Annotated[
        list[Path] | None,
        typer.Option("--public-key", help="Key the manifest must be signed by (repeatable)."),
    ] = None,
    key: KeyOpt = None,
    project: ProjectOpt = Path(),
    db: DbOpt = None,
    server: ServerOpt = None,
    fmt: FormatOpt = ListFormat.console,
) -> None:
    """Run custodes on the exact content of a version and record what it found."""
    kinds = [
        k
        for k, on in (
            ("scan", scan),
            ("data_check", data_check),
            ("threat_model", threat_model),
            ("provenance", provenance),
        )
        if on
    ]
    if not kinds:
        kinds = ["scan", "provenance"]
        local_model = server is None and (project / "custodes.yaml").is_file()
        kinds += ["threat_model"] if local_model else []
        kinds += ["data_check"] if baseline else []
    with backend(project, db, key, server) as b:
        results = b.evidence(ref, kinds, baseline, list(public_key or []))
    if fmt is ListFormat.json:
        typer.echo(dump_json(results))
        return
    for r in results:
        console.print(f"recorded {r['kind']}: {_brief(r['kind'], r['summary'])}", soft_wrap=True)


@app.command("request")
def request_command(
    ref: RefArg,
    to: Annotated[
        str | None, typer.Option("--to", help="Target stage (default: the next one).")
    ] = None,
    note: Annotated[str | None, typer.Option("--note", help="Why, for the reviewers.")] = None,
    key: KeyOpt = None,
    project: ProjectOpt = Path(),
    db: DbOpt = None,
    server: ServerOpt = None,
) -> None:
    """Ask for a version to move to the next stage; shows what the policy still needs."""
    with backend(project, db, key, server) as b:
        r = b.request(ref, to, note)
    console.print(f"request {r['request']}: {ref} {r['from']} → {r['to']}")
    if r["allowed"] is not None:
        _print_decision(r["missing"], r["satisfied"])


def _sign(
    ref: str,
    decision: str,
    comment: str | None,
    key: Path | None,
    project: Path,
    db: str | None,
    server: str | None,
) -> None:
    with backend(project, db, key, server) as b:
        row = b.sign(ref, decision, comment)
    verb = "approved" if decision == "approve" else "rejected"
    console.print(f"{row['by']} {verb} {ref} ({row['digest']}) as {row['role']}", soft_wrap=True)


@app.command("approve")
def approve_command(
    ref: RefArg,
    comment: Annotated[str | None, typer.Option("--comment", help="What you checked.")] = None,
    key: KeyOpt = None,
    project: ProjectOpt = Path(),
    db: DbOpt = None,
    server: ServerOpt = None,
) -> None:
    """Sign off the open request of a version (signed with your key)."""
    _sign(ref, "approve", comment, key, project, db, server)


@app.command("reject")
def reject_command(
    ref: RefArg,
    comment: Annotated[str, typer.Option("--comment", help="Why: the requester reads this.")],
    key: KeyOpt = None,
    project: ProjectOpt = Path(),
    db: DbOpt = None,
    server: ServerOpt = None,
) -> None:
    """Reject the open request; the version moves to rejected."""
    _sign(ref, "reject", comment, key, project, db, server)


@app.command("promote")
def promote_command(
    ref: RefArg,
    key: KeyOpt = None,
    project: ProjectOpt = Path(),
    db: DbOpt = None,
    server: ServerOpt = None,
) -> None:
    """Move the version if the policy's evidence and sign-offs are all there (else exit 1)."""
    with backend(project, db, key, server) as b:
        done = b.promote(ref)
    console.print(f"promoted {ref}")
    _print_decision([], done["satisfied"])


@app.command("withdraw")
def withdraw_command(
    ref: RefArg,
    key: KeyOpt = None,
    project: ProjectOpt = Path(),
    db: DbOpt = None,
    server: ServerOpt = None,
) -> None:
    """Withdraw your own open request."""
    with backend(project, db, key, server) as b:
        b.withdraw(ref)
    console.print(f"withdrew the request for {ref}")


@app.command("revoke")
def revoke_command(
    ref: RefArg,
    reason: Annotated[str, typer.Option("--reason", help="Why it must stop being used.")],
    key: KeyOpt = None,
    project: ProjectOpt = Path(),
    db: DbOpt = None,
    server: ServerOpt = None,
) -> None:
    """Pull a version out of its stage at once (it cannot be promoted again)."""
    with backend(project, db, key, server) as b:
        done = b.revoke(ref, reason)
    console.print(f"revoked {ref} ({done['digest']})", soft_wrap=True)


@app.command("status")
def status_command(
    ref: RefArg,
    key: KeyOpt = None,
    project: ProjectOpt = Path(),
    db: DbOpt = None,
    server: ServerOpt = None,
    fmt: FormatOpt = ListFormat.console,
) -> None:
    """Where a version stands, and what its open request still needs."""
    with backend(project, db, key, server) as b:
        st = b.status(ref)
    if fmt is ListFormat.json:
        typer.echo(dump_json(st))
        return
    console.print(f"[bold]{st['artifact']}[/bold] ({st['kind']}) {st['digest']}", soft_wrap=True)
    console.print(f"stage: [bold]{st['stage']}[/bold]   path: {st['path']}", soft_wrap=True)
    for e in st["evidence"]:
        console.print(
            f"  evidence {e['kind']} by {e['by']} at {e['at']}: {_brief(e['kind'], e['summary'])}"
        )
    if st["request"] is None:
        console.print("no open request")
        return
    r = st["request"]
    console.print(f"request {r['id']}: {r['from']} → {r['to']} by {r['by']} at {r['at']}")
    for s in st["signoffs"]:
        console.print(f"  {s['decision']} by {s['by']} ({s['role']}) at {s['at']}")
    verdict = (
        "[green]may be promoted[/green]" if st["allowed"] else "[red]may not be promoted yet[/red]"
    )
    console.print(verdict)
    _print_decision(st["missing"], st["satisfied"])
