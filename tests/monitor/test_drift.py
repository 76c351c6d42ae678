"""Drift, confidence shift and performance against the reference; silence when nothing moved."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from custodes.monitor import check_predictions, parse_window
from custodes.monitor.records import InputIssues, infer_schema, read_records
from custodes.monitor.simulate import (
    TrafficSpec,
    traffic_table,
    write_jsonl,
    write_parquet,
)
from custodes.monitor.windows import WindowProfile, _take

from ..conftest import Result
from .conftest import NOW

CLI = Callable[..., Result]
NOW_TS = datetime.fromisoformat(NOW).timestamp()


def _spec(records: int, **kw: object) -> TrafficSpec:
    """Ordinary clinics only (no batch job, no attacker), about ``records`` predictions."""
    base = TrafficSpec(
        ordinary_clients=300,
        queries_per_client_day=records / 300 / 7,
        extraction=False,
        batch_job=False,
    )
    return replace(base, **kw)


def test_no_alarm_on_1k_records_from_the_reference_distribution(
    cli: CLI, reference: Path, tmp_path: Path
) -> None:
    batch = write_jsonl(traffic_table(_spec(1000, seed=11)), tmp_path / "b.jsonl")
    r = cli("monitor", "check", batch, "-r", reference, "--now", NOW, "-f", "json", "-w", "1d")
    doc = json.loads(r.out)
    assert 800 < doc["records"] < 1200
    assert doc["verdict"] == "ok", doc["reasons"]
    assert r.code == 0
    assert doc["clients"] == []


def test_no_alarm_on_200k_records_from_the_reference_distribution(
    reference: Path, tmp_path: Path
) -> None:
    batch = write_parquet(traffic_table(_spec(200_000, seed=12)), tmp_path / "b.parquet")
    result = check_predictions(batch, reference, window=parse_window("1d"), now=NOW_TS)
    assert result.records > 180_000
    assert result.verdict == "ok", result.reasons
    assert not any(w.drifted or w.degraded for w in (*result.windows, result.overall))
    assert result.clients == ()


def test_output_drift_when_the_population_shifts(reference: Path, tmp_path: Path) -> None:
    batch = write_parquet(
        traffic_table(_spec(30_000, seed=13, drift_from_day=2.0)), tmp_path / "d.parquet"
    )
    result = check_predictions(batch, reference, window=parse_window("1d"), now=NOW_TS)
    assert result.verdict == "drift", result.reasons
    first, last = result.windows[0], result.windows[-1]
    assert not first.drifted
    assert last.output_drift
    assert "age" in last.input_drift
    assert "glucose" in last.input_drift
    out = next(c for c in last.columns if c.role == "output")
    # the drifted week predicts high risk much more often than validation did
    assert out.psi > 0.1


def test_performance_drop_when_labels_arrive(reference: Path, tmp_path: Path) -> None:
    table = traffic_table(_spec(30_000, seed=14, degrade_from_day=3.0))
    labels = table.select(["id", "label"])
    preds = table.drop_columns(["label"])
    pred_path = write_jsonl(preds, tmp_path / "p.jsonl")
    label_path = write_jsonl(labels, tmp_path / "labels.jsonl")
    unlabelled = check_predictions(pred_path, reference, window=parse_window("1d"), now=NOW_TS)
    assert unlabelled.verdict == "ok"  # no labels, nothing to judge performance on
    result = check_predictions(
        pred_path, reference, window=parse_window("1d"), now=NOW_TS, labels=label_path
    )
    assert result.verdict == "degraded", result.reasons
    first, last = result.windows[0], result.windows[-1]
    assert first.performance is not None
    assert not first.performance.degraded
    assert last.performance is not None
    assert last.performance.degraded
    assert last.performance.accuracy < last.performance.reference_accuracy - 0.1


def test_count_windows_cut_the_file_in_order(reference: Path, tmp_path: Path) -> None:
    batch = write_jsonl(traffic_table(_spec(3000, seed=15)), tmp_path / "c.jsonl")
    result = check_predictions(batch, reference, window=parse_window("1000"), now=NOW_TS)
    sizes = [w.rows for w in result.windows]
    assert sum(sizes) == result.records
    assert all(s == 1000 for s in sizes[:-1])
    assert 0 < sizes[-1] <= 1000
    starts = [w.start for w in result.windows]
    assert starts == sorted(starts)


@pytest.mark.parametrize("bad", ["0", "1x", "-5m", "h"])
def test_bad_window_is_a_usage_error(cli: CLI, reference: Path, bad: str) -> None:
    r = cli("monitor", "check", reference, "-r", reference, "--window", bad)
    assert r.code == 2
    assert "--window" in r.err


def test_window_profiles_merge_like_their_union(reference: Path) -> None:
    schema = infer_schema(reference)
    (block,) = list(read_records(reference, schema, InputIssues()))
    half = len(block) // 2
    a, b, whole = WindowProfile(0), WindowProfile(1), WindowProfile(2)
    a.update(_take(block, np.arange(half)), schema)
    b.update(_take(block, np.arange(half, len(block))), schema)
    whole.update(block, schema)
    merged = a.merge(b)
    assert merged.rows == whole.rows == len(block)
    assert merged.correct == whole.correct
    assert merged.labelled == whole.labelled
    for name, prof in whole.columns.items():
        m = merged.columns[name]
        assert m.count == prof.count
        if prof.moments is not None and m.moments is not None:
            assert m.moments.mean == pytest.approx(prof.moments.mean)
        assert m.frequencies() == prof.frequencies()
    assert pa.types.is_string(schema.prediction)
