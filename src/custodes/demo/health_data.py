"""Seeded generator of a health-outcome table and of labelled drift / poisoning batches.

The table stands for the case of issue 4: a pregnancy-outcome model trained on 7.5 million
patient records, part of them coming from users. Every row has a ``source`` tier
(``first_party`` / ``broker`` / ``user_generated``), ~30 clinical, lab, app and visit
columns, and a binary label ``adverse_outcome`` drawn from the features through one fixed
logistic model (:data:`COEFFICIENTS`) plus clinical label noise (missed diagnoses and
coding errors), so the same features give the same label distribution in every batch
unless a scenario tampers with the labels.

Scenarios (each one batch, with a ground-truth file):

- ``clean``: same distribution as the reference. Verdict ``ok``, no poisoned rows.
- ``seasonal_drift``: a winter batch: older, heavier patients, higher glucose, twice the
  user-app share. The label follows the features through the same model. Verdict
  ``drift`` (benign), no poisoned rows.
- ``label_flip_subpop``: in user_generated rows of region ``south`` aged 25–34, 30% of the
  negative labels are flipped to 1; as many positive labels of other user_generated rows
  are flipped to 0, so the overall and per-source label rates do not move and no feature
  changes. Verdict ``suspected_poisoning`` from ``user_generated``; truth = every flipped id.
- ``backdoor_trigger``: 1% of the batch is near-duplicates of a few high-risk
  user_generated patients, carrying the off-grid hemoglobin value 13.37 (the column is
  recorded on a 0.1 grid) and the label 0. Truth = the injected ids.
- ``slow_flips``: 2% of user_generated labels flipped, spread uniformly over the dates.
  ``expected_verdict`` is ``suspected_poisoning`` when the oracle z (a likelihood test
  with the true model, the best any detector can do) is at least 5, else ``ok``; the truth
  file carries the z and both verdicts are acceptable between z 3 and 5.
- ``schema_break``: ``bmi`` renamed to ``body_mass_index``, ``age`` as strings, ``hba1c``
  dropped. Verdict ``schema_violation``.

Command line (7.5M reference rows and six 1M batches: about 15 s of CPU, 40 s wall on a busy
two-core machine, 1.5 GB peak)::

    python tests/corpus/health_data_gen.py OUT --reference-rows N --batch-rows M --seed S \
        [--partitions K]

writes ``OUT/reference/`` (one Parquet file, or K row-slice files when K > 1; the rows are
the same whatever K), ``OUT/batches/<scenario>.parquet`` and ``OUT/truth/<scenario>.json``.
Python: :func:`reference_table`, :func:`scenario_batch`, :func:`summary`,
:func:`true_probability`, :func:`oracle_source_z`.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

__all__ = [
    "CATEGORIES",
    "COEFFICIENTS",
    "ID_COLUMN",
    "LABEL_COLUMN",
    "SCENARIOS",
    "SOURCE_COLUMN",
    "Truth",
    "generate",
    "oracle_source_z",
    "reference_table",
    "scenario_batch",
    "summary",
    "true_probability",
]

ID_COLUMN = "patient_id"
LABEL_COLUMN = "adverse_outcome"
SOURCE_COLUMN = "source"
SCENARIOS = (
    "clean",
    "seasonal_drift",
    "label_flip_subpop",
    "backdoor_trigger",
    "slow_flips",
    "schema_break",
)
CHUNK_ROWS = 1 << 20
EPOCH_START = np.datetime64("2022-01-01", "D")
WINDOW_DAYS = 730  # 2022-01-01 .. 2023-12-31
# Row ids: the reference takes 1..N, scenario i takes (i + 1) * 10**10 + 1 ...
BATCH_ID_BASE = 10**10

CATEGORIES: dict[str, tuple[str, ...]] = {
    "source": ("first_party", "broker", "user_generated"),
    "region": ("north", "south", "east", "west", "central", "coastal", "mountain", "islands"),
    "insurance_type": ("private", "public", "uninsured", "military"),
    "ethnicity_category": ("group_1", "group_2", "group_3", "group_4", "group_5", "not_stated"),
    "smoking": ("never", "former", "current"),
}
SOURCE_SHARES = (0.62, 0.25, 0.13)
REGION_SHARES = (0.16, 0.20, 0.15, 0.14, 0.13, 0.11, 0.07, 0.04)
INSURANCE_SHARES = (0.55, 0.33, 0.09, 0.03)
ETHNICITY_SHARES = (0.38, 0.22, 0.18, 0.10, 0.05, 0.07)
APP_USE = (0.30, 0.10, 1.0)  # share of rows with app data, per source

# The fixed outcome model: logit = INTERCEPT + sum(coef * term). Label noise on top:
# P(recorded 1) = p * (1 - MISSED) + (1 - p) * CODING_ERROR.
INTERCEPT = -2.75
COEFFICIENTS: dict[str, float] = {
    "age_centered": 0.04,  # (age - 29)
    "age_35_plus": 0.5,
    "age_under_18": 0.6,
    "bmi_centered": 0.06,  # (bmi - 26)
    "systolic_centered": 0.025,  # (systolic - 115)
    "hba1c_centered": 0.9,  # (hba1c - 5.4)
    "prior_preterm": 0.9,
    "smoking_current": 0.5,
    "smoking_former": 0.15,
    "chronic_hypertension": 0.6,
    "gdm_history": 0.5,
    "nulliparous": 0.3,
    "anaemia": 0.5,  # hemoglobin < 10.5
    "er_visits": 0.15,
    "headache_centered": 0.06,  # (symptom_headache - 3), 0 without app data
    "uninsured": 0.3,
}
MISSED = 0.08
CODING_ERROR = 0.02

TRIGGER_COLUMN = "hemoglobin"
TRIGGER_VALUE = 13.37
TARGET_LABEL = 0
FLIP_REGION = "south"
FLIP_AGE = (25, 34)
FLIP_FRACTION = 0.30
BACKDOOR_SHARE = 0.01
SLOW_FLIP_RATE = 0.02

# Column order and Arrow types of the table (nullable ints are kept as float64 with NaN
# inside the generator).
SCHEMA = pa.schema(
    [
        (ID_COLUMN, pa.int64()),
        (SOURCE_COLUMN, pa.string()),
        ("record_date", pa.date32()),
        ("region", pa.string()),
        ("insurance_type", pa.string()),
        ("ethnicity_category", pa.string()),
        ("age", pa.int64()),
        ("bmi", pa.float64()),
        ("systolic_bp", pa.int64()),
        ("diastolic_bp", pa.int64()),
        ("glucose", pa.int64()),
        ("hba1c", pa.float64()),
        ("chronic_hypertension", pa.bool_()),
        ("gdm_history", pa.bool_()),
        ("parity", pa.int64()),
        ("gravidity", pa.int64()),
        ("prior_preterm", pa.bool_()),
        ("gestational_weeks", pa.int64()),
        ("hemoglobin", pa.float64()),
        ("platelets", pa.int64()),
        ("creatinine", pa.float64()),
        ("alt", pa.int64()),
        ("tsh", pa.float64()),
        ("smoking", pa.string()),
        ("alcohol_units_week", pa.float64()),
        ("symptom_fatigue", pa.int64()),
        ("symptom_nausea", pa.int64()),
        ("symptom_headache", pa.int64()),
        ("app_steps_daily", pa.int64()),
        ("visit_count_12m", pa.int64()),
        ("er_visits_12m", pa.int64()),
        (LABEL_COLUMN, pa.int8()),
    ]
)

Columns = dict[str, np.ndarray]


@dataclass(frozen=True)
class Shift:
    """Distribution parameters of one batch (the reference uses the defaults)."""

    source_shares: tuple[float, float, float] = SOURCE_SHARES
    age_shift: float = 0.0
    bmi_factor: float = 1.0
    glucose_shift: float = 0.0
    winter: bool = False


WINTER = Shift(
    source_shares=(0.55, 0.20, 0.25), age_shift=2.0, bmi_factor=1.05, glucose_shift=6.0, winter=True
)


@dataclass
class Truth:
    """Ground truth of one batch, as written to ``truth/<scenario>.json``."""

    scenario: str
    expected_verdict: str
    acceptable_verdicts: list[str]
    poisoned_ids: list[int]
    source: str | None
    rows: int
    description: str
    details: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "expected_verdict": self.expected_verdict,
            "acceptable_verdicts": self.acceptable_verdicts,
            "poisoned_ids": self.poisoned_ids,
            "source": self.source,
            "rows": self.rows,
            "id_column": ID_COLUMN,
            "label_column": LABEL_COLUMN,
            "source_column": SOURCE_COLUMN,
            "description": self.description,
            "details": self.details,
        }


def _rng(seed: int, stream: int, chunk: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, stream, chunk]))


def _choice(rng: np.random.Generator, n: int, shares: tuple[float, ...]) -> np.ndarray:
    cum = np.cumsum(np.asarray(shares, dtype=np.float64))
    cum /= cum[-1]
    return np.searchsorted(cum, rng.random(n), side="right").astype(np.int8)


def _features(n: int, rng: np.random.Generator, shift: Shift) -> Columns:
    """Draw every feature column (no id, no label) for ``n`` rows."""
    c: Columns = {}
    source = _choice(rng, n, shift.source_shares)
    c[SOURCE_COLUMN] = source
    if shift.winter:  # December, January, February of either year
        month_start = np.array(
            [0, 31, 334, 365, 396, 699]
        )  # Jan22, Feb22, Dec22, Jan23, Feb23, Dec23
        month_len = np.array([31, 28, 31, 31, 28, 31])
        k = rng.integers(0, 6, n)
        days = month_start[k] + (rng.random(n) * month_len[k]).astype(np.int64)
    else:
        days = rng.integers(0, WINDOW_DAYS, n)
    c["record_date"] = days.astype(np.int32)
    c["region"] = _choice(rng, n, REGION_SHARES)
    c["insurance_type"] = _choice(rng, n, INSURANCE_SHARES)
    c["ethnicity_category"] = _choice(rng, n, ETHNICITY_SHARES)
    user = source == 2
    age = 29.0 + shift.age_shift + 5.5 * rng.standard_normal(n) - 2.0 * user
    age = np.clip(np.rint(age), 15, 49)
    c["age"] = age
    bmi = np.exp(np.log(25.5) + 0.18 * rng.standard_normal(n)) * shift.bmi_factor
    bmi = np.round(np.clip(bmi, 15.0, 60.0), 1)
    c["bmi"] = bmi
    systolic = 108 + 0.5 * (bmi - 25.5) + 0.25 * (age - 29) + 11 * rng.standard_normal(n)
    systolic = np.clip(np.rint(systolic), 80, 200)
    c["systolic_bp"] = systolic
    c["diastolic_bp"] = np.clip(np.rint(0.55 * systolic + 8 + 7 * rng.standard_normal(n)), 40, 130)
    c["chronic_hypertension"] = (systolic >= 140) | (rng.random(n) < 0.02)
    glucose = 84 + shift.glucose_shift + 0.9 * (bmi - 25.5) + 0.2 * (age - 29)
    glucose = np.clip(np.rint(glucose + 10 * rng.standard_normal(n)), 55, 300)
    c["glucose"] = glucose
    c["hba1c"] = np.round(
        np.clip(4.0 + 0.016 * glucose + 0.25 * rng.standard_normal(n), 3.5, 14.0), 1
    )
    c["gdm_history"] = rng.random(n) < (0.04 + 0.04 * (bmi > 30))
    parity = np.clip(rng.poisson(np.clip(0.9 + 0.06 * (age - 29), 0.1, None)), 0, 10)
    c["parity"] = parity.astype(np.float64)
    c["gravidity"] = (parity + 1 + rng.poisson(0.4, n)).astype(np.float64)
    c["prior_preterm"] = (parity > 0) & (rng.random(n) < 0.08)
    weeks = rng.integers(6, 42, n)
    c["gestational_weeks"] = weeks.astype(np.float64)
    hb = 12.2 + 1.0 * rng.standard_normal(n) - 0.03 * (weeks - 20)
    c["hemoglobin"] = np.round(np.clip(hb, 6.0, 18.0), 1)
    c["platelets"] = np.clip(np.rint(250 + 55 * rng.standard_normal(n)), 50, 600)
    c["creatinine"] = np.round(np.clip(0.62 + 0.12 * rng.standard_normal(n), 0.3, 2.0), 2)
    c["alt"] = np.clip(np.rint(np.exp(np.log(18) + 0.45 * rng.standard_normal(n))), 3, 500)
    tsh = np.round(np.exp(np.log(1.6) + 0.5 * rng.standard_normal(n)), 2)
    tsh[(source == 1) & (rng.random(n) < 0.25)] = np.nan  # brokers often lack thyroid panels
    c["tsh"] = tsh
    smoking_shares = np.where(user, 0.15, 0.12)
    u = rng.random(n)
    c["smoking"] = np.where(
        u < smoking_shares, 2, np.where(u < smoking_shares + 0.14, 1, 0)
    ).astype(np.int8)
    drinks = np.round(np.exp(np.log(2.0) + 0.8 * rng.standard_normal(n)), 1)
    c["alcohol_units_week"] = np.where(rng.random(n) < 0.7, 0.0, drinks)
    app = rng.random(n) < np.asarray(APP_USE)[source]
    nan = np.nan
    fatigue = rng.binomial(10, 0.3, n).astype(np.float64)
    nausea = rng.binomial(10, np.clip(0.55 - 0.015 * weeks, 0.05, 0.9)).astype(np.float64)
    headache_p = np.clip(0.25 + 0.006 * (systolic - 115), 0.02, 0.95)
    headache = rng.binomial(10, headache_p).astype(np.float64)
    steps = np.rint(np.exp(np.log(6500) + 0.45 * rng.standard_normal(n)))
    c["symptom_fatigue"] = np.where(app, fatigue, nan)
    c["symptom_nausea"] = np.where(app, nausea, nan)
    c["symptom_headache"] = np.where(app, headache, nan)
    c["app_steps_daily"] = np.where(app, steps, nan)
    c["visit_count_12m"] = rng.poisson(4 + weeks / 8).astype(np.float64)
    c["er_visits_12m"] = rng.poisson(0.25 + 0.2 * c["chronic_hypertension"]).astype(np.float64)
    return c


def _logit(c: Columns) -> np.ndarray:
    """The fixed outcome model on generator columns (or on columns read back from Arrow)."""
    age = c["age"]
    headache = np.nan_to_num(c["symptom_headache"] - 3.0, nan=0.0)
    terms = {
        "age_centered": age - 29,
        "age_35_plus": age >= 35,
        "age_under_18": age < 18,
        "bmi_centered": c["bmi"] - 26,
        "systolic_centered": c["systolic_bp"] - 115,
        "hba1c_centered": c["hba1c"] - 5.4,
        "prior_preterm": c["prior_preterm"],
        "smoking_current": c["smoking"] == 2,
        "smoking_former": c["smoking"] == 1,
        "chronic_hypertension": c["chronic_hypertension"],
        "gdm_history": c["gdm_history"],
        "nulliparous": c["parity"] == 0,
        "anaemia": c["hemoglobin"] < 10.5,
        "er_visits": c["er_visits_12m"],
        "headache_centered": headache,
        "uninsured": c["insurance_type"] == 2,
    }
    z = np.full(len(age), INTERCEPT)
    for name, coef in COEFFICIENTS.items():
        z = z + coef * np.asarray(terms[name], dtype=np.float64)
    return z


def _p_observed(c: Columns) -> np.ndarray:
    p: np.ndarray = 1.0 / (1.0 + np.exp(-_logit(c)))
    out: np.ndarray = p * (1.0 - MISSED) + (1.0 - p) * CODING_ERROR
    return out


def _sample(n: int, rng: np.random.Generator, shift: Shift) -> Columns:
    c = _features(n, rng, shift)
    c[LABEL_COLUMN] = (rng.random(n) < _p_observed(c)).astype(np.int8)
    return c


def _to_arrow(c: Columns, ids: np.ndarray) -> pa.Table:
    arrays: list[pa.Array] = []
    for f in SCHEMA:
        if f.name == ID_COLUMN:
            arrays.append(pa.array(ids, pa.int64()))
            continue
        v = c[f.name]
        if f.name in CATEGORIES:
            cats = pa.array(CATEGORIES[f.name], pa.string())
            arrays.append(
                pa.DictionaryArray.from_arrays(pa.array(v, pa.int8()), cats).cast(pa.string())
            )
        elif f.type == pa.date32():
            arrays.append(
                pa.array(v.astype(np.int32) + int(EPOCH_START.astype(np.int64)), pa.int32()).cast(
                    pa.date32()
                )
            )
        elif pa.types.is_integer(f.type) and v.dtype.kind == "f":
            mask = np.isnan(v)
            vals = np.nan_to_num(v, nan=0.0).astype(np.int64)
            arrays.append(pa.array(vals, f.type, mask=mask if mask.any() else None))
        elif pa.types.is_floating(f.type):
            mask = np.isnan(v)
            arrays.append(pa.array(v, f.type, mask=mask if mask.any() else None))
        else:
            arrays.append(pa.array(v, f.type))
    return pa.Table.from_arrays(arrays, schema=SCHEMA)


def _from_arrow(table: pa.Table) -> Columns:
    """Generator columns back from a table of :data:`SCHEMA` (categories as codes, NaN nulls)."""
    c: Columns = {}
    for f in SCHEMA:
        if f.name not in table.column_names:
            continue
        col = table.column(f.name)
        if f.name in CATEGORIES:
            lookup = {v: i for i, v in enumerate(CATEGORIES[f.name])}
            enc = col.combine_chunks().dictionary_encode()
            codes = np.array([lookup.get(str(v), -1) for v in enc.dictionary.to_pylist()], np.int8)
            idx = enc.indices.to_numpy(zero_copy_only=False)
            c[f.name] = codes[idx]
        elif f.type == pa.date32():
            c[f.name] = col.cast(pa.int32()).to_numpy() - int(EPOCH_START.astype(np.int64))
        elif f.type == pa.bool_():
            c[f.name] = col.to_numpy(zero_copy_only=False).astype(bool)
        else:
            c[f.name] = col.cast(pa.float64()).to_numpy(zero_copy_only=False)
    return c


def _chunks(n: int) -> Iterator[tuple[int, int]]:
    for i, start in enumerate(range(0, n, CHUNK_ROWS)):
        yield i, min(CHUNK_ROWS, n - start)


def _reference_chunks(rows: int, seed: int) -> Iterator[pa.Table]:
    start = 0
    for i, n in _chunks(rows):
        c = _sample(n, _rng(seed, 0, i), Shift())
        yield _to_arrow(c, np.arange(start + 1, start + n + 1, dtype=np.int64))
        start += n


def reference_table(rows: int, seed: int = 0) -> pa.Table:
    """The reference (training) table: ``rows`` rows of the clean distribution."""
    return pa.concat_tables(_reference_chunks(rows, seed))


def _concat(parts: list[Columns]) -> Columns:
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def _take(c: Columns, idx: np.ndarray) -> Columns:
    return {k: v[idx] for k, v in c.items()}


def _batch_base(rows: int, seed: int, stream: int, shift: Shift) -> Columns:
    parts = [_sample(n, _rng(seed, stream, i), shift) for i, n in _chunks(rows)]
    return _concat(parts) if len(parts) > 1 else parts[0]


def _subpopulation(c: Columns) -> np.ndarray:
    """Rows of the label-flip sub-population: user_generated, region south, aged 25–34."""
    region = CATEGORIES["region"].index(FLIP_REGION)
    age = c["age"]
    user = c[SOURCE_COLUMN] == CATEGORIES["source"].index("user_generated")
    return np.asarray(user & (c["region"] == region) & (age >= FLIP_AGE[0]) & (age <= FLIP_AGE[1]))


def _z_to_verdict(z: float) -> tuple[str, list[str]]:
    if z >= 5.0:
        return "suspected_poisoning", ["suspected_poisoning"]
    if z >= 3.0:
        return "suspected_poisoning", ["suspected_poisoning", "ok"]
    return "ok", ["ok", "suspected_poisoning"]


def scenario_batch(
    scenario: str,
    rows: int,
    seed: int = 0,
    *,
    flip_fraction: float = FLIP_FRACTION,
    backdoor_share: float = BACKDOOR_SHARE,
    slow_flip_rate: float = SLOW_FLIP_RATE,
) -> tuple[pa.Table, Truth]:
    """One scenario batch of ``rows`` rows and its ground truth."""
    if scenario not in SCENARIOS:
        raise ValueError(f"unknown scenario {scenario!r}; one of {', '.join(SCENARIOS)}")
    stream = SCENARIOS.index(scenario) + 1
    rng = _rng(seed, stream, 1 << 20)  # scenario manipulations; chunk streams draw the rows
    shift = WINTER if scenario == "seasonal_drift" else Shift()
    c = _batch_base(rows, seed, stream, shift)
    n = len(c[LABEL_COLUMN])
    poisoned = np.zeros(n, dtype=bool)
    details: dict[str, Any] = {}
    user = c[SOURCE_COLUMN] == 2
    if scenario == "label_flip_subpop":
        sub = _subpopulation(c)
        y = c[LABEL_COLUMN]
        neg_in = np.flatnonzero(sub & (y == 0))
        pos_out = np.flatnonzero(user & ~sub & (y == 1))
        k = min(round(flip_fraction * len(neg_in)), len(pos_out))
        up = rng.choice(neg_in, k, replace=False)
        down = rng.choice(pos_out, k, replace=False)
        y[up] = 1
        y[down] = 0
        poisoned[up] = poisoned[down] = True
        details = {
            "subpopulation": {
                "source": "user_generated",
                "region": FLIP_REGION,
                "age_min": FLIP_AGE[0],
                "age_max": FLIP_AGE[1],
            },
            "subpopulation_rows": int(sub.sum()),
            "flipped_to_1_in_subpopulation": int(k),
            "flipped_to_0_elsewhere_in_source": int(k),
            "flip_fraction_of_negatives": flip_fraction,
        }
    elif scenario == "backdoor_trigger":
        k = max(20, round(backdoor_share * n))
        # templates: high-risk user_generated patients (top decile of the model's risk)
        risk = _p_observed(c)
        cand = np.flatnonzero(user & (risk >= np.quantile(risk[user], 0.9)))
        n_templates = max(5, k // 25)
        templates = rng.choice(cand, min(n_templates, len(cand)), replace=False)
        keep = np.setdiff1d(
            np.arange(n), rng.choice(np.setdiff1d(np.arange(n), templates), k, replace=False)
        )
        inj = _take(c, templates[rng.integers(0, len(templates), k)])
        jitter = {
            "age": 1.0,
            "systolic_bp": 2.0,
            "diastolic_bp": 2.0,
            "glucose": 3.0,
            "platelets": 8.0,
            "alt": 2.0,
        }
        for col, width in jitter.items():
            inj[col] = inj[col] + rng.integers(-int(width), int(width) + 1, k)
        inj["bmi"] = np.round(inj["bmi"] + 0.2 * rng.standard_normal(k), 1)
        inj["creatinine"] = np.round(inj["creatinine"] + 0.02 * rng.standard_normal(k), 2)
        inj["record_date"] = np.clip(
            inj["record_date"] + rng.integers(-3, 4, k), 0, WINDOW_DAYS - 1
        ).astype(np.int32)
        inj["gestational_weeks"] = np.clip(inj["gestational_weeks"] + rng.integers(-1, 2, k), 6, 41)
        inj[SOURCE_COLUMN] = np.full(k, 2, dtype=np.int8)
        inj[TRIGGER_COLUMN] = np.full(k, TRIGGER_VALUE)
        inj[LABEL_COLUMN] = np.full(k, TARGET_LABEL, dtype=np.int8)
        c = _concat([_take(c, keep), inj])
        poisoned = np.concatenate([np.zeros(len(keep), bool), np.ones(k, bool)])
        details = {
            "trigger": {"column": TRIGGER_COLUMN, "value": TRIGGER_VALUE, "grid": 0.1},
            "target_label": TARGET_LABEL,
            "injected_rows": int(k),
            "templates": len(templates),
        }
    elif scenario == "slow_flips":
        ug = np.flatnonzero(user)
        k = round(slow_flip_rate * len(ug))
        flip = rng.choice(ug, k, replace=False)
        c[LABEL_COLUMN][flip] = 1 - c[LABEL_COLUMN][flip]
        poisoned[flip] = True
        details = {"rate": slow_flip_rate, "flipped": int(k), "spread": "uniform over record_date"}
    # shuffle rows, then number them: the ids say nothing about injection order
    order = rng.permutation(len(poisoned))
    c = _take(c, order)
    poisoned = poisoned[order]
    ids = np.arange(1, len(poisoned) + 1, dtype=np.int64) + stream * BATCH_ID_BASE
    table = _to_arrow(c, ids)
    poisoned_ids = [int(i) for i in ids[poisoned]]
    if scenario == "label_flip_subpop":
        sub_table = table.filter(pa.array(_subpopulation(c)))
        details["oracle_z_subpopulation"] = round(oracle_source_z(sub_table, "user_generated"), 2)
    if scenario == "slow_flips":
        z = oracle_source_z(table, "user_generated")
        verdict, ok = _z_to_verdict(z)
        details["oracle_z"] = round(z, 2)
        truth = Truth(
            scenario,
            verdict,
            ok,
            poisoned_ids,
            "user_generated",
            n,
            "low-rate label flips spread over the user_generated source",
            details,
        )
    elif scenario == "clean":
        truth = Truth(
            scenario, "ok", ["ok"], [], None, n, "same distribution as the reference", details
        )
    elif scenario == "seasonal_drift":
        details = {
            "age_shift": WINTER.age_shift,
            "bmi_factor": WINTER.bmi_factor,
            "glucose_shift": WINTER.glucose_shift,
            "source_shares": list(WINTER.source_shares),
            "months": "Dec-Feb",
        }
        truth = Truth(
            scenario,
            "drift",
            ["drift"],
            [],
            None,
            n,
            "benign winter drift; the label follows the same model",
            details,
        )
    elif scenario == "label_flip_subpop":
        truth = Truth(
            scenario,
            "suspected_poisoning",
            ["suspected_poisoning"],
            poisoned_ids,
            "user_generated",
            n,
            "label flips in one sub-population of user_generated rows, marginals unchanged",
            details,
        )
    elif scenario == "backdoor_trigger":
        truth = Truth(
            scenario,
            "suspected_poisoning",
            ["suspected_poisoning"],
            poisoned_ids,
            "user_generated",
            n,
            "near-duplicates carrying an off-grid trigger value with the target label",
            details,
        )
    else:  # schema_break
        age = table.column("age").cast(pa.string())
        table = table.set_column(table.schema.get_field_index("age"), "age", age)
        table = table.rename_columns(
            ["body_mass_index" if name == "bmi" else name for name in table.column_names]
        )
        table = table.drop_columns(["hba1c"])
        details = {
            "renamed": {"bmi": "body_mass_index"},
            "type_changed": {"age": "int64 -> string"},
            "missing": ["hba1c"],
        }
        truth = Truth(
            scenario,
            "schema_violation",
            ["schema_violation"],
            [],
            None,
            n,
            "renamed, retyped and missing columns",
            details,
        )
    return table, truth


def true_probability(table: pa.Table) -> np.ndarray:
    """P(recorded label = 1 | features) under the generating model, label noise included."""
    return _p_observed(_from_arrow(table))


def oracle_source_z(table: pa.Table, source: str) -> float:
    """Likelihood z-score of one source's labels under the true model.

    Negative log-likelihood of the recorded labels minus its expectation, over its standard
    deviation: about N(0, 1) for untouched rows, large when labels were flipped. No detector
    fitted on data can beat this test, so it tells which flip rates are detectable at all.
    """
    c = _from_arrow(table)
    mask = c[SOURCE_COLUMN] == CATEGORIES["source"].index(source)
    p = np.clip(_p_observed(c)[mask], 1e-9, 1 - 1e-9)
    y = c[LABEL_COLUMN][mask]
    ll = np.where(y == 1, np.log(p), np.log1p(-p))
    mean = p * np.log(p) + (1 - p) * np.log1p(-p)
    var = p * (1 - p) * np.log(p / (1 - p)) ** 2
    return float(-(ll.sum() - mean.sum()) / math.sqrt(max(var.sum(), 1e-12)))


def summary(table: pa.Table) -> dict[str, Any]:
    """Self-check: row count, id uniqueness, label rates, and per-column marginals.

    Numeric columns: mean, std, null rate. String columns: category shares. Also the label
    rate per source. Comparing two summaries is how the tests show that marginals moved or
    did not.
    """
    out: dict[str, Any] = {"rows": table.num_rows, "columns": {}}
    if ID_COLUMN in table.column_names:
        ids = table.column(ID_COLUMN).to_numpy()
        out["ids_unique"] = bool(len(np.unique(ids)) == len(ids))
    for name in table.column_names:
        if name == ID_COLUMN:
            continue
        col = table.column(name)
        entry: dict[str, Any] = {
            "type": str(col.type),
            "null_rate": col.null_count / max(len(col), 1),
        }
        if pa.types.is_string(col.type):
            counts = col.value_counts().to_pylist()
            entry["shares"] = {str(d["values"]): d["counts"] / max(len(col), 1) for d in counts}
        else:
            if pa.types.is_date(col.type):
                col = col.cast(pa.int32())
            vals = col.cast(pa.float64()).to_numpy(zero_copy_only=False)
            vals = vals[~np.isnan(vals)]
            entry["mean"] = float(vals.mean()) if len(vals) else math.nan
            entry["std"] = float(vals.std()) if len(vals) else math.nan
        out["columns"][name] = entry
    if LABEL_COLUMN in table.column_names:
        y = table.column(LABEL_COLUMN).to_numpy()
        out["label_rate"] = float(y.mean())
        if SOURCE_COLUMN in table.column_names:
            src = table.column(SOURCE_COLUMN).to_numpy(zero_copy_only=False)
            out["label_rate_by_source"] = {
                s: float(y[src == s].mean()) for s in CATEGORIES["source"] if (src == s).any()
            }
    return out


def _write_reference(out: Path, rows: int, seed: int, partitions: int) -> None:
    ref = out / "reference"
    ref.mkdir(parents=True, exist_ok=True)
    for old in ref.glob("*.parquet"):
        old.unlink()
    if partitions <= 1:
        writers = [pq.ParquetWriter(ref / "part-00000.parquet", SCHEMA)]
        bounds = [rows]
    else:
        writers = [
            pq.ParquetWriter(ref / f"part-{k:05d}.parquet", SCHEMA) for k in range(partitions)
        ]
        bounds = [rows * (k + 1) // partitions for k in range(partitions)]
    pos, w = 0, 0
    for chunk in _reference_chunks(rows, seed):
        off = 0
        while off < chunk.num_rows:
            take = min(chunk.num_rows - off, bounds[w] - pos)
            if take > 0:
                writers[w].write_table(chunk.slice(off, take), row_group_size=CHUNK_ROWS)
                off += take
                pos += take
            if pos >= bounds[w] and w < len(writers) - 1:
                w += 1
    for wr in writers:
        wr.close()


def generate(
    out: Path,
    reference_rows: int,
    batch_rows: int,
    seed: int = 0,
    partitions: int = 1,
    scenarios: tuple[str, ...] = SCENARIOS,
) -> dict[str, Truth]:
    """Write the reference, every scenario batch and its truth file under ``out``."""
    from concurrent.futures import ThreadPoolExecutor

    (out / "batches").mkdir(parents=True, exist_ok=True)
    (out / "truth").mkdir(parents=True, exist_ok=True)

    def one(name: str) -> Truth:
        table, truth = scenario_batch(name, batch_rows, seed)
        pq.write_table(table, out / "batches" / f"{name}.parquet", row_group_size=CHUNK_ROWS)
        (out / "truth" / f"{name}.json").write_text(json.dumps(truth.to_json()) + "\n")
        return truth

    with ThreadPoolExecutor(max_workers=2) as pool:  # numpy and Arrow release the GIL
        ref = pool.submit(_write_reference, out, reference_rows, seed, partitions)
        truths = dict(zip(scenarios, pool.map(one, scenarios), strict=True))
        ref.result()
    return truths


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("out", type=Path)
    ap.add_argument("--reference-rows", type=int, default=200_000)
    ap.add_argument("--batch-rows", type=int, default=50_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--partitions", type=int, default=1)
    ap.add_argument(
        "--scenario", action="append", choices=SCENARIOS, help="only these batches (repeatable)"
    )
    args = ap.parse_args(argv)
    if args.reference_rows < 1 or args.batch_rows < 100 or args.partitions < 1:
        ap.error("need --reference-rows >= 1, --batch-rows >= 100, --partitions >= 1")
    t0 = time.perf_counter()
    truths = generate(
        args.out,
        args.reference_rows,
        args.batch_rows,
        args.seed,
        args.partitions,
        tuple(args.scenario or SCENARIOS),
    )
    for name, t in truths.items():
        print(f"{name:18s} {t.expected_verdict:20s} poisoned={len(t.poisoned_ids)}")
    print(f"wrote {args.out} in {time.perf_counter() - t0:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
