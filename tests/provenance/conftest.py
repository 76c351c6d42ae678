"""A small world for custody tests: keys, two Parquet datasets, events, a model, an attestation."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.conftest import Result

Cli = Callable[..., Result]


@dataclass
class World:
    root: Path
    private: Path
    public: Path
    other_public: Path
    clinic: Path  # first-party dataset folder, 30 rows
    forum: Path  # user-generated dataset folder, 10 rows
    model: Path
    attestation: Path

    def manifest(self, dataset: Path) -> Path:
        return dataset / "custodes-manifest.json"

    def log(self, dataset: Path) -> Path:
        return dataset / "custodes-manifest.json.events.jsonl"


def _dataset(root: Path, rows_per_part: list[int]) -> Path:
    root.mkdir(parents=True)
    for i, n in enumerate(rows_per_part):
        pq.write_table(pa.table({"x": list(range(n)), "y": [i] * n}), root / f"part-{i}.parquet")
    return root


@pytest.fixture
def world(tmp_path: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch) -> World:
    monkeypatch.chdir(tmp_path)
    keys = tmp_path / "keys"
    assert cli("keys", "generate", "-o", keys, "--name", "alice").code == 0
    assert cli("keys", "generate", "-o", keys, "--name", "mallory").code == 0
    private = keys / "alice.pem"
    clinic = _dataset(tmp_path / "clinic", [20, 10])
    forum = _dataset(tmp_path / "forum", [10])
    for path, source, tier in (
        (clinic, "clinic-ehr", "first_party"),
        (forum, "forum", "user_generated"),
    ):
        rec = cli(
            "provenance", "record", path, "--source", source, "--tier", tier, "--key", private
        )
        assert rec.code == 0, rec.err
    m = clinic / "custodes-manifest.json"
    for args in (
        ("--kind", "acquired"),
        ("--kind", "transformed", "--step", "dedupe", "--commit", "abc1234", "--param", "k=5"),
        ("--kind", "validated", "--check", "label-noise", "--verdict", "pass"),
    ):
        res = cli("provenance", "event", m, *args, "--key", private, "--actor", "alice")
        assert res.code == 0, res.err
    model = tmp_path / "model.bin"
    model.write_bytes(os.urandom(4096))
    att = tmp_path / "att.json"
    res = cli(
        "provenance", "attest-training", "--model", model,
        "--dataset", "clinic/custodes-manifest.json", "--dataset", "forum/custodes-manifest.json",
        "--commit", "0123456789abcdef0123456789abcdef01234567", "--param", "lr=0.01",
        "--key", private, "-o", att,
    )  # fmt: skip
    assert res.code == 0, res.err
    return World(tmp_path, private, keys / "alice.pub.pem", keys / "mallory.pub.pem",
                 clinic, forum, model, att)  # fmt: skip
