"""Sketch laws: merge equals whole, and published error bounds on known distributions."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from scipy import stats

from custodes.data.profile import ColumnProfile
from custodes.data.sketches import HyperLogLog, LogGrid, Moments, SparseCounts, hash_strings, mix64


def test_moments_merge_equals_whole() -> None:
    x = np.random.default_rng(1).gamma(2.0, 3.0, 100_001) + 1e6
    parts = np.array_split(x, 7)
    merged = Moments()
    for p in parts:
        merged = merged.merge(Moments.of(p))
    whole = Moments.of(x)
    assert merged.n == whole.n
    for a, b in [
        (merged.mean, whole.mean),
        (merged.m2, whole.m2),
        (merged.m3, whole.m3),
        (merged.m4, whole.m4),
    ]:
        assert a == pytest.approx(b, rel=1e-6)
    assert whole.skewness == pytest.approx(stats.skew(x), rel=1e-6)
    assert whole.kurtosis == pytest.approx(stats.kurtosis(x), rel=1e-6)


def test_grid_relative_accuracy_and_fixed_edges() -> None:
    grid = LogGrid()
    x = np.concatenate([np.geomspace(1e-3, 1e6, 10_000), -np.geomspace(1e-3, 1e6, 10_000)])
    keys = grid.keys(x)
    lo, hi = grid.lower(keys), grid.upper(keys)
    assert np.all((lo <= x) & (x <= hi))
    assert np.all((hi - lo) / np.maximum(np.abs(lo), np.abs(hi)) <= 2 * grid.alpha + 1e-12)
    merged = SparseCounts.of(keys[:5000]).merge(SparseCounts.of(keys[5000:]))
    whole = SparseCounts.of(keys)
    assert np.array_equal(merged.keys, whole.keys)
    assert np.array_equal(merged.counts, whole.counts)
    again = SparseCounts.from_text(whole.to_text())
    assert np.array_equal(again.keys, whole.keys)
    assert np.array_equal(again.counts, whole.counts)


def test_quantiles_within_kll_error_on_normal() -> None:
    x = np.random.default_rng(2).normal(10, 2, 300_000)
    p = ColumnProfile.of("x", pa.array(x))
    qs = [0.01, 0.1, 0.5, 0.9, 0.99]
    est = p.quantiles(qs)
    # rank error: the true rank of each estimate is within the sketch's bound
    ranks = stats.norm.cdf(est, 10, 2)
    assert np.all(np.abs(ranks - np.asarray(qs)) < 0.02)
    assert p.cdf([10.0])[0] == pytest.approx(0.5, abs=0.02)


def test_hll_error_bound() -> None:
    for n in (1_000, 50_000, 500_000):
        h = HyperLogLog(12)
        vals = mix64(np.arange(n, dtype=np.uint64))
        h.update_hashes(vals[: n // 2])
        h2 = HyperLogLog(12)
        h2.update_hashes(vals[n // 3 :])
        est = h.merge(h2).estimate()
        assert abs(est - n) / n < 4 * h.relative_error, (n, est)


def test_string_hash_is_stable() -> None:
    a = hash_strings(pa.array(["x", "y", None, "x"]))
    b = hash_strings(pa.array(["x", "y", None, "x"]).dictionary_encode())
    assert np.array_equal(a, b)
    assert a[0] == a[3]
    assert a[0] != a[1]
    # the value is part of the file format: it must never change
    assert int(hash_strings(pa.array(["first_party"]))[0]) == 0xA1832C7B8B027CAA


def test_categorical_frequencies_merge_exactly() -> None:
    rng = np.random.default_rng(3)
    v = rng.choice(["a", "b", "c", "d"], 10_000)
    whole = ColumnProfile.of("c", pa.array(v))
    merged = ColumnProfile.of("c", pa.array(v[:3000])).merge(
        ColumnProfile.of("c", pa.array(v[3000:]))
    )
    assert merged.frequencies() == whole.frequencies()
    assert sum(whole.frequencies().values()) == 10_000
    assert whole.distinct == 4
