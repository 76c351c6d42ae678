"""Trigger candidates: the shortcuts (dictionary counts, integer range prefilter) give
what counting every value gives."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from custodes.data import Baseline
from custodes.data.check.triggers import trigger_candidates, value_counts


def _as_dict(vc: pa.StructArray) -> dict[object, int]:
    return dict(zip(vc.field("values").to_pylist(), vc.field("counts").to_pylist(), strict=True))


@pytest.mark.parametrize(
    "arr",
    [
        pa.array(["b", "a", None, "b", "c", "b"]).dictionary_encode(),
        # an entry no row uses, and nulls among the indices
        pa.DictionaryArray.from_arrays(
            pa.array([2, 0, None, 2, 2, 0], pa.int32()), pa.array(["x", "unused", "z"])
        ),
        pa.chunked_array([pa.array(["p", "q", "p", None]).dictionary_encode()]),
        # two chunks with different dictionaries: counted on the decoded values
        pa.chunked_array(
            [pa.array(["p", "q"]).dictionary_encode(), pa.array(["q", "r"]).dictionary_encode()]
        ),
    ],
)
def test_dictionary_counts_are_the_decoded_value_counts(arr: pa.Array) -> None:
    decoded = arr.cast(arr.type.value_type)
    expected = _as_dict(pc.value_counts(pc.drop_null(decoded)))
    got = value_counts(arr)
    assert got.field("values").type == pa.string()
    assert _as_dict(got) == expected


@pytest.mark.parametrize(
    "values",
    [[True, False, None, True], [True, True, None], [None, None], [], [False]],
)
def test_boolean_counts_are_the_value_counts(values: list[bool | None]) -> None:
    arr = pa.chunked_array([pa.array(values[:2], pa.bool_()), pa.array(values[2:], pa.bool_())])
    expected = _as_dict(pc.value_counts(pc.drop_null(arr)))
    got = value_counts(arr)
    assert _as_dict(got) == expected
    assert got.field("values").type == pa.bool_()


def test_float_candidates_are_the_same_through_the_dictionary(baseline: Baseline) -> None:
    from custodes.data.labels import few_values

    profile = baseline.columns["bmi"]
    assert profile.max is not None
    rng = np.random.default_rng(4)
    x = np.round(rng.normal(27, 4, 40_000), 1)
    x[:200] = 13.37  # off the one-decimal grid
    x[200:400] = profile.max + 5  # outside the reference range
    column = pa.chunked_array([pa.array(x, mask=rng.random(x.size) < 0.03)])
    encoded = few_values(column)
    assert encoded is not None
    got = trigger_candidates(baseline, "bmi", encoded)
    assert sorted(got) == sorted(trigger_candidates(baseline, "bmi", column))
    assert {v for v, _ in got} == {repr(13.37), repr(float(profile.max + 5))}


def test_integer_candidates_are_the_values_outside_the_reference_range(
    baseline: Baseline,
) -> None:
    profile = baseline.columns["age"]
    assert profile.min is not None
    assert profile.max is not None
    rng = np.random.default_rng(2)
    n = 50_000
    inside = rng.integers(int(profile.min), int(profile.max) + 1, n)
    inside[:300] = int(profile.max) + 40  # enough rows to matter
    inside[300:305] = int(profile.min) - 3  # too few rows
    mask = rng.random(n) < 0.1
    mask[:305] = False
    column = pa.chunked_array([pa.array(inside, pa.int64(), mask=mask)])

    got = trigger_candidates(baseline, "age", column)
    assert got == [(repr(float(profile.max + 40)), "outside the reference range")]
    # the same as counting every value on the general (float) path
    assert got == trigger_candidates(baseline, "age", column.cast(pa.float64()))
    # nothing outside the range: no candidates
    assert trigger_candidates(baseline, "age", column.slice(305)) == []
