"""Columns whose integers pass 2**53 (nanosecond timestamps, 64-bit counters) are
profiled and checked like any other, not refused by a float cast."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from custodes.data import build_baseline
from custodes.data.check import check_batch
from custodes.data.profile import float_with_nan


def _table(rng: np.random.Generator, n: int, shift: float = 0.0) -> pa.Table:
    start = np.datetime64("2024-01-01T00:00:00", "ns").astype(np.int64)
    stamps = start + rng.integers(0, 86_400 * 10**9 * 30, n)  # a month, to the nanosecond
    return pa.table(
        {
            "seen": pa.array(stamps.astype("datetime64[ns]")),
            "counter": pa.array(rng.integers(2**60, 2**61, n, dtype=np.int64)),
            "x": rng.normal(shift, 1.0, n),
            "y": rng.integers(0, 2, n),
        }
    )


def test_values_past_2_to_the_53_are_rounded_not_refused() -> None:
    big = pa.array([2**60 + 1, None, -(2**62)])
    assert float_with_nan(big)[0] == float(2**60)
    assert np.isnan(float_with_nan(big)[1])
    ns = pa.array(np.array(["2024-01-01T00:00:01.5", "NaT"], dtype="datetime64[ns]"))
    got = float_with_nan(ns)
    assert got[0] == np.datetime64("2024-01-01T00:00:01", "s").astype(np.int64) + 0.5
    assert np.isnan(got[1])


def test_a_batch_with_nanosecond_times_and_wide_integers_is_checked() -> None:
    rng = np.random.default_rng(3)
    baseline = build_baseline([_table(rng, 50_000)], label="y")
    assert baseline.columns["seen"].kind == "datetime"
    assert baseline.columns["counter"].kind == "numeric"
    same = check_batch(_table(rng, 20_000), baseline)
    assert same.verdict == "ok"
    moved = check_batch(_table(rng, 20_000, shift=2.0), baseline)
    verdicts = {c.name: c.verdict for c in moved.columns}
    assert verdicts["x"] != "ok"
    assert verdicts["seen"] == verdicts["counter"] == "ok"
