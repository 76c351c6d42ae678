"""Schema checks of a batch against the baseline's columns and reviewed constraints.

A schema break is the one failure the anchors (Evidently, whylogs, alibi-detect) crash
on, so every issue here is a result, never an exception: missing, renamed (with the
suggested match), new and retyped columns, values outside the constraints' range,
null-rate jumps and categories outside ``allowed``. The batch is also *aligned* to the
baseline (a suggested rename is mapped back, a retyped column cast back when its values
allow), so that every other column still gets its drift and poisoning analysis.
"""

from __future__ import annotations

import difflib
import math
import re
from concurrent.futures import Executor
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from custodes.data.baseline import Baseline
from custodes.data.check.result import SchemaIssue
from custodes.data.check.triggers import value_counts
from custodes.data.profile import ColumnProfile, float_with_nan, kind_of

__all__ = ["Aligned", "align", "name_similarity"]

MIN_RENAME_SCORE = 0.5
"""Combined name and profile similarity from which a new column is suggested as a rename."""
RANGE_TOLERANCE = 1e-4
"""Share of rows outside the range that is tolerated (heavy tails at millions of rows)."""


@dataclass(frozen=True)
class Aligned:
    """The batch with baseline column names and types where they could be recovered."""

    table: pa.Table
    issues: dict[str, list[SchemaIssue]]
    new_columns: tuple[str, ...]
    missing: tuple[str, ...]


def _tokens(name: str) -> list[str]:
    spaced = re.sub(r"([a-z])([A-Z])", r"\1 \2", name)
    return [t for t in re.split(r"[^A-Za-z0-9]+", spaced.lower()) if t]


def name_similarity(a: str, b: str) -> float:
    """How alike two column names are: edit ratio, token overlap, or an acronym match."""
    ta, tb = _tokens(a), _tokens(b)
    ratio = difflib.SequenceMatcher(None, "_".join(ta), "_".join(tb)).ratio()
    acro_a, acro_b = "".join(t[0] for t in ta), "".join(t[0] for t in tb)
    acronym = (
        1.0
        if (len(ta) > 1 and acro_a == "".join(tb)) or (len(tb) > 1 and acro_b == "".join(ta))
        else 0.0
    )
    overlap = len(set(ta) & set(tb)) / max(len(set(ta) | set(tb)), 1)
    return max(ratio, acronym, overlap)


def _as_kind(arr: pa.ChunkedArray | pa.Array, kind: str) -> pa.ChunkedArray | pa.Array | None:
    """The array cast to the baseline's kind, or None when its values do not allow it."""
    have = kind_of(arr.type)
    if have == kind or (have == "numeric" and kind == "numeric"):
        return arr
    try:
        if pa.types.is_dictionary(arr.type):
            arr = arr.cast(arr.type.value_type)
        if kind == "numeric":
            return pc.cast(arr, pa.float64())
        if kind == "categorical":
            return pc.cast(arr, pa.string())
        if kind == "boolean":
            return pc.cast(arr, pa.bool_())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    return None


def _profile_similarity(ref: ColumnProfile, arr: pa.ChunkedArray | pa.Array) -> float:
    """1 for the same distribution, towards 0 as it differs (kind mismatch: 0)."""
    cast = _as_kind(arr, ref.base_kind)
    if cast is None:
        return 0.0
    if ref.hist is not None and ref.hist.total:
        qs = [0.1, 0.25, 0.5, 0.75, 0.9]
        rq = np.asarray(ref.quantiles(qs))
        x = float_with_nan(cast)
        x = x[~np.isnan(x)]
        if x.size == 0:
            return 0.0
        bq = np.quantile(x[:200_000], qs)
        scale = max(float(rq[-1] - rq[0]), 1e-12)
        return float(math.exp(-float(np.abs(bq - rq).mean()) / scale * 4))
    ref_vals = set(ref.frequencies())
    got = {str(v) for v in pc.unique(pc.drop_null(cast.cast(pa.string()))).to_pylist()[:1000]}
    return len(ref_vals & got) / max(len(ref_vals | got), 1)


def _outside(arr: pa.ChunkedArray | pa.Array, x: np.ndarray | None, lo: float, hi: float) -> int:
    """Values outside [lo, hi]. Integer columns are compared in Arrow, exactly and without
    a float64 copy of the column (nothing downstream needs one: they bin by table)."""
    if x is not None:
        return int(np.count_nonzero((x < lo) | (x > hi)))
    mm = pc.min_max(arr)
    low, high = mm["min"].as_py(), mm["max"].as_py()
    if low is None or (low >= lo and high <= hi):
        return 0
    return int(pc.sum(pc.or_(pc.less(arr, lo), pc.greater(arr, hi))).as_py() or 0)


