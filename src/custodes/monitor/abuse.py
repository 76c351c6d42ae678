"""Threats through use: per-client signals of model extraction and inference attacks.

Volume alone is not extraction: a nightly batch job scores more patients than any
attacker. What gives extraction away is the *shape* of a client's queries, each compared
with what the same number of queries drawn from the reference (validation) inputs would
look like, so that a client is flagged for being unlike ordinary traffic, not for being big:

* ``boundary_seeking``: share of queries near the decision boundary (top minus runner-up
  probability below 0.1) far above the reference share (OWASP AI Exchange MODELEXFILTRATION);
* ``grid_sweep``: consecutive queries differing in only one or two features, the others
  held fixed while one is swept (model extraction and model inversion);
* ``lattice``: features taking far fewer distinct values than ordinary queries of that
  many would (a grid or lattice over the input space);
* ``near_duplicates``: share of queries repeated almost identically (inputs quantized to 1%
  of the reference spread), far above chance (membership inference);
* ``out_of_distribution``: share of queries outside the reference's 0.5-99.5% range.

A signal fires only when both its z-score (>= :data:`Z_MIN`, so that chance across
hundreds of clients does not fire it) and its effect size clear a threshold (so that a
client with a million ordinary queries does not fire it on a tiny deviation). Per-client
state is summaries (counts, the last query's quantized inputs, hash samples of values), not
the queries themselves.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from custodes.data.sketches import F64, I64, U64, hash_strings, mix64
from custodes.monitor.records import RecordBlock, RecordSchema
from custodes.monitor.windows import BOUNDARY_MARGIN

__all__ = [
    "EXTRACTION",
    "INVERSION",
    "MIN_QUERIES",
    "Z_MIN",
    "ClientReport",
    "ClientTracker",
    "ReferenceStats",
    "UseSignal",
]

EXTRACTION = "MODELEXFILTRATION"
"""OWASP AI Exchange id of model extraction (theft through use) in the custodes catalog."""
INVERSION = "MODELINVERSIONANDMEMBERSHIP"
MIN_QUERIES = 50
"""Fewer queries than this say too little about a client to flag it."""
Z_MIN = 5.0
EFFECT = {
    "boundary_seeking": 0.15,
    "grid_sweep": 0.2,
    "near_duplicates": 0.2,
    "out_of_distribution": 0.2,
}
"""Minimum excess share over the reference for each share signal."""
LATTICE_RATIO = 0.5
"""A feature is on a grid when its distinct values are at most this share of the expected."""
LATTICE_MIN = 2
"""Lattice fires when this many features, and a third of those assessable, are on a grid."""
OOD_QUANTILES = (0.005, 0.995)
QUANT = 0.01
"""Near-identical: inputs equal after rounding to this fraction of the reference spread."""
KEY_CAP = 2_000_000
"""Hash-sampled keys kept per feature before the sampling rate halves (bounds memory)."""
_NAN_KEY = np.int64(-(2**62))
HOURS_PARTS = 256
"""Per-block parts kept before they are folded into one (bounds a stream of small blocks)."""


@dataclass(frozen=True)
class UseSignal:
    """One signal that fired for a client, with the numbers behind it."""

    kind: str
    message: str
    threats: tuple[str, ...]
    evidence: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ClientReport:
    """One client: its volume and rate, and the signals that fired (none: not suspected)."""

    client_id: str
    queries: int
    share: float
    """Of all queries in the batch."""
    rate_per_hour: float
    peak_per_hour: int
    first_seen: float
    last_seen: float
    first_line: int
    coverage: float = 0.0
    """Mean share of the reference deciles of each numeric feature the client's queries hit."""
    signals: tuple[UseSignal, ...] = ()
    suggested_rate_limit_per_hour: int | None = None

    @property
    def suspected(self) -> bool:
        return bool(self.signals)


def _quantize(block: RecordBlock, schema: RecordSchema, step: F64) -> tuple[I64, U64]:
    """(rows x features) quantized codes, and the raw value bits for distinct counting."""
    n = len(block)
    q = np.empty((n, len(schema.features)), np.int64)
    bits = np.empty((n, len(schema.features)), np.uint64)
    for j, (name, t) in enumerate(schema.features):
        arr = block.features.column(name)
        if pa.types.is_floating(t):
            x = np.asarray(arr.to_numpy(zero_copy_only=False), np.float64)
            with np.errstate(invalid="ignore"):
                k = np.floor(x / step[j])
            q[:, j] = np.where(np.isnan(k), _NAN_KEY, k.astype(np.int64, copy=False))
            bits[:, j] = np.where(np.isnan(x), 0.0, x).view(np.uint64)
        else:
            h = hash_strings(pc.cast(arr, pa.string()))
            q[:, j] = h.view(np.int64)
            bits[:, j] = h
    return q, bits


