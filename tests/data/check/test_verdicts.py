"""Every generated scenario gets an acceptable verdict, with the right evidence."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from custodes.data import Baseline, build_baseline
from custodes.data.check import DataCheckResult, check_batch
from tests.corpus.health_data_gen import (
    ID_COLUMN,
    LABEL_COLUMN,
    SCENARIOS,
    SOURCE_COLUMN,
    reference_table,
    scenario_batch,
)


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_verdict_is_acceptable(
    scenario: str, results: dict[str, DataCheckResult], truths: dict[str, dict[str, Any]]
) -> None:
    assert results[scenario].verdict in truths[scenario]["acceptable_verdicts"]


def test_clean_has_no_flags_and_no_drift(results: dict[str, DataCheckResult]) -> None:
    r = results["clean"]
    assert r.flagged == ()
    assert [c.name for c in r.columns if c.verdict != "ok"] == []
    assert r.exit_code == 0


def test_seasonal_drift_is_drift_not_poisoning(results: dict[str, DataCheckResult]) -> None:
    r = results["seasonal_drift"]
    assert r.verdict == "drift"
    drifted = {c.name for c in r.columns if c.verdict == "drift"}
    assert "glucose" in drifted
    assert not r.signals
    assert not r.flagged


def test_schema_break_lists_rename_and_type_change(results: dict[str, DataCheckResult]) -> None:
    cols = {c.name: c for c in results["schema_break"].columns}
    renamed = [i for i in cols["bmi"].issues if i.kind == "renamed"]
    assert renamed
    assert renamed[0].suggestion == "body_mass_index"
    assert any(i.kind == "type_changed" for i in cols["age"].issues)
    assert any(i.kind == "missing" for i in cols["hba1c"].issues)
    # the other columns still get their drift scores
    assert cols["glucose"].psi is not None
    assert cols["glucose"].verdict == "ok"


@pytest.mark.parametrize("scenario", ["label_flip_subpop", "backdoor_trigger"])
def test_poisoning_is_attributed_to_the_source(
    scenario: str, results: dict[str, DataCheckResult], truths: dict[str, dict[str, Any]]
) -> None:
    r = results[scenario]
    bad = {s.source for s in r.sources if s.verdict == "suspected_poisoning"}
    assert bad == {truths[scenario]["source"]}


def _subpop_ids(corpus_batch: pa.Table, truth: dict[str, Any]) -> set[int]:
    sub = truth["details"]["subpopulation"]
    t = corpus_batch
    m = (
        (np.asarray(t.column(SOURCE_COLUMN).to_pylist()) == sub["source"])
        & (np.asarray(t.column("region").to_pylist()) == sub["region"])
        & (t.column("age").to_numpy() >= sub["age_min"])
        & (t.column("age").to_numpy() <= sub["age_max"])
    )
    ids = set(np.asarray(t.column(ID_COLUMN))[m].tolist())
    return ids & set(truth["poisoned_ids"])


@pytest.mark.parametrize("scenario", ["label_flip_subpop", "backdoor_trigger"])
def test_flagged_rows_precision_and_recall(
    scenario: str,
    corpus: Any,
    results: dict[str, DataCheckResult],
    truths: dict[str, dict[str, Any]],
) -> None:
    truth = truths[scenario]
    target = set(truth["poisoned_ids"])
    if scenario == "label_flip_subpop":  # the sub-population half of the flips
        target = _subpop_ids(pq.read_table(corpus / "batches" / f"{scenario}.parquet"), truth)
    flagged = {f.id for f in results[scenario].flagged}
    tp = len(flagged & target)
    assert tp / max(len(flagged), 1) >= 0.5
    assert tp / len(target) >= 0.8


@pytest.mark.parametrize("rows", [1_000, 50_000])
def test_clean_batch_has_no_drift_at_other_sizes(baseline: Baseline, rows: int) -> None:
    batch, _ = scenario_batch("clean", rows, seed=3)
    r = check_batch(batch, baseline)
    assert [c.name for c in r.columns if c.verdict != "ok"] == []
    assert r.verdict == "ok"


@pytest.mark.slow
def test_clean_batch_has_no_drift_at_a_million_rows() -> None:
    ref = reference_table(1_000_000, seed=0)
    b = build_baseline([ref], label=LABEL_COLUMN, source_column=SOURCE_COLUMN, id_column=ID_COLUMN)
    batch, _ = scenario_batch("clean", 1_000_000, seed=5)
    r = check_batch(batch, b)
    assert [c.name for c in r.columns if c.verdict != "ok"] == []


@pytest.mark.parametrize("enabled_before", [True, False])
def test_check_runs_without_cyclic_collections_and_restores_the_collector(
    corpus: Path, baseline: Baseline, enabled_before: bool
) -> None:
    import gc
    import sys

    runs: list[int] = []

    def count(phase: str, info: dict[str, int]) -> None:
        # only collections started from inside the check's body, not from its set-up
        frame = sys._getframe(1)
        while frame is not None and frame.f_code.co_name != "_check":
            frame = frame.f_back
        if phase == "start" and frame is not None:
            runs.append(info["generation"])

    thresholds = gc.get_threshold()
    gc.set_threshold(1, 1, 1)  # any allocation would otherwise collect
    (gc.enable if enabled_before else gc.disable)()
    gc.callbacks.append(count)
    try:
        result = check_batch(corpus / "batches" / "backdoor_trigger.parquet", baseline)
    finally:
        gc.callbacks.remove(count)
        after = gc.isenabled()
        gc.enable()
        gc.set_threshold(*thresholds)
    assert len(result.flagged) > 100  # a check that builds many row objects
    assert runs == []
    assert after is enabled_before


@pytest.mark.parametrize("enabled_before", [True, False])
def test_overlapping_checks_restore_the_collector_when_the_last_ends(enabled_before: bool) -> None:
    import gc

    from custodes.data.check.checker import _CollectorPause

    pause = _CollectorPause()
    (gc.enable if enabled_before else gc.disable)()
    try:
        first, second = pause(), pause()
        first.__enter__()
        second.__enter__()
        assert not gc.isenabled()
        first.__exit__(None, None, None)  # the first check ends while the second runs
        assert not gc.isenabled()
        second.__exit__(None, None, None)
        assert gc.isenabled() is enabled_before
    finally:
        gc.enable()


def test_a_csv_read_in_many_chunks_gets_the_same_answer_as_parquet(
    corpus: Path, baseline: Baseline, tmp_path: Path
) -> None:
    import pyarrow.csv as pacsv

    source = corpus / "batches" / "label_flip_subpop.parquet"
    pacsv.write_csv(pq.read_table(source), tmp_path / "batch.csv")
    table = pacsv.read_csv(
        tmp_path / "batch.csv", read_options=pacsv.ReadOptions(block_size=1 << 16)
    )
    assert max(c.num_chunks for c in table.columns) > 5
    from_csv = check_batch(table, baseline)
    from_parquet = check_batch(source, baseline)
    assert from_csv.verdict == from_parquet.verdict == "suspected_poisoning"
    assert [(s.kind, s.group) for s in from_csv.signals] == [
        (s.kind, s.group) for s in from_parquet.signals
    ]
    assert sorted(r.id for r in from_csv.flagged) == sorted(r.id for r in from_parquet.flagged)
