"""The one currency every analyzer emits.

A :class:`Finding` is what a person has to look at: a rule fired on some facts, at some
place, with a severity and a way to clear it. Scanners, the threat model, data checks
and gates all produce findings, so that one set of renderers (console, JSON, SARIF,
Markdown, HTML) and one ``--fail-on`` policy serve them all.
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import NewType

__all__ = [
    "Category",
    "Finding",
    "Location",
    "RuleId",
    "Severity",
    "count_by_severity",
    "worst_severity",
]

RuleId = NewType("RuleId", str)
"""Stable identifier of the rule that produced a finding, e.g. ``TM-DATAPOISON-USER``."""


class Severity(enum.Enum):
    """How urgently a finding needs a person; ordered so thresholds can compare."""

    INFO = "info"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        """Position in the order info < low < medium < high < critical."""
        return _SEVERITY_ORDER.index(self)

    def at_least(self, other: Severity) -> bool:
        """True when this severity meets a ``--fail-on`` threshold."""
        return self.rank >= other.rank

    @classmethod
    def parse(cls, text: str) -> Severity:
        """Read a severity name as a user types it (any case)."""
        try:
            return cls(text.strip().lower())
        except ValueError:
            names = ", ".join(s.value for s in cls)
            raise ValueError(f"unknown severity {text!r} (expected one of: {names})") from None


_SEVERITY_ORDER = (
    Severity.INFO,
    Severity.LOW,
    Severity.MEDIUM,
    Severity.HIGH,
    Severity.CRITICAL,
)


class Category(enum.Enum):
    """What kind of problem a finding is; the JSON contract's ``category`` field."""

    SECRET = "secret"  # noqa: S105 - a category name, not a credential
    ARTIFACT = "artifact"
    NOTEBOOK = "notebook"
    DEPENDENCY = "dependency"
    THREAT = "threat"
    CONTROL = "control"
    REVIEW = "review"
    DATA = "data"
    GOVERNANCE = "governance"


@dataclass(frozen=True, order=True)
class Location:
    """Where a finding sits, as stored on disk, so editors and SARIF viewers land on it."""

    path: str
    """File path as given on the command line joined with the path below it."""
    line: int | None = None
    """1-based line in the file as stored (for a notebook, the line of the .ipynb JSON)."""
    column: int | None = None
    """1-based column, when known."""
    end_line: int | None = None
    """Last line of a multi-line region, when the finding spans several lines."""
    cell: int | None = None
    """0-based notebook cell index, for findings inside a notebook."""
    cell_line: int | None = None
    """1-based line inside the cell's source or output."""
    in_output: bool | None = None
    """For notebooks: whether the finding sits in a cell output rather than its source."""


@dataclass(frozen=True)
class Finding:
    """One thing a person must look at, with the facts that made a rule fire."""

    rule_id: RuleId
    category: Category
    severity: Severity
    message: str
    """One sentence, readable without the rest of the report."""
    location: Location | None = None
    threats: tuple[str, ...] = ()
    """OWASP AI Exchange threat ids this finding is evidence of."""
    element: str | None = None
    """Id of the system-model element concerned, for threat-model findings."""
    facts: tuple[str, ...] = ()
    """The facts of the input that made the rule fire, in plain words."""
    remediation: str | None = None
    """What would clear the finding."""
    atlas: tuple[str, ...] = ()
    """MITRE ATLAS technique ids, where the threat has them."""
    properties: Mapping[str, object] = field(default_factory=dict)
    """Extra structured detail a renderer may show (risk arithmetic, cell ids...)."""
    subject: str | None = None
    """What the finding is about, for its fingerprint only: a secret's digest, a callable.

    Two leaks of different keys in one file are two findings; one key moving down a
    few lines is the same finding. Never the secret itself.
    """

    @property
    def fingerprint(self) -> str:
        """A stable id for baselines and SARIF: same rule, place and subject, same id.

        The message is left out on purpose, so rewording a message does not make an
        accepted finding look new.
        """
        loc = self.location
        parts = [
            self.rule_id,
            self.element or "",
            loc.path if loc else "",
            str(loc.cell) if loc and loc.cell is not None else "",
            ",".join(self.threats),
            self.subject or "",
        ]
        return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


def worst_severity(findings: Iterable[Finding]) -> Severity | None:
    """The highest severity among findings, or None when there are none."""
    worst: Severity | None = None
    for f in findings:
        if worst is None or f.severity.rank > worst.rank:
            worst = f.severity
    return worst


def count_by_severity(findings: Iterable[Finding]) -> dict[str, int]:
    """Counts per severity name, every severity present (zeros included), worst first."""
    counts = {s.value: 0 for s in reversed(_SEVERITY_ORDER)}
    for f in findings:
        counts[f.severity.value] += 1
    return counts
