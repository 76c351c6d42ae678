"""``custodes bom``: the project's CycloneDX 1.6 AI-BOM as JSON."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from custodes.cli.common import dump_json, write_output

__all__ = ["bom_command"]


def bom_command(
    path: Annotated[
        Path, typer.Argument(help="custodes.yaml, or the project directory holding it.")
    ] = Path("."),
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here instead of stdout.")
    ] = None,
) -> None:
    """Write a CycloneDX 1.6 AI-BOM: models with their datasets, data with its provenance."""
    from custodes.assess import find_system_file
    from custodes.provenance.bom import build_bom
    from custodes.system.loader import load_system

    system_file = find_system_file(path)
    doc = build_bom(load_system(system_file), system_file.parent)
    write_output(dump_json(doc), output)
