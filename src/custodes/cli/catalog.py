"""``custodes catalog``: the OWASP AI Exchange threats and controls custodes knows."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from custodes.cli.common import ListFormat, console, dump_json, write_output

__all__ = ["app"]

app = typer.Typer(
    help="List the threat and control catalog (OWASP AI Exchange ids, MITRE ATLAS ids).",
    no_args_is_help=True,
)

FormatOpt = Annotated[ListFormat, typer.Option("--format", "-f", help="Output format.")]


@app.command("threats")
def threats(fmt: FormatOpt = ListFormat.console) -> None:
    """Threats with their category, the element kinds they apply to and ATLAS ids."""
    from custodes.catalog import load_catalog

    catalog = load_catalog()
    items = list(catalog.threats.values())
    if fmt is ListFormat.json:
        write_output(
            dump_json(
                [
                    {
                        "id": t.id,
                        "name": t.name,
                        "category": t.category,
                        "level": t.level,
                        "parent": t.parent,
                        "element_kinds": list(t.element_kinds),
                        "atlas": list(t.atlas),
                        "controls": list(t.controls),
                        "aliases": list(t.aliases),
                        "description": t.description,
                        "url": t.url,
                    }
                    for t in items
                ]
            ),
            None,
        )
        return
    table = Table(
        title=f"{len(items)} threats (OWASP AI Exchange)", title_justify="left", expand=True
    )
    for col in ("id", "name", "category", "applies to", "ATLAS"):
        table.add_column(col)
    for t in items:
        table.add_row(t.id, t.name, t.category, ", ".join(t.element_kinds), ", ".join(t.atlas))
    console.print(table)


@app.command("controls")
def controls(fmt: FormatOpt = ListFormat.console) -> None:
    """Controls with their group, phase and ATLAS mitigation ids."""
    from custodes.catalog import load_catalog

    catalog = load_catalog()
    items = list(catalog.controls.values())
    if fmt is ListFormat.json:
        write_output(
            dump_json(
                [
                    {
                        "id": c.id,
                        "name": c.name,
                        "group": c.group,
                        "phase": list(c.phase),
                        "atlas_mitigations": list(c.atlas_mitigations),
                        "description": c.description,
                        "url": c.url,
                    }
                    for c in items
                ]
            ),
            None,
        )
        return
    table = Table(
        title=f"{len(items)} controls (OWASP AI Exchange)", title_justify="left", expand=True
    )
    for col in ("id", "name", "group", "phase", "ATLAS"):
        table.add_column(col)
    for c in items:
        table.add_row(
            c.id, c.name, c.group or "", ", ".join(c.phase), ", ".join(c.atlas_mitigations)
        )
    console.print(table)
