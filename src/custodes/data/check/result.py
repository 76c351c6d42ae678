"""What a data check returns: typed, frozen results that every renderer reads.

The check itself never prints. A :class:`DataCheckResult` holds the verdict with its
reasons, a :class:`ColumnResult` per column (schema issues and drift effect sizes), a
:class:`SourceResult` per source (so a person sees *where* a problem came from), the
poisoning :class:`Signal` objects with their evidence, and the :class:`FlaggedRow` ids a
person should review before the batch is used for training. ``to_dict`` is the JSON
contract of DESIGN.md (``verdict``, ``columns``, ``sources``, ...).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from custodes.findings import Finding

__all__ = [
    "DRIFT",
    "OK",
    "POISONING",
    "SCHEMA",
    "VERDICT_ORDER",
    "ColumnResult",
    "DataCheckResult",
    "FlaggedRow",
    "SchemaIssue",
    "Signal",
    "SourceResult",
    "finding_summary",
    "worst_verdict",
]

OK = "ok"
DRIFT = "drift"
POISONING = "suspected_poisoning"
SCHEMA = "schema_violation"
VERDICT_ORDER = (OK, DRIFT, POISONING, SCHEMA)
"""Increasing severity: a broken schema beats poisoning, which beats drift."""


def worst_verdict(verdicts: list[str] | tuple[str, ...]) -> str:
    """The most severe of some verdicts (``ok`` for none)."""
    return max(verdicts, key=VERDICT_ORDER.index, default=OK)


@dataclass(frozen=True)
class SchemaIssue:
    """One schema problem of a column: kind is missing, renamed, new, type_changed,
    out_of_range, null_rate, unknown_category or all_null."""

    kind: str
    column: str
    message: str
    rows: int = 0
    suggestion: str | None = None
    score: float | None = None


@dataclass(frozen=True)
class ColumnResult:
    """Per column: its schema issues and how far its distribution moved (effect sizes)."""

    name: str
    kind: str
    verdict: str
    issues: tuple[SchemaIssue, ...] = ()
    psi: float | None = None
    """Population stability index on the reference bins, minus its expected null value."""
    js_distance: float | None = None
    wasserstein: float | None = None
    """Wasserstein-1 distance divided by the reference standard deviation."""
    noise: float | None = None
    """Standard deviation of the PSI under no drift at these two sample sizes."""
    null_rate: float | None = None
    reference_null_rate: float | None = None
    reference_hist: tuple[float, ...] = ()
    batch_hist: tuple[float, ...] = ()
    bin_labels: tuple[str, ...] = ()


@dataclass(frozen=True)
class Signal:
    """One poisoning signal: what fired, where (source, group), how strong, and why."""

    kind: str
    """label_shift, subpopulation, source_label_shift, near_duplicates, trigger, label_issues."""
    source: str | None
    group: str
    message: str
    rows: int
    z: float
    effect: float
    evidence: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SourceResult:
    """Per source: size, drift, label-shift score, duplicates, triggers and its verdict."""

    source: str
    tier: str | None
    rows: int
    reference_share: float
    batch_share: float
    drifted_columns: tuple[str, ...]
    label_rate: float | None
    reference_label_rate: float | None
    label_shift_z: float
    """Likelihood score of the source's labels under the calibrated baseline model."""
    label_shift_effect: float
    """Mean surprisal excess per row (nats) behind ``label_shift_z``."""
    duplicate_rows: int
    trigger_values: tuple[str, ...]
    label_issue_rate: float | None
    other_label_issue_rate: float | None
    verdict: str
    flagged_rows: int = 0


@dataclass(frozen=True)
class FlaggedRow:
    """A row to review: its id, why, and the source it came from."""

    id: Any
    reason: str
    source: str | None


@dataclass(frozen=True)
class DataCheckResult:
    """Everything a data check concluded about one batch (see the module docstring)."""

    verdict: str
    reasons: tuple[str, ...]
    rows: int
    columns: tuple[ColumnResult, ...]
    sources: tuple[SourceResult, ...]
    signals: tuple[Signal, ...]
    flagged: tuple[FlaggedRow, ...]
    findings: tuple[Finding, ...]
    baseline_rows: int
    id_column: str | None
    source_column: str | None
    label_column: str | None
    seconds: float = 0.0
    cleanlab: dict[str, Any] = field(default_factory=dict)
    batch: str = ""

    @property
    def exit_code(self) -> int:
        """0 when the verdict is ok, else 1 (the CLI contract)."""
        return 0 if self.verdict == OK else 1

    def to_dict(self, *, max_flagged: int = 0) -> dict[str, Any]:
        """The JSON document of ``data check --format json``."""
        flag_reasons: dict[str, int] = {}
        for r in self.flagged:
            flag_reasons[r.reason] = flag_reasons.get(r.reason, 0) + 1
        return {
            "verdict": self.verdict,
            "reasons": list(self.reasons),
            "batch": self.batch,
            "rows": self.rows,
            "baseline_rows": self.baseline_rows,
            "columns": [_column_dict(c) for c in self.columns],
            "sources": [asdict(s) for s in self.sources],
            "signals": [asdict(s) for s in self.signals],
            "flagged_rows": {
                "count": len(self.flagged),
                "by_reason": flag_reasons,
                "rows": [asdict(r) for r in self.flagged[:max_flagged]],
            },
            "cleanlab": self.cleanlab,
            "findings": [finding_summary(f) for f in self.findings],
            "seconds": round(self.seconds, 3),
        }


def finding_summary(f: Finding) -> dict[str, Any]:
    """A finding as the check reports list it: rule, category, severity, message, threats."""
    return {
        "rule_id": f.rule_id,
        "category": f.category.value,
        "severity": f.severity.value,
        "message": f.message,
        "threats": list(f.threats),
    }


def _column_dict(c: ColumnResult) -> dict[str, Any]:
    d = asdict(c)
    for k in ("reference_hist", "batch_hist", "bin_labels"):
        d.pop(k)
    return d
