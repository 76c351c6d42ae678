"""Has P(label | features) moved? Per source, per feature bin, per two-feature group.

A careful poisoner keeps every marginal (and even the label rate) where it was and
changes only which rows carry which label. So each row's label is compared with the
calibrated baseline model (:mod:`custodes.data.check.model`): in a group of rows the
observed count of a class against the sum of its predicted probabilities. Benign drift
moves the features and the predictions with them, so the residual stays near zero; a
flipped sub-population does not.

Two tests, both needing an effect size *and* a z beyond multiple-testing noise:

* per source, the likelihood score of its labels (mean surprisal above what the model
  expects, in nats per row), which sees symmetric flips that leave the rate unchanged;
* per (source, feature bin), the excess of each class, confirmed against the
  reference's own rate in that bin. Groups are taken greedily by z and *explained away*
  (a group whose excess disappears once the rows already flagged are removed is the
  same finding seen through a correlated feature), and each is refined by the second
  feature whose bins concentrate the excess, which is what turns a 'region = south'
  alarm into 'south and aged 25-34' and lifts the precision of the flagged rows.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from custodes.data.check.drift import Binned
from custodes.data.check.model import row_reduce
from custodes.data.check.result import Signal
from custodes.data.sketches import F64, I64

__all__ = ["Z_GROUP", "GroupFinding", "bin_tests", "source_scores"]

Z_GROUP = 5.0
"""z beyond which a group's excess is not noise (Bonferroni over a few thousand groups)."""
MIN_EFFECT = 0.03
"""Smallest change of a class rate in a group (absolute) worth calling a label shift."""
MIN_ROWS = 30
SOURCE_EFFECT = 0.04
"""Mean surprisal excess (nats per row) from which a source's labels disagree. The naive
Bayes model's own misfit leaves up to ~0.025 on a clean source (measured at 1M rows), so
the bar sits above that; 2% random flips give ~0.05."""
MIN_ODDS_RATIO = 2.0
"""Observed versus predicted odds of the class in a group: calibration error of the model
under benign drift stays below ~1.4, a flipped sub-population is at 4 and more."""
MAX_GROUPS = 8
MIN_EXCESS = 10.0
"""Rows of excess below which a group is too small to act on (and to test by z)."""


def _lr_z(o: F64, e: F64) -> F64:
    """Signed root of the Poisson likelihood ratio: honest tails when few rows are expected."""
    o_, e_ = np.maximum(o, 0.0), np.maximum(e, 1e-9)
    with np.errstate(divide="ignore", invalid="ignore"):
        term = np.where(o_ > 0, o_ * np.log(o_ / e_), 0.0) - (o_ - e_)
    return np.asarray(np.sign(o_ - e_) * np.sqrt(np.maximum(2 * term, 0.0)), np.float64)


@dataclass(frozen=True)
class GroupFinding:
    signal: Signal
    rows: I64
    """Row indices to flag (the rows carrying the excess class in the group)."""


CHUNK = 1 << 16
"""Rows scored at a time: a chunk's temporaries stay in cache and are reused, where
whole-column ones would be a hundred megabytes of fresh memory per million rows."""


def source_scores(proba: F64, y: I64, source_code: I64, nsources: int) -> tuple[F64, F64]:
    """Per source: z and mean excess surprisal of the labels under the model."""
    dev = np.zeros(nsources)
    v = np.zeros(nsources)
    cnt = np.zeros(nsources)
    for lo in range(0, y.size, CHUNK):
        hi = lo + CHUNK
        yc, sc = y[lo:hi], source_code[lo:hi]
        p = np.clip(proba[lo:hi], 1e-12, 1.0)
        logp = np.log(p)
        ell = np.take_along_axis(logp, np.maximum(yc, 0)[:, None], axis=1)[:, 0]
        p *= logp
        expect = row_reduce(p, np.add)[:, 0]
        p *= logp
        var = row_reduce(p, np.add)[:, 0] - expect**2
        w = (yc >= 0).astype(np.float64)
        dev += np.bincount(sc, weights=(expect - ell) * w, minlength=nsources)
        v += np.bincount(sc, weights=var * w, minlength=nsources)
        cnt += np.bincount(sc, weights=w, minlength=nsources)
    z = dev / np.sqrt(np.maximum(v, 1e-12))
    return z, dev / np.maximum(cnt, 1.0)


