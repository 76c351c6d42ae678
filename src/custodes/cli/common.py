"""Options and output plumbing shared by every command group."""

from __future__ import annotations

import enum
import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from custodes import __version__
from custodes.errors import InputError, UsageError
from custodes.findings import Finding, Severity

__all__ = [
    "Audience",
    "FindingsFormat",
    "ListFormat",
    "console",
    "count_progress",
    "err_console",
    "exit_for",
    "parse_today",
    "write_output",
]

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


class FindingsFormat(enum.StrEnum):
    """Output formats of commands that produce findings."""

    console = "console"
    json = "json"
    sarif = "sarif"
    markdown = "markdown"
    html = "html"


class ListFormat(enum.StrEnum):
    """Output formats of listing commands."""

    console = "console"
    json = "json"


class Audience(enum.StrEnum):
    """Who a report is written for."""

    developer = "developer"
    data_scientist = "data-scientist"
    leadership = "leadership"


def parse_today(value: str | None) -> date:
    """``--today`` for reproducible reports; defaults to the real date."""
    if value is None:
        return date.today()
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise UsageError(f"--today expects YYYY-MM-DD, got {value!r}") from None


def parse_severity(value: str) -> Severity:
    """``--fail-on`` threshold."""
    try:
        return Severity.parse(value)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def write_output(text: str, output: Path | None) -> None:
    """Write a rendered document to ``--output`` or to stdout."""
    if output is None:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        return
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot write: {exc.strerror}", path=output) from None
    err_console.print(f"wrote {output}")


def dump_json(doc: Any) -> str:
    """JSON as the CLI prints it: indented, UTF-8, stable key order."""
    return json.dumps(doc, indent=2, ensure_ascii=False)


def write_sarif(findings: Sequence[Finding], output: Path | None) -> None:
    """SARIF 2.1.0 of any findings, paths relative to the working directory."""
    from custodes.report.sarif import render_sarif

    write_output(
        dump_json(render_sarif(findings, tool_version=__version__, base_dir=Path.cwd())), output
    )


def exit_for(findings: list[Finding] | tuple[Finding, ...], fail_on: Severity) -> None:
    """Exit 1 when any finding reaches the ``--fail-on`` threshold (the CI contract)."""
    if any(f.severity.at_least(fail_on) for f in findings):
        raise typer.Exit(1)


@contextmanager
def scan_progress() -> Iterator[Callable[[int, int, int, int], None]]:
    """A byte-based progress bar on stderr for scans (hidden when stderr is not a terminal)."""
    with Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[files]}"),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=err_console,
        transient=True,
        disable=not err_console.is_terminal,
    ) as bar:
        task = bar.add_task("scanning", total=None, files="")

        def update(files: int, total_files: int, done: int, total: int) -> None:
            bar.update(task, completed=done, total=total, files=f"{files:,}/{total_files:,} files")

        yield update


@contextmanager
def count_progress(label: str, *, in_bytes: bool = False) -> Iterator[Callable[[int, int], None]]:
    """A ``progress(done, total)`` bar on stderr (hidden when stderr is not a terminal).

    ``in_bytes`` shows done/total as sizes (a file read) instead of a count (files, parts).
    """
    with Progress(
        TextColumn(label),
        BarColumn(),
        DownloadColumn() if in_bytes else MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
        disable=not err_console.is_terminal,
    ) as bar:
        task = bar.add_task(label, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update


FAIL_ON_HELP = (
    "Exit 1 when a finding is at or above this severity (info, low, medium, high, critical)."
)
TODAY_HELP = "Evaluate dates (expiries, reviews) as of this day, YYYY-MM-DD."
