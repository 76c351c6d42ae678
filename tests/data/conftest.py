"""Reference tables written by pyarrow/polars for the data baseline tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

SOURCES = ["first_party", "broker", "user_generated"]


def health(n: int, seed: int = 0) -> pa.Table:
    """A small health-like table: numbers, categories, booleans, a source and a label."""
    rng = np.random.default_rng(seed)
    age = rng.normal(50, 15, n)
    return pa.table(
        {
            "pid": np.arange(n, dtype=np.int64),
            "age": pa.array(age, mask=rng.random(n) < 0.05),
            "bmi": rng.lognormal(3.2, 0.2, n),
            "visits": rng.poisson(3, n).astype(np.int64),
            "sex": rng.choice(["F", "M"], n),
            "region": rng.choice([f"R{i}" for i in range(8)], n),
            "smoker": rng.random(n) < 0.2,
            "tier": rng.choice(SOURCES, n, p=[0.6, 0.25, 0.15]),
            "y": (rng.random(n) < 1 / (1 + np.exp(-(age - 50) / 10))).astype(np.int64),
        }
    )


@pytest.fixture
def table() -> pa.Table:
    return health(20_000)


@pytest.fixture
def hive(tmp_path: Path, table: pa.Table) -> Path:
    """The table as a hive-partitioned Parquet dataset (tier=.../part-0.parquet)."""
    root = tmp_path / "ds"
    import pyarrow.dataset as ds

    ds.write_dataset(
        table,
        root,
        format="parquet",
        partitioning=ds.partitioning(pa.schema([("tier", pa.string())]), flavor="hive"),
        max_rows_per_group=3_000,
        max_rows_per_file=6_000,
    )
    return root


@pytest.fixture
def parquet(tmp_path: Path, table: pa.Table) -> Path:
    path = tmp_path / "ref.parquet"
    pq.write_table(table, path, row_group_size=4_000)
    return path


@pytest.fixture(scope="session")
def dask_scheduler() -> Iterator[str]:
    """A two-worker dask.distributed LocalCluster on 127.0.0.1, shared by the Dask tests."""
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        host="127.0.0.1",
        dashboard_address="127.0.0.1:0",  # a free port: xdist workers each start one
        processes=True,
    )
    try:
        yield str(cluster.scheduler_address)
    finally:
        cluster.close()