def _constraint_issues(
    name: str,
    arr: pa.ChunkedArray | pa.Array,
    cons: dict[str, object],
    ref_null: float,
    floats: dict[str, np.ndarray] | None = None,
) -> list[SchemaIssue]:
    out: list[SchemaIssue] = []
    n = len(arr)
    kind = str(cons.get("kind", ""))
    nulls = arr.null_count
    x: np.ndarray | None = None
    integers = kind == "numeric" and pa.types.is_integer(arr.type)
    ordered = ("numeric", "datetime")
    if not integers and kind in ordered and kind_of(arr.type) in ordered:
        x = float_with_nan(arr)
        if floats is not None:
            floats[name] = x
        nulls = int(np.isnan(x).sum())
    rate = nulls / n if n else 0.0
    max_null = float(cons.get("max_null_rate", 1.0))  # type: ignore[arg-type]
    # a jump must beat the reviewed ceiling and be more than sampling noise around it
    if rate > max_null and (rate - max_null) > 4 * math.sqrt(max(max_null, 1 / n) / n):
        out.append(
            SchemaIssue(
                "null_rate",
                name,
                f"{name}: {rate:.1%} nulls (reference {ref_null:.1%}, limit {max_null:.1%})",
                rows=nulls,
            )
        )
    lo, hi = cons.get("min"), cons.get("max")
    if (x is not None or integers) and isinstance(lo, int | float) and isinstance(hi, int | float):
        bad = _outside(arr, x, lo, hi)
        if bad > max(2, RANGE_TOLERANCE * n):
            out.append(
                SchemaIssue(
                    "out_of_range",
                    name,
                    f"{name}: {bad:,} values outside [{lo:.6g}, {hi:.6g}]",
                    rows=bad,
                )
            )
    allowed = cons.get("allowed")
    if isinstance(allowed, list) and kind == "categorical":
        t = arr.type
        strings = pa.types.is_dictionary(t) and pa.types.is_string(t.value_type)
        vc = value_counts(arr if strings else pc.cast(_decoded(arr), pa.string()))
        vals = vc.field("values").to_pylist()
        cnts = vc.field("counts").to_pylist()
        unknown = {str(v): int(c) for v, c in zip(vals, cnts, strict=True) if v not in allowed}
        if unknown:
            shown = ", ".join(sorted(unknown)[:5])
            out.append(
                SchemaIssue(
                    "unknown_category",
                    name,
                    f"{name}: {len(unknown)} value(s) outside the allowed set ({shown})",
                    rows=sum(unknown.values()),
                )
            )
    return out


def align(
    baseline: Baseline,
    table: pa.Table,
    floats: dict[str, np.ndarray] | None = None,
    pool: Executor | None = None,
) -> Aligned:
    """Compare the batch's columns with the baseline's and align it for analysis.

    ``floats``, when given, receives each float and datetime column as
    :func:`float_with_nan` gave it for the range check, so that binning and drift reuse it
    instead of converting a million rows again (integer columns are checked in Arrow and
    bin by table, so they need no float copy); ``pool`` runs the per-column constraint
    checks (numpy and Arrow release the GIL) on the caller's threads.
    """
    ref_cols = list(baseline.columns)
    roles = baseline.roles.special()
    have = set(table.column_names)
    missing = [c for c in ref_cols if c not in have]
    new = [c for c in table.column_names if c not in baseline.columns and c not in roles]
    issues: dict[str, list[SchemaIssue]] = {c: [] for c in ref_cols}
    renames: dict[str, str] = {}
    scored = []
    for m in missing:
        for n in new:
            ns = name_similarity(m, n)
            ps = _profile_similarity(baseline.columns[m], table.column(n))
            scored.append((0.5 * ns + 0.5 * ps, ns, ps, m, n))
    for score, ns, ps, m, n in sorted(scored, reverse=True):
        if score < MIN_RENAME_SCORE or m in renames or n in renames.values():
            continue
        renames[m] = n
        issues[m].append(
            SchemaIssue(
                "renamed",
                m,
                f"{m} is missing; {n!r} looks like it renamed "
                f"(name similarity {ns:.2f}, profile similarity {ps:.2f})",
                suggestion=n,
                score=round(score, 3),
            )
        )
    for m in missing:
        if m not in renames:
            issues[m].append(SchemaIssue("missing", m, f"{m} is missing from the batch"))
    for n in new:
        if n not in renames.values():
            issues.setdefault(n, []).append(
                SchemaIssue("new", n, f"{n} is a new column (not in the baseline)")
            )
    arrays: dict[str, pa.ChunkedArray | pa.Array] = {}
    for name in table.column_names:
        if name not in baseline.columns:
            continue
        arrays[name] = table.column(name)
    for m, n in renames.items():
        arrays[m] = table.column(n)
    out_cols: dict[str, pa.ChunkedArray | pa.Array] = {}
    checks: list[tuple[str, pa.ChunkedArray | pa.Array]] = []
    for name, arr in arrays.items():
        ref = baseline.columns[name]
        kind = kind_of(arr.type)
        if pa.types.is_null(arr.type) and ref.null_rate < 1:
            issues[name].append(
                SchemaIssue("all_null", name, f"{name} has no values", rows=len(arr))
            )
            continue
        if kind != ref.base_kind and ref.arrow_type != "null":
            issues[name].append(
                SchemaIssue(
                    "type_changed",
                    name,
                    f"{name} changed type: {ref.arrow_type} -> {_type_name(arr.type)}",
                )
            )
            cast = _as_kind(arr, ref.base_kind)
            if cast is None:
                continue
            arr = cast
        if name not in roles:
            checks.append((name, arr))
        out_cols[name] = arr

    def constraint(job: tuple[str, pa.ChunkedArray | pa.Array]) -> list[SchemaIssue]:
        name, arr = job
        cons = baseline.constraints.get(name, {})
        return _constraint_issues(name, arr, cons, baseline.columns[name].null_rate, floats)

    found = pool.map(constraint, checks) if pool is not None else map(constraint, checks)
    for (name, _), got in zip(checks, found, strict=True):
        issues[name].extend(got)
    # from_pydict, not pa.table(): the latter asks whether the dict is a pandas frame,
    # which imports pandas (a quarter second) on a path that never needs it
    aligned = pa.Table.from_pydict(out_cols)
    return Aligned(aligned, issues, tuple(new), tuple(missing))


def _decoded(arr: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray | pa.Array:
    return arr.cast(arr.type.value_type) if pa.types.is_dictionary(arr.type) else arr


def _type_name(t: pa.DataType) -> str:
    return str(t.value_type) if pa.types.is_dictionary(t) else str(t)
