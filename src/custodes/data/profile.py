"""ColumnProfile: everything a baseline knows about one column in one population.

A profile is built from Arrow arrays (``update``) and merged with another profile of the
same column (``merge``); both are exact for counts, nulls, min/max, moments, the fixed-grid
histogram and the frequency table of columns with at most ``CAPACITY`` distinct values,
and within sketch error for quantiles (KLL) and distinct counts (HLL). The accessors
(``quantiles``, ``cdf``, ``histogram``, ``frequencies``, ``null_rate``) are the API the data
checks use; they never need a raw row.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from custodes.data.sketches import (
    F64,
    I64,
    HyperLogLog,
    LogGrid,
    Moments,
    Quantiles,
    SparseCounts,
    hash_strings,
)
from custodes.errors import InputError

__all__ = [
    "CAPACITY",
    "GRID",
    "KINDS",
    "OTHER",
    "ColumnProfile",
    "float_with_nan",
    "kind_of",
    "to_float",
]

KINDS = ("numeric", "categorical", "boolean", "datetime", "text", "other")
OTHER = "(other)"
"""Key of the remainder in :meth:`ColumnProfile.frequencies`."""
CAPACITY = 512
"""Distinct values kept per frequency table; beyond it the rarest go to ``OTHER``."""
TEXT_DISTINCT = 1000
"""A string column with more distinct values than this is reported as ``text``."""
GRID = LogGrid()
"""The one histogram grid every profile uses (1% relative accuracy)."""


def kind_of(t: pa.DataType) -> str:
    """The profile kind an Arrow type is summarised as."""
    if pa.types.is_dictionary(t):
        return kind_of(t.value_type)
    if pa.types.is_boolean(t):
        return "boolean"
    if pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t):
        return "numeric"
    if pa.types.is_temporal(t):
        return "datetime"
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return "categorical"
    return "other"


def to_float(arr: pa.Array | pa.ChunkedArray) -> F64:
    """Non-null values of a numeric, boolean or temporal array as float64 (seconds for time)."""
    return float_with_nan(pc.drop_null(arr))


def float_with_nan(arr: pa.Array | pa.ChunkedArray) -> F64:
    """A numeric, boolean or temporal array as float64 aligned with its rows, null -> NaN.

    Integers beyond 2**53 (nanosecond timestamps, 64-bit hashes or counters) are rounded
    to the nearest float, as statistics on the 1% grid need; Arrow's default cast refuses
    them instead.
    """
    t = arr.type
    if pa.types.is_dictionary(t):
        arr = arr.cast(t.value_type)
        t = t.value_type
    if pa.types.is_temporal(t):
        if pa.types.is_date(t):
            arr = arr.cast(pa.timestamp("s"))
        scale = 1.0
        if pa.types.is_timestamp(arr.type):
            unit = arr.type.unit
            arr = arr.cast(pa.timestamp(unit, tz=None)) if arr.type.tz else arr
            scale = {"s": 1.0, "ms": 1e3, "us": 1e6, "ns": 1e9}[unit]
        x = _to_float(arr.cast(pa.int64()))
        return x / scale if scale != 1.0 else x
    return _to_float(arr)


def _to_float(arr: pa.Array | pa.ChunkedArray) -> F64:
    if not pa.types.is_floating(arr.type):
        arr = pc.cast(arr, pa.float64(), safe=False)
    return np.asarray(arr.to_numpy(zero_copy_only=False), dtype=np.float64)


def _merge_type(name: str, a: str, b: str) -> str:
    if a == b or b == "null":
        return a
    if a == "null":
        return b
    num = ("int", "uint", "float", "double", "halffloat", "decimal")
    if a.startswith(num) and b.startswith(num):
        return "double"
    if {a, b} <= {"string", "large_string"}:
        return "string"
    raise InputError(f"column {name!r} is {a} in one part of the data and {b} in another")


@dataclass
class ColumnProfile:
    """Mergeable summary of one column (see the module docstring for what is exact)."""

    name: str
    base_kind: str
    arrow_type: str
    count: int = 0
    nulls: int = 0
    min: float | None = None
    max: float | None = None
    moments: Moments | None = None
    sketch: Quantiles | None = None
    hist: SparseCounts | None = None
    freq: dict[str, int] | None = None
    other: int = 0
    hll: HyperLogLog | None = None
    grid: LogGrid = field(default_factory=lambda: GRID)

    # ------------------------------------------------------------------ construction

    @classmethod
    def empty(cls, name: str, arrow_type: pa.DataType, *, quantiles: bool = True) -> ColumnProfile:
        """A profile with no rows yet for a column of this Arrow type."""
        kind = kind_of(arrow_type)
        if pa.types.is_dictionary(arrow_type):
            arrow_type = arrow_type.value_type
        if pa.types.is_null(arrow_type):
            kind = "numeric"  # an all-null column: counted, never crashes
        p = cls(name, kind, str(arrow_type))
        if kind in ("numeric", "datetime", "boolean"):
            p.moments = Moments()
            p.hist = SparseCounts() if kind != "boolean" else None
            p.sketch = Quantiles() if quantiles and kind != "boolean" else None
        if kind in ("categorical", "boolean"):
            p.freq = {}
        if kind == "categorical":
            p.hll = HyperLogLog()
        return p

    @classmethod
    def of(cls, name: str, arr: pa.Array | pa.ChunkedArray) -> ColumnProfile:
        """Profile of one array (what a check builds for a batch column)."""
        p = cls.empty(name, arr.type)
        p.update(arr)
        return p

    def update(self, arr: pa.Array | pa.ChunkedArray) -> None:
        """Add the values of an Arrow array (nulls and NaN count as nulls)."""
        n = len(arr)
        if n == 0:
            return
        nulls = arr.null_count
        if pa.types.is_null(arr.type):
            self.nulls += n
            return
        if self.base_kind in ("numeric", "datetime"):
            x = to_float(arr)
            nan = np.isnan(x)
            if nan.any():
                nulls += int(nan.sum())
                x = x[~nan]
            self.update_values(x)
        elif self.base_kind == "boolean":
            x = to_float(arr)
            self._add_moments(x)
            trues = int(np.count_nonzero(x))
            self._add_freq({"true": trues, "false": int(x.size) - trues})
            self.count += int(x.size)
        elif self.base_kind == "categorical":
            vc = pc.value_counts(pc.drop_null(arr))
            values = vc.field("values")
            counts = vc.field("counts").to_pylist()
            self._add_freq(dict(zip(values.cast(pa.string()).to_pylist(), counts, strict=True)))
            if self.hll is not None:
                self.hll.update_hashes(hash_strings(values))
            self.count += n - nulls
        else:
            self.count += n - nulls
        self.nulls += nulls

    def update_values(self, x: F64, keys: I64 | None = None) -> None:
        """Add non-null float values (the fast path the baseline builder uses).

        ``keys`` are the values' grid keys when the caller already computed them.
        """
        if x.size == 0:
            return
        self.count += int(x.size)
        lo, hi = float(x.min()), float(x.max())
        self.min = lo if self.min is None else min(self.min, lo)
        self.max = hi if self.max is None else max(self.max, hi)
        self._add_moments(x)
        if self.sketch is not None:
            self.sketch.update(x)
        if self.hist is not None:
            k = self.grid.keys(x) if keys is None else keys
            self.hist = self.hist.merge(SparseCounts.of(k))

    def _add_moments(self, x: F64) -> None:
        if self.moments is not None and x.size:
            self.moments = self.moments.merge(Moments.of(x))

    def _add_freq(self, counts: dict[str, int]) -> None:
        assert self.freq is not None
        for k, v in counts.items():
            if v:
                self.freq[k] = self.freq.get(k, 0) + int(v)
        if len(self.freq) > 2 * CAPACITY:
            self._prune()

    def _prune(self) -> None:
        """Keep the CAPACITY most frequent values; the rest go to ``other`` (totals exact)."""
        assert self.freq is not None
        ranked = sorted(self.freq.items(), key=lambda kv: (-kv[1], kv[0]))
        self.freq = dict(ranked[:CAPACITY])
        self.other += sum(v for _, v in ranked[CAPACITY:])

    def merge(self, o: ColumnProfile) -> ColumnProfile:
        """A new profile of both parts' rows."""
        if o.name != self.name:
            raise ValueError(f"cannot merge profiles of {self.name!r} and {o.name!r}")
        a, b = self, o
        if a.count == 0 and a.base_kind != b.base_kind and a.arrow_type == "null":
            a, b = b, a
        out = ColumnProfile(a.name, a.base_kind, _merge_type(a.name, a.arrow_type, b.arrow_type))
        if b.base_kind != a.base_kind and b.arrow_type != "null" and b.count:
            raise InputError(
                f"column {a.name!r} is {a.base_kind} in one part and {b.base_kind} in another"
            )
        out.count, out.nulls, out.other = a.count + b.count, a.nulls + b.nulls, a.other + b.other
        mins = [v for v in (a.min, b.min) if v is not None]
        maxs = [v for v in (a.max, b.max) if v is not None]
        out.min = min(mins) if mins else None
        out.max = max(maxs) if maxs else None
        if a.moments is not None:
            out.moments = a.moments.merge(b.moments or Moments())
        if a.sketch is not None:
            out.sketch = a.sketch.merge(b.sketch) if b.sketch is not None else a.sketch
        if a.hist is not None:
            out.hist = a.hist.merge(b.hist) if b.hist is not None else a.hist
        if a.freq is not None:
            out.freq = dict(a.freq)
            out._add_freq(b.freq or {})
        if a.hll is not None:
            out.hll = a.hll.merge(b.hll) if b.hll is not None else a.hll
        return out

    # --------------------------------------------------------------------- accessors

    @property
    def kind(self) -> str:
        """numeric, categorical, boolean, datetime, text (a many-valued string) or other."""
        if self.base_kind == "categorical" and (self.distinct or 0) > TEXT_DISTINCT:
            return "text"
        return self.base_kind

    @property
    def rows(self) -> int:
        """Rows seen, nulls included."""
        return self.count + self.nulls

    @property
    def null_rate(self) -> float:
        """Fraction of rows that are null (or NaN); 0 for no rows."""
        return self.nulls / self.rows if self.rows else 0.0

    @property
    def distinct(self) -> float | None:
        """Distinct non-null values: exact for small tables, else the HLL estimate."""
        if self.freq is not None and self.other == 0:
            return float(len(self.freq))
        return self.hll.estimate() if self.hll is not None else None

    def quantiles(self, qs: list[float]) -> list[float]:
        """Values at the given ranks (KLL when kept, else the histogram's 1% grid)."""
        if self.sketch is not None and self.sketch.n:
            return self.sketch.quantiles(qs)
        if self.hist is None or self.hist.total == 0:
            return [math.nan for _ in qs]
        cum = np.cumsum(self.hist.counts) / self.hist.total
        lo, hi = self.grid.lower(self.hist.keys), self.grid.upper(self.hist.keys)
        out = []
        for q in qs:
            i = min(int(np.searchsorted(cum, q, side="left")), cum.size - 1)
            v = float(0.5 * (lo[i] + hi[i]))
            out.append(min(max(v, self.min if self.min is not None else v), self.max or v))
        return out

    def cdf(self, xs: list[float]) -> list[float]:
        """Fraction of non-null values <= each x (KLL, else the grid)."""
        if self.sketch is not None and self.sketch.n:
            return self.sketch.cdf(xs)
        if self.hist is None or self.hist.total == 0:
            return [math.nan for _ in xs]
        up = self.grid.upper(self.hist.keys)
        cum = np.cumsum(self.hist.counts) / self.hist.total
        return [
            float(cum[i - 1]) if (i := int(np.searchsorted(up, x, "right"))) else 0.0 for x in xs
        ]

    def histogram(self, edges: F64 | None = None) -> tuple[F64, I64]:
        """(edges, counts): the fine grid over the occupied range, or counts on ``edges``.

        With ``edges`` each fine bin is assigned by its centre, so a reference and a batch
        profiled on the same grid get comparable counts on any coarse edges (e.g. those of
        :meth:`Baseline.bin_edges`); values outside go to the first or last bin.
        """
        if self.hist is None:
            return np.zeros(0), np.zeros(0, np.int64)
        if edges is None:
            if self.hist.keys.size == 0:
                return np.zeros(0), np.zeros(0, np.int64)
            keys = np.arange(self.hist.keys[0], self.hist.keys[-1] + 1, dtype=np.int64)
            counts = np.zeros(keys.size, np.int64)
            counts[self.hist.keys - keys[0]] = self.hist.counts
            return np.append(self.grid.lower(keys), self.grid.upper(keys[-1:])), counts
        centre = 0.5 * (self.grid.lower(self.hist.keys) + self.grid.upper(self.hist.keys))
        idx = np.clip(np.searchsorted(edges, centre, side="right") - 1, 0, len(edges) - 2)
        return edges, np.bincount(idx, weights=self.hist.counts, minlength=len(edges) - 1).astype(
            np.int64
        )

    def frequencies(self) -> dict[str, int]:
        """Value -> count for categoricals and booleans, with ``OTHER`` for the remainder."""
        if self.freq is None:
            return {}
        out = dict(sorted(self.freq.items(), key=lambda kv: (-kv[1], kv[0])))
        if self.other:
            out[OTHER] = self.other
        return out

    # ------------------------------------------------------------------ serialization

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form: readable summary fields plus base64 sketches."""
        d: dict[str, Any] = {
            "name": self.name,
            "kind": self.kind,
            "base_kind": self.base_kind,
            "arrow_type": self.arrow_type,
            "count": self.count,
            "nulls": self.nulls,
            "null_rate": round(self.null_rate, 6),
            "min": self.min,
            "max": self.max,
        }
        if self.moments is not None:
            d["moments"] = self.moments.to_dict()
        if self.sketch is not None:
            d["quantiles"] = self.sketch.to_text()
        if self.hist is not None:
            d["histogram"] = {"grid": self.grid.to_dict(), "counts": self.hist.to_text()}
        if self.freq is not None:
            d["frequencies"] = self.frequencies()
        if self.hll is not None:
            d["distinct"] = {"estimate": round(self.distinct or 0.0, 1), "hll": self.hll.to_text()}
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ColumnProfile:
        p = cls(str(d["name"]), str(d["base_kind"]), str(d["arrow_type"]))
        p.count, p.nulls = int(d["count"]), int(d["nulls"])
        p.min = None if d.get("min") is None else float(d["min"])
        p.max = None if d.get("max") is None else float(d["max"])
        if "moments" in d:
            p.moments = Moments.from_dict(d["moments"])
        if "quantiles" in d:
            p.sketch = Quantiles.from_text(d["quantiles"])
        if "histogram" in d:
            p.grid = LogGrid.from_dict(d["histogram"]["grid"])
            p.hist = SparseCounts.from_text(d["histogram"]["counts"])
        if "frequencies" in d:
            freq = {str(k): int(v) for k, v in d["frequencies"].items()}
            p.other = freq.pop(OTHER, 0)
            p.freq = freq
        if "distinct" in d:
            p.hll = HyperLogLog.from_text(d["distinct"]["hll"])
        return p
