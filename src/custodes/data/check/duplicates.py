"""Near-duplicate rows injected in bulk: clusters far above the reference's duplicate rate.

Exact copies are cheap to spot with the baseline's row signatures, so a poisoner jitters
a few columns. Rows are therefore also compared on *coarse* codes (each feature's label
bin, ~32 per column) by locality-sensitive banding: several fixed random halves of the
columns, each hashed; rows sharing a band's hash with at least :data:`MIN_CLUSTER` - 1
others form a cluster. Jitter moves a value to another coarse bin only now and then, so
some band still holds the copies together. What random rows would do is estimated from
the reference: under independence two rows share a band with probability
``prod_j sum_b p_jb^2``, and the clustered rows must exceed that expectation many times
over (and the reference's own duplicate rate) before this is a signal.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from custodes.data.check.drift import Binned
from custodes.data.check.result import Signal
from custodes.data.labels import BinIndex
from custodes.data.sketches import I64, U64, mix64

__all__ = ["DuplicateFinding", "near_duplicates"]

BANDS = 6
MIN_CLUSTER = 3
MIN_SHARE = 0.001
"""Clustered rows below this share of the batch are not a bulk injection."""
EXCESS = 10.0


@dataclass(frozen=True)
class DuplicateFinding:
    signal: Signal | None
    rows: I64
    cluster: I64
    """Cluster id per flagged row."""
    clustered: int
    expected: float


def near_duplicates(
    binned: dict[str, Binned],
    reference_duplicate_rate: float,
    source_code: I64 | None,
    sources: list[str],
) -> DuplicateFinding:
    feats = sorted(b for b in binned if binned[b].bins is not None)
    n = next(iter(binned.values())).index.size if binned else 0
    if len(feats) < 4 or n < MIN_CLUSTER:
        return DuplicateFinding(None, np.zeros(0, np.int64), np.zeros(0, np.int64), 0, 0.0)
    rng = np.random.default_rng(20240501)
    clustered = np.zeros(n, bool)
    cluster = np.full(n, -1, np.int64)
    expected = 0.0
    # a column's code does not depend on the band: hash its few bins once per column
    luts: dict[int, U64] = {}
    h = np.empty(n, np.uint64)
    scratch = (np.empty(n, np.uint64), np.empty(n, np.uint64))
    for band in range(BANDS):
        cols = sorted(rng.choice(len(feats), len(feats) // 2, replace=False).tolist())
        q = 1.0
        for i in cols:
            b = binned[feats[i]]
            if i not in luts:
                nb = max(int(b.reference.size), int(b.index.max()) + 1 if n else 0)
                luts[i] = mix64(np.arange(nb, dtype=np.uint64) + np.uint64(i * 131 + 7))
            p = b.reference / max(float(b.reference.sum()), 1.0)
            q *= float((p**2).sum())
        _band_hash(h, [(luts[i], binned[feats[i]].index) for i in cols])
        lam = (n - 1) * q
        # P(at least MIN_CLUSTER - 1 others share the hash) ~ lam^2 / 2 for small lam
        expected += n * min(1.0, lam ** (MIN_CLUSTER - 1) / 2)
        big, inv = _clusters(h, MIN_CLUSTER, scratch)
        first = cluster[big] < 0
        cluster[big[first]] = band * (1 << 40) + inv[first]
        clustered[big] = True
    total = int(clustered.sum())
    rows = np.flatnonzero(clustered)
    baseline_rows = reference_duplicate_rate * n
    fires = total >= max(MIN_SHARE * n, 20) and total > EXCESS * max(expected, baseline_rows, 1.0)
    sig = None
    if fires:
        ids, sizes = np.unique(cluster[rows], return_counts=True)
        src = None
        if source_code is not None:
            top = int(np.bincount(source_code[rows]).argmax())
            src = sources[top] if top < len(sources) else None
        sig = Signal(
            "near_duplicates",
            src,
            f"{ids.size} clusters",
            f"{total:,} rows ({total / n:.2%}) fall in {ids.size:,} near-duplicate clusters "
            f"(largest {int(sizes.max())}); random rows would give about {expected:.1f} and "
            f"the reference duplicates {reference_duplicate_rate:.2%} of its rows",
            total,
            round(total / max(expected, 1.0), 1),
            round(total / n, 5),
            {
                "clusters": int(ids.size),
                "largest": int(sizes.max()),
                "expected": round(expected, 2),
            },
        )
    return DuplicateFinding(sig, rows, cluster[rows], total, expected)


CHUNK = 1 << 16
"""Rows hashed at a time: the chunk and its scratch stay in cache across the columns."""


def _band_hash(out: U64, columns: list[tuple[U64, BinIndex]]) -> None:
    """Per row, the XOR of each column's random code (``lut[index]``): simple tabulation
    hashing, whose random tables make two different rows collide with probability
    2**-64 and every bit (the low ones :func:`_clusters` looks at first) uniform, with one
    gather and one XOR per column instead of a multiply-mix after each. Chunk by chunk,
    so the chunk and its scratch stay in cache across the columns."""
    n = out.size
    code = np.empty(min(n, CHUNK), np.uint64)
    for lo in range(0, n, CHUNK):
        hi = min(lo + CHUNK, n)
        h = out[lo:hi]
        h.fill(0)
        c = code[: hi - lo]
        for lut, index in columns:
            np.take(lut, index[lo:hi], out=c)
            h ^= c


def _clusters(h: U64, min_size: int, scratch: tuple[U64, U64] | None = None) -> tuple[I64, I64]:
    """Rows whose hash at least ``min_size`` rows share, and for each the number of its
    hash among those shared ones (equal hashes, equal numbers), without sorting the rows.

    ``scratch``: two arrays of ``h``'s size to reuse across bands, where fresh ones would
    be megabytes of newly faulted memory per band.
    """
    n = h.size
    if n < min_size:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    hs, low = scratch if scratch is not None else (np.empty_like(h), np.empty_like(h))
    np.copyto(hs, h)
    hs.sort()
    # a run of at least min_size equal hashes starts wherever the hash min_size - 1
    # places further is the same: no run lengths over all rows
    same = hs[min_size - 1 :] == hs[: n - min_size + 1]
    values = np.unique(hs[: n - min_size + 1][same])
    if values.size == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    # a bitmap on the low bits rules out nearly every row before the binary search
    mask = np.uint64((1 << 22) - 1)
    seen = np.zeros(1 << 22, bool)
    seen[(values & mask).astype(np.intp)] = True
    np.bitwise_and(h, mask, out=low)
    cand = np.flatnonzero(seen[low.view(np.int64)])
    pos = np.searchsorted(values, h[cand])
    np.minimum(pos, values.size - 1, out=pos)
    hit = values[pos] == h[cand]
    return cand[hit], pos[hit]
