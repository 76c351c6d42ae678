"""A data check on the terminal: the verdict first, then where and which rows.

Order follows what a reviewer asks: what is the verdict and why, which source, which
columns moved, which rows to look at. Rendering only; the result comes from the check.
"""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from custodes.data.check.result import DataCheckResult

__all__ = ["render_data_check"]

_STYLE = {"ok": "green", "drift": "yellow", "suspected_poisoning": "red", "schema_violation": "red"}


def render_data_check(result: DataCheckResult, console: Console, *, top: int = 10) -> None:
    style = _STYLE.get(result.verdict, "bold")
    console.print(
        f"[bold {style}]verdict: {result.verdict}[/] ({result.rows:,} rows against a "
        f"{result.baseline_rows:,}-row baseline, {result.seconds:.2f} s)"
    )
    for r in result.reasons[:top]:
        console.print(f"  - {r}")
    if result.sources:
        t = Table(title="sources", title_justify="left")
        for h in (
            "source",
            "tier",
            "rows",
            "share (ref)",
            "label rate (ref)",
            "label z",
            "drifted",
            "dup rows",
            "triggers",
            "issue rate (others)",
            "flagged",
            "verdict",
        ):
            t.add_column(h)
        for s in result.sources:
            t.add_row(
                s.source,
                s.tier or "",
                f"{s.rows:,}",
                f"{s.batch_share:.1%} ({s.reference_share:.1%})",
                ""
                if s.label_rate is None
                else f"{s.label_rate:.1%} ({(s.reference_label_rate or 0):.1%})",
                f"{s.label_shift_z:.1f}",
                ", ".join(s.drifted_columns[:3]) + ("..." if len(s.drifted_columns) > 3 else ""),
                f"{s.duplicate_rows:,}",
                ", ".join(s.trigger_values),
                ""
                if s.label_issue_rate is None
                else f"{s.label_issue_rate:.1%} ({(s.other_label_issue_rate or 0):.1%})",
                f"{s.flagged_rows:,}",
                f"[{_STYLE.get(s.verdict, 'bold')}]{s.verdict}[/]",
            )
        console.print(t)
    cols = [c for c in result.columns if c.verdict != "ok"] or list(result.columns)
    cols = sorted(cols, key=lambda c: (c.verdict == "ok", -(c.psi or 0)))[:top]
    t = Table(title="top columns", title_justify="left")
    for h in ("column", "kind", "PSI", "JS", "Wasserstein/sd", "nulls (ref)", "verdict", "issues"):
        t.add_column(h)
    for c in cols:
        t.add_row(
            c.name,
            c.kind,
            "" if c.psi is None else f"{c.psi:.3f}",
            "" if c.js_distance is None else f"{c.js_distance:.3f}",
            "" if c.wasserstein is None else f"{c.wasserstein:.3f}",
            ""
            if c.null_rate is None
            else f"{c.null_rate:.1%} ({(c.reference_null_rate or 0):.1%})",
            f"[{_STYLE.get(c.verdict, 'bold')}]{c.verdict}[/]",
            "; ".join(i.kind + (f" -> {i.suggestion}" if i.suggestion else "") for i in c.issues),
        )
    console.print(t)
    doc = result.to_dict()["flagged_rows"]
    console.print(f"flagged rows: {doc['count']:,}")
    for reason, count in sorted(doc["by_reason"].items(), key=lambda kv: -kv[1])[:top]:
        console.print(f"  {count:>8,}  {reason}")
    if result.cleanlab.get("available"):
        console.print(
            f"cleanlab alone: {result.cleanlab['issues']:,} label issues "
            f"({result.cleanlab['rate']:.1%} of rows)"
        )
