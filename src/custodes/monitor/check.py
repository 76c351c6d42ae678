"""One-off monitoring run: a file of predictions against a reference, for CI.

Reads the reference (validation-time outputs) once into a profile and the null statistics
of the abuse signals, then streams the predictions block by block into windows and
per-client summaries, joins delayed labels by id, and turns what it found into a
:class:`~custodes.monitor.result.MonitorCheckResult`. The long-running ``monitor run``
service will drive the same :class:`~custodes.monitor.windows.Windower` and
:class:`~custodes.monitor.abuse.ClientTracker` from a live stream instead of a file.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from custodes.errors import InputError
from custodes.findings import Category, Finding, Location, RuleId, Severity
from custodes.monitor.abuse import ClientReport, ClientTracker, ReferenceStats
from custodes.monitor.drift import WindowDrift, compare
from custodes.monitor.records import (
    InputIssues,
    RecordBlock,
    RecordSchema,
    infer_schema,
    read_records,
)
from custodes.monitor.result import (
    BAD_INPUT_SHARE,
    DEGRADED,
    DRIFT,
    EXTRACTION,
    MonitorCheckResult,
    worst_verdict,
)
from custodes.monitor.windows import Windower, WindowProfile, WindowSpec

__all__ = ["check_predictions", "read_labels", "read_reference"]

BUSIEST = 5


def read_labels(path: str | Path) -> tuple[pa.Array, pa.Array]:
    """(ids, labels) of a delayed-labels file: JSONL or Parquet with ``id`` and ``label``."""
    import pyarrow.json as pj
    import pyarrow.parquet as pq

    p = Path(path)
    if not p.is_file() or p.stat().st_size == 0:
        raise InputError("no such file" if not p.exists() else "empty labels file", path=p)
    try:
        with p.open("rb") as fh:
            magic = fh.read(4)
        table = pq.read_table(p) if magic == b"PAR1" else pj.read_json(p)
    except (pa.ArrowInvalid, OSError) as exc:
        raise InputError(f"cannot read labels ({str(exc).splitlines()[0]})", path=p) from None
    if "id" not in table.column_names or "label" not in table.column_names:
        raise InputError("labels need an 'id' and a 'label' field", path=p)
    ids = table.column("id").combine_chunks()
    try:
        if pa.types.is_floating(ids.type):
            ids = pc.cast(pc.cast(ids, pa.int64(), safe=False), pa.string())
        return pc.cast(ids, pa.string()), pc.cast(
            table.column("label").combine_chunks(), pa.string()
        )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise InputError(
            f"labels need scalar 'id' and 'label' values ({str(exc).splitlines()[0]})", path=p
        ) from None


def read_reference(
    path: str | Path, schema: RecordSchema
) -> tuple[WindowProfile, ReferenceStats, InputIssues]:
    """The reference read once: its profile, the abuse signals' null statistics, its bad input."""
    issues = InputIssues()
    blocks = list(read_records(path, schema, issues, now=None))
    profile = WindowProfile(-1)
    for b in blocks:
        profile.update(b, schema)
    return profile, ReferenceStats.build(blocks, schema), issues


def _join_labels(block: RecordBlock, labels: tuple[pa.Array, pa.Array] | None) -> RecordBlock:
    if labels is None or block.ids is None:
        return block
    idx = pc.index_in(block.ids, value_set=labels[0])
    joined = pc.take(labels[1], idx)
    if block.labels is not None:
        joined = pc.coalesce(joined, pc.cast(block.labels, pa.string()))
    return replace(block, labels=joined)


def _without(block: RecordBlock, clients: pa.Array) -> RecordBlock:
    """The block without the records of ``clients``."""
    values = clients if clients.type == block.client.type else clients.cast(block.client.type)
    hit = pc.fill_null(pc.is_in(block.client, value_set=values), False)
    keep = ~np.asarray(hit.to_numpy(zero_copy_only=False), dtype=bool)
    return block.take(np.flatnonzero(keep))


