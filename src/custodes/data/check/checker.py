"""``check_batch``: compare one batch with a baseline and say what happened, where, which rows.

The order matters. Schema first (a broken schema must still leave a per-column answer
for the other columns), then drift per column and per source (effect sizes), then the
poisoning signals that a careful poisoner cannot avoid: labels that disagree with the
calibrated baseline model per source and per group, rare or off-grid values that predict
the label, near-duplicates in bulk, and cleanlab's out-of-sample label issues per source.
The verdict is the worst that applies: ``schema_violation`` > ``suspected_poisoning`` >
``drift`` > ``ok``; drift means only marginals moved, so poisoning never hides as drift.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import math
import os
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any, Literal

try:
    import resource
except ImportError:  # Windows: no rusage, the timings still print
    resource = None  # type: ignore[assignment]

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from custodes.data.baseline import Baseline
from custodes.data.check.drift import Binned, DriftScore, bin_column, drift_score, score_counts
from custodes.data.check.duplicates import DuplicateFinding, near_duplicates
from custodes.data.check.findings import to_findings
from custodes.data.check.issues import cleanlab_issues
from custodes.data.check.labelshift import SOURCE_EFFECT, Z_GROUP, bin_tests, source_scores
from custodes.data.check.model import fit_model, naive_bayes_logits
from custodes.data.check.result import (
    DRIFT,
    OK,
    POISONING,
    SCHEMA,
    ColumnResult,
    DataCheckResult,
    FlaggedRow,
    Signal,
    SourceResult,
    worst_verdict,
)
from custodes.data.check.schema import align
from custodes.data.check.triggers import find_triggers, trigger_candidates
from custodes.data.io import Task, iter_task, plan
from custodes.data.labels import few_values, index_codes
from custodes.data.sketches import F64, I64
from custodes.errors import InputError

__all__ = ["TIERS", "check_batch", "read_batch"]

TIERS = ("first_party", "broker", "user_generated")
WORKERS = 2
"""Threads for the per-column work: the machine the bar is set on has two cores."""
SKIPPED = "not needed: no poisoning signal fired (label_issues='always' computes it)"
NOT_REQUESTED = (
    "not requested (label_issues=True, on the command line --label-issues, computes them "
    "once a poisoning signal fires)"
)
MIN_OVERLAP = 0.5
"""Share of the baseline's columns a batch must have to be the same dataset at all."""


def read_batch(batch: Any) -> pa.Table:
    """The whole batch as one Arrow table (InputError when empty or unreadable).

    A check needs every row at once, so a Parquet file is read whole with Arrow's own
    threads (both cores decode column chunks) rather than streamed batch by batch.
    """
    tasks = plan([batch])
    where = str(batch) if isinstance(batch, str | Path) else None
    parts = [p for t in tasks for p in _read_task(t)]
    if not parts or sum(p.num_rows for p in parts) == 0:
        raise InputError("the batch has no rows", path=where)
    if len(parts) == 1:
        return parts[0]
    try:
        return pa.concat_tables(parts, promote_options="permissive")
    except pa.ArrowInvalid as exc:
        raise InputError(f"batch parts disagree on their columns: {exc}", path=where) from None


def _read_task(task: Task) -> list[pa.Table]:
    if task.kind != "parquet" or task.partition:
        return [pa.Table.from_batches([b]) for b in iter_task(task)]
    try:
        schema = pq.read_schema(task.path)
        strings = [
            f.name for f in schema if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)
        ]
        pf = pq.ParquetFile(task.path, read_dictionary=strings)
        groups = list(task.row_groups) or list(range(pf.metadata.num_row_groups))
        return [pf.read_row_groups(groups, use_threads=True)]
    except (OSError, pa.ArrowException) as exc:
        raise InputError(f"cannot read data: {exc}", path=task.path or None) from None


def _codes(arr: pa.ChunkedArray | pa.Array | None, values: list[str], n: int) -> I64:
    """Index of each row's value in ``values`` (len(values) for unknown or null)."""
    if arr is None:
        return np.full(n, len(values), np.int64)
    return np.asarray(index_codes(arr, values, len(values), len(values)), np.int64)


