"""Simulated traffic to a health-risk model: ordinary clients, a batch job and attackers.

The monitor's detectors are only as good as the traffic they were tested on, so the
generator is a module of its own, seeded and reusable (tests, the benchmark and later
``make demo``'s "simulated week of traffic to the health model"). It writes the record
format of :mod:`custodes.monitor.records` and holds:

* a **population** of patients (age, BMI, blood pressure, glucose, HbA1c, ... as the
  health case study) and a logistic **model** scoring them ``high_risk`` / ``low_risk``;
* **ordinary clients** (clinics) querying a few dozen patients a day at random times;
* a **batch job** scoring thousands of ordinary patients each night: high volume, normal
  inputs, so volume alone must not look like extraction;
* an **extraction client** sweeping one feature on a grid while the others stay fixed,
  querying a small lattice, then bisecting towards the decision boundary;
* optionally a **membership-inference client** re-querying a few records with tiny noise;
* a **drifting week**: from ``drift_from_day`` the population ages and its glucose rises
  (input and output drift), and with ``degrade_from_day`` the outcome stops following the
  model (labels disagree more: a performance drop once labels arrive).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from custodes.data.sketches import F64

__all__ = [
    "CLASSES",
    "FEATURES",
    "Population",
    "TrafficSpec",
    "reference_table",
    "traffic_table",
    "write_jsonl",
    "write_parquet",
]

FEATURES = (
    "age",
    "bmi",
    "systolic_bp",
    "diastolic_bp",
    "glucose",
    "hba1c",
    "cholesterol",
    "heart_rate",
    "steps_per_day",
    "smoker",
    "sex",
)
NUMERIC = FEATURES[:9]
CLASSES = ("low_risk", "high_risk")
START = datetime(2026, 11, 2, tzinfo=UTC)
DAY = 86_400.0

# model weights on standardized features (mean, sd, weight)
_MODEL = {
    "age": (50.0, 15.0, 0.9),
    "bmi": (27.0, 5.0, 0.5),
    "systolic_bp": (125.0, 15.0, 0.6),
    "diastolic_bp": (80.0, 10.0, 0.2),
    "glucose": (100.0, 20.0, 0.8),
    "hba1c": (5.7, 0.8, 0.7),
    "cholesterol": (200.0, 35.0, 0.3),
    "heart_rate": (72.0, 10.0, 0.2),
    "steps_per_day": (6500.0, 3000.0, -0.4),
}
_BIAS = -1.2


class Population:
    """Patients and the model that scores them (seeded; shifts for the drifting week)."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng

    def draw(self, n: int, shift: float = 0.0) -> dict[str, Any]:
        """``n`` patients; ``shift`` in [0, 1] ages them and raises glucose (drift)."""
        r = self.rng
        age = np.clip(np.round(r.normal(50 + 12 * shift, 15, n)), 18, 95)
        f: dict[str, Any] = {
            "age": age,
            "bmi": np.round(np.clip(r.normal(27 + 2 * shift, 5, n), 14, 60), 1),
            "systolic_bp": np.round(r.normal(125 + 0.25 * (age - 50), 14, n)),
            "diastolic_bp": np.round(r.normal(80, 10, n)),
            "glucose": np.round(r.lognormal(np.log(98 + 25 * shift), 0.18, n), 1),
            "hba1c": np.round(r.normal(5.7 + 0.6 * shift, 0.8, n), 2),
            "cholesterol": np.round(r.normal(200, 35, n)),
            "heart_rate": np.round(r.normal(72, 10, n)),
            "steps_per_day": np.round(r.lognormal(np.log(6000), 0.5, n)),
            "smoker": r.random(n) < 0.2,
            "sex": np.where(r.random(n) < 0.52, "F", "M"),
        }
        return f

    @staticmethod
    def score(f: dict[str, Any]) -> F64:
        """The model's probability of ``high_risk``."""
        z = np.full(len(f["age"]), _BIAS)
        for name, (mu, sd, w) in _MODEL.items():
            z = z + w * (np.asarray(f[name], np.float64) - mu) / sd
        z = z + 0.6 * np.asarray(f["smoker"], np.float64)
        out: F64 = 1.0 / (1.0 + np.exp(-z))
        return out

    def outcome(self, p: F64, degrade: F64 | None = None) -> Any:
        """True outcomes; ``degrade`` (per row, 0..1) flips them towards chance."""
        y = self.rng.random(p.size) < p
        if degrade is not None:
            flip = self.rng.random(p.size) < 0.5 * degrade
            y = np.where(flip, ~y, y)
        return np.where(y, CLASSES[1], CLASSES[0])


@dataclass(frozen=True)
class TrafficSpec:
    """What a simulated stretch of traffic holds (every count is a mean; all seeded)."""

    seed: int = 0
    days: float = 7.0
    ordinary_clients: int = 300
    queries_per_client_day: float = 20.0
    batch_job: bool = True
    batch_per_night: int = 5_000
    extraction: bool = True
    extraction_queries: int = 2_500
    extraction_day: float = 3.0
    inference: bool = False
    inference_queries: int = 600
    drift_from_day: float | None = None
    degrade_from_day: float | None = None
    labels: bool = True
    """Attach the true outcome as ``label`` (as if labels had already arrived)."""