@dataclass
class ReferenceStats:
    """What ordinary queries look like, from the reference inputs (the null of each signal)."""

    schema: RecordSchema
    rows: int
    step: F64
    lo: F64
    hi: F64
    categories: dict[str, set[str]]
    deciles: list[F64 | None]
    """Inner decile edges of each numeric feature (None for the others): input-space cells."""
    boundary_share: float
    ood_share: float
    sweep_share: float
    pair_collision: float
    value_counts: list[tuple[I64, I64, int]]
    """Per feature: (distinct count values c, how many values have count c, m)."""

    @classmethod
    def build(cls, blocks: list[RecordBlock], schema: RecordSchema) -> ReferenceStats:
        """From the reference records (all of them: validation sets are modest)."""
        nf = len(schema.features)
        cols: list[Any] = []
        for name, _ in schema.features:
            cols.append(pa.chunked_array([b.features.column(name) for b in blocks]))
        rows = sum(len(b) for b in blocks)
        step = np.ones(nf)
        lo, hi = np.full(nf, -np.inf), np.full(nf, np.inf)
        cats: dict[str, set[str]] = {}
        deciles: list[F64 | None] = [None] * nf
        vc: list[tuple[I64, I64, int]] = []
        for j, (name, t) in enumerate(schema.features):
            arr = cols[j]
            if pa.types.is_floating(t):
                x = np.asarray(arr.to_numpy(), np.float64)
                x = x[~np.isnan(x)]
                if x.size:
                    q05, q95 = np.quantile(x, [0.05, 0.95])
                    spread = float(q95 - q05) or float(x.max() - x.min()) or 1.0
                    step[j] = QUANT * spread
                    lo[j], hi[j] = np.quantile(x, OOD_QUANTILES)
                    deciles[j] = np.unique(np.quantile(x, np.linspace(0.1, 0.9, 9)))
                _, counts = np.unique(x, return_counts=True)
            else:
                s = pc.drop_null(pc.cast(arr, pa.string()))
                cats[name] = set(pc.unique(s).to_pylist())
                counts = np.asarray(pc.value_counts(s).field("counts").to_numpy(), np.int64)
            c, k = np.unique(counts, return_counts=True)
            vc.append((c.astype(np.int64), k.astype(np.int64), int(counts.sum())))
        probe = cls(schema, rows, step, lo, hi, cats, deciles, 0.0, 0.0, 0.0, 0.0, vc)
        q_parts, ood, margins = [], 0, []
        for b in blocks:
            q, _ = _quantize(b, schema, step)
            q_parts.append(q)
            ood += int(probe.ood_mask(b).sum())
            margins.append(b.margin)
        q = np.concatenate(q_parts) if q_parts else np.zeros((0, nf), np.int64)
        margin = np.concatenate(margins) if margins else np.zeros(0)
        changed = (q[1:] != q[:-1]).sum(axis=1)
        few = _few(changed, nf)
        rh = _row_hash(q)
        _, dup = np.unique(rh, return_counts=True)
        m = max(rows, 2)
        probe.boundary_share = float(np.mean(np.abs(margin) < BOUNDARY_MARGIN)) if rows else 0.0
        probe.ood_share = ood / max(rows, 1)
        probe.sweep_share = float(few.mean()) if few.size else 0.0
        probe.pair_collision = float((dup * (dup - 1)).sum()) / (m * (m - 1))
        return probe

    @cached_property
    def _known(self) -> dict[str, pa.Array]:
        """The reference categories as Arrow value sets, built once (ood_mask runs per block)."""
        return {name: pa.array(sorted(v), pa.string()) for name, v in self.categories.items()}

    def ood_mask(self, block: RecordBlock) -> Any:
        """Rows with any feature outside the reference range (or an unseen category)."""
        out = np.zeros(len(block), bool)
        for j, (name, t) in enumerate(self.schema.features):
            arr = block.features.column(name)
            if pa.types.is_floating(t):
                x = np.asarray(arr.to_numpy(zero_copy_only=False), np.float64)
                with np.errstate(invalid="ignore"):
                    out |= (x < self.lo[j]) | (x > self.hi[j])
            elif name in self.categories:
                seen = pc.is_in(pc.cast(arr, pa.string()), value_set=self._known[name])
                valid = np.asarray(pc.is_valid(arr).to_numpy(zero_copy_only=False), bool)
                out |= valid & ~np.asarray(seen.to_numpy(zero_copy_only=False), bool)
        return out

    def expected_distinct(self, j: int, n: I64) -> F64:
        """Expected distinct values of feature ``j`` among ``n`` ordinary queries."""
        c, k, m = self.value_counts[j]
        if m == 0:
            return np.zeros(n.size)
        p = c.astype(np.float64) / m
        nn = n.astype(np.float64)[:, None]
        out: F64 = (k[None, :] * -np.expm1(nn * np.log1p(-np.minimum(p, 1 - 1e-12))[None, :])).sum(
            axis=1
        )
        return out


