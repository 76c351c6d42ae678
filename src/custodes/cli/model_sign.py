"""Model-signing commands of ``custodes provenance``: sign-model, verify-model.

They read and write the OpenSSF model-signing bundle format (EC keys, offline), so a model
signed here verifies with ``model_signing verify key`` and the other way round. Kept apart
from :mod:`custodes.cli.provenance` (which registers them); ``cryptography`` is imported
inside each command so ``custodes --help`` stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from custodes.cli.common import ListFormat, console, dump_json
from custodes.errors import InputError

__all__ = ["DEFAULT_SIGNATURE", "sign_model_command", "verify_model_command"]

#: Where ``model_signing sign`` writes by default, relative to the model folder.
DEFAULT_SIGNATURE = "model.sig"

FormatOpt = Annotated[ListFormat, typer.Option("--format", "-f", help="Output format.")]
ModelArg = Annotated[Path, typer.Argument(help="Model folder: every file in it is covered.")]
SignatureOpt = Annotated[
    Path | None,
    typer.Option(
        "--signature", "-s", help=f"Signature bundle (default MODEL_DIR/{DEFAULT_SIGNATURE})."
    ),
]


def _model_dir(path: Path) -> Path:
    if not path.is_dir():
        raise InputError("not a model folder", path=path)
    return path


def sign_model_command(
    model_dir: ModelArg,
    key: Annotated[
        Path, typer.Option("--key", help="EC private key (PEM, P-256 or P-384) to sign with.")
    ],
    signature: SignatureOpt = None,
) -> None:
    """Sign MODEL_DIR into an OpenSSF model-signing bundle (Sigstore v0.3, no network)."""
    from custodes.provenance.model_signing import sign_model

    model_dir = _model_dir(model_dir)
    out = signature if signature is not None else model_dir / DEFAULT_SIGNATURE
    sign_model(model_dir, key, out)
    console.print(f"signed {model_dir}\nwrote {out}", soft_wrap=True)


def verify_model_command(
    model_dir: ModelArg,
    public_key: Annotated[
        Path, typer.Option("--public-key", help="EC public key (PEM) the model must be signed by.")
    ],
    signature: SignatureOpt = None,
    fmt: FormatOpt = ListFormat.console,
) -> None:
    """Check MODEL_DIR against its model-signing bundle: exit 1 naming every problem."""
    from custodes.provenance.model_signing import verify_model

    model_dir = _model_dir(model_dir)
    sig = signature if signature is not None else model_dir / DEFAULT_SIGNATURE
    problems = verify_model(model_dir, sig, public_key)
    if fmt is ListFormat.json:
        report = {
            "verdict": "ok" if not problems else "failed",
            "model": str(model_dir),
            "signature": str(sig),
            "public_key": str(public_key),
            "problems": problems,
        }
        typer.echo(dump_json(report))
    elif problems:
        for problem in problems:
            console.print(f"[red]✗[/red] {problem}", soft_wrap=True)
        console.print(f"[red]verification failed[/red]: {len(problems)} problem(s)")
    else:
        console.print(
            f"[green]✓[/green] {model_dir} matches {sig}, signed by {public_key}", soft_wrap=True
        )
    if problems:
        raise typer.Exit(1)
