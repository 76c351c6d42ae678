"""PartialBaseline: the mergeable state a worker builds from its share of the rows.

Rows are grouped into *cells*, one per (source, label class) pair, and every column is
profiled per cell. Everything the baseline reports is a merge of cells: the global profile
(all cells), a source's profile (its cells), a label class's profile, and the label counts
per feature bin (the cells' histograms side by side). So the per-source and per-label
profiles cost nothing beyond the global one: each row is summarised once.

A batch is sorted by cell once (a stable radix sort of small integer codes) so that each
cell is a contiguous slice of every column. Row signatures (for duplicate detection) are
hashed from the same sorted columns: grid keys for numbers, stable string hashes for
categories, so a check can compute the same signature on a batch with
:func:`row_signatures`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from custodes.data.profile import GRID, ColumnProfile, float_with_nan, kind_of
from custodes.data.sketches import (
    I64,
    U64,
    HyperLogLog,
    b64decode,
    b64encode,
    hash_strings,
    mix64,
)
from custodes.errors import InputError

__all__ = ["NULL", "PartialBaseline", "Roles", "SignatureSample", "row_signatures"]

NULL = "(null)"
"""Cell key of rows whose source or label is null."""
_NULL_CODE = np.uint64(0x7FFF_FFFF_FFFF_FFFF)
SAMPLE_SIZE = 2048


@dataclass(frozen=True)
class Roles:
    """Which columns play a role: the label, the source (tier) and the row id."""

    label: str | None = None
    source: str | None = None
    id: str | None = None

    def special(self) -> set[str]:
        return {c for c in (self.label, self.source, self.id) if c}


def _cell_values(batch: pa.RecordBatch, column: str | None) -> tuple[list[str], I64]:
    """Distinct string values of a role column and each row's code into them."""
    if column is None:
        return [""], np.zeros(batch.num_rows, np.int64)
    arr = batch.column(column)
    if pa.types.is_dictionary(arr.type):
        arr = arr.cast(arr.type.value_type)
    enc = pc.dictionary_encode(arr.cast(pa.string()))
    values = [str(v) for v in enc.dictionary.to_pylist()] + [NULL]
    codes = enc.indices.fill_null(len(values) - 1).to_numpy(zero_copy_only=False)
    return values, codes.astype(np.int64)


def _column_codes(arr: pa.Array, kind: str) -> U64 | None:
    """Per-row uint64 code of one column for signatures (None: not part of signatures)."""
    if kind in ("numeric", "datetime", "boolean"):
        x = float_with_nan(arr)
        nan = np.isnan(x)
        keys = GRID.keys(np.where(nan, 0.0, x)).astype(np.uint64)
        return np.where(nan, _NULL_CODE, keys)
    if kind == "categorical":
        return hash_strings(arr, null_hash=int(_NULL_CODE))
    return None


def signature_columns(schema: pa.Schema, roles: Roles) -> list[str]:
    """Feature columns hashed into row signatures, in a fixed (sorted) order."""
    return sorted(
        f.name
        for f in schema
        if f.name not in roles.special()
        and kind_of(f.type) in ("numeric", "datetime", "boolean", "categorical")
    )


def row_signatures(table: pa.Table | pa.RecordBatch, columns: list[str]) -> U64:
    """One 64-bit signature per row: the feature columns quantized to the 1% grid, hashed.

    Rows whose numbers agree within the grid's resolution and whose categories are equal
    get the same signature. Columns missing from ``table`` hash as nulls.
    """
    h = np.zeros(table.num_rows, np.uint64)
    for i, name in enumerate(columns):
        if name in table.column_names:
            arr = table.column(name)
            if isinstance(arr, pa.ChunkedArray):
                arr = arr.combine_chunks()
            codes = _column_codes(arr, kind_of(arr.type))
        else:
            codes = None
        if codes is None:
            codes = np.full(table.num_rows, _NULL_CODE, np.uint64)
        h = mix64(h ^ mix64(codes + np.uint64(i)))
    return h


