"""``custodes data``: baseline reference data, check batches, find mislabelled rows."""

from __future__ import annotations

import enum
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from custodes.cli.common import ListFormat, console, count_progress, dump_json, write_output
from custodes.errors import UsageError

__all__ = ["app"]

app = typer.Typer(
    help="Baseline training data and check new batches for drift or poisoning.",
    no_args_is_help=True,
)


class Engine(enum.StrEnum):
    local = "local"
    dask = "dask"


@app.command("baseline")
def baseline_command(
    refs: Annotated[
        list[str] | None,
        typer.Argument(
            help="Parquet files, folders or hive datasets, or CSV files.", show_default=False
        ),
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Baseline JSON to write.")
    ] = None,
    label: Annotated[str | None, typer.Option("--label", help="Label (class) column.")] = None,
    source_column: Annotated[
        str | None, typer.Option("--source-column", help="Column naming each row's source (tier).")
    ] = None,
    id_column: Annotated[
        str | None, typer.Option("--id-column", help="Row id column (not profiled).")
    ] = None,
    engine: Annotated[
        Engine, typer.Option("--engine", help="local (all cores) or dask.")
    ] = Engine.local,
    scheduler: Annotated[
        str | None, typer.Option("--scheduler", help="Dask scheduler address for --engine dask.")
    ] = None,
    refresh: Annotated[
        Path | None,
        typer.Option("--refresh-digest", help="Re-digest a baseline whose constraints you edited."),
    ] = None,
    fmt: Annotated[
        ListFormat, typer.Option("--format", "-f", help="Output format.")
    ] = ListFormat.console,
) -> None:
    """Profile reference data into a small, versioned, digested baseline file."""
    # Imported here, not at module level: every command's start-up pays for module imports.
    from custodes.data import build_baseline, refresh_digest

    if refresh is not None:
        digest = refresh_digest(refresh)
        if fmt is ListFormat.json:
            write_output(dump_json({"baseline": str(refresh), "digest": digest}), None)
        else:
            console.print(f"re-digested {refresh}: {digest}")
        return
    if not refs:
        raise UsageError("give at least one reference (Parquet file, folder or CSV)")
    if output is None:
        raise UsageError("--output/-o BASELINE.json is required")
    start = time.perf_counter()
    with count_progress("profiling") as progress:
        baseline = build_baseline(
            refs,
            label=label,
            source_column=source_column,
            id_column=id_column,
            engine=engine.value,
            scheduler=scheduler,
            progress=progress,
        )
    path = baseline.save(output)
    seconds = time.perf_counter() - start
    summary = {
        "baseline": str(path),
        "rows": baseline.rows,
        "columns": len(baseline.columns),
        "sources": {s: next(iter(c.values())).rows for s, c in baseline.sources.items()},
        "label_classes": {k: round(v, 6) for k, v in baseline.label_rate().items()}
        if baseline.labels
        else {},
        "bytes": path.stat().st_size,
        "seconds": round(seconds, 2),
        "digest": baseline.to_dict()["digest"],
    }
    if fmt is ListFormat.json:
        write_output(dump_json(summary), None)
        return
    table = Table(title=f"baseline written to {path}", title_justify="left", show_header=False)
    table.add_column("", style="bold")
    table.add_column("")
    table.add_row("rows", f"{baseline.rows:,}")
    table.add_row("columns", str(len(baseline.columns)))
    if baseline.sources:
        table.add_row("sources", ", ".join(f"{s} ({n:,})" for s, n in summary["sources"].items()))
    if baseline.labels:
        table.add_row(
            "label classes", ", ".join(f"{k} ({v:.1%})" for k, v in baseline.label_rate().items())
        )
    table.add_row("file size", f"{summary['bytes'] / 1024:,.1f} KiB")
    table.add_row("time", f"{seconds:.2f} s")
    console.print(table)


