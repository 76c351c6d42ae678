"""Values outside the reviewed range: integer columns (compared in Arrow) and float
columns (compared in numpy) count the same rows, nulls never count."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from custodes.data import build_baseline
from custodes.data.check import check_batch


def _table(rng: np.random.Generator, n: int, wild: int = 0, nulls: bool = True) -> pa.Table:
    ints = rng.integers(20, 80, size=n)  # the reference range is [14, 86] with its margin
    floats = rng.normal(50.0, 5.0, size=n)
    ints[:wild] = 1_000 + np.arange(wild)  # far above
    ints[wild : 2 * wild] = -5  # below
    floats[: 2 * wild] = ints[: 2 * wild] * 10.0
    mask = (rng.random(n) < 0.05) if nulls else np.zeros(n, bool)
    mask[: 2 * wild] = False
    return pa.table(
        {
            "count": pa.array(ints, pa.int64(), mask=mask),
            "small": pa.array(ints.astype(np.int16), pa.int16(), mask=mask),
            "level": pa.array(floats, pa.float64(), mask=mask),
            "group": rng.integers(0, 4, size=n),
        }
    )


@pytest.mark.parametrize("wild", [0, 3, 11, 400])
def test_out_of_range_counts_match_across_types(wild: int) -> None:
    rng = np.random.default_rng(11)
    baseline = build_baseline([_table(rng, 100_000)])
    result = check_batch(_table(rng, 200_000, wild), baseline)
    found = {
        c.name: [i for i in c.issues if i.kind == "out_of_range"]
        for c in result.columns
        if c.name in ("count", "small", "level")
    }
    if wild * 2 <= max(2, 1e-4 * 200_000):  # within the tolerated share: no issue
        assert all(not v for v in found.values()), found
        assert result.verdict == "ok"
    else:
        for name, issues in found.items():
            assert len(issues) == 1, name
            assert issues[0].rows == 2 * wild
            assert f"{2 * wild:,} values outside" in issues[0].message
        assert result.verdict == "schema_violation"
