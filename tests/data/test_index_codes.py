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