@dataclass
class SignatureSample:
    """Bottom-k sample of distinct row signatures with their exact multiplicities.

    Keeping the k smallest hashes is mergeable exactly (a hash in the global bottom-k is
    in every part's bottom-k), gives a uniform sample of distinct rows, and lets a check
    ask "do batch rows repeat reference rows?" for the batch rows whose hash falls below
    ``threshold``.
    """

    hashes: U64 = field(default_factory=lambda: np.zeros(0, np.uint64))
    counts: I64 = field(default_factory=lambda: np.zeros(0, np.int64))

    def add(self, h: U64, c: I64) -> None:
        hh = np.concatenate([self.hashes, h])
        cc = np.concatenate([self.counts, c])
        uh, inv = np.unique(hh, return_inverse=True)
        uc = np.bincount(inv, weights=cc).astype(np.int64)
        self.hashes, self.counts = uh[:SAMPLE_SIZE], uc[:SAMPLE_SIZE]

    @property
    def threshold(self) -> int:
        """Largest sampled hash (the sample covers hashes <= this)."""
        return int(self.hashes[-1]) if self.hashes.size else 0

    @property
    def duplicate_rate(self) -> float:
        """Estimated fraction of rows whose signature appeared before in the reference."""
        total = int(self.counts.sum())
        return float((self.counts - 1).sum() / total) if total else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "hashes": b64encode(self.hashes.astype("<u8").tobytes()),
            "counts": b64encode(self.counts.astype("<i8").tobytes()),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SignatureSample:
        return cls(
            np.frombuffer(b64decode(d["hashes"]), "<u8").astype(np.uint64),
            np.frombuffer(b64decode(d["counts"]), "<i8").astype(np.int64),
        )


