"""A baseline built on a Dask cluster gives the same verdicts and flagged rows."""

from __future__ import annotations

from pathlib import Path

import pytest

from custodes.data import build_baseline
from custodes.data.check import DataCheckResult, check_batch
from tests.corpus.health_data_gen import ID_COLUMN, LABEL_COLUMN, SOURCE_COLUMN, generate

distributed = pytest.importorskip("distributed")

SCENARIOS = ("clean", "seasonal_drift", "label_flip_subpop", "backdoor_trigger")


@pytest.fixture(scope="module")
def partitioned(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("health-partitioned")
    generate(out, 60_000, 20_000, seed=3, partitions=4, scenarios=SCENARIOS)
    return out


@pytest.fixture
def scheduler(dask_scheduler: str) -> str:
    return dask_scheduler


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::ResourceWarning", "ignore::DeprecationWarning")
def test_dask_baseline_gives_the_local_verdicts(partitioned: Path, scheduler: str) -> None:
    roles = {"label": LABEL_COLUMN, "source_column": SOURCE_COLUMN, "id_column": ID_COLUMN}
    local = build_baseline([partitioned / "reference"], **roles)
    dask = build_baseline([partitioned / "reference"], **roles, engine="dask", scheduler=scheduler)
    for name in SCENARIOS:
        batch = partitioned / "batches" / f"{name}.parquet"
        a: DataCheckResult = check_batch(batch, local)
        b: DataCheckResult = check_batch(batch, dask)
        assert a.verdict == b.verdict, name
        assert {s.source: s.verdict for s in a.sources} == {s.source: s.verdict for s in b.sources}
        ids_a = {r.id for r in a.flagged}
        ids_b = {r.id for r in b.flagged}
        union = ids_a | ids_b
        overlap = len(ids_a & ids_b) / len(union) if union else 1.0
        assert overlap >= 0.95, (name, len(ids_a), len(ids_b))
