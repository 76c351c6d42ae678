"""A data-check source's evidence in words: one wording for the console and the HTML page."""

from __future__ import annotations

from custodes.data.check.result import Signal, SourceResult

__all__ = ["source_evidence"]


def source_evidence(s: SourceResult, signals: tuple[Signal, ...]) -> list[str]:
    """What stands behind a source's verdict, in words, strongest first."""
    own = sorted((g for g in signals if g.source == s.source), key=lambda g: -abs(g.z))
    parts = [f"{g.message} (z {g.z:.1f}, {g.rows:,} rows)" for g in own]
    if s.flagged_rows:
        parts.append(f"{s.flagged_rows:,} rows flagged for review")
    if abs(s.label_shift_z) >= 3 and not any(g.kind == "source_label_shift" for g in own):
        parts.append(f"labels off the baseline model (z {s.label_shift_z:.1f})")
    if s.trigger_values:
        parts.append("trigger values " + ", ".join(s.trigger_values[:3]))
    if s.duplicate_rows:
        parts.append(f"{s.duplicate_rows:,} near-duplicate rows")
    if s.drifted_columns:
        more = " and more" if len(s.drifted_columns) > 3 else ""
        parts.append("drift in " + ", ".join(s.drifted_columns[:3]) + more)
    if s.label_issue_rate is not None and s.other_label_issue_rate is not None:
        parts.append(
            f"label issues {s.label_issue_rate:.1%} against "
            f"{s.other_label_issue_rate:.1%} in the other sources"
        )
    return parts
