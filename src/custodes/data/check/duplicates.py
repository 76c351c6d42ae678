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
from custodes.data.sketches import I64, U64, mix64, mix64_inplace

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
    exact_rate: float
    clustered: int
    expected: float


def near_duplicates(
    binned: dict[str, Binned],
    signatures: U64 | None,
    reference_duplicate_rate: float,
    source_code: I64 | None,
    sources: list[str],
) -> DuplicateFinding:
    feats = sorted(b for b in binned if binned[b].bins is not None)
    n = next(iter(binned.values())).index.size if binned else 0
    exact_rate = 0.0
    if signatures is not None and signatures.size:
        _, inv, cnt = np.unique(signatures, return_inverse=True, return_counts=True)
        exact_rate = float((cnt[inv] > 1).sum() / signatures.size)
    if len(feats) < 4 or n < MIN_CLUSTER:
        return DuplicateFinding(
            None, np.zeros(0, np.int64), np.zeros(0, np.int64), exact_rate, 0, 0.0
        )
    rng = np.random.default_rng(20240501)
    clustered = np.zeros(n, bool)
    cluster = np.full(n, -1, np.int64)
    expected = 0.0
    # a column's code does not depend on the band: hash its few bins once, gather per row
    codes: dict[int, U64] = {}
    for band in range(BANDS):
        cols = sorted(rng.choice(len(feats), len(feats) // 2, replace=False).tolist())
        h = np.zeros(n, np.uint64)
        q = 1.0
        for i in cols:
            b = binned[feats[i]]
            if i not in codes:
                nb = max(int(b.reference.size), int(b.index.max()) + 1 if n else 0)
                lut = mix64(np.arange(nb, dtype=np.uint64) + np.uint64(i * 131 + 7))
                codes[i] = lut[b.index]
            h ^= codes[i]
            h = mix64_inplace(h)
            p = b.reference / max(float(b.reference.sum()), 1.0)
            q *= float((p**2).sum())
        lam = (n - 1) * q
        # P(at least MIN_CLUSTER - 1 others share the hash) ~ lam^2 / 2 for small lam
        expected += n * min(1.0, lam ** (MIN_CLUSTER - 1) / 2)
        _, inv, cnt = np.unique(h, return_inverse=True, return_counts=True)
        big = cnt[inv] >= MIN_CLUSTER
        new = big & (cluster < 0)
        cluster[new] = band * (1 << 40) + inv[new]
        clustered |= big
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
    return DuplicateFinding(sig, rows, cluster[rows], exact_rate, total, expected)