def _frame(
    ts: F64, client: Any, f: dict[str, Any], pop: Population, labels: Any | None
) -> dict[str, Any]:
    p = pop.score(f)
    return {"ts": ts, "client": client, "f": f, "p": p, "label": labels}


def reference_table(n: int, seed: int = 1, *, labels: bool = True) -> pa.Table:
    """Validation-time outputs: ``n`` patients scored by the model, a day before the week."""
    pop = Population(np.random.default_rng(seed))
    f = pop.draw(n)
    ts = START.timestamp() - DAY + np.sort(pop.rng.random(n)) * DAY
    p = pop.score(f)
    y = pop.outcome(p) if labels else None
    return _to_table({"ts": ts, "client": np.full(n, "validation"), "f": f, "p": p, "label": y})


def traffic_table(spec: TrafficSpec) -> pa.Table:
    """A stretch of production traffic as one table in the record layout, sorted by time."""
    rng = np.random.default_rng(spec.seed)
    pop = Population(rng)
    t0 = START.timestamp()
    span = spec.days * DAY
    parts: list[dict[str, Any]] = []

    # ordinary clients: per-client rates vary tenfold, queries spread over the period
    rates = rng.lognormal(0.0, 0.6, spec.ordinary_clients)
    rates *= spec.queries_per_client_day / rates.mean()
    counts = rng.poisson(rates * spec.days)
    n = int(counts.sum())
    client = np.repeat([f"clinic-{i:03d}" for i in range(spec.ordinary_clients)], counts)
    ts = t0 + rng.random(n) * span
    parts.append(_population_part(pop, ts, client, spec, t0))

    if spec.batch_job:  # a nightly job at 02:00 scoring ordinary patients in 20 minutes
        for night in range(int(np.ceil(spec.days))):
            start = t0 + night * DAY + 2 * 3600
            if start >= t0 + span:
                break
            ts = start + np.sort(rng.random(spec.batch_per_night)) * 1200
            client = np.full(ts.size, "nightly-batch")
            parts.append(_population_part(pop, ts, client, spec, t0))

    if spec.extraction:
        parts.append(_extraction_part(pop, spec, t0))
    if spec.inference:
        parts.append(_inference_part(pop, spec, t0))

    merged = _concat(parts)
    order = np.argsort(merged["ts"], kind="stable")
    return _to_table(merged).take(pa.array(order))


def _shift(ts: F64, start: float | None, t0: float, days: float) -> F64:
    if start is None:
        return np.zeros(ts.size)
    s0 = t0 + start * DAY
    out: F64 = np.clip((ts - s0) / max((days - start) * DAY, 1.0), 0.0, 1.0)
    return out


def _population_part(
    pop: Population, ts: F64, client: Any, spec: TrafficSpec, t0: float
) -> dict[str, Any]:
    shift = _shift(ts, spec.drift_from_day, t0, spec.days)
    if spec.drift_from_day is None:
        f = pop.draw(ts.size)
    else:  # draw at the mean shift of ten slices: a gradual drift without per-row loops
        f = pop.draw(ts.size)
        order = np.argsort(ts)
        for chunk in np.array_split(order, 10):
            if chunk.size:
                g = pop.draw(chunk.size, float(shift[chunk].mean()))
                for k in f:
                    f[k][chunk] = g[k]
    p = pop.score(f)
    y = None
    if spec.labels:
        degrade = _shift(ts, spec.degrade_from_day, t0, spec.days)
        y = pop.outcome(p, degrade if spec.degrade_from_day is not None else None)
    return {"ts": ts, "client": client, "f": f, "p": p, "label": y}


