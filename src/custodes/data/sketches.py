"""Mergeable column summaries: the building blocks of a data baseline.

Every summary here obeys one law: summarising two parts and merging the summaries equals
summarising the whole. That is what lets one core, two processes or a Dask cluster build
the same baseline (DESIGN.md, "How it scales"). Exactly so for counts, moments and the
fixed-grid histogram; within the published error for the quantile and distinct sketches.

Why each implementation was chosen:

* :class:`Moments` - count, mean and central moments M2..M4 merged with the pairwise
  formulas of Chan et al. and Pébay (2008); numerically stable where power sums are not.
* :class:`Quantiles` - Apache DataSketches KLL: its numpy-array ``update`` costs ~40 ns a
  value and gives a guaranteed rank error (~1.3% at k=200) whatever the merge order.
* :class:`LogGrid` - a DDSketch-style logarithmic grid with relative accuracy ``alpha``.
  Its edges are fixed before any data is seen, so a histogram over it never depends on
  which partition came first and merges by adding counts; it is computed with numpy
  (``log`` + ``bincount``) at a few ns a value.
* :class:`HyperLogLog` - registers updated with numpy from 64-bit hashes. DataSketches'
  HLL only takes one Python call per value (~130 ns each, ~30 s for 7.5M rows x 30
  columns), which is too slow for row signatures; the estimator is the classic one.
* :func:`hash_strings` / :func:`mix64` - stable 64-bit hashes (blake2b of each distinct
  string, splitmix64 for integers) so a check written next year computes the same row
  signature as the baseline; hashes of ``polars.Series.hash`` may change between versions.
"""

from __future__ import annotations

import base64
import hashlib
import math
import zlib
from dataclasses import dataclass, field
from typing import Any

import datasketches
import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

__all__ = [
    "HyperLogLog",
    "LogGrid",
    "Moments",
    "Quantiles",
    "SparseCounts",
    "b64decode",
    "b64encode",
    "hash_strings",
    "mix64",
]

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
U64 = npt.NDArray[np.uint64]


def b64encode(data: bytes) -> str:
    """Bytes as compressed base64 text, the way sketches travel inside JSON."""
    return base64.b64encode(zlib.compress(data, 6)).decode("ascii")


def b64decode(text: str) -> bytes:
    """Inverse of :func:`b64encode`."""
    return zlib.decompress(base64.b64decode(text.encode("ascii")))


# ---------------------------------------------------------------------------- moments


@dataclass
class Moments:
    """Count, mean and central moment sums M2, M3, M4 of the non-null values."""

    n: int = 0
    mean: float = 0.0
    m2: float = 0.0
    m3: float = 0.0
    m4: float = 0.0

    @classmethod
    def of(cls, x: F64) -> Moments:
        """Moments of one array (two passes: the mean, then centred powers)."""
        n = int(x.size)
        if n == 0:
            return cls()
        mean = float(x.mean())
        d = x - mean
        d2 = d * d
        return cls(n, mean, float(d2.sum()), float((d2 * d).sum()), float((d2 * d2).sum()))

    def merge(self, o: Moments) -> Moments:
        """Pébay's pairwise update: exact up to floating-point rounding."""
        if o.n == 0:
            return Moments(self.n, self.mean, self.m2, self.m3, self.m4)
        if self.n == 0:
            return Moments(o.n, o.mean, o.m2, o.m3, o.m4)
        na, nb = float(self.n), float(o.n)
        n = na + nb
        delta = o.mean - self.mean
        d_n = delta / n
        mean = self.mean + nb * d_n
        m2 = self.m2 + o.m2 + delta * d_n * na * nb
        m3 = (
            self.m3
            + o.m3
            + delta * d_n * d_n * na * nb * (na - nb)
            + 3.0 * d_n * (na * o.m2 - nb * self.m2)
        )
        m4 = (
            self.m4
            + o.m4
            + delta * d_n**3 * na * nb * (na * na - na * nb + nb * nb)
            + 6.0 * d_n * d_n * (na * na * o.m2 + nb * nb * self.m2)
            + 4.0 * d_n * (na * o.m3 - nb * self.m3)
        )
        return Moments(self.n + o.n, mean, m2, m3, m4)

    @property
    def variance(self) -> float:
        """Sample variance (n-1 denominator); 0 for fewer than two values."""
        return self.m2 / (self.n - 1) if self.n > 1 else 0.0

    @property
    def std(self) -> float:
        """Sample standard deviation."""
        return math.sqrt(max(self.variance, 0.0))

    @property
    def skewness(self) -> float:
        """Population skewness g1; 0 when the variance is 0."""
        if self.n < 2 or self.m2 <= 0:
            return 0.0
        return float(math.sqrt(self.n) * self.m3 / self.m2**1.5)

    @property
    def kurtosis(self) -> float:
        """Excess kurtosis g2; 0 when the variance is 0."""
        if self.n < 2 or self.m2 <= 0:
            return 0.0
        return self.n * self.m4 / (self.m2 * self.m2) - 3.0

    def to_dict(self) -> dict[str, Any]:
        return {"n": self.n, "mean": self.mean, "m2": self.m2, "m3": self.m3, "m4": self.m4}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Moments:
        return cls(int(d["n"]), float(d["mean"]), float(d["m2"]), float(d["m3"]), float(d["m4"]))


