"""Risk as likelihood × impact, where impact grows with scale and consequence.

Scores are deliberately coarse (1–5 each) and every step is written down as a reason,
so a reader can disagree with one number instead of distrusting the whole result.
"""

from __future__ import annotations

from typing import Literal

from custodes.system.schema import System
from custodes.threatmodel.model import Risk, ScaleImpact

__all__ = ["ImpactKind", "impact_of", "residual", "scale_impact"]

ImpactKind = Literal["integrity", "confidentiality", "availability"]

_CONSEQUENCE = {"low": 1, "moderate": 2, "high": 3, "critical": 4}
_SENSITIVITY = {
    "biometric": (5, "biometric data cannot be reissued once it leaks"),
    "health": (4, "health records are special-category personal data"),
    "personal": (3, "personal data is exposed"),
}
#: From this many people on, an error is a population-level event, not an incident.
SCALE_THRESHOLD = 100_000


def impact_of(
    system: System, kind: ImpactKind, sensitivity: frozenset[str] = frozenset()
) -> tuple[int, tuple[str, ...]]:
    """Impact 1–5 with its reasons: consequence, then scale, then data sensitivity."""
    value = _CONSEQUENCE[system.consequence]
    reasons = [f"consequence {system.consequence}: {value}"]
    population = system.scale.people_affected or system.scale.records
    if population is not None and population >= SCALE_THRESHOLD:
        value += 1
        reasons.append(f"{population:,} people at stake (≥ {SCALE_THRESHOLD:,}): +1")
    if kind == "confidentiality":
        for name in ("biometric", "health", "personal"):
            if name in sensitivity:
                floor, why = _SENSITIVITY[name]
                if floor > value:
                    reasons.append(f"{why}: raised to {floor}")
                    value = floor
                break
    return min(value, 5), tuple(reasons)


def residual(inherent: Risk, status: str, implemented: int, required: int) -> Risk:
    """Risk left once declared controls are counted.

    A mitigated threat keeps likelihood 1 (rare, not impossible); a partial one loses
    one point per implemented control but never reaches 1; an accepted one keeps its
    full risk, because accepting a risk does not make it smaller.
    """
    if status == "mitigated":
        likelihood = 1
        why = "all required controls implemented: likelihood 1"
    elif status == "partial":
        likelihood = max(2, inherent.likelihood - implemented)
        why = f"{implemented} of {required} required controls implemented: likelihood {likelihood}"
    elif status == "accepted":
        likelihood = inherent.likelihood
        why = "risk accepted, not reduced"
    else:
        likelihood = inherent.likelihood
        why = "no required control implemented"
    return Risk(
        likelihood=likelihood,
        impact=inherent.impact,
        likelihood_reasons=(why,),
        impact_reasons=inherent.impact_reasons,
    )


def scale_impact(system: System) -> ScaleImpact:
    """What the declared accuracy means in people, per population and per day."""
    scale = system.scale
    population: int | None
    if scale.people_affected is not None:
        population, label = scale.people_affected, "people"
    else:
        population, label = scale.records, "records"
    wrong = None
    wrong_per_day = None
    if scale.accuracy is not None:
        if population is not None:
            wrong = round(population * (1 - scale.accuracy))
        if scale.decisions_per_day is not None:
            wrong_per_day = round(scale.decisions_per_day * (1 - scale.accuracy))
    return ScaleImpact(
        population=population,
        population_label=label,
        accuracy=scale.accuracy,
        wrong=wrong,
        decisions_per_day=scale.decisions_per_day,
        wrong_per_day=wrong_per_day,
        consequence=system.consequence,
    )
