"""A window against the reference: output drift, confidence shift, input drift, performance.

The scores are those of ``data check`` (:mod:`custodes.data.check.drift`), computed from two
profiles instead of a baseline and a batch: the population stability index on the
reference's quantile bins (categories: its frequent values), *minus its expected value
under no drift* for the two sample sizes, so that a window of a thousand predictions from
the reference distribution does not alarm and one of ten million is judged on effect size
alone; Jensen-Shannon distance and a Wasserstein-1 distance scaled by the reference spread
(from the two quantile sketches) are reported beside it. Performance is accuracy on the
labelled records against the reference accuracy, with a two-proportion z-score so that a
window with a few dozen labels cannot raise a "degraded" verdict on luck.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from custodes.data.check.drift import QUANTILES, psi_score
from custodes.data.labels import coarse_edges
from custodes.data.profile import OTHER, ColumnProfile
from custodes.data.sketches import I64
from custodes.monitor.windows import CONFIDENCE, PREDICTION, WindowProfile

__all__ = [
    "ACCURACY_DROP",
    "MIN_LABELS",
    "MIN_ROWS",
    "ColumnDrift",
    "Performance",
    "WindowDrift",
    "compare",
]

MIN_ROWS = 100
"""A window with fewer records is reported but not scored (too little to tell)."""
MIN_LABELS = 100
ACCURACY_DROP = 0.05
"""Absolute accuracy drop (with z >= :data:`ACCURACY_Z`) from which a window is degraded."""
ACCURACY_Z = 4.0
MAX_VALUES = 50


@dataclass(frozen=True)
class ColumnDrift:
    """How far one column moved: ``role`` is input, output or confidence."""

    name: str
    role: str
    psi: float
    psi_raw: float
    noise: float
    js_distance: float
    wasserstein: float | None
    drifted: bool
    reference_mean: float | None = None
    mean: float | None = None


@dataclass(frozen=True)
class Performance:
    """Accuracy of the labelled records of a window against the reference's."""

    labelled: int
    accuracy: float
    reference_accuracy: float
    drop: float
    z: float
    degraded: bool


@dataclass(frozen=True)
class WindowDrift:
    """One window compared with the reference."""

    key: int
    start: float
    end: float
    rows: int
    scored: bool
    columns: tuple[ColumnDrift, ...]
    performance: Performance | None
    near_boundary_share: float
    reference_near_boundary_share: float

    @property
    def output_drift(self) -> bool:
        return any(c.drifted for c in self.columns if c.role == "output")

    @property
    def confidence_shift(self) -> bool:
        return any(c.drifted for c in self.columns if c.role == "confidence")

    @property
    def input_drift(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.role == "input" and c.drifted)

    @property
    def degraded(self) -> bool:
        return self.performance is not None and self.performance.degraded

    @property
    def drifted(self) -> bool:
        return self.output_drift or self.confidence_shift or bool(self.input_drift)


def compare(reference: WindowProfile, window: WindowProfile, features: list[str]) -> WindowDrift:
    """Score every column of ``window`` against ``reference`` (see the module docstring)."""
    ref_nb = reference.near_boundary / reference.rows if reference.rows else 0.0
    nb = window.near_boundary / window.rows if window.rows else 0.0
    scored = window.rows >= MIN_ROWS and reference.rows >= MIN_ROWS
    cols: list[ColumnDrift] = []
    if scored:
        for name, role in [
            (PREDICTION, "output"),
            (CONFIDENCE, "confidence"),
            *((f, "input") for f in features),
        ]:
            r, w = reference.columns.get(name), window.columns.get(name)
            if r is None or w is None:
                continue
            d = column_drift(name, role, r, w)
            if d is not None:
                cols.append(d)
    return WindowDrift(
        window.key,
        window.start,
        window.end,
        window.rows,
        scored,
        tuple(cols),
        performance(reference, window),
        round(nb, 5),
        round(ref_nb, 5),
    )


def performance(reference: WindowProfile, window: WindowProfile) -> Performance | None:
    """Accuracy drop with a two-proportion z-score; None without enough labels."""
    if window.labelled < MIN_LABELS or reference.labelled < MIN_LABELS:
        return None
    a, a0 = window.correct / window.labelled, reference.correct / reference.labelled
    pooled = (window.correct + reference.correct) / (window.labelled + reference.labelled)
    se = math.sqrt(
        max(pooled * (1 - pooled), 1e-12) * (1 / window.labelled + 1 / reference.labelled)
    )
    z = (a0 - a) / se
    drop = a0 - a
    return Performance(
        window.labelled,
        round(a, 5),
        round(a0, 5),
        round(drop, 5),
        round(z, 2),
        drop >= ACCURACY_DROP and z >= ACCURACY_Z,
    )


def _bins(ref: ColumnProfile, got: ColumnProfile) -> tuple[I64, I64] | None:
    if ref.hist is not None and got.hist is not None:
        edges = np.asarray(coarse_edges(ref))
        _, rc = ref.histogram(edges)
        _, gc = got.histogram(edges)
        return (
            np.append(rc, ref.nulls).astype(np.int64),
            np.append(gc, got.nulls).astype(np.int64),
        )
    if ref.freq is not None and got.freq is not None:
        values = [v for v in ref.frequencies() if v != OTHER][:MAX_VALUES]
        rf, gf = ref.frequencies(), got.frequencies()
        rl = [rf.get(v, 0) for v in values]
        gl = [gf.get(v, 0) for v in values]
        rl += [ref.count - sum(rl), ref.nulls]
        gl += [got.count - sum(gl), got.nulls]
        return np.asarray(rl, np.int64), np.asarray(gl, np.int64)
    return None


def column_drift(
    name: str, role: str, ref: ColumnProfile, got: ColumnProfile
) -> ColumnDrift | None:
    """PSI (null-corrected), JS distance and scaled Wasserstein of one column's profiles."""
    counts = _bins(ref, got)
    if counts is None:
        return None
    s = psi_score(*counts)
    return ColumnDrift(
        name,
        role,
        s.psi,
        s.psi_raw,
        s.noise,
        s.js_distance,
        _wasserstein(ref, got),
        s.drifted,
        _mean(ref),
        _mean(got),
    )


def _mean(p: ColumnProfile) -> float | None:
    if p.moments is None or p.moments.n == 0:
        return None
    return round(p.moments.mean, 6)


def _wasserstein(ref: ColumnProfile, got: ColumnProfile) -> float | None:
    """Mean gap between the two quantile functions over the reference's robust spread."""
    if ref.sketch is None or got.sketch is None or ref.count < 2 or got.count < 2:
        return None
    qs = QUANTILES.tolist()
    rq = np.asarray(ref.quantiles(qs), np.float64)
    gq = np.asarray(got.quantiles(qs), np.float64)
    lo, hi = ref.quantiles([0.05, 0.95])
    spread = (hi - lo) / 3.29 if hi > lo else (ref.max or 0.0) - (ref.min or 0.0)
    if not spread or not math.isfinite(spread):
        return None
    return round(float(np.abs(gq - rq).mean() / spread), 5)
