"""``custodes scan``: credentials, model files that run code, unsafe ML code, notebooks."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from custodes.cli.common import (
    FAIL_ON_HELP,
    FindingsFormat,
    console,
    dump_json,
    err_console,
    exit_for,
    parse_severity,
    scan_progress,
    write_output,
    write_sarif,
)
from custodes.errors import UsageError

__all__ = ["scan_command"]


def scan_command(
    paths: Annotated[list[Path], typer.Argument(help="Files or directories to scan.")],
    fmt: Annotated[
        FindingsFormat, typer.Option("--format", "-f", help="Output format.")
    ] = FindingsFormat.console,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here instead of stdout.")
    ] = None,
    fail_on: Annotated[str, typer.Option(help=FAIL_ON_HELP)] = "high",
    baseline: Annotated[
        Path | None, typer.Option(help="Report only findings not recorded in this baseline file.")
    ] = None,
    update_baseline: Annotated[
        bool,
        typer.Option(
            "--update-baseline", help="Record every current finding in --baseline and exit 0."
        ),
    ] = False,
    history: Annotated[
        bool,
        typer.Option("--history", help="Also scan every commit's added lines for credentials."),
    ] = False,
    only: Annotated[
        list[str] | None,
        typer.Option(
            help="Run only these scanners or groups (secrets, artifacts, code, notebooks)."
        ),
    ] = None,
    skip: Annotated[list[str] | None, typer.Option(help="Skip these scanners or groups.")] = None,
    jobs: Annotated[
        int | None, typer.Option(min=1, help="Worker processes (default: all cores).")
    ] = None,
) -> None:
    """Find hard-coded credentials, model files that run code when loaded, unsafe ML code and
    ungoverned notebooks, without executing anything it reads."""
    from custodes.report.console import print_scan
    from custodes.report.jsonfmt import scan_document
    from custodes.scan import run_scan
    from custodes.scan.baseline import write_baseline
    from custodes.scan.registry import expand

    threshold = parse_severity(fail_on)
    if update_baseline and baseline is None:
        raise UsageError("--update-baseline needs --baseline FILE")
    if fmt is FindingsFormat.console and output is not None:
        raise UsageError("--output needs --format json, sarif, markdown or html")
    only_set = expand(only) if only else None
    skip_set = expand(skip) if skip else None

    with scan_progress() as progress:
        result = run_scan(
            paths,
            only=only_set,
            skip=skip_set,
            baseline=None if update_baseline else baseline,
            history=history,
            jobs=jobs,
            progress=progress,
        )
    if update_baseline:
        assert baseline is not None
        write_baseline(baseline, result.findings)
        err_console.print(
            f"recorded {len(result.findings)} finding(s) in {baseline}", soft_wrap=True
        )
        return
    if fmt is FindingsFormat.console:
        print_scan(console, result)
    elif fmt is FindingsFormat.json:
        write_output(dump_json(scan_document(result)), output)
    elif fmt is FindingsFormat.sarif:
        write_sarif(result.findings, output)
    elif fmt is FindingsFormat.markdown:
        from custodes.report.markdown import render_findings_markdown

        write_output(render_findings_markdown(result.findings, title="custodes scan"), output)
    else:
        from custodes.report.html import render_findings_html

        write_output(render_findings_html(result.findings, title="custodes scan"), output)
    exit_for(result.findings, threshold)
