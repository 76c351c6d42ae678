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
