"""Label counts per feature bin, and the naive-Bayes model they define.

A poisoner who flips labels while keeping every marginal unchanged changes exactly one
thing: how often each label occurs given the features. So the baseline keeps, for every
feature, the row count and the count per label class in each bin (globally and per
source). Numeric features use ~32 bins cut at reference quantiles on the fixed 1% grid;
categorical ones a bin per frequent value plus "(other)"; nulls get their own bin.

The same tables define a naive-Bayes model, P(label | features), which a check uses to
score batch rows without the baseline keeping a single raw row.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from custodes.data.profile import OTHER, ColumnProfile, float_with_nan
from custodes.data.sketches import F64, I64

__all__ = [
    "NULL_BIN",
    "BinIndex",
    "FeatureBins",
    "LabelModel",
    "bin_dtype",
    "feature_bins",
    "few_values",
    "index_codes",
]

NULL_BIN = "(null)"
MAX_BINS = 32
MAX_VALUES = 50

BinIndex = npt.NDArray[np.integer[Any]]
"""Bin or code of every row, in the narrowest type that holds it (:func:`bin_dtype`)."""


@dataclass
class FeatureBins:
    """Per bin of one feature: rows, and rows per label class.

    ``edges`` (numeric: ``len(bins) + 1`` values, first -inf, last +inf) or ``values``
    (categorical/boolean, the last being ``"(other)"``) name the bins; one more bin,
    the last, holds nulls. ``counts[b][k]`` is the number of rows of bin ``b`` whose label
    is ``classes[k]``.
    """

    column: str
    kind: str
    classes: list[str]
    edges: list[float] | None
    values: list[str] | None
    rows: list[int]
    counts: list[list[int]]

    @property
    def labels(self) -> list[str]:
        """Readable bin names (ranges or values), the null bin last."""
        if self.edges is not None:
            e = self.edges
            names = [f"[{e[i]:.4g}, {e[i + 1]:.4g})" for i in range(len(e) - 1)]
        else:
            names = list(self.values or [])
        return [*names, NULL_BIN]

    def rates(self) -> list[list[float]]:
        """P(label = class | bin) per bin (NaN for empty bins)."""
        return [
            [c / r if r else math.nan for c in row]
            for row, r in zip(self.counts, self.rows, strict=True)
        ]

    def bin_index(self, arr: pa.Array | pa.ChunkedArray, x: F64 | None = None) -> BinIndex:
        """The bin of every row of a batch column (same rules as the baseline).

        ``x`` is the column as :func:`float_with_nan` already gave it, when the caller has
        it (a check converts each column once and reuses it for every statistic).
        Integer, boolean and date columns go through a lookup table over their value
        range and dictionary columns through their dictionary: a binary search per row
        (or a string per row) is what made binning the costliest part of a check.
        """
        nbins = len(self.rows)
        dtype = bin_dtype(nbins)
        if self.edges is not None:
            inner = np.asarray(self.edges[1:-1], dtype=np.float64)
            fast = _integer_bins(arr, inner, nbins)
            if fast is None:
                fast = _dictionary_bins(arr, inner, nbins)
            if fast is not None:
                return fast
            if x is None:
                x = float_with_nan(arr)
            out = np.empty(x.size, dtype)
            for lo in range(0, x.size, CHUNK):
                part = x[lo : lo + CHUNK]
                seg = out[lo : lo + CHUNK]
                seg[:] = np.searchsorted(inner, part, side="right")
                seg[np.isnan(part)] = nbins - 1
            return out
        values = self.values or []
        return index_codes(arr, values[:-1], len(values) - 1, nbins - 1, dtype)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"column": self.column, "kind": self.kind, "classes": self.classes}
        if self.edges is not None:
            d["edges"] = [_json_float(v) for v in self.edges]
        else:
            d["values"] = self.values
        d["rows"] = self.rows
        d["counts"] = self.counts
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FeatureBins:
        """The bins as written (ValueError when their parts disagree in length).

        A check relies on every row's bin being below the number of bins; a file whose
        edges or values name more bins than it counts (an edit, then a refreshed
        digest) is refused here rather than read out of range later.
        """
        edges = [float(v) for v in d["edges"]] if "edges" in d else None
        out = cls(
            d["column"],
            d["kind"],
            list(d["classes"]),
            edges,
            d.get("values"),
            [int(v) for v in d["rows"]],
            [[int(c) for c in row] for row in d["counts"]],
        )
        named = (len(edges) - 1 if edges is not None else len(out.values or [])) + 1
        if (
            len(out.rows) != named
            or len(out.counts) != named
            or any(len(row) != len(out.classes) for row in out.counts)
        ):
            raise ValueError(
                f"label bins of {out.column!r} name {named} bins (the null bin included) "
                f"but count {len(out.rows)} rows and {len(out.counts)} class rows"
            )
        return out


LUT_RANGE = 1 << 20
"""Widest integer value range binned by lookup table (8 MB of table at most)."""
CHUNK = 1 << 16
"""Rows converted at a time: the chunk's scratch stays in cache and is reused, where
whole-column temporaries would each be megabytes of fresh, page-faulted memory."""


def bin_dtype(nbins: int) -> np.dtype[Any]:
    """The narrowest unsigned type for ``nbins`` bin numbers.

    A check holds a bin index per feature for every row: a million rows of uint8 are one
    megabyte where int64 would be eight, and each fresh page costs the kernel a fault and
    a zeroing. numpy widens the codes itself where it counts or gathers them.
    """
    if nbins <= 1 << 8:
        return np.dtype(np.uint8)
    return np.dtype(np.uint16 if nbins <= 1 << 16 else np.int64)


def _gather(
    table: I64, v: npt.NDArray[np.integer[Any]], offset: int, dtype: npt.DTypeLike
) -> BinIndex:
    """``table[v - offset]`` in ``dtype``, chunk by chunk (no whole-column temporaries).

    The difference is taken in int64: in a narrow signed type it can wrap (an int8
    column from -100 to 100) and a negative index would silently read from the end.
    """
    t = table.astype(dtype)
    out = np.empty(v.size, t.dtype)
    scratch = np.empty(min(v.size, CHUNK), np.int64)
    for lo in range(0, v.size, CHUNK):
        part = v[lo : lo + CHUNK]
        if offset:
            part = np.subtract(part, offset, out=scratch[: part.size], dtype=np.int64)
        np.take(t, part, out=out[lo : lo + CHUNK])
    return out


def index_codes(
    arr: pa.Array | pa.ChunkedArray,
    values: list[str],
    missing: int,
    null: int,
    dtype: npt.DTypeLike = np.int64,
) -> BinIndex:
    """Position of each row's value (as text) in ``values``; ``missing`` / ``null`` else.

    Dictionary-encoded columns (how Parquet strings are read) are matched through each
    chunk's dictionary and mapped back by index, so no row is ever cast to a string.
    ``dtype`` must hold every code (:func:`bin_dtype`).
    """
    lookup = pa.array(values, type=pa.string())
    chunks = arr.chunks if isinstance(arr, pa.ChunkedArray) else [arr]
    if chunks and all(pa.types.is_dictionary(c.type) for c in chunks):
        parts = []
        for c in chunks:
            d = c.dictionary.cast(pa.string())
            pos = pc.index_in(d, value_set=lookup).fill_null(missing)
            lut = np.asarray(pos.to_numpy(zero_copy_only=False), np.int64)
            lut = np.where(d.is_null().to_numpy(zero_copy_only=False), null, lut)
            lut = np.append(lut, null)  # null indices point here
            ind = c.indices.fill_null(len(d)).to_numpy(zero_copy_only=False)
            parts.append(_gather(lut, ind, 0, dtype))
        return np.concatenate(parts) if parts else np.zeros(0, dtype)
    boolean = bool(chunks) and all(pa.types.is_boolean(c.type) for c in chunks)
    if boolean or (chunks and all(pa.types.is_integer(c.type) for c in chunks)):
        # booleans as 0/1 through the same table, named as Arrow writes them as text
        got = _integer_values(arr.cast(pa.int8()) if boolean else arr, 0)
        if got is not None:
            v, lo, hi = got
            names = [("true" if i else "false") if boolean else str(i) for i in range(lo, hi + 1)]
            pos = pc.index_in(pa.array(names, pa.string()), value_set=lookup).fill_null(missing)
            table = np.append(np.asarray(pos.to_numpy(zero_copy_only=False), np.int64), null)
            return _gather(table, v, lo, dtype)
    s = arr.cast(pa.string())
    pos = pc.index_in(s, value_set=lookup)
    out = np.asarray(pos.fill_null(missing).to_numpy(zero_copy_only=False)).astype(dtype)
    out[np.asarray(s.is_null().to_numpy(zero_copy_only=False), bool)] = null
    return out


def _integer_values(
    arr: pa.Array | pa.ChunkedArray, scale: int
) -> tuple[npt.NDArray[np.integer[Any]], int, int] | None:
    """(values, lo, hi) of a narrow-range integer column, nulls read as ``hi + 1``.

    A lookup table over ``lo..hi`` with one more entry for the nulls bins every row in
    one gather: no validity mask to apply afterwards (on a column that is 60% null,
    that masked write cost as much as the gather).
    """
    mm = pc.min_max(arr)
    lo, hi = mm["min"].as_py(), mm["max"].as_py()
    if lo is None or hi is None:
        return None
    lo, hi = int(lo), int(hi)
    if hi - lo >= LUT_RANGE or max(abs(lo), abs(hi) + 1) * max(scale, 1) >= 1 << 53:
        return None
    if arr.null_count:
        t = arr.type
        top = (1 << (t.bit_width - 1 if pa.types.is_signed_integer(t) else t.bit_width)) - 1
        if hi + 1 > top:
            arr = arr.cast(pa.int64())  # hi + 1 does not fit the column's own type
        arr = pc.fill_null(arr, hi + 1)
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    # the column's own integer type (no int64 copy); _gather widens each chunk
    return np.asarray(arr.to_numpy(zero_copy_only=False)), lo, hi


def _integer_bins(arr: pa.Array | pa.ChunkedArray, inner: F64, nbins: int) -> BinIndex | None:
    """Bins of an integer, boolean or date32 column through a table over its range.

    Exactly what ``searchsorted`` on :func:`float_with_nan` gives (the values are exact
    in float64 below 2**53), at one gather per row instead of a binary search.
    """
    t = arr.type
    scale = 0
    if pa.types.is_boolean(t):
        arr = arr.cast(pa.int8())
    elif pa.types.is_date32(t):
        arr, scale = arr.cast(pa.int32()), 86_400  # float_with_nan reads days as seconds
    elif not pa.types.is_integer(t):
        return None
    got = _integer_values(arr, scale)
    if got is None:
        return None
    v, lo, hi = got
    keys = np.arange(lo, hi + 1, dtype=np.int64) * (scale or 1)
    table = np.searchsorted(inner, keys.astype(np.float64), side="right").astype(np.int64)
    return _gather(np.append(table, nbins - 1), v, lo, bin_dtype(nbins))


DICTIONARY_PROBE = 1 << 16
"""Rows (evenly spaced) a float column is probed on before encoding the whole column."""
DICTIONARY_SHARE = 1 / 16
"""Distinct values per probed row below which a float column is binned by dictionary."""


def few_values(arr: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray | None:
    """A float column dictionary-encoded, when a probe of rows spread over it finds few
    distinct values (measurements recorded on a grid); None otherwise."""
    if not pa.types.is_floating(arr.type):
        return None
    chunks = arr.chunks if isinstance(arr, pa.ChunkedArray) else [arr]
    if not chunks:
        return None
    # rows spread over the whole column, so a grid at the start cannot vouch for the rest
    step = max(1, len(arr) // DICTIONARY_PROBE)
    probe = arr.take(np.arange(0, len(arr), step)) if step > 1 else arr
    if pc.count_distinct(probe, mode="all").as_py() > DICTIONARY_SHARE * max(len(probe), 1):
        return None
    if isinstance(arr, pa.ChunkedArray) and arr.num_chunks > 1:
        # one dictionary for the whole column (encoding chunk by chunk gives every chunk
        # the dictionary of all the chunks, which each would then bin again)
        arr = arr.combine_chunks()
    encoded = pc.dictionary_encode(arr)
    one = encoded.chunk(0) if isinstance(encoded, pa.ChunkedArray) else encoded
    if len(one.dictionary) > DICTIONARY_SHARE * max(len(arr), 1):
        return None  # the probed rows were on a grid, the column is not
    return encoded


def _dictionary_bins(arr: pa.Array | pa.ChunkedArray, inner: F64, nbins: int) -> BinIndex | None:
    """Bins of a float column with few distinct values, through its dictionary.

    Measurements are recorded on a grid (one decimal of BMI, two of creatinine), so a
    million rows hold a few hundred values. A binary search per row over 30 edges
    mispredicts its branches (25 ms a million rows); hashing the values, binning the
    few distinct ones and gathering per row takes 5-8 ms, with the same bins exactly.
    ``arr`` may come encoded already (:func:`few_values`). None for other types, and
    where the column has too many distinct values for a dictionary to pay.
    """
    t = arr.type
    if not (pa.types.is_dictionary(t) and pa.types.is_floating(t.value_type)):
        encoded = few_values(arr)
        if encoded is None:
            return None
        arr = encoded
    dtype = bin_dtype(nbins)
    parts = []
    for chunk in arr.chunks if isinstance(arr, pa.ChunkedArray) else [arr]:
        vals = np.asarray(chunk.dictionary.to_numpy(zero_copy_only=False), np.float64)
        lut = np.searchsorted(inner, vals, side="right").astype(np.int64)
        lut[np.isnan(vals)] = nbins - 1
        lut = np.append(lut, nbins - 1)  # null indices point here
        ind = chunk.indices.fill_null(len(vals)) if chunk.null_count else chunk.indices
        parts.append(_gather(lut, ind.to_numpy(zero_copy_only=False), 0, dtype))
    if not parts:
        return np.zeros(0, dtype)
    return np.concatenate(parts) if len(parts) > 1 else parts[0]


def _json_float(v: float) -> float | str:
    return v if math.isfinite(v) else ("inf" if v > 0 else "-inf")


def coarse_edges(profile: ColumnProfile, nbins: int = MAX_BINS) -> list[float]:
    """Edges on the fixed grid at the reference quantiles (first -inf, last +inf)."""
    hist = profile.hist
    if hist is None or hist.total == 0:
        return [-math.inf, math.inf]
    cum = np.cumsum(hist.counts) / hist.total
    cuts = np.searchsorted(cum, np.arange(1, nbins) / nbins, side="left")
    keys = np.unique(hist.keys[np.clip(cuts + 1, 0, hist.keys.size - 1)])
    keys = keys[keys > hist.keys[0]]
    inner = profile.grid.lower(keys).tolist()
    return [-math.inf, *sorted(set(inner)), math.inf]


def feature_bins(
    column: str, total: ColumnProfile, cells: dict[str, list[ColumnProfile]], classes: list[str]
) -> FeatureBins | None:
    """Bins of one feature from the global profile and its cell profiles per class."""
    nclass = len(classes)
    if total.hist is not None:
        edges = coarse_edges(total)
        arr_edges = np.asarray(edges)
        nb = len(edges) - 1
        counts = np.zeros((nb + 1, nclass), np.int64)
        for k, cls_ in enumerate(classes):
            for p in cells.get(cls_, []):
                counts[:nb, k] += p.histogram(arr_edges)[1]
                counts[nb, k] += p.nulls
        return FeatureBins(
            column, total.kind, classes, edges, None, counts.sum(1).tolist(), counts.tolist()
        )
    if total.freq is not None:
        values = [v for v in total.frequencies() if v != OTHER][:MAX_VALUES]
        values.append(OTHER)
        nb = len(values)
        counts = np.zeros((nb + 1, nclass), np.int64)
        for k, cls_ in enumerate(classes):
            for p in cells.get(cls_, []):
                freq = p.freq or {}
                listed = 0
                for i, v in enumerate(values[:-1]):
                    counts[i, k] += freq.get(v, 0)
                    listed += freq.get(v, 0)
                counts[nb - 1, k] += p.count - listed
                counts[nb, k] += p.nulls
        return FeatureBins(
            column, total.kind, classes, None, values, counts.sum(1).tolist(), counts.tolist()
        )
    return None


class LabelModel:
    """Naive Bayes over the binned features, with add-one smoothing.

    ``predict_proba(table)`` gives P(label = class | features) per row, columns in the
    order of ``classes``. Missing batch columns are skipped (they carry no evidence).
    """

    def __init__(
        self, bins: Iterable[FeatureBins], classes: list[str], class_rows: list[int]
    ) -> None:
        self.bins = [b for b in bins if b.classes == classes]
        self.classes = classes
        total = sum(class_rows)
        self.log_prior = np.log((np.asarray(class_rows, np.float64) + 1.0) / (total + len(classes)))
        self.log_lik: list[F64] = []
        for b in self.bins:
            c = np.asarray(b.counts, np.float64) + 1.0
            self.log_lik.append(np.log(c / c.sum(axis=0, keepdims=True)))

    def log_odds(self, table: pa.Table) -> F64:
        """Unnormalised log P(class, features) per row and class."""
        out = np.tile(self.log_prior, (table.num_rows, 1))
        for b, ll in zip(self.bins, self.log_lik, strict=True):
            if b.column in table.column_names:
                out += ll[b.bin_index(table.column(b.column))]
        return out

    def predict_proba(self, table: pa.Table) -> F64:
        lo = self.log_odds(table)
        lo -= lo.max(axis=1, keepdims=True)
        p = np.exp(lo)
        return np.asarray(p / p.sum(axis=1, keepdims=True), dtype=np.float64)
