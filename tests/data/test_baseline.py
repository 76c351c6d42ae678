"""Baselines: merge equals whole, per source/label, label bins, JSON, digest, size."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from custodes.data import Baseline, build_baseline, refresh_digest
from custodes.errors import InputError
from tests.data.conftest import health

ROLES = {"label": "y", "source_column": "tier", "id_column": "pid"}


def assert_same(a: Baseline, b: Baseline) -> None:
    """Exact for counts, moments, histograms; quantiles within KLL error."""
    assert a.rows == b.rows
    assert set(a.columns) == set(b.columns)
    for group_a, group_b in [
        (a.columns, b.columns),
        *zip(a.sources.values(), b.sources.values(), strict=True),
    ]:
        for name, pa_ in group_a.items():
            pb = group_b[name]
            assert (pa_.count, pa_.nulls, pa_.min, pa_.max) == (pb.count, pb.nulls, pb.min, pb.max)
            if pa_.moments is not None and pb.moments is not None:
                assert pa_.moments.mean == pytest.approx(pb.moments.mean, rel=1e-9)
                assert pa_.moments.m2 == pytest.approx(pb.moments.m2, rel=1e-9)
                assert pa_.moments.m4 == pytest.approx(pb.moments.m4, rel=1e-9)
            ea, ca = pa_.histogram()
            eb, cb = pb.histogram()
            assert np.array_equal(ca, cb)
            assert np.array_equal(ea, eb)
            assert pa_.frequencies() == pb.frequencies()
            if name in ("age", "bmi") and pa_.count:
                qa = pa_.quantiles([0.1, 0.5, 0.9])
                ranks = pb.cdf(qa)
                assert np.allclose(ranks, [0.1, 0.5, 0.9], atol=0.03)
    assert a.label_bins.keys() == b.label_bins.keys()
    for name, fb in a.label_bins.items():
        assert fb.counts == b.label_bins[name].counts
    assert a.constraints == b.constraints
    assert a.signatures["sample"] == b.signatures["sample"]


def test_partitions_one_by_one_equal_all_at_once(tmp_path: Path, table: pa.Table) -> None:
    whole = build_baseline(table, **ROLES)
    parts = []
    for i, start in enumerate(range(0, table.num_rows, 3_500)):
        p = tmp_path / f"p{i}.parquet"
        pq.write_table(table.slice(start, 3_500), p, row_group_size=1_000)
        parts.append(p)
    split = build_baseline(parts, **ROLES, workers=2)
    assert_same(whole, split)


def test_hive_dataset_and_inputs_agree(hive: Path, table: pa.Table) -> None:
    a = build_baseline(hive, **ROLES)
    b = build_baseline(pl.from_arrow(table), **ROLES)
    c = build_baseline(table.to_pandas(), **ROLES)
    assert a.rows == b.rows == c.rows == table.num_rows
    assert set(a.sources) == {"broker", "first_party", "user_generated"}
    assert a.columns["age"].count == b.columns["age"].count == c.columns["age"].count
    assert a.columns["bmi"].moments is not None
    assert b.columns["bmi"].moments is not None
    assert a.columns["bmi"].moments.mean == pytest.approx(b.columns["bmi"].moments.mean, rel=1e-9)


def test_per_source_and_per_label_profiles(table: pa.Table) -> None:
    b = build_baseline(table, **ROLES)
    tiers = table.column("tier").to_numpy(zero_copy_only=False)
    ys = table.column("y").to_numpy()
    for s in ("first_party", "broker", "user_generated"):
        assert b.sources[s]["bmi"].count == int((tiers == s).sum())
        assert b.sources[s]["bmi"].moments is not None
        expect = table.column("bmi").to_numpy()[tiers == s].mean()
        assert b.sources[s]["bmi"].moments.mean == pytest.approx(expect, rel=1e-9)
    assert b.classes == ["0", "1"]
    assert b.labels["1"]["sex"].rows == int(ys.sum())
    assert b.label_rate()["1"] == pytest.approx(ys.mean())
    assert "pid" not in b.columns  # the id column is never profiled
    assert b.columns["age"].null_rate == pytest.approx(0.05, abs=0.01)


def test_label_rate_per_bin_on_constructed_data() -> None:
    # label is 1 exactly when x > 0 in source A, and never in source B; c decides nothing
    n = 40_000
    rng = np.random.default_rng(5)
    x = rng.uniform(-10, 10, n)
    src = np.where(np.arange(n) % 2 == 0, "A", "B")
    y = ((x > 0) & (src == "A")).astype(np.int64)
    c = np.where(y == 1, "pos", rng.choice(["u", "v"], n))
    t = pa.table({"x": x, "c": c, "src": src, "y": y})
    b = build_baseline(t, label="y", source_column="src")
    fb = b.label_bins["x"]
    assert sum(fb.rows) == n
    assert fb.classes == ["0", "1"]
    assert 20 <= len(fb.rows) - 1 <= 40  # ~32 quantile bins + the null bin
    edges = fb.edges
    assert edges is not None
    for i, (row, rate) in enumerate(zip(fb.counts[:-1], fb.rates()[:-1], strict=True)):
        lo, hi = edges[i], edges[i + 1]
        if hi <= 0:
            assert row[1] == 0
        elif lo >= 0.2:
            assert rate[1] == pytest.approx(0.5, abs=0.05)  # half the rows are from A
    in_bin = [sum(1 for v in x if edges[i] <= v < edges[i + 1]) for i in range(3)]
    assert fb.rows[:3] == in_bin
    sb = b.source_label_bins["B"]["x"]
    assert sb.edges == fb.edges
    assert all(r[1] == 0 for r in sb.counts)
    cat = b.label_bins["c"]
    assert cat.values is not None
    pos = cat.values.index("pos")
    assert cat.counts[pos] == [0, int(y.sum())]
    model = b.label_model()
    proba = model.predict_proba(pa.table({"x": [5.0, -5.0], "c": ["pos", "u"]}))
    assert proba[0, 1] > 0.99
    assert proba[1, 1] < 0.01


def test_json_round_trip_and_digest(tmp_path: Path, table: pa.Table) -> None:
    b = build_baseline(table, **ROLES)
    path = b.save(tmp_path / "b.json")
    again = Baseline.load(path)
    assert_same(b, again)
    assert again.to_dict()["digest"] == json.loads(path.read_text())["digest"]
    sig = again.row_signatures(table.slice(0, 10))
    assert sig.dtype == np.uint64
    assert sig.size == 10
    # tampering is refused
    doc = json.loads(path.read_text())
    doc["columns"]["bmi"]["count"] += 1
    path.write_text(json.dumps(doc))
    with pytest.raises(InputError, match="digest"):
        Baseline.load(path)


def test_edited_constraints_refresh_digest(tmp_path: Path, table: pa.Table) -> None:
    path = build_baseline(table, **ROLES).save(tmp_path / "b.json")
    doc = json.loads(path.read_text())
    doc["constraints"]["age"]["max"] = 120
    doc["constraints"]["sex"]["allowed"] = ["F", "M", "X"]
    path.write_text(json.dumps(doc))
    with pytest.raises(InputError) as info:
        Baseline.load(path)
    assert "refresh-digest" in info.value.diagnostics()
    refresh_digest(path)
    b = Baseline.load(path)
    assert b.constraints["age"]["max"] == 120
    assert "X" in b.constraints["sex"]["allowed"]
    doc = json.loads(path.read_text())
    doc["constraints"]["age"]["max"] = "high"
    path.write_text(json.dumps(doc))
    with pytest.raises(InputError, match="wrong type"):
        refresh_digest(path)


@pytest.mark.parametrize("part", ["rows", "counts", "edges", "class"])
def test_label_bins_that_disagree_in_length_are_refused(
    tmp_path: Path, table: pa.Table, part: str
) -> None:
    from custodes.data.baseline import canonical_digest

    path = build_baseline(table, **ROLES).save(tmp_path / "b.json")
    doc = json.loads(path.read_text())
    bins = doc["label_bins"]["age"]
    if part == "rows":
        bins["rows"].pop()
    elif part == "counts":
        bins["counts"].pop()
    elif part == "edges":
        bins["edges"].insert(1, bins["edges"][1] - 1.0)  # one more bin named than counted
    else:
        bins["counts"][0].append(0)
    doc["digest"] = canonical_digest(doc)  # as if re-digested after the edit
    path.write_text(json.dumps(doc))
    with pytest.raises(InputError, match="label bins of 'age'"):
        Baseline.load(path)


def test_size_does_not_grow_with_rows(tmp_path: Path) -> None:
    small = build_baseline(health(10_000, seed=1), **ROLES).save(tmp_path / "s.json")
    big = build_baseline(health(1_000_000, seed=2), **ROLES).save(tmp_path / "b.json")
    ratio = big.stat().st_size / small.stat().st_size
    assert ratio < 2.0, ratio


def test_all_null_column_is_profiled(table: pa.Table) -> None:
    t = table.append_column("empty", pa.nulls(table.num_rows)).append_column(
        "empty_f", pa.array([None] * table.num_rows, pa.float64())
    )
    b = build_baseline(t, **ROLES)
    assert b.columns["empty"].null_rate == 1.0
    assert b.columns["empty_f"].null_rate == 1.0
    assert b.constraints["empty"]["max_null_rate"] == 1.0
