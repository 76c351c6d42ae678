"""``custodes monitor``: is the model's output degrading, is someone extracting it?

``monitor check`` is the one-off run for CI: a file of predictions against a reference file
(validation-time outputs); exit 0 when the verdict is ok, 1 otherwise, 2 on bad input.
``monitor run`` is the long-running service (HTTP ingest, /metrics, heartbeats, alerts);
``monitor status`` shows which monitors of a store are alive, stale or changed.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from custodes.cli.common import (
    ListFormat,
    console,
    count_progress,
    dump_json,
    err_console,
    write_output,
)
from custodes.cli.govopts import DbOpt, ProjectOpt, governance
from custodes.errors import UsageError

if TYPE_CHECKING:
    from custodes.monitor.result import MonitorCheckResult

__all__ = ["app", "render_monitor_check"]

app = typer.Typer(
    help="Watch model outputs for drift and degradation, and clients for extraction.",
    no_args_is_help=True,
)


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


ReferenceOpt = Annotated[
    Path,
    typer.Option("--reference", "-r", help="Reference predictions (validation-time outputs)."),
]


@app.command("check")
def check_command(
    predictions: Annotated[
        Path, typer.Argument(help="Prediction records: JSONL (one JSON object a line) or Parquet.")
    ],
    reference: ReferenceOpt,
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
        ListFormat, typer.Option("--format", "-f", help="Output format.")
    ] = ListFormat.console,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Report file.")] = None,
) -> None:
    """Check predictions against a reference: ok, drift, degraded or suspected_extraction."""
    from custodes.monitor import check_predictions, parse_window

    spec = parse_window(window)
    when = _parse_now(now)
    with count_progress("monitoring", in_bytes=True) as progress:
        result = check_predictions(
            predictions, reference, window=spec, labels=labels, now=when, progress=progress
        )
    if fmt is ListFormat.json:
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
    excluded = result.extra.get("drift_excludes_clients")
    if excluded:
        console.print(
            f"[dim]drift scored without the queries of the {len(excluded)} suspected "
            f"client(s) ({', '.join(excluded)}): their probing is not the population moving[/dim]",
            soft_wrap=True,
        )
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


WebhookOpt = Annotated[
    list[str] | None,
    typer.Option("--webhook", help="POST alerts (JSON) to this URL; repeat for several."),
]


@app.command("run")
def run_command(
    reference: ReferenceOpt,
    model: Annotated[str, typer.Option("--model", help="Id of the model watched (custodes.yaml).")],
    name: Annotated[
        str | None,
        typer.Option("--name", help="Monitor name in the store (default: MODEL-monitor)."),
    ] = None,
    window: Annotated[
        str, typer.Option("--window", "-w", help="Window by time (1h, 30m, 1d) or count.")
    ] = "1h",
    interval: Annotated[
        float,
        typer.Option("--interval", help="Heartbeat interval, seconds: silent longer = stale."),
    ] = 60.0,
    eval_every: Annotated[
        float, typer.Option("--eval-every", help="Seconds between evaluations.")
    ] = 10.0,
    webhook: WebhookOpt = None,
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[
        int, typer.Option("--port", min=0, max=65535, help="Port (0: any free port).")
    ] = 9464,
    duration: Annotated[
        float | None, typer.Option("--duration", help="Stop after this many seconds.")
    ] = None,
    no_store: Annotated[
        bool, typer.Option("--no-store", help="No heartbeats or registration (not watched).")
    ] = False,
    project: ProjectOpt = Path(),
    db: DbOpt = None,
) -> None:
    """Serve a model's monitor: POST /ingest, GET /metrics and /status, heartbeats, alerts."""
    import signal
    import threading
    from contextlib import nullcontext

    from custodes.monitor import parse_window
    from custodes.monitor.service import MonitorServer, MonitorSettings, parse_webhooks

    # nan or inf would make a monitor that never looks stale
    if not all(math.isfinite(v) and v > 0 for v in (interval, eval_every)):
        raise UsageError("--interval and --eval-every must be positive numbers of seconds")
    settings = MonitorSettings(
        name=name or f"{model}-monitor",
        model=model,
        reference=reference,
        window=parse_window(window),
        interval_s=interval,
        eval_every_s=eval_every,
        webhooks=parse_webhooks(webhook or []),
    )
    if not reference.is_file():
        raise UsageError(f"{reference}: no such reference file")
    stop = threading.Event()
    ctx = nullcontext(None) if no_store else governance(project, db, create=True)
    with ctx as gov:
        try:
            server = MonitorServer(
                settings, host=host, port=port, gov=gov, log=lambda m: err_console.print(m)
            )
        except OSError as exc:
            raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
        for sig in (signal.SIGTERM, signal.SIGINT):
            try:
                signal.signal(sig, lambda *_a: stop.set())
            except ValueError:  # not the main thread (tests run the CLI in-process)
                break
        server.start()
        registered = f" ({server.registration})" if server.registration else ""
        typer.echo(
            f"monitor {settings.name} of {settings.model}{registered} listening on {server.url} "
            f"(POST /ingest, GET /metrics, GET /status)",
        )
        import sys

        sys.stdout.flush()
        try:
            server.run_for(duration, stop=stop)
        finally:
            server.stop()
        st = server.engine.status()
        typer.echo(
            f"stopped: {st['records']:,} records from {st['requests']:,} requests, "
            f"{st['input_issues']['rejected']:,} rejected; verdict {st['verdict']}"
        )


