"""What ``monitor check`` returns: a verdict, suspected clients, per-window drift, bad input.

Verdicts, in increasing order of urgency (the worst one that applies is the verdict):

``ok``
    outputs, confidence and inputs match the reference; no client looks like an attack.
``drift``
    the model's outputs, its confidence or its inputs moved beyond sampling noise in some
    window: the world changed; the model may still be right, look before trusting it.
``degraded``
    accuracy on labelled records fell (or too much of the input was unusable, a data
    quality failure): the model is measurably worse.
``suspected_extraction``
    at least one client's queries look like model extraction or an inference attack
    (``clients`` says who and why): someone is working against the model right now.

The result is typed and frozen; renderers read it, ``to_dict`` is the JSON contract.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from custodes.data.check.result import finding_summary
from custodes.findings import Finding
from custodes.monitor.abuse import ClientReport
from custodes.monitor.drift import WindowDrift
from custodes.monitor.records import InputIssues

__all__ = [
    "DEGRADED",
    "DRIFT",
    "EXTRACTION",
    "OK",
    "VERDICT_ORDER",
    "MonitorCheckResult",
    "worst_verdict",
]

OK = "ok"
DRIFT = "drift"
DEGRADED = "degraded"
EXTRACTION = "suspected_extraction"
VERDICT_ORDER = (OK, DRIFT, DEGRADED, EXTRACTION)
BAD_INPUT_SHARE = 0.05
"""Share of unusable records from which the input itself counts as degraded."""


def worst_verdict(verdicts: list[str] | tuple[str, ...]) -> str:
    """The most urgent of some verdicts (``ok`` for none)."""
    return max(verdicts, key=VERDICT_ORDER.index, default=OK)


def _iso(ts: float) -> str | None:
    if ts != ts or ts in (float("inf"), float("-inf")):
        return None
    return datetime.fromtimestamp(ts, tz=UTC).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class MonitorCheckResult:
    """Everything one ``monitor check`` concluded (see the module docstring)."""

    verdict: str
    reasons: tuple[str, ...]
    predictions: str
    reference: str
    window: str
    records: int
    reference_records: int
    windows: tuple[WindowDrift, ...]
    overall: WindowDrift
    clients: tuple[ClientReport, ...]
    """Suspected clients only."""
    busiest: tuple[ClientReport, ...]
    """The busiest clients, suspected or not (volume alone is not a signal)."""
    client_count: int
    input_issues: InputIssues
    findings: tuple[Finding, ...] = ()
    seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def exit_code(self) -> int:
        """0 when the verdict is ok, else 1 (the CLI contract, as ``data check``)."""
        return 0 if self.verdict == OK else 1

    def to_dict(self) -> dict[str, Any]:
        """The JSON document of ``monitor check --format json``."""
        return {
            "verdict": self.verdict,
            "reasons": list(self.reasons),
            "predictions": self.predictions,
            "reference": self.reference,
            "window": self.window,
            "records": self.records,
            "reference_records": self.reference_records,
            "clients": [_client(c) for c in self.clients],
            "client_count": self.client_count,
            "busiest_clients": [_client(c) for c in self.busiest],
            "overall": _window(self.overall),
            "windows": [_window(w) for w in self.windows],
            "input_issues": self.input_issues.to_dict(),
            "findings": [finding_summary(f) for f in self.findings],
            "seconds": round(self.seconds, 3),
            **self.extra,
        }


def _client(c: ClientReport) -> dict[str, Any]:
    return {
        "client_id": c.client_id,
        "queries": c.queries,
        "share": c.share,
        "rate_per_hour": c.rate_per_hour,
        "peak_per_hour": c.peak_per_hour,
        "first_seen": _iso(c.first_seen),
        "last_seen": _iso(c.last_seen),
        "first_line": c.first_line,
        "coverage": c.coverage,
        "signals": [asdict(s) | {"threats": list(s.threats)} for s in c.signals],
        "suggested_rate_limit_per_hour": c.suggested_rate_limit_per_hour,
    }


def _window(w: WindowDrift) -> dict[str, Any]:
    return {
        "start": _iso(w.start),
        "end": _iso(w.end),
        "records": w.rows,
        "scored": w.scored,
        "output_drift": w.output_drift,
        "confidence_shift": w.confidence_shift,
        "input_drift": list(w.input_drift),
        "degraded": w.degraded,
        "near_boundary_share": w.near_boundary_share,
        "reference_near_boundary_share": w.reference_near_boundary_share,
        "performance": None if w.performance is None else asdict(w.performance),
        "columns": [asdict(c) for c in w.columns],
    }
