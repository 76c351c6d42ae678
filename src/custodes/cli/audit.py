"""``custodes audit``: check, export and prove entries of the governance audit log.

None of these needs a personal key: verifying a transparency log is meant to be open to
anyone holding the log's public key. Exit 0 when everything checks, 1 when the log (or a
bundle, or a proof) fails, naming the first bad entry.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from custodes.cli.common import ListFormat, console, dump_json, write_output
from custodes.cli.govopts import DbOpt, ProjectOpt, governance
from custodes.errors import InputError

__all__ = ["app"]

app = typer.Typer(
    help="The tamper-evident audit log: verify it, export it, prove an entry is in it.",
    no_args_is_help=True,
)
FormatOpt = Annotated[ListFormat, typer.Option("--format", "-f", help="Output format.")]


def _read_json(path: Path) -> dict[str, Any]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read: {exc}", path=path) from None
    except json.JSONDecodeError as exc:
        raise InputError(
            f"not JSON: {exc.msg}", path=path, line=exc.lineno, column=exc.colno
        ) from None
    if not isinstance(doc, dict):
        raise InputError("expected a JSON object", path=path)
    return doc


@app.command("verify")
def verify_command(
    bundle: Annotated[
        Path | None,
        typer.Option("--bundle", help="Verify an exported bundle instead of the store."),
    ] = None,
    witness: Annotated[
        Path | None,
        typer.Option(
            "--witness", help="A signed tree head seen earlier (default: .custodes/witness.json)."
        ),
    ] = None,
    project: ProjectOpt = Path(),
    db: DbOpt = None,
    fmt: FormatOpt = ListFormat.console,
) -> None:
    """Recompute every leaf, root and signature; name the first bad entry (exit 1)."""
    from custodes.governance import auditlog

    trusted = _read_json(witness) if witness is not None else None
    if bundle is not None:
        result = auditlog.verify_bundle(_read_json(bundle), trusted_head=trusted)
    else:
        with governance(project, db) as gov:
            if trusted is None:
                trusted = gov.witness()
            with gov.read() as session:
                result = auditlog.verify(session, gov.signer.public_key, trusted_head=trusted)
    if fmt is ListFormat.json:
        typer.echo(dump_json(result.to_dict()))
    elif result.ok:
        console.print(
            f"[green]audit log verified[/green]: {result.size:,} entries, every leaf, root and "
            "signed tree head checks" + (" and it extends the witness head" if trusted else ""),
            soft_wrap=True,
        )
    else:
        where = f"entry {result.first_bad}: " if result.first_bad is not None else ""
        console.print(f"[red]audit log FAILED[/red]: {where}{result.reason}", soft_wrap=True)
    if not result.ok:
        raise typer.Exit(1)


@app.command("export")
def export_command(
    output: Annotated[Path, typer.Option("--output", "-o", help="Bundle file to write.")],
    project: ProjectOpt = Path(),
    db: DbOpt = None,
) -> None:
    """Write every entry and signed head, with the log's public key, as one JSON bundle
    that verifies with `custodes audit verify --bundle` and no store."""
    from custodes.governance import auditlog

    with governance(project, db) as gov, gov.read() as session:
        doc = auditlog.export_bundle(session, gov.log_public_key_pem())
    write_output(json.dumps(doc, indent=1), output)


@app.command("prove")
def prove_command(
    entry: Annotated[int, typer.Argument(help="Sequence number of the entry (from 0).")],
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write here.")] = None,
    project: ProjectOpt = Path(),
    db: DbOpt = None,
) -> None:
    """Print an RFC 9162 inclusion proof of ENTRY against the newest signed tree head."""
    from custodes.governance import auditlog

    with governance(project, db) as gov, gov.read() as session:
        doc = auditlog.inclusion_bundle(session, entry, gov.log_public_key_pem())
    write_output(dump_json(doc), output)


@app.command("check-proof")
def check_proof_command(
    proof: Annotated[Path, typer.Argument(help="A proof from audit prove.")],
) -> None:
    """Check an inclusion proof with nothing but the file itself (exit 1 if it fails)."""
    from custodes.governance import auditlog

    ok, detail = auditlog.check_inclusion_bundle(_read_json(proof))
    if ok:
        console.print(f"[green]proof checks[/green]: {detail}", soft_wrap=True)
        return
    console.print(f"[red]proof FAILED[/red]: {detail}", soft_wrap=True)
    raise typer.Exit(1)
