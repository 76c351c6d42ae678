"""A data check on the terminal: the verdict first, then where and which rows.

Order follows what a reviewer asks: what is the verdict and why, which source, which
columns moved, which rows to look at. The tables keep to what fits an 80-column
terminal: each source is one row of the signals that fired, each column a line only when
it drifted or broke the schema. Rendering only; the result comes from the check.
"""

from __future__ import annotations

from rich.console import Console
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from custodes.data.check.result import DataCheckResult
from custodes.report.data_evidence import source_evidence

__all__ = ["render_data_check"]

_STYLE = {"ok": "green", "drift": "yellow", "suspected_poisoning": "red", "schema_violation": "red"}


def render_data_check(result: DataCheckResult, console: Console, *, top: int = 10) -> None:
    """Verdict and reasons, per-source table, columns that moved, flagged rows."""
    style = _STYLE.get(result.verdict, "bold")
    console.print(
        f"[bold {style}]verdict: {result.verdict}[/] ({result.rows:,} rows against a "
        f"{result.baseline_rows:,}-row baseline, {result.seconds:.2f} s)",
        soft_wrap=True,
    )
    for r in result.reasons[:top]:
        console.print(Padding(Text("- " + r), (0, 0, 0, 2)))
    if result.sources:
        console.print("sources", style="bold")
        order = sorted(result.sources, key=lambda s: (s.verdict == "ok", s.source))
        for s in order:
            name = s.source if not s.tier or s.tier == s.source else f"{s.source} ({s.tier})"
            head = Text("  ")
            head.append(f"{name}  ", style="bold")
            head.append(f"{s.rows:,} rows ({s.batch_share:.0%}, ref {s.reference_share:.0%})  ")
            if s.label_rate is not None:
                head.append(
                    f"label rate {s.label_rate:.1%} (ref {(s.reference_label_rate or 0):.1%})  "
                )
            head.append(s.verdict, style=_STYLE.get(s.verdict, "bold"))
            console.print(head)
            evidence = "; ".join(source_evidence(s, result.signals)) or "-"
            console.print(Padding(Text(evidence, style="dim"), (0, 0, 0, 6)))
    moved = [c for c in result.columns if c.verdict != "ok"]
    if moved:
        moved = sorted(moved, key=lambda c: -(c.js_distance or c.psi or 0))[:top]
        t = Table(title="columns that moved or broke", title_justify="left", expand=True)
        t.add_column("column")
        t.add_column("verdict", no_wrap=True)
        t.add_column("PSI / JS", no_wrap=True)
        t.add_column("issues", ratio=1)
        for c in moved:
            scores = "/".join("-" if v is None else f"{v:.3f}" for v in (c.psi, c.js_distance))
            t.add_row(
                c.name,
                f"[{_STYLE.get(c.verdict, 'bold')}]{c.verdict}[/]",
                scores,
                "; ".join(
                    i.kind + (f" -> {i.suggestion}" if i.suggestion else "") for i in c.issues
                ),
            )
        console.print(t)
    else:
        console.print(f"no column drifted or broke the schema ({len(result.columns)} checked)")
    doc = result.to_dict()["flagged_rows"]
    console.print(f"flagged rows: {doc['count']:,}")
    for reason, count in sorted(doc["by_reason"].items(), key=lambda kv: -kv[1])[:top]:
        console.print(Padding(Text(f"{count:>8,}  {reason}"), (0, 0, 0, 2)))
    if result.cleanlab.get("available"):
        scored = result.cleanlab.get("scored_rows")
        of = f" of {scored:,} rows scored" if scored and scored < result.rows else ""
        console.print(
            f"cleanlab alone: {result.cleanlab['issues']:,} label issues{of} "
            f"({result.cleanlab['rate']:.1%})",
            style="dim",
        )