class CheckFormat(enum.StrEnum):
    console = "console"
    json = "json"
    html = "html"


def _parse_tiers(text: str | None) -> dict[str, str]:
    if not text:
        return {}
    out = {}
    for part in text.split(","):
        src, sep, tier = part.partition("=")
        if not sep or not src.strip() or not tier.strip():
            raise UsageError(f"--tiers expects source=tier,... (got {part!r})")
        out[src.strip()] = tier.strip()
    return out


@app.command("check")
def check_command(
    batch: Annotated[str, typer.Argument(help="Batch: Parquet file/folder or CSV.")],
    baseline: Annotated[Path, typer.Option("--baseline", "-b", help="Baseline JSON.")],
    flagged_rows: Annotated[
        Path | None,
        typer.Option("--flagged-rows", help="Write suspect rows (CSV, or Parquet by extension)."),
    ] = None,
    tiers: Annotated[
        str | None, typer.Option("--tiers", help="Source to tier: first_party=ehr,broker=claims")
    ] = None,
    fmt: Annotated[
        CheckFormat, typer.Option("--format", "-f", help="Output format.")
    ] = CheckFormat.console,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Report file.")] = None,
    label_issues: Annotated[
        bool,
        typer.Option(
            "--label-issues",
            help="Once a poisoning signal fires, add cleanlab's label-issue rate per source "
            "(about 0.7 s more: importing cleanlab).",
        ),
    ] = False,
) -> None:
    """Check a batch against a baseline: ok, drift, suspected_poisoning or schema_violation."""
    from custodes.data import Baseline
    from custodes.data.check import check_batch, write_flagged

    mapping = _parse_tiers(tiers)
    result = check_batch(batch, Baseline.load(baseline), tiers=mapping, label_issues=label_issues)
    if flagged_rows is not None:
        write_flagged(result.flagged, result.id_column, flagged_rows)
    if fmt is CheckFormat.json:
        write_output(dump_json(result.to_dict(max_flagged=100)), output)
    elif fmt is CheckFormat.html:
        from custodes.report.data_html import render_data_check_html

        write_output(render_data_check_html(result, flagged_rows_path=flagged_rows), output)
    else:
        from custodes.report.data_console import render_data_check

        render_data_check(result, console)
    raise typer.Exit(result.exit_code)


@app.command("labels")
def labels_command(
    train: Annotated[str, typer.Argument(help="Training data: Parquet file/folder or CSV.")],
    label: Annotated[str, typer.Option("--label", help="Label (class) column.")],
    source_column: Annotated[
        str | None, typer.Option("--source-column", help="Column naming each row's source.")
    ] = None,
    id_column: Annotated[str | None, typer.Option("--id-column", help="Row id column.")] = None,
    flagged_rows: Annotated[
        Path | None, typer.Option("--flagged-rows", help="Write likely mislabelled rows.")
    ] = None,
    fmt: Annotated[
        ListFormat, typer.Option("--format", "-f", help="Output format.")
    ] = ListFormat.console,
) -> None:
    """Likely mislabelled rows (cleanlab on cross-validated probabilities), rates per source."""
    from custodes.data.check import write_flagged
    from custodes.data.labels_check import find_mislabelled

    result = find_mislabelled(train, label, source_column=source_column, id_column=id_column)
    if flagged_rows is not None:
        write_flagged(result.flagged, id_column, flagged_rows)
    if fmt is ListFormat.json:
        write_output(dump_json(result.to_dict()), None)
        return
    console.print(
        f"{result.issues:,} likely mislabelled rows of {result.rows:,} ({result.rate:.1%})"
    )
    table = Table(title="per source", title_justify="left")
    for h in ("source", "rows", "issues", "rate"):
        table.add_column(h)
    for s, d in result.per_source.items():
        table.add_row(s, f"{int(d['rows']):,}", f"{int(d['issues']):,}", f"{d['rate']:.1%}")
    console.print(table)