def _extraction_part(pop: Population, spec: TrafficSpec, t0: float) -> dict[str, Any]:
    """Grid sweeps of one feature around fixed base points, a small lattice, then bisection
    towards the decision boundary: the classic recipe for copying a model's decision surface."""
    rng = pop.rng
    n = spec.extraction_queries
    base = pop.draw(1)
    f: dict[str, list[Any]] = {k: [] for k in FEATURES}
    grid_n = 25
    sweeps = n // 2
    for i in range(sweeps):  # one feature swept on a grid, the others fixed
        name = NUMERIC[(i // grid_n) % len(NUMERIC)]
        mu, sd, _ = _MODEL[name]
        for k in FEATURES:
            f[k].append(base[k][0])
        f[name][-1] = round(mu - 2.5 * sd + 5 * sd * (i % grid_n) / (grid_n - 1), 2)
    lattice = n // 4
    for i in range(lattice):  # a 3-feature lattice
        for k in FEATURES:
            f[k].append(base[k][0])
        a, b, c = i % 8, (i // 8) % 8, (i // 64) % 8
        for name, step in (("age", a), ("glucose", b), ("bmi", c)):
            mu, sd, _ = _MODEL[name]
            f[name][-1] = round(mu - 2 * sd + 4 * sd * step / 7, 2)
    rest = n - sweeps - lattice
    # boundary seeking: bisect between a low-risk and a high-risk patient until the two
    # ends straddle the decision boundary within 1/4096 of their distance
    pool = pop.draw(8 * rest + 64)
    ps = pop.score(pool)
    low, high = np.flatnonzero(ps < 0.5), np.flatnonzero(ps >= 0.5)
    a_idx, b_idx = rng.choice(low, rest), rng.choice(high, rest)
    t_lo, t_hi = np.zeros(rest), np.ones(rest)
    for _ in range(12):
        mid = 0.5 * (t_lo + t_hi)
        probe = {k: pool[k][a_idx] + (pool[k][b_idx] - pool[k][a_idx]) * mid for k in NUMERIC}
        probe["smoker"] = pool["smoker"][a_idx]
        above = pop.score(probe) >= 0.5
        t_hi = np.where(above, mid, t_hi)
        t_lo = np.where(above, t_lo, mid)
    for k in NUMERIC:
        point = pool[k][a_idx] + (pool[k][b_idx] - pool[k][a_idx]) * t_hi
        f[k].extend(np.round(point, 2).tolist())
    for k in ("smoker", "sex"):
        f[k].extend(pool[k][a_idx].tolist())
    arrays = {k: np.asarray(v) for k, v in f.items()}
    start = t0 + spec.extraction_day * DAY
    ts = start + np.cumsum(rng.exponential(8.0, n))  # one query every ~8 s, in order
    labels = pop.outcome(pop.score(arrays)) if spec.labels else None
    return _frame(ts, np.full(n, "probe-7"), arrays, pop, labels)


def _inference_part(pop: Population, spec: TrafficSpec, t0: float) -> dict[str, Any]:
    """Membership inference: a handful of target records re-queried with tiny noise."""
    rng = pop.rng
    n = spec.inference_queries
    targets = pop.draw(6)
    pick = rng.integers(0, 6, n)
    f = {k: np.asarray(v)[pick] for k, v in targets.items()}
    for k in NUMERIC:
        f[k] = np.round(f[k] * (1 + 0.001 * rng.standard_normal(n)), 2)
    ts = t0 + 4.5 * DAY + np.cumsum(rng.exponential(20.0, n))
    labels = pop.outcome(pop.score(f)) if spec.labels else None
    return _frame(ts, np.full(n, "curious-9"), f, pop, labels)


def _concat(parts: list[dict[str, Any]]) -> dict[str, Any]:
    has_labels = all(p["label"] is not None for p in parts)
    return {
        "ts": np.concatenate([p["ts"] for p in parts]),
        "client": np.concatenate([np.asarray(p["client"]) for p in parts]),
        "f": {k: np.concatenate([np.asarray(p["f"][k]) for p in parts]) for k in FEATURES},
        "p": np.concatenate([p["p"] for p in parts]),
        "label": np.concatenate([p["label"] for p in parts]) if has_labels else None,
    }


def _to_table(d: dict[str, Any]) -> pa.Table:
    """The record layout: ts (RFC 3339), client_id, features{...}, prediction, ..."""
    n = d["ts"].size
    stamps = (np.asarray(d["ts"]) * 1000).astype("int64").astype("datetime64[ms]")
    ts = np.char.add(np.datetime_as_string(stamps, unit="ms"), "Z")
    p = np.asarray(d["p"], np.float64)
    feats = {}
    for k in FEATURES:
        v = np.asarray(d["f"][k])
        if k in ("smoker", "sex"):
            feats[k] = pa.array(v)
        elif k in ("bmi", "glucose", "hba1c"):
            feats[k] = pa.array(v.astype(np.float64))
        else:
            feats[k] = pa.array(np.round(v.astype(np.float64)).astype(np.int64))
    cols: dict[str, Any] = {
        "ts": pa.array(ts.astype(str)),
        "client_id": pa.array(np.asarray(d["client"]).astype(str)),
        "features": pa.StructArray.from_arrays(list(feats.values()), names=list(feats)),
        "prediction": pa.array(np.where(p >= 0.5, CLASSES[1], CLASSES[0])),
        "confidence": pa.array(np.round(np.maximum(p, 1 - p), 4)),
        "probabilities": pa.StructArray.from_arrays(
            [pa.array(np.round(1 - p, 4)), pa.array(np.round(p, 4))], names=list(CLASSES)
        ),
        "id": pa.array([f"q{i}" for i in range(n)]),
    }
    if d.get("label") is not None:
        cols["label"] = pa.array(np.asarray(d["label"]).astype(str))
    return pa.table(cols)


def write_jsonl(table: pa.Table, path: str | Path) -> Path:
    """One JSON object a line (Python's json: slow-ish, but only the simulator writes)."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8") as fh:
        for batch in table.to_batches(max_chunksize=50_000):
            fh.writelines(
                json.dumps(rec, separators=(",", ":")) + "\n" for rec in batch.to_pylist()
            )
    return out


def write_parquet(table: pa.Table, path: str | Path) -> Path:
    """The same records as Parquet (features as a struct column)."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, out)
    return out
