"""``_clusters``: the rows whose band hash enough rows share, against ``np.unique``."""

from __future__ import annotations

import numpy as np
import pytest

from custodes.data.check.duplicates import _clusters


@pytest.mark.parametrize("min_size", [2, 3, 5])
def test_clusters_are_the_hashes_shared_by_enough_rows(min_size: int) -> None:
    rng = np.random.default_rng(11)
    n = 60_000
    h = rng.integers(0, 2**63, n, dtype=np.uint64)
    # runs of every size from 1 to 7 planted at random rows, some sharing low bits
    # with unrelated rows (what the bitmap prefilter must not confuse)
    at = rng.permutation(n)
    pos = 0
    for size in range(1, 8):
        for _ in range(40):
            value = np.uint64(rng.integers(0, 2**40)) << np.uint64(22) | (h[at[pos]] & 0x3FFFFF)
            h[at[pos : pos + size]] = value
            pos += size
    _values, inverse, counts = np.unique(h, return_inverse=True, return_counts=True)
    expected = np.flatnonzero(counts[inverse] >= min_size)

    scratch = (np.empty_like(h), np.empty_like(h))
    rows, ids = _clusters(h, min_size, scratch)

    assert sorted(rows.tolist()) == expected.tolist()
    # equal hashes get equal ids and different hashes different ones
    pairs = set(zip(h[rows].tolist(), ids.tolist(), strict=True))
    assert len({v for v, _ in pairs}) == len(pairs) == len({i for _, i in pairs})
    assert np.array_equal(np.sort(h[rows]), np.sort(h[expected]))
    # the same answer without scratch buffers, and the input is untouched
    again_rows, again_ids = _clusters(h.copy(), min_size)
    assert again_rows.tolist() == rows.tolist()
    assert again_ids.tolist() == ids.tolist()


def test_no_cluster_and_tiny_inputs() -> None:
    distinct = np.arange(1000, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)
    assert _clusters(distinct, 2)[0].size == 0
    assert _clusters(distinct[:1], 3)[0].size == 0
    assert _clusters(np.zeros(3, np.uint64), 3)[0].tolist() == [0, 1, 2]
