"""One generated corpus (100k reference, 20k-row batches, seed 0) and its checks, per session."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from custodes.data import Baseline, build_baseline
from custodes.data.check import DataCheckResult, check_batch
from tests.corpus.health_data_gen import ID_COLUMN, LABEL_COLUMN, SOURCE_COLUMN, generate

REFERENCE_ROWS = 100_000
BATCH_ROWS = 20_000


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("health")
    generate(out, REFERENCE_ROWS, BATCH_ROWS, seed=0)
    baseline = build_baseline(
        [out / "reference"], label=LABEL_COLUMN, source_column=SOURCE_COLUMN, id_column=ID_COLUMN
    )
    baseline.save(out / "baseline.json")
    return out


@pytest.fixture(scope="session")
def baseline(corpus: Path) -> Baseline:
    return Baseline.load(corpus / "baseline.json")


@pytest.fixture(scope="session")
def results(corpus: Path, baseline: Baseline) -> dict[str, DataCheckResult]:
    names = [p.stem for p in sorted((corpus / "batches").glob("*.parquet"))]
    return {n: check_batch(corpus / "batches" / f"{n}.parquet", baseline) for n in names}


@pytest.fixture(scope="session")
def truths(corpus: Path) -> dict[str, dict[str, Any]]:
    return {p.stem: json.loads(p.read_text()) for p in (corpus / "truth").glob("*.json")}
