"""``index_codes``: the fast paths (dictionary, integer and boolean tables) give what
matching each row's text against the value list gives."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from custodes.data.labels import index_codes

MISSING, NULL = 50, 60


def _by_text(arr: pa.ChunkedArray, values: list[str]) -> np.ndarray:
    text = arr.cast(pa.string()).to_pylist()
    return np.array(
        [NULL if t is None else (values.index(t) if t in values else MISSING) for t in text]
    )


def _chunked(values: list[object], typ: pa.DataType) -> pa.ChunkedArray:
    half = len(values) // 2
    return pa.chunked_array([pa.array(values[:half], typ), pa.array(values[half:], typ)])


@pytest.mark.parametrize(
    ("arr", "values"),
    [
        (_chunked([True, False, None, True, False, None, True], pa.bool_()), ["false", "true"]),
        (_chunked([True, False, None, True], pa.bool_()), ["true", "(other)"]),
        (_chunked([True, True, True], pa.bool_()), ["false"]),
        (_chunked([3, -1, None, 7, 3, 12], pa.int64()), ["3", "7", "-1"]),
        (_chunked([1, 2, 2, 1], pa.int8()), ["2"]),
        (_chunked([-128, 127, None, 0, -128, None], pa.int8()), ["127", "-128"]),
        (_chunked([255, None, 0, 7], pa.uint8()), ["0", "255"]),
        (_chunked(["a", "b", None, "c", "a"], pa.string()), ["c", "a"]),
        (
            pa.chunked_array([pc.dictionary_encode(pa.array(["x", None, "y", "x", "z"]))]),
            ["y", "x"],
        ),
    ],
)
def test_fast_paths_match_the_text_of_each_row(arr: pa.ChunkedArray, values: list[str]) -> None:
    got = index_codes(arr, values, MISSING, NULL)
    assert got.tolist() == _by_text(arr, values).tolist()


def test_narrow_codes_match_and_a_wide_signed_range_does_not_wrap() -> None:
    # int8 from -100 to 100: ``v - min`` reaches 200, which int8 cannot hold; more rows
    # than one conversion chunk, in two Arrow chunks
    rng = np.random.default_rng(3)
    raw = rng.integers(-100, 101, 150_000).astype(np.int8)
    arr = pa.chunked_array([pa.array(raw[:70_000]), pa.array(raw[70_000:])])
    values = [str(v) for v in range(-100, 101, 7)]
    got = index_codes(arr, values, MISSING, NULL, np.uint8)
    assert got.dtype == np.uint8
    lookup = {v: i for i, v in enumerate(values)}
    expected = np.array([lookup.get(str(v), MISSING) for v in raw.tolist()])
    assert got.tolist() == expected.tolist()


def _reference_bins(x: np.ndarray, edges: list[float]) -> np.ndarray:
    """The rule a bin index follows, row by row: the null bin last, else the interval."""
    inner = edges[1:-1]
    nbins = len(edges)  # intervals + the null bin
    return np.array(
        [nbins - 1 if np.isnan(v) else int(np.searchsorted(inner, v, side="right")) for v in x]
    )


@pytest.mark.parametrize(
    ("typ", "lo", "hi"),
    [
        (pa.int8(), -100, 100),
        (pa.int8(), -128, 127),  # no room for a null code above the maximum
        (pa.uint8(), 0, 255),
        (pa.int16(), -100, 100),
        (pa.uint32(), 0, 100),
        (pa.int64(), -100, 100),
        (pa.float64(), -100, 100),
        (pa.date32(), -100, 100),
    ],
)
def test_bin_index_is_narrow_and_follows_the_edges(typ: pa.DataType, lo: int, hi: int) -> None:
    from custodes.data.labels import FeatureBins
    from custodes.data.profile import float_with_nan

    rng = np.random.default_rng(7)
    n = 140_000  # more rows than one conversion chunk
    ints = rng.integers(lo, hi + 1, n)
    mask = rng.random(n) < 0.05
    if pa.types.is_date32(typ):
        arr = pa.array(ints.astype(np.int32), pa.int32(), mask=mask).cast(typ)
    else:
        arr = pa.array(ints, mask=mask).cast(typ)
    x = float_with_nan(arr)
    finite = x[~np.isnan(x)]
    inner = sorted(set(np.quantile(finite, np.linspace(0.05, 0.95, 12)).tolist()))
    edges = [-np.inf, *inner, np.inf]
    fb = FeatureBins("c", "numeric", ["0"], edges, None, [0] * len(edges), [])
    got = fb.bin_index(pa.chunked_array([arr]))
    assert got.dtype == np.uint8
    assert got.tolist() == _reference_bins(x, edges).tolist()


@pytest.mark.parametrize(
    ("kind", "typ"),
    [
        ("grid", pa.float64()),  # few distinct values: binned through the dictionary
        ("grid", pa.float32()),
        ("continuous", pa.float64()),  # a million-distinct column: binary search
    ],
)
def test_float_bins_follow_the_edges_with_nan_and_nulls(kind: str, typ: pa.DataType) -> None:
    from custodes.data import labels
    from custodes.data.labels import FeatureBins
    from custodes.data.profile import float_with_nan

    rng = np.random.default_rng(9)
    n = 150_000
    values = rng.normal(25, 5, n)
    if kind == "grid":
        values = np.round(values, 1)
    values[rng.random(n) < 0.02] = np.nan  # NaN values, not nulls
    values[:3] = [-0.0, 0.0, np.inf]
    mask = rng.random(n) < 0.05
    arrays = [
        pa.array(values[:60_000], mask=mask[:60_000]).cast(typ),
        pa.array(values[60_000:], mask=mask[60_000:]).cast(typ),
    ]
    column = pa.chunked_array(arrays)
    x = float_with_nan(column)
    finite = x[np.isfinite(x)]
    inner = sorted(set(np.round(np.quantile(finite, np.linspace(0.05, 0.95, 20)), 1).tolist()))
    edges = [-np.inf, 0.0, *inner, np.inf]
    fb = FeatureBins("c", "numeric", ["0"], edges, None, [0] * len(edges), [])
    used = labels._dictionary_bins(column, np.asarray(edges[1:-1]), len(edges))
    assert (used is not None) == (kind == "grid")

    got = fb.bin_index(column)
    assert got.dtype == np.uint8
    assert got.tolist() == _reference_bins(x, edges).tolist()


@pytest.mark.parametrize("later", ["grid", "continuous"])
def test_float_bins_over_many_chunks(later: str) -> None:
    """A CSV reads as many chunks: a grid in the first ones must not vouch for the rest,
    and gridded chunks share one dictionary instead of binning it once per chunk."""
    from custodes.data.labels import FeatureBins, few_values

    rng = np.random.default_rng(13)
    parts = [np.round(rng.normal(25, 5, 5_000), 1)]
    for _ in range(30):
        v = rng.normal(25, 5, 5_000)
        parts.append(np.round(v, 1) if later == "grid" else v)
    column = pa.chunked_array([pa.array(p) for p in parts])
    edges = [-np.inf, *np.linspace(10, 40, 30).tolist(), np.inf]
    fb = FeatureBins("c", "numeric", ["0"], edges, None, [0] * len(edges), [])
    assert (few_values(column) is None) == (later == "continuous")
    got = fb.bin_index(column)
    want = np.searchsorted(np.asarray(edges[1:-1]), np.concatenate(parts), side="right")
    assert got.tolist() == want.tolist()
