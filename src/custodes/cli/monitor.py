"""``custodes monitor``: is the model's output degrading, is someone extracting it?

``monitor check`` is the one-off run for CI: a file of predictions against a reference file
(validation-time outputs); exit 0 when the verdict is ok, 1 otherwise, 2 on bad input.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from custodes.cli.common import console, dump_json, err_console, write_output
from custodes.errors import UsageError

if TYPE_CHECKING:
    from custodes.monitor.result import MonitorCheckResult

__all__ = ["app", "render_monitor_check"]

app = typer.Typer(
    help="Watch model outputs for drift and degradation, and clients for extraction.",
    no_args_is_help=True,
)


class CheckFormat(enum.StrEnum):
    console = "console"
    json = "json"


def _parse_now(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        d = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(
            f"--now expects an RFC 3339 time such as 2026-11-09T00:00:00Z, got {text!r}"
        ) from None
    return (d if d.tzinfo else d.replace(tzinfo=UTC)).timestamp()


@app.command("check")
def check_command(
    predictions: Annotated[
        Path, typer.Argument(help="Prediction records: JSONL (one JSON object a line) or Parquet.")
    ],
    reference: Annotated[
        Path,
        typer.Option("--reference", "-r", help="Reference predictions (validation-time outputs)."),
    ],
    window: Annotated[
        str, typer.Option("--window", "-w", help="Window by time (1h, 30m, 1d) or count (10000).")
    ] = "1d",
    labels: Annotated[
        Path | None,
        typer.Option(
            "--labels", help="Delayed labels (JSONL/Parquet with id and label), joined by id."
        ),
    ] = None,
    now: Annotated[
        str | None,
        typer.Option("--now", help="Judge clock skew against this time (RFC 3339); default: now."),
    ] = None,
    fmt: Annotated[
        CheckFormat, typer.Option("--format", "-f", help="Output format.")
    ] = CheckFormat.console,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Report file.")] = None,
) -> None:
    """Check predictions against a reference: ok, drift, degraded or suspected_extraction."""
    from custodes.monitor import check_predictions, parse_window

    spec = parse_window(window)
    when = _parse_now(now)
    with Progress(
        TextColumn("monitoring"),
        BarColumn(),
        DownloadColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
        disable=not err_console.is_terminal,
    ) as bar:
        task = bar.add_task("monitoring", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        result = check_predictions(
            predictions, reference, window=spec, labels=labels, now=when, progress=progress
        )
    if fmt is CheckFormat.json:
        write_output(dump_json(result.to_dict()), output)
    else:
        render_monitor_check(result)
    raise typer.Exit(result.exit_code)


_STYLE = {"ok": "green", "drift": "yellow", "degraded": "red", "suspected_extraction": "bold red"}


def _when(ts: float) -> str:
    if ts != ts or abs(ts) == float("inf"):
        return "-"
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%m-%d %H:%M")


def render_monitor_check(result: MonitorCheckResult) -> None:
    """The console report: verdict and reasons, suspects, busiest clients, windows, bad input."""
    style = _STYLE.get(result.verdict, "bold")
    console.print(
        f"[{style}]{result.verdict}[/{style}]  {result.records:,} predictions from "
        f"{result.client_count:,} clients in {len(result.windows)} windows of {result.window} "
        f"against {result.reference_records:,} reference predictions ({result.seconds:.1f} s)"
    )
    for r in result.reasons:
        console.print(f"  - {r}")
    for c in result.clients:
        console.print(
            f"\n[bold red]suspected client {c.client_id}[/bold red]: {c.queries:,} queries, "
            f"{c.rate_per_hour:,.0f}/h on average, {c.peak_per_hour:,} in its busiest hour "
            f"(first at line {c.first_line}), {c.coverage:.0%} of input deciles; suggested rate limit "
            f"[bold]{c.suggested_rate_limit_per_hour:,}/h[/bold]"
        )
        for s in c.signals:
            console.print(
                f"  [bold]{s.kind}[/bold] [dim]({', '.join(s.threats)})[/dim]: {s.message}"
            )
    console.print()
    t = Table(title="busiest clients (volume alone is not a signal)", title_justify="left")
    t.add_column("client", no_wrap=True)
    for h in ("queries", "share", "per hour", "peak hour", "coverage", "suspected"):
        t.add_column(h)
    for c in result.busiest:
        t.add_row(
            c.client_id,
            f"{c.queries:,}",
            f"{c.share:.1%}",
            f"{c.rate_per_hour:,.0f}",
            f"{c.peak_per_hour:,}",
            f"{c.coverage:.0%}",
            "[red]yes[/red]" if c.suspected else "no",
        )
    console.print(t)
    ref = result.overall
    ref_acc = ref.performance.reference_accuracy if ref.performance is not None else None
    title = (
        f"windows, PSI against the reference (reference: {ref.reference_near_boundary_share:.1%} near the boundary"
        + (f", accuracy {ref_acc:.1%}" if ref_acc is not None else "")
        + ")"
    )
    t = Table(title=title, title_justify="left")
    for h in ("start", "records", "output", "confid.", "boundary", "accuracy"):
        t.add_column(h, no_wrap=True)
    t.add_column("input drift")
    for w in (*result.windows, result.overall):
        out = next((c for c in w.columns if c.role == "output"), None)
        conf = next((c for c in w.columns if c.role == "confidence"), None)
        perf = w.performance
        t.add_row(
            "all" if w is result.overall else _when(w.start),
            f"{w.rows:,}",
            _psi(out) if w.scored else "[dim]too few[/dim]",
            _psi(conf) if w.scored else "",
            f"{w.near_boundary_share:.1%}",
            "-" if perf is None else _accuracy(perf.accuracy, perf.degraded),
            _inputs(w.input_drift),
        )
    console.print(t)
    issues = result.input_issues
    if issues.counts:
        console.print(
            f"[yellow]bad input[/yellow]: {issues.rejected:,} records dropped; "
            + ", ".join(f"{k} {v:,}" for k, v in sorted(issues.counts.items()))
        )
        for samples in issues.samples.values():
            for sample in samples[:2]:
                console.print(f"  {sample}", markup=False, soft_wrap=True)


def _psi(c: object) -> str:
    from custodes.monitor.drift import ColumnDrift

    if not isinstance(c, ColumnDrift):
        return "-"
    text = f"{c.psi:.3f}"
    return f"[red]{text} drift[/red]" if c.drifted else text


def _inputs(cols: tuple[str, ...]) -> str:
    if not cols:
        return "-"
    return ", ".join(cols[:2]) + (f" +{len(cols) - 2}" if len(cols) > 2 else "")


def _accuracy(value: float, degraded: bool) -> str:
    return f"[red]{value:.1%}[/red]" if degraded else f"{value:.1%}"
