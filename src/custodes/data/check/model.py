"""P(label | features, source) from the baseline's bin counts, calibrated on the batch.

The baseline's naive Bayes multiplies ~30 per-feature likelihood ratios as if the
features were independent given the label, so its probabilities are overconfident. Two
(binary) or K (multi-class) parameters fix most of that: a temperature on the log-odds
and a bias per class, fitted by maximum likelihood on the batch. So few parameters
cannot learn a sub-population or a source's flips, which is why the residuals against
the calibrated model still show them; and benign drift, where the label follows the
features as before, leaves the residuals at zero. The source enters as one more naive
Bayes factor (its rows per class in the reference), so a source whose base rate always
differed is not mistaken for one whose labels changed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from custodes.data.baseline import Baseline
from custodes.data.labels import BinIndex
from custodes.data.sketches import F64, I64

__all__ = ["Calibrated", "fit_model", "naive_bayes_logits", "row_reduce"]

FIT_ROWS = 300_000
CHUNK = 1 << 15
"""Rows per step of the row-wise passes: a chunk of a few classes stays in cache."""


@dataclass(frozen=True)
class Calibrated:
    proba: F64
    """P(class | row), rows x classes."""
    temperature: float
    bias: tuple[float, ...]


def row_reduce(z: F64, op: np.ufunc) -> F64:
    """``op.reduce(z, axis=1, keepdims=True)`` for a few columns, column by column.

    A reduction along a short axis runs numpy's loop once per row; a few whole-column
    passes give the same values (the maximum is exact, and numpy adds fewer than eight
    terms one after the other from zero, as here) at a fraction of the cost.
    """
    if z.shape[1] > 7:
        return np.asarray(op.reduce(z, axis=1, keepdims=True), np.float64)
    out = np.zeros((z.shape[0], 1)) if op is np.add else z[:, :1].copy()
    for j in range(0 if op is np.add else 1, z.shape[1]):
        op(out, z[:, j : j + 1], out=out)
    return out


def _softmax(z: F64) -> F64:
    """Row-wise softmax, in place in ``z`` (which it returns)."""
    z -= row_reduce(z, np.maximum)
    np.exp(z, out=z)
    z /= row_reduce(z, np.add)
    return z


def naive_bayes_logits(
    baseline: Baseline,
    bin_index: Mapping[str, BinIndex],
    source_code: I64 | None,
    sources: list[str],
) -> F64:
    """Unnormalised log P(class, features[, source]) per row (``bin_index``: per feature),
    less that of the first class: a softmax ignores a shift per row, so the first column
    is zero and only the other classes gather from each feature's table (half the work
    for a binary label)."""
    n = next(iter(bin_index.values())).size if bin_index else 0
    classes = baseline.classes
    total = np.asarray(
        [baseline.labels[c][baseline.roles.label or ""].rows for c in classes], float
    )
    prior = np.log((total + 1) / (total.sum() + len(classes)))
    tables: list[tuple[F64, BinIndex]] = []
    for name, idx in bin_index.items():
        fb = baseline.label_bins[name]
        c = np.asarray(fb.counts, np.float64) + 1.0
        tables.append((np.log(c / c.sum(axis=0, keepdims=True)), idx))
    if source_code is not None and baseline.source_label_bins:
        rows = np.ones((len(sources) + 1, len(classes)))
        for i, s in enumerate(sources):
            sb = baseline.source_label_bins.get(s)
            if sb:
                rows[i] += np.asarray(next(iter(sb.values())).counts, np.float64).sum(axis=0)
        tables.append((np.log(rows / rows.sum(axis=0, keepdims=True)), source_code))
    # one class at a time, gathering from each small table's column (as a difference to
    # the first class), a chunk of rows at a time: the chunk's sum and the gathered
    # values stay in cache, where whole columns were megabytes of fresh memory per feature
    out = np.zeros((n, len(classes)))
    col = np.empty(min(n, CHUNK))
    got = np.empty(min(n, CHUNK))
    for k in range(1, len(classes)):
        columns = [(np.ascontiguousarray(t[:, k] - t[:, 0]), idx) for t, idx in tables]
        for lo in range(0, n, CHUNK):
            hi = min(lo + CHUNK, n)
            c, g = col[: hi - lo], got[: hi - lo]
            c.fill(prior[k] - prior[0])
            for table, idx in columns:
                np.take(table, idx[lo:hi], out=g)
                c += g
            out[lo:hi, k] = c
    return out


NEWTON_STEPS = 50


def _newton(z0: F64, y: I64, theta: F64) -> F64:
    """Maximum likelihood of (temperature, class biases) by Newton's method.

    The logits are linear in the K parameters, so the negative log-likelihood is convex
    and its exact gradient and Hessian are a few passes over the rows: Newton with a
    backtracking line search converges in a handful of steps. (scipy's L-BFGS-B got
    the same optimum, but importing scipy.optimize cost more CPU than the fit itself.)
    """
    n, k = int(z0.shape[0]), int(z0.shape[1])
    rows = np.arange(n)
    p = np.empty_like(z0)

    def nll(t: F64) -> float:
        np.multiply(z0, t[0], out=p)
        p[:, 1:] += t[1:]
        _softmax(p)
        return -float(np.log(np.clip(p[rows, y], 1e-300, None)).sum()) / n

    zy_sum = float(z0[rows, y].sum())  # neither depends on theta
    class_rows = np.bincount(y, minlength=k)[1:]
    value = nll(theta)
    for _ in range(NEWTON_STEPS):
        # p holds the probabilities at theta; d/dtheta of the logits is (z, e_1..e_k-1)
        pz = p * z0
        m = row_reduce(pz, np.add)[:, 0]  # E_p[z] per row
        grad = np.empty(k)
        grad[0] = float(m.sum()) - zy_sum
        grad[1:] = p[:, 1:].sum(axis=0) - class_rows
        hess = np.empty((k, k))
        pz *= z0
        hess[0, 0] = float((row_reduce(pz, np.add)[:, 0] - m * m).sum())
        cross = (p[:, 1:] * (z0[:, 1:] - m[:, None])).sum(axis=0)
        hess[0, 1:] = hess[1:, 0] = cross
        # pairwise sums, not ``pb.T @ pb``: a matrix product wakes OpenBLAS's thread
        # pool, whose workers then spin on the other core while the check needs it
        pb = p[:, 1:]
        for i in range(k - 1):
            for j in range(i, k - 1):
                hess[1 + i, 1 + j] = hess[1 + j, 1 + i] = -float((pb[:, i] * pb[:, j]).sum())
        hess[1:, 1:] += np.diag(pb.sum(axis=0))
        grad /= n
        hess /= n
        if float(np.abs(grad).max()) < 1e-9:
            break
        try:
            step = np.linalg.solve(hess + 1e-12 * np.eye(k), grad)
        except np.linalg.LinAlgError:
            step = grad
        t = 1.0
        while t > 1e-6:
            candidate = theta - t * step
            new = nll(candidate)
            if new <= value:
                break
            t /= 2
        else:
            break  # no step lowers the loss: theta is the optimum to rounding
        theta, gain, value = candidate, value - new, new
        if gain < 1e-13:
            break
    return theta


def fit_model(logits: F64, y: I64, *, overwrite: bool = False) -> Calibrated:
    """Temperature and class biases by maximum likelihood on the rows with a label.

    ``overwrite``: the probabilities take the logits' place (a million-row check has no
    further use for them, and saves 16 MB of fresh memory per class pair).
    """
    k = logits.shape[1]
    known = np.flatnonzero(y >= 0)
    if known.size > FIT_ROWS:
        known = known[:: known.size // FIT_ROWS + 1]
    z0 = logits[known]
    z0 -= row_reduce(z0, np.maximum)
    yk = y[known]
    theta = np.concatenate([[1.0], np.zeros(k - 1)])
    if yk.size >= 50 and k > 1:
        theta = _newton(z0, yk, theta)
    a, b = float(theta[0]), np.concatenate([[0.0], theta[1:]])
    out = logits if overwrite else np.empty_like(logits)
    for lo in range(0, out.shape[0], CHUNK):  # in cache, with no whole-column temporaries
        part = out[lo : lo + CHUNK]
        np.multiply(logits[lo : lo + CHUNK], a, out=part)
        part += b
        _softmax(part)
    return Calibrated(out, a, tuple(float(v) for v in b))