def _source_drift(
    baseline: Baseline, binned: dict[str, Binned], code: I64, sources: list[str]
) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {s: [] for s in sources}
    ns = len(sources) + 1
    for name, b in binned.items():
        if b.bins is None:
            continue
        nb = b.reference.size
        counts = np.bincount(code * nb + b.index, minlength=ns * nb).reshape(ns, nb)
        for i, s in enumerate(sources):
            fb = baseline.source_label_bins.get(s, {}).get(name)
            if fb is None or counts[i].sum() == 0:
                continue
            ref = np.asarray(fb.rows, np.int64)
            score = score_counts(baseline, name, ref, counts[i], None)
            if score.drifted:
                out[s].append(name)
    return out


def _labels(baseline: Baseline, table: pa.Table) -> I64 | None:
    label = baseline.roles.label
    if not label or label not in table.column_names:
        return None
    arr = table.column(label)
    if pa.types.is_floating(arr.type):  # 1.0 reads as the class "1"
        arr = pc.cast(arr, pa.int64(), safe=False)
    codes = _codes(arr, baseline.classes, table.num_rows)
    return np.where(codes >= len(baseline.classes), -1, codes)


def check_batch(
    batch: Any,
    baseline: Baseline,
    *,
    tiers: Mapping[str, str] | None = None,
    label_issues: bool | Literal["always"] = False,
) -> DataCheckResult:
    """Check one batch (path, Arrow/pandas/polars table) against a baseline.

    ``label_issues``: cleanlab's out-of-sample label issues per source. They explain a
    poisoning verdict but never make one (they change no verdict and flag no row), and
    importing cleanlab costs 0.7 s of CPU, more than a third of a million-row check, so
    they are opt-in: ``True`` computes them once a poisoning signal fired, ``"always"`` on
    every batch.
    """
    start = time.perf_counter()
    stages = _Stages()
    # pyarrow imports pandas (0.2 s of CPU) the first time it turns a Python value into
    # Arrow (a fill value, a lookup list): import it while Arrow decodes (its threads
    # leave the GIL free) rather than inside the per-column stages
    threading.Thread(target=_prefetch, args=("pandas",), daemon=True).start()
    with (
        _collector_paused(),
        ThreadPoolExecutor(WORKERS, thread_name_prefix="custodes-check") as pool,
    ):
        result = _check(batch, baseline, tiers, label_issues, pool, stages)
    stages.report()
    return replace(result, seconds=time.perf_counter() - start)


