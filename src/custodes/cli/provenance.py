"""``custodes provenance`` and ``custodes keys``: record, sign and verify manifests.

Core modules are imported inside each command: ``custodes --help`` and every other command
should not pay for ``cryptography`` or ``pyarrow``.
"""

from __future__ import annotations

import enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from custodes.cli import custody, model_sign
from custodes.cli.common import ListFormat, console, dump_json, err_console, scan_progress
from custodes.errors import InputError, UsageError

if TYPE_CHECKING:
    from custodes.provenance.keys import SignatureCheck
    from custodes.provenance.manifest import Verification

__all__ = ["app", "keys_app"]

app = typer.Typer(
    help="Record and verify signed manifests of datasets and models.", no_args_is_help=True
)
keys_app = typer.Typer(
    help="Generate signing keys (Ed25519; EC P-256 for model signing).", no_args_is_help=True
)


class TierChoice(enum.StrEnum):
    """Mirror of provenance.Tier, so building the CLI does not import the core."""

    first_party = "first_party"
    broker = "broker"
    user_generated = "user_generated"


FormatOpt = Annotated[ListFormat, typer.Option("--format", "-f", help="Output format.")]


def _events_log(manifest: Path) -> Path:
    """The custody log lives beside its manifest, possibly inside the tree: never hash it."""
    return manifest.with_name(manifest.name + ".events.jsonl")  # events.events_path


@app.command("record")
def record_command(
    path: Annotated[Path, typer.Argument(help="Dataset or model: a file or a folder.")],
    source: Annotated[str, typer.Option("--source", help="Where the data came from.")],
    tier: Annotated[TierChoice, typer.Option("--tier", help="Provenance tier of the source.")],
    custodian: Annotated[
        str | None, typer.Option("--custodian", help="Who is answerable for it now.")
    ] = None,
    license_: Annotated[str | None, typer.Option("--license", help="Licence (SPDX id).")] = None,
    acquired_at: Annotated[
        str | None, typer.Option("--acquired-at", help="When it was acquired (ISO 8601).")
    ] = None,
    chain_of_custody: Annotated[
        str | None,
        typer.Option("--chain-of-custody", help="Reference to the custody documentation."),
    ] = None,
    personal: Annotated[bool, typer.Option("--personal-data", help="Holds personal data.")] = False,
    health: Annotated[bool, typer.Option("--health-data", help="Holds health data.")] = False,
    biometric: Annotated[
        bool, typer.Option("--biometric-data", help="Holds biometric data.")
    ] = False,
    key: Annotated[
        Path | None, typer.Option("--key", help="Ed25519 private key (PEM) to sign with.")
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Manifest to write (default beside/inside PATH)."),
    ] = None,
    fmt: FormatOpt = ListFormat.console,
) -> None:
    """Hash every file, fingerprint Parquet schemas, and write a (signed) manifest."""
    from datetime import datetime

    from custodes.provenance.manifest import (
        Provenance,
        Tier,
        build_manifest,
        default_manifest_path,
        write_manifest,
    )

    if acquired_at is not None:
        try:
            datetime.fromisoformat(acquired_at)
        except ValueError:
            raise UsageError(f"--acquired-at expects ISO 8601, got {acquired_at!r}") from None
    if not path.exists() and not path.is_symlink():
        raise InputError("no such file or folder", path=path)
    signer = None
    if key is not None:
        from custodes.provenance.keys import load_private_key

        signer = load_private_key(key)  # fail on a bad key before hashing gigabytes
    prov = Provenance(
        source=source,
        tier=Tier(tier.value),
        custodian=custodian,
        acquired_at=acquired_at,
        license=license_,
        personal_data=personal,
        health_data=health,
        biometric_data=biometric,
        chain_of_custody=chain_of_custody,
    )
    manifest = output if output is not None else default_manifest_path(path)
    with scan_progress() as progress:
        doc = build_manifest(
            path, prov, exclude=[manifest, _events_log(manifest)], progress=progress
        )
    if signer is not None:
        from custodes.provenance.keys import sign_document

        doc = sign_document(doc, signer)
    write_manifest(doc, manifest)
    for warning in doc["warnings"]:
        err_console.print(f"[yellow]warning:[/yellow] {warning}", soft_wrap=True)
    subject = doc["subject"]
    if fmt is ListFormat.json:
        summary = {
            "manifest": str(manifest),
            "files": subject["files"],
            "bytes": subject["bytes"],
            "rows": subject["rows"],
            "merkle_root": doc["merkle_root"],
            "signed_by": doc.get("signature", {}).get("key_id"),
            "warnings": doc["warnings"],
        }
        typer.echo(dump_json(summary))
        return
    signed = f", signed by {doc['signature']['key_id']}" if "signature" in doc else ", unsigned"
    console.print(
        f"recorded {subject['files']:,} file{'' if subject['files'] == 1 else 's'}, "
        f"{subject['bytes']:,} bytes"
        f"{signed}\nmerkle root {doc['merkle_root']}\nwrote {manifest}",
        soft_wrap=True,
    )


