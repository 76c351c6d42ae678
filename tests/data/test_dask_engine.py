"""The Dask engine on a LocalCluster gives the same baseline as the local engine."""

from __future__ import annotations

from pathlib import Path

import pytest

from custodes.data import build_baseline
from custodes.errors import InputError, UsageError
from tests.data.test_baseline import ROLES, assert_same

distributed = pytest.importorskip("distributed")


@pytest.fixture
def scheduler(dask_scheduler: str) -> str:
    return dask_scheduler


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::ResourceWarning", "ignore::DeprecationWarning")
def test_dask_equals_local_on_hive_dataset(hive: Path, scheduler: str) -> None:
    local = build_baseline(hive, **ROLES)
    dask = build_baseline(hive, **ROLES, engine="dask", scheduler=scheduler)
    assert dask.meta["engine"] == "dask"
    assert_same(local, dask)


def test_dask_needs_a_scheduler(hive: Path) -> None:
    with pytest.raises(UsageError, match="--scheduler"):
        build_baseline(hive, engine="dask")
    with pytest.raises(UsageError, match="unknown engine"):
        build_baseline(hive, engine="spark")
    with pytest.raises(InputError, match="not in the data"):
        build_baseline(hive, label="nope", engine="dask", scheduler="tcp://127.0.0.1:1")