def _target_classes(nclass: int, prior: F64) -> list[int]:
    if nclass == 2:
        return [int(np.argmin(prior))]
    return list(range(nclass))


def bin_tests(
    binned: dict[str, Binned],
    proba: F64,
    y: I64,
    source_code: I64,
    sources: list[str],
    classes: list[str],
    source_ref_bins: dict[str, dict[str, list[list[float]]]],
    on_group: Callable[[], None] | None = None,
) -> list[GroupFinding]:
    """Label-shift groups, strongest first, each explained away from the next.

    ``on_group`` is called as soon as a group is certain to be reported (the caller
    starts work that only a poisoning signal needs); it may be called more than once.
    """
    n, nclass = proba.shape
    known = y >= 0
    prior = proba.mean(axis=0)
    feats = [b for b in binned.values() if b.bins is not None]
    taken = np.zeros(n, bool)
    out: list[GroupFinding] = []
    nsrc = len(sources) + 1
    # Cells are (source, bin), source-major, each bin block ``stride`` wide whatever the
    # feature's own bin count, so one row code serves every feature: the source's offset
    # plus the row's state (0 not live, 1 live with another class, 2 live with this one).
    # A cell sums exactly the rows of its source in row order, so once a group takes rows
    # (all from one source) only that source's block is recounted, on its rows alone;
    # the other blocks keep their sums bit for bit.
    stride = max((b.reference.size for b in feats), default=1)
    counts: dict[tuple[int, int], tuple[F64, F64, F64]] = {}
    dirty: int | None = None
    key = np.empty(n, np.int64)
    for _ in range(MAX_GROUPS):
        best: tuple[float, int, int, Binned, int, float] | None = None
        live = known & ~taken
        if dirty is not None:
            rs = np.flatnonzero(source_code == dirty)
            live_s, y_s = live[rs], y[rs]
        for k in _target_classes(nclass, prior):
            if dirty is None:
                state = source_code * (3 * stride)
                state += live
                state += (y == k) & live
                pk = np.ascontiguousarray(proba[:, k])
            else:
                state = live_s.astype(np.int64)
                state += (y_s == k) & live_s
                pk = np.ascontiguousarray(proba[rs, k])
            for fi, b in enumerate(feats):
                nb = b.reference.size
                if dirty is None:
                    # the row code, in one reused buffer rather than a row array per feature
                    np.multiply(b.index, 3, out=key, dtype=np.int64)
                    key += state
                    o, e, m = _cell_sums(key, pk, nsrc, stride, nb)
                else:
                    o, e, m = (c.copy() for c in counts[fi, k])
                    block = np.multiply(b.index[rs], 3, dtype=np.int64)
                    block += state
                    lo, hi = dirty * nb, (dirty + 1) * nb
                    o[lo:hi], e[lo:hi], m[lo:hi] = _cell_sums(block, pk, 1, stride, nb)
                counts[fi, k] = (o, e, m)
                z = _lr_z(o, e)
                eff = (o - e) / np.maximum(m, 1.0)
                po = np.clip(o / np.maximum(m, 1.0), 1e-6, 1 - 1e-6)
                pe = np.clip(e / np.maximum(m, 1.0), 1e-6, 1 - 1e-6)
                lor = np.abs(np.log(po / (1 - po)) - np.log(pe / (1 - pe)))
                ok = (m >= MIN_ROWS) & (np.abs(eff) >= MIN_EFFECT) & (z >= Z_GROUP)
                ok &= np.abs(o - e) >= MIN_EXCESS
                ok &= lor >= np.log(MIN_ODDS_RATIO)
                for cell in np.flatnonzero(ok):
                    s, bin_ = divmod(int(cell), nb)
                    ref = _ref_rate(source_ref_bins, sources, s, b.name, bin_, k)
                    rate = o[cell] / max(m[cell], 1.0)
                    if ref is not None and abs(rate - ref) < MIN_EFFECT:
                        continue  # the model's residual, not a change from the reference
                    if best is None and on_group is not None:
                        on_group()  # this round will report a group, whichever is best
                    if best is None or z[cell] > best[0]:
                        best = (float(z[cell]), s, bin_, b, k, float(eff[cell]))
        if best is None:
            break
        z0, s, bin_, b, k, eff_best = best
        base = live & (source_code == s) & (b.index == bin_)
        group, label2 = _refine(base, binned, b.name, proba[:, k], (y == k) & live, z0)
        rows = np.flatnonzero(group & (y == k))
        taken |= base
        dirty = s
        n_obs = float(rows.size)
        n_exp = float(proba[group, k].sum())
        precision = (n_obs - n_exp) / n_obs if n_obs else 0.0
        src = sources[s] if s < len(sources) else None
        name = f"{b.name} in {b.labels[bin_]}" + (f" and {label2}" if label2 else "")
        msg = (
            f"label {classes[k]!r} is {n_obs / max(group.sum(), 1):.1%} of {int(group.sum()):,} rows "
            f"where {name}"
            + (f" from {src}" if src else "")
            + f"; the baseline model expects {n_exp / max(group.sum(), 1):.1%}"
        )
        sig = Signal(
            "label_shift",
            src,
            name,
            msg,
            int(group.sum()),
            round(z0, 2),
            round(eff_best, 4),
            {
                "class": classes[k],
                "observed": int(n_obs),
                "expected": round(n_exp, 1),
                "excess_share": round(precision, 3),
            },
        )
        flagged = rows if precision >= 0.5 else np.zeros(0, np.int64)
        out.append(GroupFinding(sig, flagged))
    return out