def _few(changed: I64, nf: int) -> Any:
    """Pairs where one feature (two, with eight or more features) moved and the rest held."""
    most = 2 if nf >= 8 else 1
    return (changed >= 1) & (changed <= most)


def _row_hash(q: I64) -> U64:
    h = np.zeros(q.shape[0], np.uint64)
    for j in range(q.shape[1]):
        h = mix64(h ^ q[:, j].view(np.uint64))
    return h


class ClientTracker:
    """Streams blocks of records into per-client summaries, then judges every client."""

    def __init__(self, reference: ReferenceStats, key_cap: int = KEY_CAP) -> None:
        self.ref = reference
        self.key_cap = key_cap
        """Hash-sampled keys kept per feature: a long-running monitor passes a smaller cap."""
        self.schema = reference.schema
        self.codes: dict[str, int] = {}
        nf = len(self.schema.features)
        self.nf = nf
        self._n = np.zeros(0, np.int64)
        self._boundary = np.zeros(0, np.int64)
        self._ood = np.zeros(0, np.int64)
        self._pairs = np.zeros(0, np.int64)
        self._few = np.zeros(0, np.int64)
        self._first = np.zeros(0)
        self._last = np.zeros(0)
        self._first_line = np.zeros(0, np.int64)
        self._last_q = np.zeros((0, nf), np.int64)
        self._has_last = np.zeros(0, bool)
        self._cells = np.zeros((0, nf), np.uint16)
        self._hours: list[tuple[I64, I64]] = []
        self._distinct: list[list[U64]] = [[] for _ in range(nf)]
        self._distinct_level = [0] * nf
        self._distinct_kept = [0] * nf
        self._rows: list[U64] = []
        self._rows_level = 0
        self._rows_kept = 0
        self._sampled_rows: list[tuple[int, I64]] = []

    # ------------------------------------------------------------------ streaming

    def _grow(self, size: int) -> None:
        old = self._n.size
        if size <= old:
            return
        extra = size - old

        def pad(a: Any, fill: Any) -> Any:
            shape = (extra, *a.shape[1:])
            return np.concatenate([a, np.full(shape, fill, dtype=a.dtype)])

        self._n, self._boundary, self._ood = (
            pad(self._n, 0),
            pad(self._boundary, 0),
            pad(self._ood, 0),
        )
        self._pairs, self._few = pad(self._pairs, 0), pad(self._few, 0)
        self._first, self._last = pad(self._first, np.inf), pad(self._last, -np.inf)
        self._first_line = pad(self._first_line, 0)
        self._last_q, self._has_last = pad(self._last_q, 0), pad(self._has_last, False)
        self._cells = pad(self._cells, 0)

    def _client_codes(self, client: pa.Array) -> I64:
        enc = pc.dictionary_encode(client)
        names = enc.dictionary.to_pylist()
        mapping = np.empty(len(names), np.int64)
        for i, name in enumerate(names):
            code = self.codes.get(name)
            if code is None:
                code = self.codes[name] = len(self.codes)
            mapping[i] = code
        self._grow(len(self.codes))
        idx = np.asarray(enc.indices.to_numpy(zero_copy_only=False), np.int64)
        out: I64 = mapping[idx]
        return out

    def add(self, block: RecordBlock) -> None:
        """Fold one block of records into the per-client summaries."""
        n = len(block)
        if n == 0:
            return
        codes = self._client_codes(block.client)
        size = len(self.codes)
        self._n += np.bincount(codes, minlength=size)
        near = np.abs(block.margin) < BOUNDARY_MARGIN
        self._boundary += np.bincount(codes, weights=near, minlength=size).astype(np.int64)
        ood = self.ref.ood_mask(block)
        self._ood += np.bincount(codes, weights=ood, minlength=size).astype(np.int64)
        np.minimum.at(self._first, codes, block.ts)
        np.maximum.at(self._last, codes, block.ts)
        new = self._first_line == 0
        firsts = np.full(size, np.iinfo(np.int64).max)
        np.minimum.at(firsts, codes, block.lines)
        self._first_line = np.where(
            new & (firsts < np.iinfo(np.int64).max), firsts, self._first_line
        )
        hour = np.floor(block.ts / 3600).astype(np.int64)
        hk, hc = np.unique((codes << 24) | (hour & 0xFFFFFF), return_counts=True)
        self._hours.append((hk, hc.astype(np.int64)))
        if len(self._hours) > HOURS_PARTS:  # a stream of small blocks: fold the parts
            allk = np.concatenate([h[0] for h in self._hours])
            allc = np.concatenate([h[1] for h in self._hours])
            uk, inv = np.unique(allk, return_inverse=True)
            self._hours = [(uk, np.bincount(inv, weights=allc).astype(np.int64))]

        q, bits = _quantize(block, self.schema, self.ref.step)
        self._sweeps(codes, q)
        self._add_distinct(codes, bits)
        self._add_rows(codes, q)
        self._add_cells(codes, block)

    def _add_cells(self, codes: I64, block: RecordBlock) -> None:
        """Which reference deciles of each numeric feature each client has queried."""
        for j, edges in enumerate(self.ref.deciles):
            if edges is None:
                continue
            name = self.schema.features[j][0]
            x = np.asarray(block.features.column(name).to_numpy(zero_copy_only=False), np.float64)
            ok = ~np.isnan(x)
            cell = np.searchsorted(edges, x[ok], side="right").astype(np.uint16)
            np.bitwise_or.at(self._cells[:, j], codes[ok], np.left_shift(np.uint16(1), cell))

    def _sweeps(self, codes: I64, q: I64) -> None:
        order = np.argsort(codes, kind="stable")
        c, qs = codes[order], q[order]
        start = np.ones(c.size, bool)
        start[1:] = c[1:] != c[:-1]
        prev = np.empty_like(qs)
        prev[1:] = qs[:-1]
        prev[start] = self._last_q[c[start]]
        valid = ~start | self._has_last[c]
        changed = (qs != prev).sum(axis=1)
        few = _few(changed, self.nf) & valid
        size = len(self.codes)
        self._pairs += np.bincount(c, weights=valid, minlength=size).astype(np.int64)
        self._few += np.bincount(c, weights=few, minlength=size).astype(np.int64)
        end = np.ones(c.size, bool)
        end[:-1] = c[1:] != c[:-1]
        self._last_q[c[end]] = qs[end]
        self._has_last[c[end]] = True

    def _add_distinct(self, codes: I64, bits: U64) -> None:
        salt = mix64(codes.astype(np.uint64))
        for j in range(self.nf):
            hv = mix64(bits[:, j] ^ salt ^ np.uint64(j + 1))
            keep = hv < _threshold(self._distinct_level[j])
            key = (codes[keep].astype(np.uint64) << np.uint64(40)) | (hv[keep] >> np.uint64(24))
            key = np.unique(key)
            self._distinct[j].append(key)
            self._distinct_kept[j] += key.size
            if self._distinct_kept[j] > self.key_cap or len(self._distinct[j]) > HOURS_PARTS:
                self._distinct[j], self._distinct_level[j] = _compact(
                    self._distinct[j], self._distinct_level[j], self.key_cap
                )
                self._distinct_kept[j] = int(self._distinct[j][0].size)

    def _add_rows(self, codes: I64, q: I64) -> None:
        hv = mix64(_row_hash(q) ^ mix64(codes.astype(np.uint64)))
        keep = hv < _threshold(self._rows_level)
        key = (codes[keep].astype(np.uint64) << np.uint64(40)) | (hv[keep] >> np.uint64(24))
        self._rows.append(key)
        self._rows_kept += key.size
        if len(self._rows) > HOURS_PARTS:
            self._rows = [np.concatenate(self._rows)]
        if self._rows_kept > 4 * self.key_cap:
            allk = np.concatenate(self._rows)
            while allk.size > 2 * self.key_cap:
                self._rows_level += 1
                allk = allk[
                    (allk & np.uint64((1 << 40) - 1))
                    < np.uint64(_threshold(self._rows_level) >> np.uint64(24))
                ]
            self._rows, self._rows_kept = [allk], int(allk.size)

    # ------------------------------------------------------------------- judging

    def reports(self) -> list[ClientReport]:
        """Every client, busiest first, with the signals that fired for it."""
        size = len(self.codes)
        names = [""] * size
        for name, code in self.codes.items():
            names[code] = name
        n = self._n
        total = int(n.sum())
        peak = np.zeros(size, np.int64)
        if self._hours:
            hk = np.concatenate([h[0] for h in self._hours])
            hc = np.concatenate([h[1] for h in self._hours])
            uk, inv = np.unique(hk, return_inverse=True)
            per = np.bincount(inv, weights=hc).astype(np.int64)
            np.maximum.at(peak, (uk >> 24).astype(np.int64), per)
        hours = np.maximum((self._last - self._first) / 3600.0, 1.0)
        signals = self._signals(size)
        numeric = [j for j, e in enumerate(self.ref.deciles) if e is not None]
        cells = [len(e) + 1 for e in self.ref.deciles if e is not None]
        hit = np.zeros(size)
        for j, c in zip(numeric, cells, strict=True):
            bits = self._cells[:, j]
            hit += np.array([int(v).bit_count() for v in bits.tolist()]) / c
        coverage = [round(float(v) / max(len(numeric), 1), 3) for v in hit]
        out = [
            ClientReport(
                names[code],
                int(n[code]),
                round(float(n[code]) / max(total, 1), 6),
                round(float(n[code] / hours[code]), 2),
                int(peak[code]),
                float(self._first[code]),
                float(self._last[code]),
                int(self._first_line[code]),
                coverage[code],
                tuple(signals[code]),
            )
            for code in range(size)
        ]
        limit = suggest_rate_limit([r.peak_per_hour for r in out if not r.suspected])
        out = [_with_limit(r, limit) if r.suspected else r for r in out]
        return sorted(out, key=lambda r: (-r.queries, r.client_id))

    def _signals(self, size: int) -> list[list[UseSignal]]:
        ref = self.ref
        out: list[list[UseSignal]] = [[] for _ in range(size)]
        n = self._n
        floor = 1.0 / max(ref.rows, 1)
        share_tests = [
            (
                "boundary_seeking",
                self._boundary,
                n,
                ref.boundary_share,
                (EXTRACTION,),
                "queries near the decision boundary",
            ),
            (
                "grid_sweep",
                self._few,
                self._pairs,
                ref.sweep_share,
                (EXTRACTION, INVERSION),
                "consecutive queries changing one feature while the others stay fixed",
            ),
            (
                "out_of_distribution",
                self._ood,
                n,
                ref.ood_share,
                (EXTRACTION,),
                "queries outside the reference input range",
            ),
        ]
        for kind, hits, trials, p0, threats, what in share_tests:
            for code in range(size):
                sig = _share_signal(
                    kind, int(hits[code]), int(trials[code]), max(p0, floor), threats, what
                )
                if sig is not None:
                    out[code].append(sig)
        for code, sig in self._lattice(size):
            out[code].append(sig)
        for code, sig in self._duplicates(size, floor):
            out[code].append(sig)
        return out

    def _lattice(self, size: int) -> list[tuple[int, UseSignal]]:
        n = self._n
        flat: list[list[tuple[str, int, float]]] = [[] for _ in range(size)]
        assessable = np.zeros(size, np.int64)
        for j, (name, _) in enumerate(self.schema.features):
            keys = (
                np.unique(np.concatenate(self._distinct[j]))
                if self._distinct[j]
                else np.zeros(0, np.uint64)
            )
            level = self._distinct_level[j]
            d = np.bincount((keys >> np.uint64(40)).astype(np.int64), minlength=size)[:size]
            e = self.ref.expected_distinct(j, n) / (1 << level)
            ok = (e >= 10) & (n >= MIN_QUERIES)
            assessable += ok
            z = (e - d) / np.sqrt(np.maximum(e, 1e-9))
            hit = ok & (d <= LATTICE_RATIO * e) & (z >= Z_MIN)
            for code in np.flatnonzero(hit).tolist():
                flat[code].append(
                    (name, int(d[code]) << level, round(float(e[code]) * (1 << level), 1))
                )
        out: list[tuple[int, UseSignal]] = []
        for code in range(size):
            k = len(flat[code])
            if k >= LATTICE_MIN and 3 * k >= assessable[code]:
                feats = [f for f, _, _ in flat[code]]
                out.append(
                    (
                        code,
                        UseSignal(
                            "lattice",
                            f"{k} of {int(assessable[code])} features take far fewer distinct "
                            f"values than {int(n[code])} ordinary queries would ({', '.join(feats[:4])}"
                            f"{', ...' if k > 4 else ''}): queries on a grid",
                            (EXTRACTION,),
                            {
                                "queries": int(n[code]),
                                "features": {
                                    f: {"distinct": dd, "expected": ee} for f, dd, ee in flat[code]
                                },
                                "assessable_features": int(assessable[code]),
                            },
                        ),
                    )
                )
        return out

    def _duplicates(self, size: int, floor: float) -> list[tuple[int, UseSignal]]:
        if not self._rows:
            return []
        keys = np.concatenate(self._rows)
        uk, counts = np.unique(keys, return_counts=True)
        client_of = (uk >> np.uint64(40)).astype(np.int64)
        sampled = np.bincount(client_of, weights=counts, minlength=size)[:size]
        dup = np.bincount(client_of, weights=np.where(counts > 1, counts, 0), minlength=size)[:size]
        out = []
        for code in range(size):
            s, nq = int(sampled[code]), int(self._n[code])
            if s < 30:
                continue
            p0 = max(1.0 - (1.0 - self.ref.pair_collision) ** max(nq - 1, 0), floor)
            sig = _share_signal(
                "near_duplicates",
                int(dup[code]),
                s,
                min(p0, 0.999),
                (INVERSION,),
                "queries repeated almost identically",
            )
            if sig is not None:
                out.append((code, sig))
        return out


