"""The drift scores reported beside PSI: their values on shifts of known size."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from custodes.data import build_baseline
from custodes.data.check import check_batch


def _table(rng: np.random.Generator, n: int, shift: float, scale: float = 1.0) -> pa.Table:
    x = rng.normal(50.0 + shift * 8.0, 8.0 * scale, size=n)
    x[rng.random(n) < 0.01] = np.nan  # nulls are left out of the distance
    other = rng.integers(0, 5, size=n)
    return pa.table({"x": pa.array(x, from_pandas=True), "other": other})


@pytest.mark.parametrize(("shift", "scale"), [(0.0, 1.0), (0.5, 1.0), (1.0, 1.0), (0.0, 1.5)])
def test_wasserstein_is_the_shift_in_reference_spreads(shift: float, scale: float) -> None:
    """The normalized Wasserstein-1 distance is the mean quantile gap over the reference
    spread (its 5-95% range / 3.29, one standard deviation for a normal column): a shift
    of s sigmas reads s (within the sketch's error), a 1.5x wider column reads about 0.5 x 0.8 (mean |z| over the
    1-99% quantiles). A million-row batch is read through the subsample, so this also
    bounds the subsample's error."""
    rng = np.random.default_rng(7)
    baseline = build_baseline([_table(rng, 400_000, 0.0)])
    result = check_batch(_table(rng, 1_000_000, shift, scale), baseline)
    col = next(c for c in result.columns if c.name == "x")
    assert col.wasserstein is not None
    qs = np.linspace(0.01, 0.99, 50)
    from scipy.stats import norm

    expected = shift + (scale - 1.0) * float(np.abs(norm.ppf(qs)).mean())
    # the reference quantiles come from the baseline's KLL sketch, whose compaction is
    # random: over 13 fresh runs the unshifted column read 0.007-0.032 and the 1-sigma
    # shift 0.985-1.030, so a 0.03 band failed now and then; 0.05 still tells a half
    # sigma from 0.4 or 0.6
    assert col.wasserstein == pytest.approx(expected, abs=0.05)
    if shift == 0.0 and scale == 1.0:
        assert col.verdict == "ok"
    else:  # moved (or, wider, out of the reference range): never "ok"
        assert col.verdict != "ok"


def test_quantiles_and_bin_counts_match_numpy() -> None:
    from custodes.data.check.drift import QUANTILES, _quantiles, count_bins

    rng = np.random.default_rng(6)
    for x in (rng.normal(0, 1, 50_000), np.round(rng.gamma(2, 3, 777), 1), np.array([4.0])):
        assert np.allclose(_quantiles(x, QUANTILES), np.quantile(x, QUANTILES), rtol=0, atol=1e-12)
    index = rng.integers(0, 33, 200_000).astype(np.uint8)
    assert count_bins(index, 33).tolist() == np.bincount(index, minlength=33).tolist()
    assert count_bins(index, 40).tolist() == np.bincount(index, minlength=40).tolist()
    # an index past the bins is counted, as np.bincount counts it
    assert count_bins(index, 20).tolist() == np.bincount(index, minlength=20).tolist()
    assert count_bins(index[:0], 5).tolist() == [0] * 5


def test_infinities_are_left_out_of_the_wasserstein_distance() -> None:
    rng = np.random.default_rng(8)
    baseline = build_baseline([_table(rng, 100_000, 0.0)])
    batch = _table(rng, 100_000, 0.0)
    x = batch.column("x").to_numpy(zero_copy_only=False).copy()
    x[:8_000] = np.inf  # 8% infinite values
    batch = batch.set_column(0, "x", pa.array(x, from_pandas=True))
    result = check_batch(batch, baseline)
    col = next(c for c in result.columns if c.name == "x")
    assert col.wasserstein is not None
    assert np.isfinite(col.wasserstein)
    assert col.wasserstein == pytest.approx(0.0, abs=0.05)
    assert result.to_dict()["columns"]  # and the report still serializes
