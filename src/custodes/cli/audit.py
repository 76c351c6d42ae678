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
from custodes.cli.govopts import DbOpt, ProjectOpt, ServerOpt, governance
from custodes.errors import InputError, UsageError

__all__ = ["app"]

app = typer.Typer(
    help="The tamper-evident audit log: verify it, export it, prove an entry is in it.",
    no_args_is_help=True,
)
#: How auditlog words a file that is not a bundle or proof at all (bad input, exit 2).
_MALFORMED_BUNDLE = "malformed audit bundle"
_MALFORMED_PROOF = "malformed inclusion bundle"
FormatOpt = Annotated[ListFormat, typer.Option("--format", "-f", help="Output format.")]
LogKeyOpt = Annotated[
    Path | None,
    typer.Option(
        "--log-key",
        help="The log's public key (.custodes/log-key.pub.pem) the file must be signed with; "
        "without it the file only vouches for itself.",
    ),
]


def _key_mismatch(doc: dict[str, Any], log_key: Path | None, path: Path) -> str | None:
    """Why the file's own public key is not the trusted log key, or None if it is (or
    no trusted key was given). A forger can re-sign a whole file with a key of their own."""
    if log_key is None:
        return None
    from custodes.governance import auditlog
    from custodes.provenance.keys import key_id, load_public_key

    trusted = key_id(load_public_key(log_key))
    pem = doc.get("public_key_pem")
    if not isinstance(pem, str):
        raise InputError("carries no log public key", path=path)
    try:
        carried = key_id(auditlog.public_key_from_pem(pem))
    except InputError:
        raise InputError("its log public key cannot be read", path=path) from None
    if carried != trusted:
        return f"signed with log key {carried}, not the trusted log key {trusted} ({log_key})"
    return None


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


def _read_head(path: Path) -> dict[str, Any]:
    """A signed tree head kept by a witness; one without a tree size is bad input."""
    head = _read_json(path)
    try:
        int(head["tree_size"])
    except (KeyError, TypeError, ValueError):
        raise InputError("not a signed tree head: no tree_size", path=path) from None
    return head


def _fetch(server: str, path: str) -> Any:
    """GET from a team server's API (what it sends is checked here, not taken on trust)."""
    from custodes.server.client import Remote

    with Remote(server) as remote:
        return remote.call("GET", path)


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
    log_key: LogKeyOpt = None,
    project: ProjectOpt = Path(),
    db: DbOpt = None,
    server: ServerOpt = None,
    fmt: FormatOpt = ListFormat.console,
) -> None:
    """Recompute every leaf, root and signature; name the first bad entry (exit 1)."""
    from custodes.governance import auditlog

    trusted = _read_head(witness) if witness is not None else None
    if bundle is not None:
        doc = _read_json(bundle)
        result = auditlog.verify_bundle(doc, trusted_head=trusted)
        if not result.ok and result.reason.startswith(_MALFORMED_BUNDLE):
            # A file of the wrong shape is bad input (exit 2), not a log that failed.
            raise InputError(result.reason, path=bundle)
        mismatch = _key_mismatch(doc, log_key, bundle)
        if mismatch is not None and result.ok:
            result = auditlog.LogVerification(False, result.size, None, mismatch, None)
    elif server is not None:
        # Verify here, not on the server: an auditor need not trust the server's word.
        doc = _fetch(server, "/audit/export")
        result = auditlog.verify_bundle(doc, trusted_head=trusted)
        mismatch = _key_mismatch(doc, log_key, Path(server))
        if mismatch is not None and result.ok:
            result = auditlog.LogVerification(False, result.size, None, mismatch, None)
    else:
        with governance(project, db) as gov:
            if trusted is None:
                trusted = gov.witness()
            with gov.read() as session:
                result = auditlog.verify(
                    session, gov.signer.public_key, trusted_head=trusted, signer=gov.signer
                )
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
    server: ServerOpt = None,
) -> None:
    """Write every entry and signed head, with the log's public key, as one JSON bundle
    that verifies with `custodes audit verify --bundle` and no store."""
    from custodes.governance import auditlog

    if server is not None:
        doc = _fetch(server, "/audit/export")
    else:
        with governance(project, db) as gov, gov.read() as session:
            doc = auditlog.export_bundle(session, gov.log_public_key_pem())
    write_output(json.dumps(doc, indent=1), output)


@app.command("prove")
def prove_command(
    entry: Annotated[int, typer.Argument(help="Sequence number of the entry (from 0).")],
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write here.")] = None,
    project: ProjectOpt = Path(),
    db: DbOpt = None,
    server: ServerOpt = None,
) -> None:
    """Print an RFC 9162 inclusion proof of ENTRY against the newest signed tree head."""
    from custodes.governance import auditlog

    if server is not None:
        doc = _fetch(server, f"/audit/proof/{entry}")
    else:
        with governance(project, db) as gov, gov.read() as session:
            doc = auditlog.inclusion_bundle(session, entry, gov.log_public_key_pem())
    write_output(dump_json(doc), output)


@app.command("prove-consistency")
def prove_consistency_command(
    old_size: Annotated[
        int, typer.Argument(help="Size of the earlier tree (e.g. tree_size of a kept head).")
    ],
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write here.")] = None,
    project: ProjectOpt = Path(),
    db: DbOpt = None,
) -> None:
    """Print an RFC 9162 consistency proof: the log at OLD_SIZE is a prefix of the newest
    signed head (nothing before it was rewritten). Check it with audit check-proof."""
    from custodes.governance import auditlog

    with governance(project, db) as gov, gov.read() as session:
        doc = auditlog.consistency_bundle(session, old_size, gov.log_public_key_pem())
    write_output(dump_json(doc), output)


@app.command("check-proof")
def check_proof_command(
    proof: Annotated[
        Path, typer.Argument(help="A proof from audit prove or audit prove-consistency.")
    ],
    log_key: LogKeyOpt = None,
    witness: Annotated[
        Path | None,
        typer.Option(
            "--witness", help="The old signed head you kept: a consistency proof must start there."
        ),
    ] = None,
) -> None:
    """Check an inclusion or consistency proof with nothing but the file (exit 1 if it
    fails)."""
    from custodes.governance import auditlog

    doc = _read_json(proof)
    consistency = doc.get("format") == auditlog.CONSISTENCY_FORMAT
    if witness is not None and not consistency:
        raise UsageError("--witness applies to consistency proofs only")
    if consistency:
        kept = _read_head(witness) if witness is not None else None
        ok, detail = auditlog.check_consistency_bundle(doc, kept)
        malformed = detail.startswith("malformed consistency bundle")
    else:
        ok, detail = auditlog.check_inclusion_bundle(doc)
        malformed = detail.startswith(_MALFORMED_PROOF)
    if not ok and malformed:
        raise InputError(detail, path=proof)
    mismatch = _key_mismatch(doc, log_key, proof)
    if ok and mismatch is not None:
        ok, detail = False, mismatch
    if ok:
        console.print(f"[green]proof checks[/green]: {detail}", soft_wrap=True)
        return
    console.print(f"[red]proof FAILED[/red]: {detail}", soft_wrap=True)
    raise typer.Exit(1)