def _cell_sums(key: I64, pk: F64, nsrc: int, stride: int, nb: int) -> tuple[F64, F64, F64]:
    """Observed and expected rows of the class, and live rows, per (source, bin) cell.

    One count and one weighted count of the row codes (``(source * stride + bin) * 3 +
    state``) give all three, where three weighted counts did.
    """
    size = nsrc * stride * 3
    c = np.bincount(key, minlength=size).reshape(nsrc, stride, 3)[:, :nb]
    w = np.bincount(key, weights=pk, minlength=size).reshape(nsrc, stride, 3)[:, :nb]
    o = c[..., 2].astype(np.float64).ravel()
    m = (c[..., 1] + c[..., 2]).astype(np.float64).ravel()
    e = np.asarray(w[..., 1] + w[..., 2], np.float64).ravel()
    return o, e, m


def _ref_rate(
    ref_bins: dict[str, dict[str, list[list[float]]]],
    sources: list[str],
    s: int,
    name: str,
    bin_: int,
    k: int,
) -> float | None:
    if s >= len(sources):
        return None
    rates = ref_bins.get(sources[s], {}).get(name)
    if rates is None or bin_ >= len(rates):
        return None
    r = rates[bin_][k]
    return None if math.isnan(r) else r


def _refine(
    base: np.ndarray, binned: dict[str, Binned], first: str, pk: F64, obs: np.ndarray, z0: float
) -> tuple[np.ndarray, str | None]:
    """Narrow a group by the second feature whose bins hold its excess (if any does)."""
    idx = np.flatnonzero(base)
    if idx.size == 0:
        return base, None
    best_z, best_mask, best_label = z0, base, None
    o_all, p_all = obs[idx].astype(np.float64), pk[idx]
    for b in binned.values():
        if b.name == first or b.bins is None:
            continue
        nb = b.reference.size
        bi = b.index[idx]
        o = np.bincount(bi, weights=o_all, minlength=nb)
        e = np.bincount(bi, weights=p_all, minlength=nb)
        v = np.bincount(bi, weights=p_all * (1 - p_all), minlength=nb)
        zb = (o - e) / np.sqrt(np.maximum(v, 1e-9))
        sel = zb >= 2.0
        if not sel.any():
            continue
        zs = (o[sel] - e[sel]).sum() / math.sqrt(max(v[sel].sum(), 1e-9))
        kept = (o[sel] - e[sel]).sum() / max((o - e).sum(), 1e-9)
        if zs > best_z and kept >= 0.8:
            best_z = float(zs)
            mask = np.zeros_like(base)
            mask[idx[sel[bi]]] = True
            best_mask = mask
            picked = np.flatnonzero(sel)
            chosen = [b.labels[i] for i in picked]
            contiguous = int(picked[-1] - picked[0]) + 1 == picked.size
            best_label = f"{b.name} in " + _join_bins(chosen, contiguous)
    return best_mask, best_label


def _join_bins(names: list[str], contiguous: bool) -> str:
    """Adjacent intervals read as one, ``[24.66, 34.64)``; anything else is listed."""
    if (
        contiguous
        and len(names) > 1
        and all(n.startswith("[") and n.endswith(")") for n in (names[0], names[-1]))
    ):
        return names[0].split(",")[0] + "," + names[-1].split(",", 1)[1]
    return " or ".join(names)