# -------------------------------------------------------------------------- quantiles


class Quantiles:
    """A KLL quantile sketch (Apache DataSketches) with a numpy update and base64 form.

    Every value is fed: KLL costs ~40 ns a value (about a third of the baseline's CPU),
    but sampling would weight batches unevenly and break "same result whatever the split".
    """

    K = 200

    def __init__(self, sketch: datasketches.kll_doubles_sketch | None = None) -> None:
        self.sketch = sketch if sketch is not None else datasketches.kll_doubles_sketch(self.K)

    def update(self, x: F64) -> None:
        if x.size:
            x = np.ascontiguousarray(x, dtype=np.float64)
            # the binding only accepts writable arrays; Arrow buffers are read-only
            self.sketch.update(x if x.flags.writeable else x.copy())

    def merge(self, other: Quantiles) -> Quantiles:
        out = Quantiles(datasketches.kll_doubles_sketch.deserialize(self.sketch.serialize()))
        out.sketch.merge(other.sketch)
        return out

    @property
    def n(self) -> int:
        return int(self.sketch.n)

    @property
    def rank_error(self) -> float:
        """The sketch's normalized rank error bound (99% confidence)."""
        err: float = self.sketch.normalized_rank_error(False)
        return err

    def quantiles(self, qs: list[float]) -> list[float]:
        if self.sketch.is_empty():
            return [math.nan for _ in qs]
        return [float(v) for v in self.sketch.get_quantiles(qs)]

    def cdf(self, xs: list[float]) -> list[float]:
        if self.sketch.is_empty():
            return [math.nan for _ in xs]
        return [float(self.sketch.get_rank(v)) for v in xs]

    def to_text(self) -> str:
        # A query sorts KLL's level 0 in place, which changes the serialized bytes; query
        # first so that a profile serializes the same before and after being read.
        if not self.sketch.is_empty():
            self.sketch.get_quantile(0.5)
        return b64encode(bytes(self.sketch.serialize()))

    @classmethod
    def from_text(cls, text: str) -> Quantiles:
        return cls(datasketches.kll_doubles_sketch.deserialize(b64decode(text)))


# ---------------------------------------------------------------------------- log grid


@dataclass(frozen=True)
class LogGrid:
    """Fixed logarithmic bins with relative accuracy ``alpha`` (as DDSketch).

    Key 0 holds ``|x| < min_abs``; key ``k > 0`` holds ``[min_abs*g**(k-1), min_abs*g**k)``
    with ``g = (1+alpha)/(1-alpha)``; negative keys mirror positive ones. Any value's bin is
    known without looking at other data, which is what makes histograms merge exactly.
    """

    alpha: float = 0.01
    min_abs: float = 1e-6
    max_key: int = 60_000

    @property
    def gamma(self) -> float:
        return (1.0 + self.alpha) / (1.0 - self.alpha)

    def keys(self, x: F64) -> I64:
        """Bin key of every value (finite or infinite; no NaN)."""
        ax = np.abs(x)
        with np.errstate(divide="ignore", invalid="ignore"):
            k = np.floor(np.log(ax / self.min_abs) / math.log(self.gamma)) + 1.0
        k = np.where(ax < self.min_abs, 0.0, np.minimum(k, self.max_key))
        keys = k.astype(np.int64)
        return np.where(x < 0, -keys, keys)

    def lower(self, key: I64) -> F64:
        """Lower edge (smaller value) of each bin."""
        k = key.astype(np.float64)
        mag_lo = self.min_abs * np.power(self.gamma, np.abs(k) - 1.0)
        mag_hi = self.min_abs * np.power(self.gamma, np.abs(k))
        out = np.where(k > 0, mag_lo, -mag_hi)
        return np.where(k == 0, -self.min_abs, out)

    def upper(self, key: I64) -> F64:
        """Upper edge (larger value) of each bin."""
        return -self.lower(-key)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "log", "alpha": self.alpha, "min_abs": self.min_abs}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> LogGrid:
        return cls(alpha=float(d["alpha"]), min_abs=float(d["min_abs"]))


