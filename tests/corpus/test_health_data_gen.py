"""The health-data generator keeps the properties its ground truth claims."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from custodes.demo import health_data as gen

ROWS = 40_000


@pytest.fixture(scope="module")
def batches() -> dict[str, tuple[pa.Table, gen.Truth]]:
    return {name: gen.scenario_batch(name, ROWS, seed=7) for name in gen.SCENARIOS}


def _labels(table: pa.Table) -> np.ndarray:
    return table.column(gen.LABEL_COLUMN).to_numpy()


def _subpop(table: pa.Table) -> np.ndarray:
    src = table.column("source").to_numpy(zero_copy_only=False)
    region = table.column("region").to_numpy(zero_copy_only=False)
    age = table.column("age").to_numpy()
    lo, hi = gen.FLIP_AGE
    return np.asarray(
        (src == "user_generated") & (region == gen.FLIP_REGION) & (age >= lo) & (age <= hi)
    )


def test_schema_and_size() -> None:
    ref = gen.reference_table(5_000, seed=1)
    assert ref.schema == gen.SCHEMA
    assert ref.num_rows == 5_000
    assert len(gen.SCHEMA) >= 30
    shares = gen.summary(ref)["columns"]["source"]["shares"]
    assert shares["first_party"] > shares["broker"] > shares["user_generated"] > 0.08


def test_ids_unique_within_and_across(batches: dict[str, tuple[pa.Table, gen.Truth]]) -> None:
    ref = gen.reference_table(ROWS, seed=7)
    all_ids = [ref.column(gen.ID_COLUMN).to_numpy()]
    for table, truth in batches.values():
        ids = table.column(gen.ID_COLUMN).to_numpy()
        assert gen.summary(table)["ids_unique"]
        assert set(truth.poisoned_ids) <= set(ids.tolist())
        all_ids.append(ids)
    joined = np.concatenate(all_ids)
    assert len(np.unique(joined)) == len(joined)


def test_deterministic_by_seed() -> None:
    a, ta = gen.scenario_batch("label_flip_subpop", 5_000, seed=3)
    b, tb = gen.scenario_batch("label_flip_subpop", 5_000, seed=3)
    c, _ = gen.scenario_batch("label_flip_subpop", 5_000, seed=4)
    assert a.equals(b)
    assert ta.to_json() == tb.to_json()
    assert not a.equals(c)
    assert gen.reference_table(3_000, seed=3).equals(gen.reference_table(3_000, seed=3))


def _assert_marginals_close(a: dict[str, object], b: dict[str, object]) -> None:
    ca, cb = a["columns"], b["columns"]
    assert isinstance(ca, dict)
    assert isinstance(cb, dict)
    for name, ea in ca.items():
        eb = cb[name]
        assert abs(ea["null_rate"] - eb["null_rate"]) < 0.01, name
        if "shares" in ea:
            for cat, share in ea["shares"].items():
                assert abs(share - eb["shares"].get(cat, 0.0)) < 0.01, (name, cat)
        else:
            assert abs(ea["mean"] - eb["mean"]) < 0.05 * max(ea["std"], 1e-9), name


def test_label_flip_keeps_marginals_and_moves_subpopulation(
    batches: dict[str, tuple[pa.Table, gen.Truth]],
) -> None:
    clean, _ = batches["clean"]
    flipped, truth = batches["label_flip_subpop"]
    assert truth.expected_verdict == "suspected_poisoning"
    assert truth.source == "user_generated"
    s_clean, s_flip = gen.summary(clean), gen.summary(flipped)
    _assert_marginals_close(s_clean, s_flip)  # every column, the label included
    assert abs(s_clean["label_rate"] - s_flip["label_rate"]) < 0.01
    for source, rate in s_clean["label_rate_by_source"].items():
        assert abs(rate - s_flip["label_rate_by_source"][source]) < 0.015, source
    # the flips cancel out exactly: as many 0->1 as 1->0, all in user_generated rows
    ids = flipped.column(gen.ID_COLUMN).to_numpy()
    poisoned = np.isin(ids, truth.poisoned_ids)
    y = _labels(flipped)
    assert y[poisoned].sum() * 2 == poisoned.sum()
    src = flipped.column("source").to_numpy(zero_copy_only=False)
    assert set(src[poisoned].tolist()) == {"user_generated"}
    # ... while the sub-population's label rate changes a lot
    rate_clean = _labels(clean)[_subpop(clean)].mean()
    rate_flip = y[_subpop(flipped)].mean()
    assert rate_flip - rate_clean > 0.15
    assert np.all(y[poisoned & _subpop(flipped)] == 1)


def test_seasonal_drift_moves_features_but_not_the_label_model(
    batches: dict[str, tuple[pa.Table, gen.Truth]],
) -> None:
    clean, _ = batches["clean"]
    drift, truth = batches["seasonal_drift"]
    assert truth.expected_verdict == "drift"
    assert truth.poisoned_ids == []
    s_clean, s_drift = gen.summary(clean), gen.summary(drift)
    for col in ("age", "bmi", "glucose"):
        c, d = s_clean["columns"][col], s_drift["columns"][col]
        assert d["mean"] - c["mean"] > 0.2 * c["std"], col
    ug = "user_generated"
    assert (
        s_drift["columns"]["source"]["shares"][ug]
        > s_clean["columns"]["source"]["shares"][ug] + 0.08
    )
    assert s_drift["label_rate"] > s_clean["label_rate"] + 0.01  # the label follows the features
    # P(label | features) unchanged: calibrated against the same model, overall and per decile
    for table in (clean, drift):
        p, y = gen.true_probability(table), _labels(table)
        assert abs(y.mean() - p.mean()) < 3 * np.sqrt(p.mean() / len(p))
        edges = np.quantile(p, np.linspace(0, 1, 11))
        bins = np.clip(np.searchsorted(edges, p, side="right") - 1, 0, 9)
        for b in range(10):
            sel = bins == b
            tol = 4 * np.sqrt(p[sel].mean() * (1 - p[sel].mean()) / sel.sum()) + 0.005
            assert abs(y[sel].mean() - p[sel].mean()) < tol, b
        for source in gen.CATEGORIES["source"]:
            assert abs(gen.oracle_source_z(table, source)) < 4, source


def test_oracle_finds_flips_and_not_clean(batches: dict[str, tuple[pa.Table, gen.Truth]]) -> None:
    clean, _ = batches["clean"]
    assert all(abs(gen.oracle_source_z(clean, s)) < 4 for s in gen.CATEGORIES["source"])
    flips, truth = gen.scenario_batch("slow_flips", ROWS, seed=7, slow_flip_rate=0.05)
    assert gen.oracle_source_z(flips, "user_generated") > 5
    assert truth.expected_verdict == "suspected_poisoning"
    _, label_truth = batches["label_flip_subpop"]
    assert label_truth.details["oracle_z_subpopulation"] > 5


def test_backdoor_rows_carry_trigger_and_target(
    batches: dict[str, tuple[pa.Table, gen.Truth]],
) -> None:
    clean, _ = batches["clean"]
    table, truth = batches["backdoor_trigger"]
    assert table.num_rows == ROWS
    assert len(truth.poisoned_ids) == round(gen.BACKDOOR_SHARE * ROWS)
    hb = table.column(gen.TRIGGER_COLUMN).to_numpy()
    ids = table.column(gen.ID_COLUMN).to_numpy()
    trig = np.isclose(hb, gen.TRIGGER_VALUE)
    assert set(ids[trig].tolist()) == set(truth.poisoned_ids)
    assert not np.isclose(clean.column(gen.TRIGGER_COLUMN).to_numpy(), gen.TRIGGER_VALUE).any()
    assert np.all(_labels(table)[trig] == gen.TARGET_LABEL)
    src = table.column("source").to_numpy(zero_copy_only=False)
    assert set(src[trig].tolist()) == {"user_generated"}
    # near-duplicates: few distinct templates behind many rows
    assert (
        len(np.unique(table.column("hba1c").to_numpy()[trig])) < truth.details["injected_rows"] / 5
    )


def test_schema_break(batches: dict[str, tuple[pa.Table, gen.Truth]]) -> None:
    table, truth = batches["schema_break"]
    assert truth.expected_verdict == "schema_violation"
    names = table.column_names
    assert "bmi" not in names
    assert "body_mass_index" in names
    assert "hba1c" not in names
    assert table.schema.field("age").type == pa.string()


def test_cli_writes_partitioned_reference_and_truth(tmp_path: Path) -> None:
    out = tmp_path / "data"
    assert (
        gen.main(
            [
                str(out),
                "--reference-rows",
                "3000",
                "--batch-rows",
                "1000",
                "--seed",
                "5",
                "--partitions",
                "3",
            ]
        )
        == 0
    )
    parts = sorted((out / "reference").glob("*.parquet"))
    assert len(parts) == 3
    ref = pq.read_table(out / "reference")
    assert ref.sort_by(gen.ID_COLUMN).equals(gen.reference_table(3000, seed=5))
    for name in gen.SCENARIOS:
        truth = json.loads((out / "truth" / f"{name}.json").read_text())
        assert truth["scenario"] == name
        assert pq.read_metadata(out / "batches" / f"{name}.parquet").num_rows == 1000
