"""``source_scores`` against the definition computed one row at a time."""

from __future__ import annotations

import math

import numpy as np

from custodes.data.check.labelshift import source_scores


def test_source_scores_follow_the_definition_row_by_row() -> None:
    rng = np.random.default_rng(5)
    n, k, nsources = 70_000, 3, 4  # more rows than one chunk
    proba = rng.dirichlet(np.ones(k), n)
    proba[:50, 0] = 0.0  # a zero probability is clipped, not log(0)
    proba[:50] /= proba[:50].sum(axis=1, keepdims=True)
    y = rng.integers(-1, k, n)  # -1: no label
    code = rng.integers(0, nsources - 1, n)  # the last source has no rows
    z, eff = source_scores(proba, y, code, nsources)

    dev, var, rows = [0.0] * nsources, [0.0] * nsources, [0] * nsources
    for p, label, s in zip(proba.tolist(), y.tolist(), code.tolist(), strict=True):
        if label < 0:
            continue
        logs = [math.log(max(q, 1e-12)) for q in p]
        qs = [max(q, 1e-12) for q in p]
        expect = sum(q * lq for q, lq in zip(qs, logs, strict=True))
        dev[s] += expect - logs[label]
        var[s] += sum(q * lq * lq for q, lq in zip(qs, logs, strict=True)) - expect**2
        rows[s] += 1
    for s in range(nsources):
        want_z = dev[s] / math.sqrt(max(var[s], 1e-12))
        want_eff = dev[s] / max(rows[s], 1)
        assert math.isclose(z[s], want_z, rel_tol=1e-9, abs_tol=1e-9)
        assert math.isclose(eff[s], want_eff, rel_tol=1e-9, abs_tol=1e-12)
    assert z[-1] == 0.0
    assert eff[-1] == 0.0


def test_cell_sums_count_each_source_and_bin() -> None:
    from custodes.data.check.labelshift import _cell_sums

    rng = np.random.default_rng(8)
    n, nsrc, stride, nb = 5_000, 3, 7, 5
    src = rng.integers(0, nsrc, n)
    bins = rng.integers(0, nb, n)
    state = rng.integers(0, 3, n)  # 0 not live, 1 live other class, 2 live this class
    pk = rng.random(n)
    key = (src * stride + bins) * 3 + state
    o, e, m = _cell_sums(key, pk, nsrc, stride, nb)
    for s in range(nsrc):
        for b in range(nb):
            cell = (src == s) & (bins == b)
            assert o[s * nb + b] == ((state == 2) & cell).sum()
            assert m[s * nb + b] == ((state > 0) & cell).sum()
            assert math.isclose(e[s * nb + b], pk[(state > 0) & cell].sum(), rel_tol=1e-12)


def test_two_flipped_groups_in_two_sources_are_found_once_each() -> None:
    from custodes.data.check.drift import Binned
    from custodes.data.check.labelshift import bin_tests
    from custodes.data.labels import FeatureBins

    rng = np.random.default_rng(12)
    n = 200_000
    sources = ["first_party", "broker", "user_generated"]
    code = rng.integers(0, 3, n)
    nb = 10
    feats = {}
    for name in ("age", "region", "bmi"):
        idx = rng.integers(0, nb, n).astype(np.uint8)
        values = [f"b{i}" for i in range(nb)]
        bins = FeatureBins(name, "categorical", ["0", "1"], None, values, [1] * nb, [])
        feats[name] = Binned(name, values, np.ones(nb, np.int64), idx, bins)
    p1 = np.full(n, 0.1)
    y = (rng.random(n) < p1).astype(np.int64)
    g1 = (code == 2) & (feats["age"].index == 3)
    g2 = (code == 1) & (feats["region"].index == 7)
    y[g1 & (rng.random(n) < 0.5)] = 1  # flips to the rare class
    y[g2 & (rng.random(n) < 0.4)] = 1
    proba = np.column_stack([1 - p1, p1])
    found = bin_tests(feats, proba, y, code, sources, ["0", "1"], {})
    where = sorted((f.signal.source, f.signal.group.split(" and ")[0]) for f in found)
    assert where == [("broker", "region in b7"), ("user_generated", "age in b3")]
    for f in found:
        truth = g1 if f.signal.source == "user_generated" else g2
        assert truth[f.rows].mean() > 0.95


def test_features_of_different_widths() -> None:
    """300 bins (a uint16 index) beside 4: one row code serves both."""
    from custodes.data.check.drift import Binned
    from custodes.data.check.labelshift import bin_tests
    from custodes.data.labels import FeatureBins

    rng = np.random.default_rng(21)
    n = 120_000
    code = rng.integers(0, 2, n)

    def feature(name: str, nb: int, idx: np.ndarray) -> Binned:
        values = [f"b{i}" for i in range(nb)]
        bins = FeatureBins(name, "categorical", ["0", "1"], None, values, [1] * nb, [])
        return Binned(name, values, np.ones(nb, np.int64), idx, bins)

    wide = rng.integers(0, 300, n).astype(np.uint16)
    narrow = rng.integers(0, 4, n).astype(np.uint8)
    feats = {"wide": feature("wide", 300, wide), "narrow": feature("narrow", 4, narrow)}
    p1 = np.full(n, 0.1)
    y = (rng.random(n) < p1).astype(np.int64)
    planted = [((code == 1) & (narrow == 2), 0.5), ((code == 0) & (wide == 250), 0.9)]
    for rows, share in planted:
        y[rows & (rng.random(n) < share)] = 1
    found = bin_tests(
        feats,
        np.column_stack([1 - p1, p1]),
        y,
        code,
        ["first_party", "user_generated"],
        ["0", "1"],
        {},
    )
    where = sorted((f.signal.source, f.signal.group.split(" and ")[0]) for f in found)
    assert where == [("first_party", "wide in b250"), ("user_generated", "narrow in b2")]