_STATUS_STYLE = {"alive": "green", "changed": "yellow", "stale": "bold red", "never": "red"}


@app.command("status")
def status_command(
    project: ProjectOpt = Path(),
    db: DbOpt = None,
    webhook: WebhookOpt = None,
    now: Annotated[
        str | None, typer.Option("--now", help="Judge staleness at this time (RFC 3339).")
    ] = None,
    fmt: Annotated[
        ListFormat, typer.Option("--format", "-f", help="Output format.")
    ] = ListFormat.console,
) -> None:
    """Which monitors are alive, stale (missed a heartbeat) or changed (configuration);
    with --webhook, alert once for each newly stale monitor. Exit 1 if any is stale."""
    from custodes.monitor.registry import alert_stale, read_statuses
    from custodes.monitor.service import parse_webhooks

    urls = parse_webhooks(webhook or [])
    when_ts = _parse_now(now)
    when = None if when_ts is None else datetime.fromtimestamp(when_ts, tz=UTC)
    with governance(project, db) as gov:
        failures: list[str] = []
        alerted: list[str] = []
        if urls:
            sent, failures = alert_stale(gov, urls, now=when)
            alerted = [s.name for s in sent]
        statuses = read_statuses(gov.store, when)
    if fmt is ListFormat.json:
        typer.echo(
            dump_json(
                {
                    "monitors": [s.to_dict() for s in statuses],
                    "alerted": alerted,
                    "alert_failures": failures,
                }
            )
        )
    else:
        if not statuses:
            console.print("no monitors registered (start one with custodes monitor run)")
        t = Table(title="monitors", title_justify="left")
        for h in ("monitor", "model", "status", "last heartbeat", "interval", "config", "verdict"):
            t.add_column(h, overflow="fold", no_wrap=h == "status")
        for s in statuses:
            style = _STATUS_STYLE.get(s.status, "bold")
            silent = "" if s.silent_s is None else f" ({_ago(s.silent_s)} ago)"
            t.add_row(
                s.name,
                s.model,
                f"[{style}]{s.status}[/{style}]",
                (
                    "-"
                    if s.last_heartbeat is None
                    else s.last_heartbeat.strftime("%Y-%m-%d %H:%M:%S")
                )
                + silent,
                f"{s.interval_s:g} s",
                s.config_hash.removeprefix("sha256:")[:12]
                + (f" ({s.changes} change{'s' if s.changes != 1 else ''})" if s.changes else ""),
                s.verdict or "-",
            )
        if statuses:
            console.print(t)
        for name in alerted:
            console.print(f"[red]alerted[/red]: monitor {name} missed its heartbeat")
        for f in failures:
            console.print(f"[yellow]alert not delivered[/yellow]: {f}", soft_wrap=True)
    if any(not s.alive for s in statuses):
        raise typer.Exit(1)


def _ago(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172_800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"
