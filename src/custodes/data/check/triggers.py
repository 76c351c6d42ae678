"""Backdoor triggers: a rare or off-grid value that suddenly predicts the label.

A trigger must be a value the clean data almost never has, or the model would learn it
from clean rows too: a number off the column's recording grid (13.37 in a column kept to
one decimal), a number outside the reference range, a category the reference never saw.
The recording grid is read from the batch itself (the decimal places that hold nearly
all its rows), because the baseline keeps a 1% histogram, not exact values. A candidate
value is a trigger when its rows' labels disagree with what the calibrated model predicts
for those same rows (by z and by effect size): ordinary rounding noise does not predict
anything.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from custodes.data.baseline import Baseline
from custodes.data.check.result import Signal
from custodes.data.profile import float_with_nan
from custodes.data.sketches import F64, I64

__all__ = ["TriggerFinding", "find_triggers", "trigger_candidates", "value_counts"]

GRID_SHARE = 0.99
"""Share of rows whose decimals define a column's recording grid."""
MIN_ROWS = 10
Z_TRIGGER = 5.0
MIN_EFFECT = 0.1


@dataclass(frozen=True)
class TriggerFinding:
    signal: Signal
    rows: I64


def _decimals(v: F64) -> I64:
    """Decimal places each value needs (0..7; 7 = not on any short decimal grid)."""
    out = np.full(v.size, 7, np.int64)
    for d in range(6, -1, -1):
        s = v * 10.0**d
        on = np.abs(s - np.rint(s)) <= 1e-6 * np.maximum(1.0, np.abs(s))
        out[on] = d
    return out


def value_counts(arr: pa.ChunkedArray | pa.Array) -> pa.StructArray:
    """``pc.value_counts`` of the non-null values, a dictionary column's decoded.

    A dictionary column with distinct, non-null dictionary values (how Parquet strings
    are read) is counted on its indices with ``np.bincount``, a fifth of hashing them:
    the same values and counts as counting the decoded strings, in the dictionary's
    order (for Parquet, the order values first appear in), without decoding a row.
    """
    if pa.types.is_boolean(arr.type):  # two values: counted without hashing a row
        true = int(pc.sum(arr).as_py() or 0)
        counts = [len(arr) - arr.null_count - true, true]
        keep = [i for i in (0, 1) if counts[i]]
        return pa.StructArray.from_arrays(
            [
                pa.array([bool(i) for i in keep], pa.bool_()),
                pa.array([counts[i] for i in keep], pa.int64()),
            ],
            names=["values", "counts"],
        )
    if pa.types.is_dictionary(arr.type):
        one = arr.chunk(0) if isinstance(arr, pa.ChunkedArray) and arr.num_chunks == 1 else arr
        if (
            isinstance(one, pa.DictionaryArray)
            and one.dictionary.null_count == 0
            and len(pc.unique(one.dictionary)) == len(one.dictionary)
        ):
            return _dictionary_counts(one, arr.type.value_type)
        arr = arr.cast(arr.type.value_type)
    return pc.value_counts(pc.drop_null(arr))


def _dictionary_counts(arr: pa.DictionaryArray, value_type: pa.DataType) -> pa.StructArray:
    """Counts of the values a dictionary array uses, in the dictionary's order."""
    ind = arr.indices.fill_null(len(arr.dictionary)) if arr.null_count else arr.indices
    idx = np.asarray(ind.to_numpy(zero_copy_only=False))
    counts = np.bincount(idx, minlength=len(arr.dictionary) + 1)[: len(arr.dictionary)]
    used = np.flatnonzero(counts)
    values = arr.dictionary.take(pa.array(used, pa.int64())).cast(value_type)
    return pa.StructArray.from_arrays(
        [values, pa.array(counts[used], pa.int64())], names=["values", "counts"]
    )


def _candidates(
    baseline: Baseline, name: str, arr: pa.ChunkedArray | pa.Array
) -> list[tuple[str, str]]:
    """(value as text, why) of rare or off-grid values with enough rows to matter."""
    profile = baseline.columns[name]
    n = len(arr)
    if profile.kind != "numeric" and profile.freq is None:
        return []  # a date or a timestamp: neither a grid nor frequent values to leave
    if profile.kind == "numeric" and pa.types.is_integer(arr.type):
        # an integer is on every decimal grid, so only values outside the reference
        # range can be candidates: count those rows alone (usually none)
        arr = _outside_range(arr, profile.min, profile.max)
        if arr is None:
            return []
    vc = value_counts(arr)
    values, counts = vc.field("values"), np.asarray(vc.field("counts").to_numpy(), np.int64)
    out: list[tuple[str, str]] = []
    numeric = pa.types.is_floating(values.type) or pa.types.is_integer(values.type)
    if profile.kind == "numeric" and numeric:
        v = np.asarray(values.to_numpy(zero_copy_only=False), np.float64)
        ok = np.isfinite(v)
        v, c = v[ok], counts[ok]
        if v.size == 0:
            return out
        dec = _decimals(v)
        share = np.bincount(dec, weights=c, minlength=8).cumsum() / max(c.sum(), 1)
        grid = int(np.searchsorted(share, GRID_SHARE))
        lo, hi = profile.min, profile.max
        # only values with enough rows can be triggers: tens of thousands of distinct
        # values (a step count) leave a handful for the loop
        big = c >= max(MIN_ROWS, 1e-4 * n)
        for val, d in zip(v[big], dec[big], strict=True):
            if d > grid and grid < 6:
                out.append((repr(float(val)), f"off the column's {10.0**-grid:g} grid"))
            elif lo is not None and hi is not None and not lo <= val <= hi:
                out.append((repr(float(val)), "outside the reference range"))
    elif profile.freq is not None:
        ref = profile.frequencies()
        total = max(profile.count, 1)
        for val, cnt in zip(values.cast(pa.string()).to_pylist(), counts, strict=True):
            if cnt < max(MIN_ROWS, 1e-4 * n):
                continue
            share = ref.get(str(val), 0) / total
            if share < 1e-4 and cnt / n > 10 * share:
                out.append((str(val), "absent or rare in the reference"))
    return out