class _CollectorPause:
    """No cyclic garbage collection while any check runs.

    A check makes few Python objects and no cycles worth collecting, but the tens of
    thousands of flagged rows it reports trigger a full collection, which walks every
    object of the loaded libraries (pandas, pyarrow, scikit-learn): 50 ms for nothing.
    Checks may run on several threads at once: the first to start pauses the
    collector, the last to finish restores what it found.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.running = 0
        self.was_enabled = True

    @contextlib.contextmanager
    def __call__(self) -> Iterator[None]:
        with self.lock:
            if self.running == 0:
                self.was_enabled = gc.isenabled()
                gc.disable()
            self.running += 1
        try:
            yield
        finally:
            with self.lock:
                self.running -= 1
                if self.running == 0 and self.was_enabled:
                    gc.enable()


_collector_paused = _CollectorPause()


def _prefetch(module: str) -> None:
    """Import a module in the background (the import lock makes a later import of the
    same module wait for this one)."""
    with contextlib.suppress(Exception):  # the real import, where it is used, reports it
        importlib.import_module(module)


class _Once:
    """Start importing a module in the background on the first call only."""

    def __init__(self, module: str) -> None:
        self.module = module
        self.started = False

    def __call__(self) -> None:
        if not self.started:
            self.started = True
            threading.Thread(target=_prefetch, args=(self.module,), daemon=True).start()


class _Stages:
    """CPU and wall seconds, page faults and peak memory per stage, on stderr when
    ``CUSTODES_TIMINGS`` is set.

    The 2-second bar is a budget split across stages; this keeps the split visible
    without a profiler (whose overhead distorts the numpy-heavy stages). The page faults
    are the kernel's share: each first touch of a fresh 4 KiB page costs a fault.
    """

    def __init__(self) -> None:
        self.on = bool(os.environ.get("CUSTODES_TIMINGS"))
        self.rows: list[tuple[str, float, float, int, int]] = []
        self.cpu, self.wall, self.faults = time.process_time(), time.perf_counter(), _faults()

    def lap(self, name: str) -> None:
        if self.on:
            cpu, wall, faults = time.process_time(), time.perf_counter(), _faults()
            peak = _peak_mb()
            self.rows.append((name, cpu - self.cpu, wall - self.wall, faults - self.faults, peak))
            self.cpu, self.wall, self.faults = cpu, wall, faults

    def report(self) -> None:
        if self.on:
            for name, cpu, wall, faults, peak in self.rows:
                print(
                    f"custodes-timing {name:42s} cpu {cpu:6.3f} wall {wall:6.3f} "
                    f"faults {faults:7d} peak {peak:5d} MB",
                    file=sys.stderr,
                )


def _faults() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt if resource else 0


def _peak_mb() -> int:
    """Peak resident memory so far (rusage counts kilobytes on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss if resource else 0
    return peak // (1 << 20) if sys.platform == "darwin" else peak // 1024


def _column_work(
    baseline: Baseline,
    name: str,
    arr: pa.ChunkedArray | pa.Array,
    x: F64 | None,
    labelled: bool,
) -> tuple[Binned | None, DriftScore | None, list[tuple[str, str]]]:
    """Everything one column needs before the model: bins, drift, trigger candidates.

    A float column with few distinct values is hashed once, into a dictionary that both
    the bins and the candidates' value counts read.
    """
    encoded = few_values(arr)
    b = bin_column(baseline, name, arr if encoded is None else encoded, x)
    if b is None:
        return None, None, []
    score = drift_score(baseline, b, arr, x)
    cands: list[tuple[str, str]] = []
    if labelled and b.bins is not None:
        cands = trigger_candidates(baseline, name, arr if encoded is None else encoded)
    return b, score, cands


def _duplicates_and_drift(
    baseline: Baseline,
    binned: dict[str, Binned],
    code: I64,
    sources: list[str],
    src_arr: pa.ChunkedArray | None,
) -> tuple[DuplicateFinding, dict[str, list[str]]]:
    """Near-duplicates and per-source drift: both need only the bins, not the model."""
    dup = near_duplicates(
        binned, float(baseline.signatures.get("duplicate_rate", 0.0)), code, sources
    )
    src_drift = _source_drift(baseline, binned, code, sources) if src_arr is not None else {}
    return dup, src_drift


def _check(
    batch: Any,
    baseline: Baseline,
    tiers: Mapping[str, str] | None,
    label_issues: bool | Literal["always"],
    pool: ThreadPoolExecutor,
    stages: _Stages,
) -> DataCheckResult:
    raw = batch if isinstance(batch, pa.Table) else read_batch(batch)
    stages.lap("read")
    n = raw.num_rows
    where = str(batch) if isinstance(batch, str | Path) else None
    if n == 0:
        raise InputError("the batch has no rows", path=where)
    present = [c for c in baseline.columns if c in raw.column_names]
    if len(present) < MIN_OVERLAP * len(baseline.columns):
        raise InputError(
            f"the batch shares {len(present)} of the baseline's {len(baseline.columns)} "
            "columns; is the baseline from another dataset?",
            path=where,
        )
    floats: dict[str, F64] = {}
    aligned = align(baseline, raw, floats, pool)
    stages.lap("schema")
    for name, issues in aligned.issues.items():
        if any(i.kind == "all_null" for i in issues) or (
            name in aligned.table.column_names
            and aligned.table.column(name).null_count == n
            and baseline.columns[name].null_rate < 1
        ):
            raise InputError(f"column {name!r} is entirely null in the batch", path=where)
    table = aligned.table
    roles = baseline.roles
    sources = list(baseline.sources)
    src_arr = table.column(roles.source) if roles.source in table.column_names else None
    code = _codes(src_arr, sources, n)
    y = _labels(baseline, table)
    names = [c for c in table.column_names if c != roles.id]
    columns_of = {c: table.column(c) for c in names}
    work = pool.map(
        lambda c: _column_work(baseline, c, columns_of[c], floats.get(c), y is not None),
        names,
    )
    binned: dict[str, Binned] = {}
    scores: dict[str, DriftScore] = {}
    candidates: dict[str, list[tuple[str, str]]] = {}
    for name, (b, score, cands) in zip(names, work, strict=True):
        if b is None or score is None:
            continue
        binned[name] = b
        scores[name] = score
        candidates[name] = cands
    stages.lap("binning, drift and trigger candidates")
    feature_bins = {k: b.index for k, b in binned.items() if b.bins is not None}
    # near-duplicates and per-source drift need only the bins: they run on the second
    # core while this one fits the model and tests the labels
    side = pool.submit(_duplicates_and_drift, baseline, binned, code, sources, src_arr)
    proba: F64 | None = None
    signals: list[Signal] = []
    flags: dict[int, tuple[str, str]] = {}
    src_z = np.zeros(len(sources) + 1)
    src_eff = np.zeros(len(sources) + 1)
    if y is not None and baseline.classes and feature_bins:
        logits = naive_bayes_logits(baseline, feature_bins, code if src_arr else None, sources)
        proba = fit_model(logits, y, overwrite=True).proba
        stages.lap("model and calibration")
        src_z, src_eff = source_scores(proba, y, code, len(sources) + 1)
        for i, s in enumerate(sources):
            if src_z[i] >= Z_GROUP and src_eff[i] >= SOURCE_EFFECT:
                signals.append(
                    Signal(
                        "source_label_shift",
                        s,
                        s,
                        f"labels from {s} disagree with the baseline model: "
                        f"{src_eff[i]:.3f} nats per row more surprising than expected",
                        int((code == i).sum()),
                        round(float(src_z[i]), 2),
                        round(float(src_eff[i]), 4),
                    )
                )
        ref_rates = {
            s: {name: fb.rates() for name, fb in cols.items()}
            for s, cols in baseline.source_label_bins.items()
        }
        features = list(feature_bins)
        found = find_triggers(
            baseline, table, features, proba, y, code, sources, candidates, floats
        )
        for t in found:
            signals.append(t.signal)
            for r in t.rows.tolist():
                flags.setdefault(r, ("trigger", t.signal.group))
        stages.lap("triggers")
        # cleanlab runs once a signal fired: its import (sklearn, scipy.stats: half a second,
        # five times its work) starts then, on a thread, to overlap the label tests. Not
        # earlier: both cores are busy before, and a clean batch never needs it
        prefetch = _Once("cleanlab.filter") if label_issues else None
        if signals and prefetch is not None:
            prefetch()
        groups = bin_tests(
            binned, proba, y, code, sources, baseline.classes, ref_rates, on_group=prefetch
        )
        for g in groups:
            signals.append(g.signal)
            for r in g.rows.tolist():
                flags.setdefault(r, ("label_shift", g.signal.group))
        stages.lap("label-shift tests")
    dup, src_drift = side.result()
    stages.lap("near-duplicates and source drift (wait)")
    if dup.signal is not None:
        signals.append(dup.signal)
        for r, c in zip(dup.rows.tolist(), dup.cluster.tolist(), strict=True):
            flags.setdefault(r, ("near_duplicate", f"cluster {c}"))
    issues_mask: np.ndarray | None = None
    cleanlab_info: dict[str, Any] = {}
    if not label_issues:
        cleanlab_info = {"available": False, "reason": NOT_REQUESTED}
    elif proba is not None and y is not None:
        if signals or label_issues == "always":
            issues_mask, cleanlab_info = cleanlab_issues(proba, y)
        else:
            cleanlab_info = {"available": False, "reason": SKIPPED}
        stages.lap("cleanlab")
    columns = _columns(baseline, aligned.issues, scores, binned, table)
    poisoned_sources = {s.source for s in signals if s.source}
    source_results = _sources(
        baseline,
        table,
        code,
        sources,
        y,
        src_z,
        src_eff,
        src_drift,
        signals,
        dup,
        issues_mask,
        flags,
        tiers,
        poisoned_sources,
    )
    marked = sorted(flags.items())
    ids = _ids(raw, roles.id, [r for r, _ in marked])
    flagged = tuple(
        FlaggedRow(i, f"{reason}: {group}", sources[code[r]] if code[r] < len(sources) else None)
        for i, (r, (reason, group)) in zip(ids, marked, strict=True)
    )
    verdicts = [c.verdict for c in columns]
    if signals:
        verdicts.append(POISONING)
    verdict = worst_verdict(verdicts)
    reasons = _reasons(columns, signals)
    findings = to_findings(columns, signals, where or "batch")
    stages.lap("results")
    return DataCheckResult(
        verdict,
        tuple(reasons),
        n,
        tuple(columns),
        tuple(source_results),
        tuple(signals),
        flagged,
        tuple(findings),
        baseline.rows,
        roles.id,
        roles.source,
        roles.label,
        0.0,
        cleanlab_info,
        where or "",
    )


def _nanrate(scores: np.ndarray) -> float | None:
    """Share of scored rows that are label issues (NaN marks a row cleanlab did not score)."""
    scored = scores[~np.isnan(scores)]
    return round(float(scored.mean()), 5) if scored.size else None


def _ids(raw: pa.Table, id_col: str | None, rows: list[int]) -> list[Any]:
    """The id of each of ``rows`` (its row number without an id column); only the flagged
    rows become Python objects, not a million ids."""
    if id_col and id_col in raw.column_names and rows:
        return list(raw.column(id_col).take(pa.array(rows, pa.int64())).to_pylist())
    return list(rows)


def _columns(
    baseline: Baseline,
    issues: dict[str, list[Any]],
    scores: dict[str, DriftScore],
    binned: dict[str, Binned],
    table: pa.Table,
) -> list[ColumnResult]:
    out: list[ColumnResult] = []
    names = list(baseline.columns) + [c for c in issues if c not in baseline.columns]
    for name in names:
        if name == baseline.roles.id:
            continue
        iss = tuple(issues.get(name, []))
        s = scores.get(name)
        ref = baseline.columns.get(name)
        verdict = SCHEMA if iss else (DRIFT if s is not None and s.drifted else OK)
        nr = None
        if name in table.column_names:
            nr = table.column(name).null_count / max(table.num_rows, 1)
        out.append(
            ColumnResult(
                name,
                ref.kind if ref is not None else "new",
                verdict,
                iss,
                s.psi if s else None,
                s.js_distance if s else None,
                s.wasserstein if s else None,
                s.noise if s else None,
                None if nr is None else round(nr, 6),
                None if ref is None else round(ref.null_rate, 6),
                s.reference_hist if s else (),
                s.batch_hist if s else (),
                tuple(binned[name].labels) if name in binned else (),
            )
        )
    return out


def _sources(
    baseline: Baseline,
    table: pa.Table,
    code: I64,
    sources: list[str],
    y: I64 | None,
    src_z: F64,
    src_eff: F64,
    src_drift: dict[str, list[str]],
    signals: list[Signal],
    dup: Any,
    issues_mask: np.ndarray | None,
    flags: dict[int, tuple[str, str]],
    tiers: Mapping[str, str] | None,
    poisoned: set[str],
) -> list[SourceResult]:
    n = table.num_rows
    counts = np.bincount(code, minlength=len(sources) + 1)
    total_ref = max(baseline.rows, 1)
    pos = len(baseline.classes) - 1 if len(baseline.classes) == 2 else None
    dup_counts = np.bincount(code[dup.rows], minlength=len(sources) + 1) if dup.signal else None
    flag_src = (
        np.bincount(code[np.fromiter(flags, np.int64)], minlength=len(sources) + 1)
        if flags
        else None
    )
    out = []
    for i, s in enumerate(sources):
        m = code == i
        rows = int(counts[i])
        ref_rows = next(iter(baseline.sources[s].values())).rows if baseline.sources[s] else 0
        rate = ref_rate = None
        if pos is not None and y is not None and rows:
            rate = round(float((y[m] == pos).mean()), 5)
            fb = next(iter(baseline.source_label_bins.get(s, {}).values()), None)
            if fb is not None:
                tot = np.asarray(fb.counts).sum(axis=0)
                ref_rate = round(float(tot[pos] / max(tot.sum(), 1)), 5)
        li = oli = None
        if issues_mask is not None and rows:
            li = _nanrate(issues_mask[m])
            oli = _nanrate(issues_mask[~m]) if (~m).any() else None
        drifted = tuple(src_drift.get(s, []))
        verdict = POISONING if s in poisoned else (DRIFT if drifted else OK)
        tier = (tiers or {}).get(s) or (s if s in TIERS else None)
        out.append(
            SourceResult(
                s,
                tier,
                rows,
                round(ref_rows / total_ref, 5),
                round(rows / max(n, 1), 5),
                drifted,
                rate,
                ref_rate,
                round(float(src_z[i]), 2) if math.isfinite(src_z[i]) else 0.0,
                round(float(src_eff[i]), 5),
                int(dup_counts[i]) if dup_counts is not None else 0,
                tuple(x.group for x in signals if x.kind == "trigger" and x.source == s),
                li,
                oli,
                verdict,
                int(flag_src[i]) if flag_src is not None else 0,
            )
        )
    return out


def _reasons(columns: list[ColumnResult], signals: list[Signal]) -> list[str]:
    out = [i.message for c in columns for i in c.issues]
    out += [s.message for s in signals]
    drifted = [c for c in columns if c.verdict == DRIFT]
    if drifted:
        top = sorted(drifted, key=lambda c: -(c.psi or 0))[:5]
        out.append(
            f"{len(drifted)} column(s) drifted: "
            + ", ".join(f"{c.name} (PSI {c.psi:.2f})" for c in top)
        )
    return out