@dataclass
class SparseCounts:
    """Counts per integer key (grid bins), kept sorted and sparse; merges by addition."""

    keys: I64 = field(default_factory=lambda: np.zeros(0, np.int64))
    counts: I64 = field(default_factory=lambda: np.zeros(0, np.int64))

    @classmethod
    def of(cls, keys: I64) -> SparseCounts:
        """Count keys with one ``bincount`` over their (bounded) range."""
        if keys.size == 0:
            return cls()
        lo = int(keys.min())
        c = np.bincount(keys - lo)
        nz = np.flatnonzero(c)
        return cls((nz + lo).astype(np.int64), c[nz].astype(np.int64))

    def merge(self, o: SparseCounts) -> SparseCounts:
        if o.keys.size == 0:
            return SparseCounts(self.keys.copy(), self.counts.copy())
        if self.keys.size == 0:
            return SparseCounts(o.keys.copy(), o.counts.copy())
        k = np.concatenate([self.keys, o.keys])
        c = np.concatenate([self.counts, o.counts])
        uk, inv = np.unique(k, return_inverse=True)
        return SparseCounts(uk.astype(np.int64), np.bincount(inv, weights=c).astype(np.int64))

    @property
    def total(self) -> int:
        return int(self.counts.sum())

    def to_text(self) -> str:
        """Delta-encoded keys and counts, compressed: small and independent of row order."""
        deltas = np.diff(self.keys, prepend=np.int64(0)) if self.keys.size else self.keys
        return b64encode(np.concatenate([deltas, self.counts]).astype("<i8").tobytes())

    @classmethod
    def from_text(cls, text: str) -> SparseCounts:
        arr = np.frombuffer(b64decode(text), dtype="<i8").astype(np.int64)
        half = arr.size // 2
        return cls(np.cumsum(arr[:half]).astype(np.int64), arr[half:].copy())


# ------------------------------------------------------------------------- hashing/HLL

_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def mix64(x: U64) -> U64:
    """splitmix64 finaliser over a uint64 array (wrapping arithmetic, stable forever)."""
    z = x + _GOLDEN
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    out: U64 = z ^ (z >> np.uint64(31))
    return out


def hash_strings(arr: pa.Array | pa.ChunkedArray, null_hash: int = 0) -> U64:
    """A stable 64-bit hash per value: blake2b of each distinct value, mapped back.

    Hashing only the dictionary keeps Python calls to the number of distinct values.
    """
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if not pa.types.is_dictionary(arr.type):
        arr = pc.dictionary_encode(arr)
    dictionary = arr.dictionary.cast(pa.string()).to_pylist()
    table = np.array(
        [
            int.from_bytes(hashlib.blake2b(str(v).encode(), digest_size=8).digest(), "little")
            for v in dictionary
        ]
        + [null_hash],
        dtype=np.uint64,
    )
    idx = arr.indices.fill_null(len(dictionary)).to_numpy(zero_copy_only=False)
    out: U64 = table[idx.astype(np.int64)]
    return out


class HyperLogLog:
    """HyperLogLog registers (precision ``p``) updated from 64-bit hashes with numpy."""

    def __init__(self, p: int = 12, registers: npt.NDArray[np.uint8] | None = None) -> None:
        self.p = p
        self.registers = registers if registers is not None else np.zeros(1 << p, np.uint8)

    def update_hashes(self, h: U64) -> None:
        if h.size == 0:
            return
        p = self.p
        idx = (h >> np.uint64(64 - p)).astype(np.int64)
        rest = (h << np.uint64(p)) | np.uint64(1 << (p - 1))  # sentinel bounds the rank
        # rank = leading zeros + 1; bit length via frexp (exact enough for HLL)
        _, exp = np.frexp(rest.astype(np.float64))
        rank = (65 - exp).astype(np.int64)
        width = 66 - p
        hits = np.bincount(idx * width + rank, minlength=(1 << p) * width)
        seen = hits.reshape(1 << p, width) > 0
        top = np.where(seen.any(axis=1), width - 1 - np.argmax(seen[:, ::-1], axis=1), 0)
        np.maximum(self.registers, top.astype(np.uint8), out=self.registers)

    def merge(self, o: HyperLogLog) -> HyperLogLog:
        return HyperLogLog(self.p, np.maximum(self.registers, o.registers))

    def estimate(self) -> float:
        m = float(1 << self.p)
        alpha = 0.7213 / (1.0 + 1.079 / m)
        est = alpha * m * m / float(np.sum(np.ldexp(1.0, -self.registers.astype(np.int64))))
        zeros = int(np.count_nonzero(self.registers == 0))
        if est <= 2.5 * m and zeros:
            est = m * math.log(m / zeros)
        return est

    @property
    def relative_error(self) -> float:
        """Standard error of the estimate, 1.04/sqrt(m)."""
        return 1.04 / math.sqrt(1 << self.p)

    def to_text(self) -> str:
        return b64encode(self.registers.tobytes())

    @classmethod
    def from_text(cls, text: str, p: int = 12) -> HyperLogLog:
        regs = np.frombuffer(b64decode(text), dtype=np.uint8).copy()
        return cls(int(regs.size).bit_length() - 1 if regs.size else p, regs)
