"""Extraction and inference clients are flagged; ordinary clinics and the batch job are not."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from custodes.monitor import check_predictions, parse_window
from custodes.monitor.result import MonitorCheckResult

from ..conftest import Result
from .conftest import NOW

CLI = Callable[..., Result]


@pytest.fixture(scope="module")
def result(week: Path, reference: Path) -> MonitorCheckResult:
    from datetime import datetime

    now = datetime.fromisoformat(NOW).timestamp()
    return check_predictions(week, reference, window=parse_window("1d"), now=now)


def test_extraction_client_is_flagged_with_its_evidence(result: MonitorCheckResult) -> None:
    assert result.verdict == "suspected_extraction"
    suspects = {c.client_id: c for c in result.clients}
    assert "probe-7" in suspects
    probe = suspects["probe-7"]
    kinds = {s.kind for s in probe.signals}
    # the simulated attacker sweeps features on a grid and bisects towards the boundary
    assert {"grid_sweep", "boundary_seeking"} <= kinds
    for s in probe.signals:
        assert "MODELEXFILTRATION" in s.threats or "MODELINVERSIONANDMEMBERSHIP" in s.threats
        assert s.evidence["share"] > s.evidence["expected_share"] + 0.1
        assert s.evidence["z"] >= 5
    # a rate limit below the attacker's pace, above ordinary clinics' busiest hour
    assert probe.suggested_rate_limit_per_hour is not None
    assert probe.suggested_rate_limit_per_hour < probe.peak_per_hour


def test_membership_inference_client_is_flagged_for_repeats(result: MonitorCheckResult) -> None:
    suspects = {c.client_id: c for c in result.clients}
    assert "curious-9" in suspects
    assert "near_duplicates" in {s.kind for s in suspects["curious-9"].signals}


def test_no_ordinary_client_and_not_the_batch_job_is_flagged(result: MonitorCheckResult) -> None:
    assert result.client_count >= 300 + 3
    flagged = {c.client_id for c in result.clients}
    assert flagged == {"probe-7", "curious-9"}, flagged
    busiest = result.busiest[0]
    # volume alone is not extraction: the batch job is by far the busiest and not suspected
    assert busiest.client_id == "nightly-batch"
    assert busiest.queries > 10 * max(c.queries for c in result.clients)
    assert not busiest.suspected


def test_json_contract_names_clients_and_signals(cli: CLI, week: Path, reference: Path) -> None:
    r = cli("monitor", "check", week, "--reference", reference, "--now", NOW, "--format", "json")
    assert r.code == 1
    doc = json.loads(r.out)
    assert doc["verdict"] == "suspected_extraction"
    probe = next(c for c in doc["clients"] if c["client_id"] == "probe-7")
    for s in probe["signals"]:
        assert set(s) >= {"kind", "message", "threats", "evidence"}
        assert all(isinstance(v, int | float) for v in s["evidence"].values())
    assert len(doc["windows"]) == 7
    assert {"output_drift", "confidence_shift", "input_drift", "performance"} <= set(
        doc["windows"][0]
    )
    assert any(f["rule_id"].startswith("MONITOR-USE-") for f in doc["findings"])


def test_console_report_names_the_suspect(cli: CLI, week: Path, reference: Path) -> None:
    r = cli("monitor", "check", week, "-r", reference, "--now", NOW)
    assert r.code == 1
    assert "suspected_extraction" in r.out
    assert "suspected client probe-7" in r.out
    assert "nightly-batch" in r.out


def test_lattice_queries_are_flagged_and_ordinary_queries_are_not(
    reference: Path, tmp_path: Path
) -> None:
    """Five features on a 4-level lattice, visited in random order (so no sweep), the
    others drawn from the population: only the lattice signal can see it."""
    import numpy as np

    from custodes.monitor.simulate import START, Population, _to_table, write_jsonl

    rng = np.random.default_rng(5)
    pop = Population(rng)
    parts = []
    for client, lattice in (("lattice-1", True), ("clinic-x", False)):
        n = 600
        f = pop.draw(n)
        if lattice:
            for name, lo, hi in (
                ("age", 30, 80),
                ("glucose", 70, 150),
                ("bmi", 20, 40),
                ("hba1c", 4.5, 7.5),
                ("cholesterol", 150, 260),
            ):
                f[name] = np.round(lo + (hi - lo) * rng.integers(0, 4, n) / 3, 2)
        ts = START.timestamp() + 3600 + np.arange(n) * 30.0 + (0 if lattice else 7.0)
        parts.append(
            {"ts": ts, "client": np.full(n, client), "f": f, "p": pop.score(f), "label": None}
        )
    merged = {
        "ts": np.concatenate([p["ts"] for p in parts]),
        "client": np.concatenate([p["client"] for p in parts]),
        "f": {k: np.concatenate([p["f"][k] for p in parts]) for k in parts[0]["f"]},
        "p": np.concatenate([p["p"] for p in parts]),
        "label": None,
    }
    table = _to_table(merged)
    table = table.take(np.argsort(merged["ts"], kind="stable"))
    path = write_jsonl(table, tmp_path / "lattice.jsonl")
    result = check_predictions(path, reference, window=parse_window("1d"), now=2e9)
    suspects = {c.client_id: {s.kind for s in c.signals} for c in result.clients}
    assert set(suspects) == {"lattice-1"}, suspects
    assert "lattice" in suspects["lattice-1"]
    assert "grid_sweep" not in suspects["lattice-1"]
    signal = next(s for c in result.clients for s in c.signals if s.kind == "lattice")
    features = signal.evidence["features"]
    assert {"age", "glucose", "bmi", "hba1c", "cholesterol"} >= set(features)
    assert all(v["distinct"] <= 4 < v["expected"] / 2 for v in features.values())


def test_attack_traffic_is_not_also_reported_as_input_drift(
    result: MonitorCheckResult, week: Path, reference: Path
) -> None:
    """The week's population does not move; only the attackers' queries are odd. Drift is
    scored without the suspected clients, so no window reports input drift, while the
    same windows scored with every query do (which is what the exclusion is for)."""
    from custodes.monitor.check import _without
    from custodes.monitor.drift import compare
    from custodes.monitor.records import InputIssues, infer_schema, read_records
    from custodes.monitor.windows import Windower, WindowProfile

    assert set(result.extra["drift_excludes_clients"]) == {"curious-9", "probe-7"}
    assert all(not w.input_drift for w in result.windows), [w.input_drift for w in result.windows]

    schema = infer_schema(reference)
    ref = WindowProfile(-1)
    for b in read_records(reference, schema, InputIssues(), now=None):
        ref.update(b, schema)
    everyone = Windower(parse_window("1d"), schema)
    for b in read_records(week, schema, InputIssues(), now=None):
        everyone.add(b)
    with_attackers = [compare(ref, w, schema.feature_names) for w in everyone.finish()]
    assert any(w.input_drift for w in with_attackers)
    # and the helper really drops only those clients' rows
    import pyarrow as pa

    block = next(iter(read_records(week, schema, InputIssues(), now=None)))
    kept = _without(block, pa.array(["probe-7"]))
    assert "probe-7" not in set(kept.client.to_pylist())
    assert len(kept) == len(block) - block.client.to_pylist().count("probe-7")