class PartialBaseline:
    """Cell profiles and signature sketches of some rows; merge parts in any order."""

    def __init__(self, roles: Roles) -> None:
        self.roles = roles
        self.cells: dict[tuple[str, str], dict[str, ColumnProfile]] = {}
        self.columns: dict[str, str] = {}
        self.signature_columns: list[str] | None = None
        self.rows = 0
        self.batches = 0
        self.batch_duplicates = 0
        self.sig_hll = HyperLogLog(14)
        self.sample = SignatureSample()

    def update(self, batch: pa.RecordBatch | pa.Table) -> None:
        """Profile one batch of rows."""
        if isinstance(batch, pa.Table):
            batch = batch.combine_chunks().to_batches()[0] if batch.num_rows else None
            if batch is None:
                return
        n = batch.num_rows
        if n == 0:
            return
        for name in self.roles.special():
            if name not in batch.schema.names:
                raise InputError(f"column {name!r} is not in the data")
        src_vals, src = _cell_values(batch, self.roles.source)
        lab_vals, lab = _cell_values(batch, self.roles.label)
        code = src * len(lab_vals) + lab
        order = np.argsort(code, kind="stable")
        sizes = np.bincount(code, minlength=len(src_vals) * len(lab_vals))
        bounds = np.concatenate([[0], np.cumsum(sizes)])
        present = [int(c) for c in np.flatnonzero(sizes)]
        cell_keys = {
            c: (src_vals[c // len(lab_vals)], lab_vals[c % len(lab_vals)]) for c in present
        }
        idx = pa.array(order)
        sig_cols = signature_columns(batch.schema, self.roles)
        if self.signature_columns is None:
            self.signature_columns = sig_cols
        h = np.zeros(n, np.uint64)
        for field_ in batch.schema:
            name = field_.name
            if name == self.roles.id:
                continue
            t = field_.type
            self.columns.setdefault(name, str(t.value_type if pa.types.is_dictionary(t) else t))
            arr = batch.column(name)
            kind = kind_of(arr.type)
            if pa.types.is_dictionary(arr.type) and kind != "categorical":
                arr = arr.cast(arr.type.value_type)
            sorted_arr = arr.take(idx)
            x = keys = None
            if kind in ("numeric", "datetime") and not pa.types.is_null(arr.type):
                x = float_with_nan(sorted_arr)
                nan = np.isnan(x)
                keys = GRID.keys(np.where(nan, 0.0, x))
            for c in present:
                lo, hi = int(bounds[c]), int(bounds[c + 1])
                prof = self._profile(cell_keys[c], name, arr.type)
                if x is not None and keys is not None:
                    xs, ks = x[lo:hi], keys[lo:hi]
                    ok = ~np.isnan(xs)
                    prof.nulls += int(hi - lo - int(ok.sum()))
                    prof.update_values(xs[ok], ks[ok])
                else:
                    prof.update(sorted_arr.slice(lo, hi - lo))
            if name in sig_cols:
                pos = sig_cols.index(name)
                codes: U64 | None
                if keys is not None and x is not None:
                    codes = np.where(np.isnan(x), _NULL_CODE, keys.astype(np.uint64))
                else:
                    codes = _column_codes(sorted_arr, kind)
                if codes is not None:
                    h = mix64(h ^ mix64(codes + np.uint64(pos)))
        for pos, name in enumerate(sig_cols):
            if name not in batch.schema.names:
                h = mix64(h ^ mix64(np.full(n, _NULL_CODE, np.uint64) + np.uint64(pos)))
        self._add_signatures(h)
        self.rows += n
        self.batches += 1

    def _profile(self, cell: tuple[str, str], name: str, t: pa.DataType) -> ColumnProfile:
        cols = self.cells.setdefault(cell, {})
        prof = cols.get(name)
        if prof is None:
            prof = cols[name] = ColumnProfile.empty(name, t)
        return prof

    def _add_signatures(self, h: U64) -> None:
        self.sig_hll.update_hashes(h)
        uh, cnt = np.unique(h, return_counts=True)
        self.batch_duplicates += int(h.size - uh.size)
        self.sample.add(uh[:SAMPLE_SIZE], cnt[:SAMPLE_SIZE].astype(np.int64))

    def merge(self, o: PartialBaseline) -> PartialBaseline:
        """Both parts' rows in one partial (in place on self, which is returned)."""
        for cell, cols in o.cells.items():
            mine = self.cells.setdefault(cell, {})
            for name, prof in cols.items():
                mine[name] = mine[name].merge(prof) if name in mine else prof
        for name, t in o.columns.items():
            self.columns.setdefault(name, t)
        if self.signature_columns is None:
            self.signature_columns = o.signature_columns
        self.rows += o.rows
        self.batches += o.batches
        self.batch_duplicates += o.batch_duplicates
        self.sig_hll = self.sig_hll.merge(o.sig_hll)
        self.sample.add(o.sample.hashes, o.sample.counts)
        return self

    def to_dict(self) -> dict[str, Any]:
        """What a worker sends back to be merged (JSON-ready)."""
        return {
            "roles": [self.roles.label, self.roles.source, self.roles.id],
            "cells": [
                {"source": s, "label": lab, "columns": [p.to_dict() for p in cols.values()]}
                for (s, lab), cols in self.cells.items()
            ],
            "columns": self.columns,
            "signature_columns": self.signature_columns,
            "rows": self.rows,
            "batches": self.batches,
            "batch_duplicates": self.batch_duplicates,
            "sig_hll": self.sig_hll.to_text(),
            "sample": self.sample.to_dict(),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> PartialBaseline:
        label, source, id_ = d["roles"]
        p = cls(Roles(label, source, id_))
        for cell in d["cells"]:
            p.cells[(cell["source"], cell["label"])] = {
                c["name"]: ColumnProfile.from_dict(c) for c in cell["columns"]
            }
        p.columns = dict(d["columns"])
        p.signature_columns = d["signature_columns"]
        p.rows, p.batches = int(d["rows"]), int(d["batches"])
        p.batch_duplicates = int(d["batch_duplicates"])
        p.sig_hll = HyperLogLog.from_text(d["sig_hll"])
        p.sample = SignatureSample.from_dict(d["sample"])
        return p
