"""``custodes init`` and ``custodes schema``: start a system model, help editors check it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from custodes.cli.common import ListFormat, console, write_output
from custodes.errors import InputError, UsageError

__all__ = ["init_command", "schema_command"]


def init_command(
    path: Annotated[
        Path, typer.Argument(help="Project directory to draft a custodes.yaml for.")
    ] = Path("."),
    force: Annotated[bool, typer.Option(help="Overwrite an existing custodes.yaml.")] = False,
    fmt: Annotated[
        ListFormat, typer.Option("--format", "-f", help="Output format.")
    ] = ListFormat.console,
) -> None:
    """Draft a starter custodes.yaml from the project's notebooks, data, models and code."""
    from custodes.assess import SYSTEM_FILE
    from custodes.system.loader import parse_system
    from custodes.system.starter import discover, render_starter

    if not path.is_dir():
        raise InputError("not a directory", path=path)
    target = path / SYSTEM_FILE
    if target.exists() and not force:
        raise UsageError(f"{target} already exists", hint="use --force to overwrite it")
    found = discover(path)
    text = render_starter(path, found, path.resolve().name)
    parse_system(text, target)  # the draft must itself be a valid model
    try:
        target.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot write: {exc.strerror}", path=target) from None
    if fmt is ListFormat.json:
        write_output(
            json.dumps(
                {
                    "written": str(target),
                    "notebooks": found.notebooks,
                    "data": [p for p, _ in found.data],
                    "models": [p for p, _ in found.models],
                    "dependencies": [n for n, _, _ in found.dependencies],
                    "serving": found.serving,
                },
                indent=2,
            ),
            None,
        )
        return
    console.print(
        f"wrote [bold]{target}[/bold]: {len(found.data)} data source(s), {len(found.models)} model file(s), "
        f"{len(found.notebooks)} notebook(s), {len(found.dependencies)} dependency(ies), "
        f"{len(found.serving)} serving module(s). Fill in the TODOs, then run: custodes threat-model {path}"
    )


def schema_command() -> None:
    """Print the JSON Schema of custodes.yaml, for editor completion and validation."""
    from custodes.system.schema import SystemModel

    schema = SystemModel.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "custodes.yaml system model"
    write_output(json.dumps(schema, indent=2), None)