def _outside_range(
    arr: pa.ChunkedArray | pa.Array, lo: float | None, hi: float | None
) -> pa.ChunkedArray | pa.Array | None:
    """The values outside [lo, hi] (None when there are none, or no range to leave)."""
    if lo is None or hi is None:
        return None
    mm = pc.min_max(arr)
    low, high = mm["min"].as_py(), mm["max"].as_py()
    if low is None or (lo <= low and high <= hi):
        return None
    x = float_with_nan(arr)  # exact for the integers a range check can meet
    return pa.array(x[(x < lo) | (x > hi)])


def trigger_candidates(
    baseline: Baseline, name: str, arr: pa.ChunkedArray | pa.Array
) -> list[tuple[str, str]]:
    """Candidate trigger values of one column; needs no model, so it runs beside binning."""
    return _candidates(baseline, name, arr)


def find_triggers(
    baseline: Baseline,
    table: pa.Table,
    features: list[str],
    proba: F64 | None,
    y: I64 | None,
    source_code: I64 | None,
    sources: list[str],
    candidates: dict[str, list[tuple[str, str]]] | None = None,
    floats: dict[str, F64] | None = None,
) -> list[TriggerFinding]:
    """Rare or off-grid values whose rows carry a label the model does not expect.

    ``candidates`` (per feature, from :func:`trigger_candidates`) and ``floats`` (columns
    already through :func:`float_with_nan`) are reused when the caller has them.
    """
    out: list[TriggerFinding] = []
    for name in features:
        arr = table.column(name)
        found = (
            candidates[name]
            if candidates is not None and name in candidates
            else trigger_candidates(baseline, name, arr)
        )
        if not found:
            continue
        if pa.types.is_dictionary(arr.type):
            arr = arr.cast(arr.type.value_type)
        x: F64 | None = None
        if pa.types.is_floating(arr.type) or pa.types.is_integer(arr.type):
            # once per column, not per candidate (integer columns are not in ``floats``)
            x = floats[name] if floats is not None and name in floats else float_with_nan(arr)
        for text, why in found:
            if x is not None:
                mask = x == float(text)
            else:
                mask = np.asarray(pc.equal(arr.cast(pa.string()), text).fill_null(False))
            rows = np.flatnonzero(mask)
            sig = _label_evidence(baseline, name, text, why, rows, proba, y, source_code, sources)
            if sig is not None:
                out.append(TriggerFinding(sig, rows))
    return out


def _label_evidence(
    baseline: Baseline,
    name: str,
    text: str,
    why: str,
    rows: I64,
    proba: F64 | None,
    y: I64 | None,
    source_code: I64 | None,
    sources: list[str],
) -> Signal | None:
    if proba is None or y is None or rows.size == 0:
        return None
    yr = y[rows]
    keep = rows[yr >= 0]
    if keep.size < MIN_ROWS:
        return None
    best: tuple[float, int, float, float, float] | None = None
    for k in range(proba.shape[1]):
        o = float((y[keep] == k).sum())
        p = proba[keep, k]
        e, v = float(p.sum()), float((p * (1 - p)).sum())
        z = (o - e) / math.sqrt(max(v, 1e-9))
        eff = (o - e) / keep.size
        if (
            abs(z) >= Z_TRIGGER
            and abs(eff) >= MIN_EFFECT
            and (best is None or abs(z) > abs(best[0]))
        ):
            best = (z, k, eff, o, e)
    if best is None:
        return None
    z, k, eff, o, e = best
    src = None
    if source_code is not None:
        codes = np.bincount(source_code[rows])
        top = int(codes.argmax())
        src = sources[top] if top < len(sources) else None
    majority = int(np.bincount(y[keep]).argmax())
    cls = baseline.classes[majority] if majority < len(baseline.classes) else str(majority)
    return Signal(
        "trigger",
        src,
        f"{name} = {text}",
        f"{rows.size:,} rows have {name} = {text} ({why}); {o / keep.size:.0%} carry "
        f"label {baseline.classes[k]!r} where the baseline model expects {e / keep.size:.0%}",
        int(rows.size),
        round(abs(z), 2),
        round(eff, 4),
        {"column": name, "value": text, "why": why, "label": cls},
    )
