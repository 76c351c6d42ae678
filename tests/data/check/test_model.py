"""The calibrated baseline model: naive Bayes logits, and the Newton solver against scipy."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from scipy.optimize import minimize

from custodes.data import Baseline
from custodes.data.check.model import fit_model


def _scipy_optimum(logits: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float]:
    z0 = logits - logits.max(axis=1, keepdims=True)
    rows = np.arange(y.size)

    def nll(theta: np.ndarray) -> float:
        z = z0 * theta[0]
        z[:, 1:] += theta[1:]
        z -= z.max(axis=1, keepdims=True)
        lp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        return float(-lp[rows, y].mean())

    k = logits.shape[1]
    res = minimize(nll, np.r_[1.0, np.zeros(k - 1)], method="L-BFGS-B", tol=1e-12)
    return np.asarray(res.x), float(res.fun)


def _overconfident(rng: np.random.Generator, n: int, k: int, scale: float, bias: np.ndarray):
    """Labels drawn from softmax(true logits + bias) while the model reports scale x logits."""
    true = rng.normal(0, 1.5, size=(n, k))
    p = np.exp(true + bias)
    p /= p.sum(axis=1, keepdims=True)
    y = (p.cumsum(axis=1) > rng.random((n, 1))).argmax(axis=1)
    return true * scale, y.astype(np.int64)


@pytest.mark.parametrize(("k", "scale"), [(2, 2.5), (2, 0.4), (4, 3.0), (7, 1.7)])
def test_newton_reaches_scipys_optimum(k: int, scale: float) -> None:
    rng = np.random.default_rng(k)
    bias = np.r_[0.0, rng.normal(0, 0.7, size=k - 1)]
    logits, y = _overconfident(rng, 40_000, k, scale, bias)
    given = logits.copy()
    cal = fit_model(given, y)
    assert np.array_equal(given, logits)  # untouched unless asked to overwrite
    in_place = fit_model(given, y, overwrite=True)
    assert in_place.proba is given
    assert np.array_equal(in_place.proba, cal.proba)
    x, best = _scipy_optimum(logits, y)
    # the fitted temperature undoes the overconfidence, as scipy's does
    assert cal.temperature == pytest.approx(x[0], rel=2e-3)
    assert cal.temperature == pytest.approx(1 / scale, rel=0.05)
    assert np.allclose(cal.bias[1:], x[1:], atol=5e-3)
    assert np.allclose(cal.bias, bias - bias[0], atol=0.08)
    # and its likelihood is no worse than scipy's
    p = cal.proba[np.arange(y.size), y]
    assert -np.log(p).mean() <= best + 1e-9
    assert np.allclose(cal.proba.sum(axis=1), 1.0)


def test_unlabelled_rows_are_left_out_and_few_labels_keep_identity() -> None:
    rng = np.random.default_rng(0)
    logits, y = _overconfident(rng, 5_000, 2, 2.0, np.zeros(2))
    y[::2] = -1
    cal = fit_model(logits.copy(), y)
    x, _ = _scipy_optimum(logits[y >= 0], y[y >= 0])
    assert cal.temperature == pytest.approx(x[0], rel=2e-3)
    few = fit_model(logits[:40].copy(), y[:40])
    assert few.temperature == 1.0
    assert few.bias == (0.0, 0.0)


def test_a_class_missing_from_the_labels_still_converges() -> None:
    rng = np.random.default_rng(3)
    logits, _ = _overconfident(rng, 3_000, 3, 1.0, np.zeros(3))
    y = rng.integers(0, 2, size=3_000)  # class 2 never appears
    cal = fit_model(logits.copy(), y)
    assert np.isfinite(cal.proba).all()
    assert cal.proba[:, 2].mean() < 0.01


def _logit_inputs(
    baseline: Baseline, table: pa.Table
) -> tuple[list[str], np.ndarray, dict[str, np.ndarray]]:
    """Sources, source code and feature bins of a batch, as a check computes them."""
    from custodes.data.check.checker import _codes
    from custodes.data.check.drift import bin_column

    sources = list(baseline.sources)
    code = _codes(table.column(baseline.roles.source), sources, table.num_rows)
    bins = {
        k: b.index
        for k in baseline.label_bins
        if k in table.column_names and (b := bin_column(baseline, k, table.column(k)))
    }
    return sources, code, bins


def _log_tables(
    baseline: Baseline, sources: list[str]
) -> tuple[np.ndarray, dict[str, np.ndarray], np.ndarray]:
    """log prior, log P(bin | class) per feature and log P(source | class), from the
    baseline's add-one-smoothed counts: the textbook naive Bayes."""
    classes = baseline.classes
    total = np.array([baseline.labels[c][baseline.roles.label].rows for c in classes], float)
    prior = np.log((total + 1) / (total.sum() + len(classes)))
    features = {}
    for name, fb in baseline.label_bins.items():
        c = np.asarray(fb.counts, float) + 1
        features[name] = np.log(c / c.sum(axis=0))
    src_rows = np.ones((len(sources) + 1, len(classes)))
    for i, s in enumerate(sources):
        src_rows[i] += np.asarray(next(iter(baseline.source_label_bins[s].values())).counts).sum(0)
    return prior, features, np.log(src_rows / src_rows.sum(axis=0))


def test_naive_bayes_logits_give_the_textbook_posterior(corpus: Path, baseline: Baseline) -> None:
    """Softmax of the (first-class-relative) logits is P(class | bins, source) computed
    row by row from the baseline's add-one-smoothed counts."""
    from custodes.data.check.checker import read_batch
    from custodes.data.check.model import naive_bayes_logits

    table = read_batch(corpus / "batches" / "clean.parquet").slice(0, 40)
    sources, code, bins = _logit_inputs(baseline, table)
    z = naive_bayes_logits(baseline, bins, code, sources)
    assert np.all(z[:, 0] == 0.0)
    got = np.exp(z - z.max(axis=1, keepdims=True))
    got /= got.sum(axis=1, keepdims=True)
    prior, features, source_table = _log_tables(baseline, sources)
    for r in range(table.num_rows):
        logp = prior.copy()
        for name, idx in bins.items():
            logp += features[name][idx[r]]
        logp += source_table[code[r]]
        want = np.exp(logp - logp.max())
        assert np.allclose(got[r], want / want.sum(), rtol=1e-9, atol=1e-12)


def test_naive_bayes_logits_over_many_chunks_match_one_gather_per_feature(
    corpus: Path, baseline: Baseline
) -> None:
    from custodes.data.check.checker import read_batch
    from custodes.data.check.model import CHUNK, naive_bayes_logits

    one = read_batch(corpus / "batches" / "label_flip_subpop.parquet")
    table = pa.concat_tables([one] * (2 * CHUNK // one.num_rows + 1))
    assert table.num_rows > 2 * CHUNK
    sources, code, bins = _logit_inputs(baseline, table)
    z = naive_bayes_logits(baseline, bins, code, sources)
    prior, features, source_table = _log_tables(baseline, sources)
    want = np.zeros_like(z) + prior
    for name, idx in bins.items():
        want += features[name][idx.astype(np.intp)]
    want += source_table[code]
    assert np.allclose(z, want - want[:, :1], rtol=0, atol=1e-9)
