"""``custodes threat-model``: analyze a custodes.yaml and report for one audience."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from custodes.cli.common import (
    FAIL_ON_HELP,
    TODAY_HELP,
    Audience,
    FindingsFormat,
    console,
    dump_json,
    exit_for,
    parse_severity,
    parse_today,
    write_output,
    write_sarif,
)
from custodes.errors import UsageError

__all__ = ["threat_model"]


def threat_model(
    file: Annotated[
        Path, typer.Argument(help="custodes.yaml, or the project directory holding it.")
    ] = Path("."),
    fmt: Annotated[
        FindingsFormat, typer.Option("--format", "-f", help="Output format.")
    ] = FindingsFormat.console,
    audience: Annotated[Audience, typer.Option(help="Who the report is for.")] = Audience.developer,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here instead of stdout.")
    ] = None,
    fail_on: Annotated[str, typer.Option(help=FAIL_ON_HELP)] = "high",
    today: Annotated[str | None, typer.Option(help=TODAY_HELP)] = None,
    print_fingerprint: Annotated[
        bool,
        typer.Option(
            "--fingerprint", help="Print the fingerprint to record under system.review and exit."
        ),
    ] = False,
) -> None:
    """Map every element to OWASP AI Exchange threats, check controls, answer the diagnostic loop."""
    from custodes.assess import find_system_file
    from custodes.report.console import print_threat_model
    from custodes.report.jsonfmt import threat_model_document
    from custodes.system.loader import load_system
    from custodes.threatmodel import analyze

    threshold = parse_severity(fail_on)
    path = find_system_file(file)
    tm = analyze(load_system(path), today=parse_today(today), root=path.parent)
    if print_fingerprint:
        console.print(tm.staleness.fingerprint)
        return
    if fmt is FindingsFormat.console and output is not None:
        raise UsageError("--output needs --format json, sarif, markdown or html")
    if fmt is FindingsFormat.console:
        print_threat_model(console, tm, audience=audience.value)
    elif fmt is FindingsFormat.json:
        write_output(dump_json(threat_model_document(tm)), output)
    elif fmt is FindingsFormat.sarif:
        write_sarif(tm.findings, output)
    elif fmt is FindingsFormat.markdown:
        from custodes.report.markdown import render_markdown

        write_output(render_markdown(tm, audience=audience.value), output)
    else:
        from custodes.report.diagram import to_svg
        from custodes.report.html import render_html

        write_output(render_html(tm, audience=audience.value, svg=to_svg(tm)), output)
    exit_for(tm.findings, threshold)
