"""Simulated traffic written once per session: a reference and a week with an attacker."""

from __future__ import annotations

from pathlib import Path

import pytest

from custodes.monitor.simulate import TrafficSpec, reference_table, traffic_table, write_jsonl

NOW = "2026-11-10T00:00:00Z"
"""After the simulated week (2026-11-02 .. 09), so no simulated record is clock skew."""


@pytest.fixture(scope="session")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_jsonl(reference_table(5000, seed=1), tmp_path_factory.mktemp("ref") / "ref.jsonl")


@pytest.fixture(scope="session")
def week(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """300 clinics, a nightly batch job and one extraction client (probe-7)."""
    spec = TrafficSpec(seed=7, ordinary_clients=320, extraction=True, inference=True)
    return write_jsonl(traffic_table(spec), tmp_path_factory.mktemp("week") / "week.jsonl")
