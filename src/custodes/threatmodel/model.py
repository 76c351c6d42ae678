"""What a threat-model analysis returns: typed results, never printed strings.

Renderers (console, JSON, SARIF, Markdown, HTML) read these objects; nothing here knows
how it will be shown. Every number a reader sees comes with the arithmetic behind it,
because a board member deciding on a model needs to check the sum, not trust a score.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Literal

from custodes.findings import Finding, Severity
from custodes.system.graph import SystemGraph
from custodes.system.loader import LoadedSystem

__all__ = [
    "Answer",
    "ControlRef",
    "DiagnosticLoop",
    "Gap",
    "Question",
    "Risk",
    "RiskLevel",
    "ScaleImpact",
    "Staleness",
    "ThreatInstance",
    "ThreatModel",
    "ThreatStatus",
]

ThreatStatus = Literal["mitigated", "partial", "unmitigated", "accepted"]
RiskLevel = Literal["low", "medium", "high", "critical"]
Answer = Literal["yes", "partial", "no"]

RISK_SEVERITY: dict[str, Severity] = {
    "low": Severity.LOW,
    "medium": Severity.MEDIUM,
    "high": Severity.HIGH,
    "critical": Severity.CRITICAL,
}


@dataclass(frozen=True)
class Risk:
    """Likelihood × impact, each 1–5, with the reasons for each number."""

    likelihood: int
    impact: int
    likelihood_reasons: tuple[str, ...]
    impact_reasons: tuple[str, ...]

    @property
    def score(self) -> int:
        """Likelihood times impact, 1–25."""
        return self.likelihood * self.impact

    @property
    def level(self) -> RiskLevel:
        """Band of the score: critical ≥ 20, high ≥ 12, medium ≥ 6, else low."""
        s = self.score
        if s >= 20:
            return "critical"
        if s >= 12:
            return "high"
        if s >= 6:
            return "medium"
        return "low"

    @property
    def arithmetic(self) -> str:
        """The sum as a reader checks it: ``likelihood 5 × impact 5 = 25 (critical)``."""
        return f"likelihood {self.likelihood} × impact {self.impact} = {self.score} ({self.level})"


@dataclass(frozen=True)
class ControlRef:
    """A control the threat calls for, and what the model declares about it."""

    id: str
    name: str
    status: Literal["implemented", "planned", "not_applicable", "risk_accepted", "missing"]
    evidence: str | None = None
    owner: str | None = None
    line: int | None = None
    """Line in custodes.yaml where the control is declared."""
    lapsed: bool = False
    """A risk acceptance whose expiry has passed: it no longer counts."""


@dataclass(frozen=True)
class ThreatInstance:
    """One OWASP AI Exchange threat applying to one element, and where it stands."""

    rule_id: str
    threat_id: str
    threat_name: str
    category: str
    element_id: str
    element_kind: str
    element_label: str
    facts: tuple[str, ...]
    """Facts of the system model that made the rule fire."""
    clears: str
    """What would clear it, in one sentence."""
    controls: tuple[ControlRef, ...]
    """Controls required to call the threat mitigated."""
    status: ThreatStatus
    inherent: Risk
    """Risk before any declared control."""
    residual: Risk
    """Risk given the declared controls."""
    atlas: tuple[str, ...] = ()
    url: str = ""
    audiences: tuple[str, ...] = ("developer",)
    """Who acts on it: developer, data-scientist, leadership."""
    line: int | None = None
    """Line of the element in custodes.yaml."""

    @property
    def key(self) -> str:
        """Unique key of this threat on this element."""
        return f"{self.threat_id}@{self.element_id}"


@dataclass(frozen=True)
class Gap:
    """One check of the diagnostic loop that did not pass, with what to do."""

    check: str
    detail: str
    elements: tuple[str, ...] = ()


@dataclass(frozen=True)
class Question:
    """One question of the diagnostic loop answered from the model, with evidence."""

    number: int
    title: str
    answer: Answer
    passed: tuple[str, ...]
    """Checks that passed, with their evidence."""
    gaps: tuple[Gap, ...]
    back_to: int | None = None
    """When an earlier layer is missing, the question to go back to first."""


@dataclass(frozen=True)
class DiagnosticLoop:
    """Is it secure? Can we operationalize it? Does it scale?"""

    questions: tuple[Question, ...]

    @property
    def first_failing(self) -> Question | None:
        """The lowest layer that is not a clear yes: where the work starts."""
        return next((q for q in self.questions if q.answer != "yes"), None)


@dataclass(frozen=True)
class ScaleImpact:
    """An error rate turned into people: what accuracy means at the declared scale."""

    population: int | None
    population_label: str
    accuracy: float | None
    wrong: int | None
    decisions_per_day: int | None
    wrong_per_day: int | None
    consequence: str

    @property
    def sentence(self) -> str | None:
        """The arithmetic in words, or None when the model lacks accuracy or scale."""
        if self.wrong is None or self.accuracy is None or self.population is None:
            return None
        return (
            f"{self.accuracy * 100:.4g}% accuracy on {self.population:,} {self.population_label} "
            f"is {self.wrong:,} people given a wrong result"
        )


@dataclass(frozen=True)
class Staleness:
    """Whether the threat model still describes the system as it is."""

    stale: bool
    reasons: tuple[str, ...]
    last_reviewed: date | None
    due: date | None
    fingerprint: str
    """Current fingerprint of the system model and the repo's notebooks, manifests, models."""
    recorded_fingerprint: str | None
    artifacts: int
    """How many repository files went into the fingerprint."""


@dataclass(frozen=True)
class ThreatModel:
    """The whole analysis of one custodes.yaml."""

    system: LoadedSystem
    graph: SystemGraph
    threats: tuple[ThreatInstance, ...]
    findings: tuple[Finding, ...]
    diagnostic: DiagnosticLoop
    staleness: Staleness
    scale: ScaleImpact
    analyzed_on: date
    controls_declared: int = 0
    elements: int = 0
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def name(self) -> str:
        """The system's name."""
        return self.system.model.system.name

    def threats_by_status(self, status: ThreatStatus) -> tuple[ThreatInstance, ...]:
        """Threats in one status, highest residual risk first."""
        return tuple(t for t in self.ranked() if t.status == status)

    def ranked(self) -> tuple[ThreatInstance, ...]:
        """All threats, highest residual risk first, then inherent risk, then id."""
        return tuple(
            sorted(
                self.threats,
                key=lambda t: (-t.residual.score, -t.inherent.score, t.threat_id, t.element_id),
            )
        )

    def element_risk(self) -> dict[str, RiskLevel]:
        """Worst residual risk level per element, for colouring the diagram."""
        order = ("low", "medium", "high", "critical")
        worst: dict[str, RiskLevel] = {}
        for t in self.threats:
            current = worst.get(t.element_id)
            if current is None or order.index(t.residual.level) > order.index(current):
                worst[t.element_id] = t.residual.level
        return worst