def _threshold(level: int) -> np.uint64:
    return np.uint64(0xFFFFFFFFFFFFFFFF) if level == 0 else np.uint64((1 << (64 - level)) - 1)


def _compact(parts: list[U64], level: int, cap: int = KEY_CAP) -> tuple[list[U64], int]:
    allk = np.unique(np.concatenate(parts))
    while allk.size > cap // 2:
        level += 1
        # the low 40 bits are the top bits of the value hash: keep those below the new cut
        cut = np.uint64((1 << 40) >> level)
        allk = allk[(allk & np.uint64((1 << 40) - 1)) < cut]
    return [allk], level


def _share_signal(
    kind: str, hits: int, trials: int, p0: float, threats: tuple[str, ...], what: str
) -> UseSignal | None:
    if trials < MIN_QUERIES:
        return None
    share = hits / trials
    z = (hits - trials * p0) / math.sqrt(trials * p0 * (1 - p0))
    if z < Z_MIN or share - p0 < EFFECT[kind]:
        return None
    return UseSignal(
        kind,
        f"{share:.0%} of {trials:,} {what} (ordinary traffic: {p0:.1%}; z = {z:.0f})",
        threats,
        {
            "count": hits,
            "of": trials,
            "share": round(share, 4),
            "expected_share": round(p0, 4),
            "z": round(z, 1),
        },
    )


def suggest_rate_limit(peaks: list[int]) -> int:
    """Twice the 95th percentile of ordinary clients' busiest hour, on a 1-2-5 scale."""
    if not peaks:
        return 100
    base = 2.0 * float(np.percentile(np.asarray(peaks, np.float64), 95))
    base = max(base, 10.0)
    mag = 10 ** math.floor(math.log10(base))
    for m in (1, 2, 5, 10):
        if m * mag >= base:
            return int(m * mag)
    return int(10 * mag)


def _with_limit(r: ClientReport, limit: int) -> ClientReport:
    from dataclasses import replace

    return replace(r, suggested_rate_limit_per_hour=limit)
