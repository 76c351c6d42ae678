"""Custody commands of ``custodes provenance``: event, attest-training, verify-chain, lineage.

Kept apart from :mod:`custodes.cli.provenance` (which registers them) so each module stays
small; core modules are imported inside each command so ``custodes --help`` stays fast.
"""

from __future__ import annotations

import enum
import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from custodes.cli.common import ListFormat, console, dump_json, err_console, write_output
from custodes.errors import InputError, UsageError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    from custodes.provenance.lineage import Lineage

__all__ = [
    "attest_training_command",
    "event_command",
    "lineage_command",
    "verify_chain_command",
]


class KindChoice(enum.StrEnum):
    """Mirror of events.Kind, so building the CLI does not import the core."""

    acquired = "acquired"
    transformed = "transformed"
    validated = "validated"
    trained = "trained"


FormatOpt = Annotated[ListFormat, typer.Option("--format", "-f", help="Output format.")]
ParamOpt = Annotated[list[str] | None, typer.Option("--param", help="Parameter K=V (repeatable).")]
KeyOpt = Annotated[Path, typer.Option("--key", help="Ed25519 private key (PEM) to sign with.")]


def _params(items: list[str] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items or []:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise UsageError(f"--param expects K=V, got {item!r}")
        out[name] = value
    return out


def _trusted(paths: list[Path]) -> dict[str, Ed25519PublicKey]:
    from custodes.provenance.keys import key_id, load_public_key

    keys = [load_public_key(p) for p in paths]
    return {key_id(k): k for k in keys}


def event_command(
    manifest: Annotated[Path, typer.Argument(help="Manifest whose custody log gets the event.")],
    kind: Annotated[KindChoice, typer.Option("--kind", help="What happened.")],
    key: KeyOpt,
    actor: Annotated[
        str | None, typer.Option("--actor", help="Who did it (default: the OS user).")
    ] = None,
    step: Annotated[str | None, typer.Option("--step", help="Transform step name.")] = None,
    commit: Annotated[str | None, typer.Option("--commit", help="Code commit of the step.")] = None,
    params: ParamOpt = None,
    check: Annotated[str | None, typer.Option("--check", help="Data check that ran.")] = None,
    verdict: Annotated[str | None, typer.Option("--verdict", help="Data check verdict.")] = None,
    baseline: Annotated[
        str | None, typer.Option("--baseline-digest", help="Digest of the check's baseline.")
    ] = None,
    run: Annotated[str | None, typer.Option("--run", help="Training run id.")] = None,
    model_digest: Annotated[
        str | None, typer.Option("--model-digest", help="SHA-256 of the trained model.")
    ] = None,
    fmt: FormatOpt = ListFormat.console,
) -> None:
    """Append a signed, hash-chained custody event to MANIFEST.events.jsonl."""
    import getpass

    from custodes.provenance.events import Kind, append_event, events_path, make_details
    from custodes.provenance.keys import load_private_key

    signer = load_private_key(key)
    options = {
        "step": step,
        "commit": commit,
        "check": check,
        "verdict": verdict,
        "baseline_digest": baseline,
        "run": run,
        "model_digest": model_digest,
    }
    details = make_details(Kind(kind.value), options, _params(params))
    if actor is None:
        try:
            actor = getpass.getuser()
        except (KeyError, OSError):
            actor = "unknown"
    event = append_event(manifest, Kind(kind.value), actor, details, signer)
    if fmt is ListFormat.json:
        typer.echo(dump_json(event))
        return
    console.print(
        f"appended {event['kind']} event #{event['seq']} by {actor}, signed by "
        f"{event['signature']['key_id']}\nto {events_path(manifest)}",
        soft_wrap=True,
    )


def attest_training_command(
    model: Annotated[Path, typer.Option("--model", help="The trained model file.")],
    dataset: Annotated[
        list[Path], typer.Option("--dataset", help="Dataset manifest used (repeatable).")
    ],
    commit: Annotated[str, typer.Option("--commit", help="Code commit of the training run.")],
    key: KeyOpt,
    output: Annotated[Path, typer.Option("--output", "-o", help="Attestation JSON to write.")],
    params: ParamOpt = None,
) -> None:
    """Write a signed in-toto/SLSA attestation of a training run (DSSE envelope)."""
    from custodes.provenance.attest import build_statement, sign_envelope
    from custodes.provenance.keys import load_private_key

    signer = load_private_key(key)
    statement = build_statement(model, list(dataset), commit.lower(), _params(params))
    envelope = sign_envelope(statement, signer)
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(json.dumps(envelope, indent=2) + "\n", encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot write attestation: {exc.strerror}", path=output) from None
    digest = statement["subject"][0]["digest"]["sha256"]
    console.print(
        f"attested {model.name} (sha256 {digest}) from {len(dataset)} dataset(s)\nwrote {output}",
        soft_wrap=True,
    )


def verify_chain_command(
    model: Annotated[Path, typer.Argument(help="The model file to check.")],
    attestation: Annotated[Path, typer.Option("--attestation", help="Training attestation.")],
    public_key: Annotated[
        list[Path], typer.Option("--public-key", help="Trusted Ed25519 public key (repeatable).")
    ],
    data_root: Annotated[
        Path | None, typer.Option("--data-root", help="Resolve dataset manifests under here.")
    ] = None,
    fmt: FormatOpt = ListFormat.console,
) -> None:
    """Walk model → attestation → datasets → sources; exit 1 naming the first broken link."""
    from custodes.provenance.chain import verify_chain

    report = verify_chain(model, attestation, _trusted(list(public_key)), data_root)
    if fmt is ListFormat.json:
        typer.echo(dump_json(report.to_json()))
    else:
        for link in report.links:
            mark = "[green]✓[/green]" if link.ok else "[red]✗[/red]"
            console.print(f"{mark} {link.name}: {link.detail}", soft_wrap=True)
        broken = report.broken
        if broken is None:
            console.print("[green]chain of custody holds[/green]")
        else:
            console.print(f"[red]broken link[/red]: {broken.name}", soft_wrap=True)
    if not report.ok:
        raise typer.Exit(1)


def print_lineage(lineage: Lineage) -> None:
    """Sources by tier under the model, the user-generated tier in red."""
    from rich.tree import Tree

    def pct(value: float | None) -> str:
        return "rows unknown" if value is None else f"{value:.1%}"

    root = Tree(f"[bold]{lineage.model}[/bold] sha256 {lineage.sha256[:16]}…")
    tiers = lineage.to_json()["tiers"]
    for tier, info in tiers.items():
        if not info["sources"]:
            continue
        style = "[bold red]" if tier == "user_generated" else "[bold]"
        branch = root.add(f"{style}{tier}[/] {info['rows']:,} rows ({pct(info['share'])})")
        for d in (d for d in lineage.datasets if d.tier == tier):
            rows = "rows unknown" if d.rows is None else f"{d.rows:,} rows"
            coc = (
                "" if d.chain_of_custody or tier == "first_party" else " [yellow]no custody docs[/]"
            )
            branch.add(f"{d.source}: {d.name}, {rows} ({pct(lineage.share(d.rows))}){coc}")
    console.print(root)
    console.print(f"user-generated share: {pct(lineage.user_generated_share)}")


class LineageFormat(enum.StrEnum):
    """Lineage outputs: the console tree, JSON, and a self-contained HTML page."""

    console = "console"
    json = "json"
    html = "html"


def lineage_command(
    model: Annotated[Path, typer.Argument(help="The model file.")],
    attestation: Annotated[Path, typer.Option("--attestation", help="Training attestation.")],
    data_root: Annotated[
        Path | None, typer.Option("--data-root", help="Resolve dataset manifests under here.")
    ] = None,
    public_key: Annotated[
        list[Path] | None,
        typer.Option(
            "--public-key", help="Trusted Ed25519 public key, to check signatures (html)."
        ),
    ] = None,
    fmt: Annotated[
        LineageFormat, typer.Option("--format", "-f", help="Output format.")
    ] = LineageFormat.console,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here instead of stdout.")
    ] = None,
) -> None:
    """Which sources of which tiers flowed into MODEL, with row shares.

    HTML also checks every link it draws and exits 1 when one failed.
    """
    from custodes.provenance.lineage import ModelMismatch, build_lineage

    try:
        lineage = build_lineage(model, attestation, data_root)
    except ModelMismatch as exc:
        err_console.print(f"[red]error:[/red] {exc}", soft_wrap=True)
        raise typer.Exit(1) from None
    if fmt is LineageFormat.json:
        write_output(dump_json(lineage.to_json()), output)
    elif fmt is LineageFormat.html:
        from custodes.provenance.lineage_links import check_lineage_links
        from custodes.report.lineage_html import render_lineage_html

        trusted = _trusted(list(public_key)) if public_key else None
        links = check_lineage_links(attestation, trusted, data_root)
        write_output(render_lineage_html(lineage, links), output)
        if not links.ok:
            raise typer.Exit(1)
    else:
        if output is not None:
            raise UsageError("--output needs --format json or html")
        print_lineage(lineage)