def _report(
    path: Path, manifest: Path, result: Verification, sig: SignatureCheck | None, doc: Any
) -> dict[str, Any]:
    problems = [f"changed: {p}" for p in result.changed]
    problems += [f"added: {p}" for p in result.added]
    problems += [f"removed: {p}" for p in result.removed]
    problems += [f"refused (symlink or special file): {p}" for p in result.refused]
    if not result.root_consistent:
        problems.append("manifest file list does not match its merkle_root (manifest edited)")
    if sig is not None and not sig.ok:
        problems.append(f"signature {sig.status}: {sig.detail}")
    if sig is not None:
        signature: dict[str, Any] = {"status": sig.status, "detail": sig.detail}
    else:
        state = "unchecked" if "signature" in doc else "absent"
        signature = {"status": state, "detail": "no --public-key given"}
    return {
        "verdict": "ok" if not problems else "failed",
        "path": str(path),
        "manifest": str(manifest),
        "files": result.files,
        "changed": list(result.changed),
        "added": list(result.added),
        "removed": list(result.removed),
        "refused": list(result.refused),
        "merkle_root": {
            "recorded": result.recorded_root,
            "computed": result.computed_root,
            "consistent": result.root_consistent,
        },
        "signature": signature,
        "warnings": [w for w in doc.get("warnings", []) if isinstance(w, str)],
        "problems": problems,
    }


@app.command("verify")
def verify_command(
    path: Annotated[Path, typer.Argument(help="Dataset or model recorded earlier.")],
    manifest: Annotated[
        Path | None, typer.Option("--manifest", "-m", help="Manifest (default beside/inside PATH).")
    ] = None,
    public_key: Annotated[
        Path | None,
        typer.Option("--public-key", help="Ed25519 public key the manifest must carry."),
    ] = None,
    fmt: FormatOpt = ListFormat.console,
) -> None:
    """Re-hash PATH and compare with its manifest: exit 1 naming every difference."""
    from custodes.provenance.manifest import default_manifest_path, load_manifest, verify_tree

    if not path.exists() and not path.is_symlink():
        raise InputError("no such file or folder", path=path)
    manifest = manifest if manifest is not None else default_manifest_path(path)
    doc = load_manifest(manifest)
    sig = None
    if public_key is not None:
        from custodes.provenance.keys import load_public_key, verify_document

        sig = verify_document(doc, load_public_key(public_key))
    with scan_progress() as progress:
        result = verify_tree(
            path, doc, exclude=[manifest, _events_log(manifest)], progress=progress
        )
    report = _report(path, manifest, result, sig, doc)
    if fmt is ListFormat.json:
        typer.echo(dump_json(report))
    else:
        for warning in report["warnings"]:
            err_console.print(f"[yellow]warning:[/yellow] {warning}", soft_wrap=True)
        for problem in report["problems"]:
            console.print(f"[red]✗[/red] {problem}", soft_wrap=True)
        if report["verdict"] == "ok":
            signed = {
                "valid": "signature valid",
                "unchecked": "signed, not checked: give --public-key",
                "absent": "unsigned",
            }[report["signature"]["status"]]
            console.print(
                f"[green]✓[/green] {result.files:,} file{'' if result.files == 1 else 's'} "
                f"match {manifest} ({signed})",
                soft_wrap=True,
            )
        else:
            console.print(f"[red]verification failed[/red]: {len(report['problems'])} problem(s)")
    if report["verdict"] != "ok":
        raise typer.Exit(1)


@keys_app.command("generate")
def keys_generate_command(
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Folder for the key files.")
    ] = Path(),
    name: Annotated[str, typer.Option("--name", help="Base name of the key files.")] = "custodes",
    ec: Annotated[
        bool,
        typer.Option("--ec", help="EC P-256 pair for sign-model/verify-model, not Ed25519."),
    ] = False,
    fmt: FormatOpt = ListFormat.console,
) -> None:
    """Write a key pair: NAME.pem (private, 0600) and NAME.pub.pem (Ed25519 unless --ec)."""
    if not name or "/" in name or name.startswith("."):
        raise UsageError(f"--name must be a plain file name, got {name!r}")
    if ec:
        from custodes.provenance.model_signing import generate_keypair
    else:
        from custodes.provenance.keys import generate_keypair
    private, public, kid = generate_keypair(output, name)
    if fmt is ListFormat.json:
        doc = {"private_key": str(private), "public_key": str(public), "key_id": kid}
        typer.echo(dump_json(doc))
        return
    console.print(
        f"wrote {private} (private, 0600: keep it secret)\nwrote {public}\nkey id {kid}",
        soft_wrap=True,
    )


app.command("event")(custody.event_command)
app.command("attest-training")(custody.attest_training_command)
app.command("verify-chain")(custody.verify_chain_command)
app.command("lineage")(custody.lineage_command)
app.command("sign-model")(model_sign.sign_model_command)
app.command("verify-model")(model_sign.verify_model_command)
