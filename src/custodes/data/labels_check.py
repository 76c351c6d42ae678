"""``custodes data labels``: likely mislabelled rows in a training set, per source.

Confident learning (cleanlab) needs out-of-sample probabilities, so a simple model
(gradient-boosted trees, which take numbers, categories and nulls as they come) is
cross-validated and each row is scored by the folds that did not train on it. Rates
per source are what a reviewer acts on: one source far above the others is a supply
problem (or poisoning), an even rate is the ordinary noise of the labels.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from custodes.data.check.checker import read_batch
from custodes.data.check.issues import cleanlab_issues
from custodes.data.check.result import FlaggedRow
from custodes.data.profile import float_with_nan, kind_of
from custodes.errors import InputError

__all__ = ["LabelsResult", "find_mislabelled"]

MAX_CLASSES = 50


@dataclass(frozen=True)
class LabelsResult:
    rows: int
    label: str
    classes: tuple[str, ...]
    issues: int
    rate: float
    per_source: dict[str, dict[str, float]] = field(default_factory=dict)
    flagged: tuple[FlaggedRow, ...] = ()
    id_column: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "label": self.label,
            "classes": list(self.classes),
            "issues": self.issues,
            "rate": self.rate,
            "per_source": self.per_source,
        }


def _features(table: pa.Table, skip: set[str]) -> np.ndarray:
    cols = []
    for name in table.column_names:
        if name in skip:
            continue
        arr = table.column(name)
        kind = kind_of(arr.type)
        if kind in ("numeric", "boolean", "datetime"):
            cols.append(float_with_nan(arr))
        elif kind == "categorical":
            s = arr.cast(arr.type.value_type) if pa.types.is_dictionary(arr.type) else arr
            enc = pc.dictionary_encode(s.cast(pa.string())).combine_chunks()
            if len(enc.dictionary) > 255:
                continue
            codes = enc.indices.cast(pa.float64()).to_numpy(zero_copy_only=False)
            cols.append(np.asarray(codes, np.float64))
    if not cols:
        raise InputError("no feature columns to learn the label from")
    return np.column_stack(cols)


def find_mislabelled(
    train: Any,
    label: str,
    *,
    source_column: str | None = None,
    id_column: str | None = None,
    folds: int = 3,
    seed: int = 0,
) -> LabelsResult:
    """Cleanlab label issues from cross-validated gradient-boosting probabilities."""
    from sklearn.ensemble import HistGradientBoostingClassifier  # type: ignore[import-untyped,unused-ignore]
    from sklearn.model_selection import cross_val_predict  # type: ignore[import-untyped,unused-ignore]

    table = read_batch(train)
    for opt, col in (
        ("--label", label),
        ("--source-column", source_column),
        ("--id-column", id_column),
    ):
        if col is not None and col not in table.column_names:
            raise InputError(f"{opt} column {col!r} is not in the data", path=str(train))
    lab = table.column(label)
    lab = lab.cast(lab.type.value_type) if pa.types.is_dictionary(lab.type) else lab
    enc = pc.dictionary_encode(lab.cast(pa.string())).combine_chunks()
    classes = [str(v) for v in enc.dictionary.to_pylist()]
    if not 2 <= len(classes) <= MAX_CLASSES:
        raise InputError(f"label {label!r} has {len(classes)} classes (expected 2..{MAX_CLASSES})")
    y = np.asarray(enc.indices.fill_null(-1).to_numpy(zero_copy_only=False), np.int64)
    x = _features(table, {label, source_column or "", id_column or ""})
    known = np.flatnonzero(y >= 0)
    model = HistGradientBoostingClassifier(max_iter=100, random_state=seed)
    proba = np.zeros((y.size, len(classes)))
    proba[known] = cross_val_predict(model, x[known], y[known], cv=folds, method="predict_proba")
    mask, info = cleanlab_issues(proba, y)
    src = (
        [str(v) for v in table.column(source_column).cast(pa.string()).to_pylist()]
        if source_column
        else ["(all)"] * y.size
    )
    src_arr = np.asarray(src, dtype=object)
    per_source = {}
    for s in sorted(set(src)):
        m = src_arr == s
        per_source[s] = {
            "rows": int(m.sum()),
            "issues": int(mask[m].sum()),
            "rate": round(float(mask[m].mean()), 5),
        }
    ids = table.column(id_column).to_pylist() if id_column else list(range(y.size))
    flagged = tuple(
        FlaggedRow(
            ids[i],
            f"label_issue: given {classes[y[i]]!r}, model prefers "
            f"{classes[int(proba[i].argmax())]!r}",
            src[i] if source_column else None,
        )
        for i in np.flatnonzero(mask)
    )
    return LabelsResult(
        y.size,
        label,
        tuple(classes),
        int(mask.sum()),
        float(info.get("rate", 0.0)),
        per_source,
        flagged,
        id_column,
    )