def check_predictions(
    predictions: str | Path,
    reference: str | Path,
    *,
    window: WindowSpec,
    labels: str | Path | None = None,
    now: float | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> MonitorCheckResult:
    """Check a file of predictions against a reference file (see the module docstring).

    ``now``: seconds since the epoch beyond which (plus the clock-skew allowance) a
    timestamp is counted as clock skew and dropped; None means the current time.
    """
    start = time.perf_counter()
    now = time.time() if now is None else now
    schema = infer_schema(reference)
    ref_profile, stats, ref_issues = read_reference(reference, schema)
    label_table = read_labels(labels) if labels is not None else None

    issues = InputIssues()
    windower = Windower(window, schema)
    tracker = ClientTracker(stats)
    records = 0
    for block in read_records(predictions, schema, issues, now=now, progress=progress):
        block = _join_labels(block, label_table)
        windower.add(block)
        tracker.add(block)
        records += len(block)
    reports = tracker.reports()
    suspected = tuple(r for r in reports if r.suspected)
    extra: dict[str, Any] = {}
    if suspected:
        # The attacker's own queries are not the population moving: score drift again
        # on everyone else, so an extraction sweep is not also reported as input drift.
        excluded = pa.array([c.client_id for c in suspected], pa.string())
        clean = Windower(window, schema)
        for block in read_records(predictions, schema, InputIssues(), now=now):
            clean.add(_without(_join_labels(block, label_table), excluded))
        windower = clean
        extra["drift_excludes_clients"] = [c.client_id for c in suspected]
    profiles = windower.finish()
    names = schema.feature_names
    drifts = tuple(compare(ref_profile, w, names) for w in profiles)
    overall = compare(ref_profile, windower.total(), names)

    reasons, verdicts = _reasons(drifts, overall, suspected, issues, records)
    path = str(predictions)
    return MonitorCheckResult(
        verdict=worst_verdict(verdicts),
        reasons=tuple(reasons),
        predictions=path,
        reference=str(reference),
        window=window.label,
        records=records,
        reference_records=ref_profile.rows,
        windows=drifts,
        overall=overall,
        clients=suspected,
        busiest=tuple(reports[:BUSIEST]),
        client_count=len(reports),
        input_issues=issues,
        findings=tuple(_findings(suspected, drifts, overall, path)),
        seconds=time.perf_counter() - start,
        extra=extra
        | ({"reference_input_issues": ref_issues.to_dict()} if ref_issues.counts else {}),
    )


def _reasons(
    drifts: tuple[WindowDrift, ...],
    overall: WindowDrift,
    suspected: tuple[ClientReport, ...],
    issues: InputIssues,
    records: int,
) -> tuple[list[str], list[str]]:
    reasons: list[str] = []
    verdicts: list[str] = []
    for c in suspected:
        verdicts.append(EXTRACTION)
        kinds = ", ".join(s.kind for s in c.signals)
        reasons.append(f"client {c.client_id} ({c.queries:,} queries): {kinds}")
    all_windows = [*drifts, overall]
    degraded = [w for w in all_windows if w.degraded]
    if degraded:
        worst = max(degraded, key=lambda w: w.performance.drop if w.performance else 0.0)
        perf = worst.performance
        assert perf is not None
        verdicts.append(DEGRADED)
        reasons.append(
            f"accuracy fell to {perf.accuracy:.1%} from {perf.reference_accuracy:.1%} "
            f"({perf.labelled:,} labelled records; {sum(w.degraded for w in drifts)} of "
            f"{len(drifts)} windows degraded)"
        )
    total = records + issues.rejected
    if total and issues.rejected / total >= BAD_INPUT_SHARE:
        verdicts.append(DEGRADED)
        reasons.append(
            f"{issues.rejected:,} of {total:,} records unusable ({issues.rejected / total:.1%})"
        )
    out_w = [w for w in all_windows if w.output_drift]
    conf_w = [w for w in all_windows if w.confidence_shift]
    in_w = [w for w in all_windows if w.input_drift]
    if out_w:
        verdicts.append(DRIFT)
        reasons.append(
            f"output distribution drifted in {sum(w.output_drift for w in drifts)} of {len(drifts)} windows"
        )
    if conf_w:
        verdicts.append(DRIFT)
        reasons.append(
            f"confidence shifted in {sum(w.confidence_shift for w in drifts)} of {len(drifts)} windows"
        )
    if in_w:
        verdicts.append(DRIFT)
        cols = sorted({c for w in in_w for c in w.input_drift})
        reasons.append(f"input drift in {', '.join(cols[:6])}{', ...' if len(cols) > 6 else ''}")
    return reasons, verdicts


def _findings(
    suspected: tuple[ClientReport, ...],
    drifts: tuple[WindowDrift, ...],
    overall: WindowDrift,
    path: str,
) -> list[Finding]:
    """The result as findings, for assess, SARIF and the HTML reports."""
    loc = Location(path)
    out: list[Finding] = []
    for c in suspected:
        out.extend(
            Finding(
                RuleId(f"MONITOR-USE-{s.kind.upper().replace('_', '-')}"),
                Category.THREAT,
                Severity.HIGH,
                f"client {c.client_id}: {s.message}",
                Location(path, c.first_line or None),
                threats=s.threats,
                facts=tuple(f"{k}: {v}" for k, v in s.evidence.items()),
                remediation=f"rate-limit client {c.client_id} to "
                f"{c.suggested_rate_limit_per_hour} queries/hour, review its access, and "
                "consider returning labels without probabilities (RATELIMIT, MONITORUSE, "
                "OBSCURECONFIDENCE)",
                properties={"client_id": c.client_id},
                subject=f"{s.kind}:{c.client_id}",
            )
            for s in c.signals
        )
    windows = [*drifts, overall]
    if any(w.degraded for w in windows):
        out.append(
            Finding(
                RuleId("MONITOR-PERFORMANCE"),
                Category.DATA,
                Severity.HIGH,
                "accuracy on labelled predictions fell below the reference",
                loc,
                remediation="investigate the windows that degraded; retrain or roll back",
                subject="performance",
            )
        )
    for role, rule in (
        ("output", "MONITOR-OUTPUT-DRIFT"),
        ("confidence", "MONITOR-CONFIDENCE-SHIFT"),
    ):
        if any(c.drifted and c.role == role for w in windows for c in w.columns):
            out.append(
                Finding(
                    RuleId(rule),
                    Category.DATA,
                    Severity.MEDIUM,
                    f"model {role} drifted from the reference",
                    loc,
                    subject=role,
                )
            )
    cols = sorted({c for w in windows for c in w.input_drift})
    out.extend(
        Finding(
            RuleId("MONITOR-INPUT-DRIFT"),
            Category.DATA,
            Severity.LOW,
            f"input {c} drifted from the reference",
            loc,
            subject=c,
        )
        for c in cols
    )
    return out
