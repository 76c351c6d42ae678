"""Windows of predictions, each summarized by mergeable profiles (never by its rows).

A window is a stretch of traffic, by time (``1h``, ``30m``, ``1d``; aligned to the epoch so
two monitors cut the same windows) or by count (``10000`` records in file order). What it
keeps is a :class:`WindowProfile`: one :class:`~custodes.data.profile.ColumnProfile` per
input feature, one for the predicted class and one for the confidence (the same mergeable
summaries as ``data baseline``), plus counts of labelled and correctly predicted records.
Merging the profiles of two windows equals profiling their union, so hourly windows roll
up into days, and a monitor that restarts mid-window loses nothing it had summarized.
Raw inputs are not kept: a window is a few kilobytes whatever its traffic.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from custodes.data.profile import ColumnProfile
from custodes.data.sketches import I64
from custodes.errors import UsageError
from custodes.monitor.records import RecordBlock, RecordSchema

__all__ = [
    "CONFIDENCE",
    "PREDICTION",
    "WindowProfile",
    "WindowSpec",
    "Windower",
    "parse_window",
]

PREDICTION = "prediction"
CONFIDENCE = "confidence"
BOUNDARY_MARGIN = 0.1
"""A record is near the decision boundary when top minus runner-up probability is below this."""
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}


@dataclass(frozen=True)
class WindowSpec:
    """By time (``seconds``) or by count (``records``): exactly one is set."""

    seconds: float | None = None
    records: int | None = None

    @property
    def label(self) -> str:
        if self.records is not None:
            return f"{self.records} records"
        s = self.seconds or 0
        for unit, size in sorted(_UNITS.items(), key=lambda kv: -kv[1]):
            if s % size == 0:
                return f"{int(s // size)}{unit}"
        return f"{s:g}s"


def parse_window(text: str) -> WindowSpec:
    """``1h``, ``30m``, ``1d``, ``2w`` (time) or ``10000`` (records)."""
    t = text.strip().lower()
    if t.isdigit():
        n = int(t)
        if n < 1:
            raise UsageError("--window records must be at least 1")
        return WindowSpec(records=n)
    m = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([smhdw])", t)
    if not m or float(m.group(1)) <= 0:
        raise UsageError(
            f"--window expects a duration like 1h, 30m, 1d or a count like 10000 (got {text!r})"
        )
    return WindowSpec(seconds=float(m.group(1)) * _UNITS[m.group(2)])


@dataclass
class WindowProfile:
    """What a window keeps: profiles of inputs and outputs, label counts, time span."""

    key: int
    rows: int = 0
    start: float = math.inf
    end: float = -math.inf
    columns: dict[str, ColumnProfile] = field(default_factory=dict)
    """Features by name, plus :data:`PREDICTION` and :data:`CONFIDENCE`."""
    near_boundary: int = 0
    labelled: int = 0
    correct: int = 0

    @property
    def accuracy(self) -> float | None:
        return self.correct / self.labelled if self.labelled else None

    def update(self, block: RecordBlock, schema: RecordSchema) -> None:
        """Add a block's rows (all of them belong to this window)."""
        if len(block) == 0:
            return
        self.rows += len(block)
        self.start = min(self.start, float(block.ts.min()))
        self.end = max(self.end, float(block.ts.max()))
        for name, t in schema.features:
            arr = block.features.column(name) if name in block.features.column_names else None
            prof = self.columns.get(name)
            if prof is None:
                prof = self.columns[name] = ColumnProfile.empty(name, t)
            if arr is not None:
                prof.update(arr)
        pred = block.prediction
        if not pa.types.is_floating(pred.type):
            pred = pc.cast(pred, pa.string())
        self._profile(PREDICTION, pred.type).update(pred)
        self._profile(CONFIDENCE, pa.float64()).update_values(block.confidence)
        self.near_boundary += int(np.count_nonzero(np.abs(block.margin) < BOUNDARY_MARGIN))
        if block.labels is not None and not pa.types.is_floating(block.prediction.type):
            lab = pc.cast(block.labels, pa.string())
            have = pc.is_valid(lab)
            self.labelled += int(pc.sum(have).as_py() or 0)
            same = pc.equal(pc.cast(block.prediction, pa.string()), lab)
            self.correct += int(pc.sum(pc.fill_null(same, False)).as_py() or 0)

    def _profile(self, name: str, t: pa.DataType) -> ColumnProfile:
        prof = self.columns.get(name)
        if prof is None:
            prof = self.columns[name] = ColumnProfile.empty(name, t)
        return prof

    def merge(self, other: WindowProfile) -> WindowProfile:
        """A profile of both windows' records (for roll-ups and the whole batch)."""
        out = WindowProfile(
            self.key,
            self.rows + other.rows,
            min(self.start, other.start),
            max(self.end, other.end),
            near_boundary=self.near_boundary + other.near_boundary,
            labelled=self.labelled + other.labelled,
            correct=self.correct + other.correct,
        )
        for name in {*self.columns, *other.columns}:
            a, b = self.columns.get(name), other.columns.get(name)
            if a is not None and b is not None:
                out.columns[name] = a.merge(b)
            else:
                out.columns[name] = a if a is not None else other.columns[name]
        return out


class Windower:
    """Cuts blocks of records into windows and keeps each window's profile (out-of-order
    records of an earlier window are added to it, so the final profiles are exact)."""

    def __init__(self, spec: WindowSpec, schema: RecordSchema) -> None:
        self.spec = spec
        self.schema = schema
        self.windows: dict[int, WindowProfile] = {}
        self._seen = 0

    def add(self, block: RecordBlock) -> None:
        n = len(block)
        if n == 0:
            return
        if self.spec.records is not None:
            keys = (np.arange(self._seen, self._seen + n) // self.spec.records).astype(np.int64)
        else:
            keys = np.floor(block.ts / float(self.spec.seconds or 1)).astype(np.int64)
        self._seen += n
        if keys[0] == keys[-1] and (keys == keys[0]).all():
            self._window(int(keys[0])).update(block, self.schema)
        else:
            order = np.argsort(keys, kind="stable")
            sk = keys[order]
            cuts = np.flatnonzero(np.diff(sk)) + 1
            for idx in np.split(order, cuts):
                self._window(int(keys[idx[0]])).update(block.take(idx), self.schema)

    def _window(self, key: int) -> WindowProfile:
        w = self.windows.get(key)
        if w is None:
            w = self.windows[key] = WindowProfile(key)
        return w

    def finish(self) -> list[WindowProfile]:
        """All windows in order."""
        return [self.windows[k] for k in sorted(self.windows)]

    def total(self) -> WindowProfile:
        """One profile of every record seen (the merge of all windows)."""
        out = WindowProfile(-1)
        for w in self.windows.values():
            out = out.merge(w)
        return out


def _take(block: RecordBlock, idx: I64) -> RecordBlock:
    """:meth:`RecordBlock.take` (kept under this name for the tests that import it)."""
    return block.take(idx)
