"""Lineage: sources and tiers behind a model, with row shares from the Parquet manifests."""

from __future__ import annotations

import json

import pytest

from tests.provenance.conftest import Cli, World


def test_lineage_shares_from_row_counts(world: World, cli: Cli) -> None:
    res = cli("provenance", "lineage", world.model, "--attestation", world.attestation,
              "--format", "json")  # fmt: skip
    assert res.code == 0, res.err
    doc = json.loads(res.out)
    assert doc["rows_total"] == 40
    assert doc["user_generated_share"] == pytest.approx(0.25)
    assert doc["tiers"]["first_party"] == {"rows": 30, "share": 0.75, "sources": ["clinic-ehr"]}
    assert doc["tiers"]["broker"]["rows"] == 0
    forum = next(d for d in doc["datasets"] if d["source"] == "forum")
    assert forum["tier"] == "user_generated"
    assert forum["rows"] == 10
    assert doc["rows_unknown"] == []


def test_lineage_console_tree_marks_user_generated(world: World, cli: Cli) -> None:
    res = cli("provenance", "lineage", world.model, "--attestation", world.attestation)
    assert res.code == 0, res.err
    assert "user_generated" in res.out
    assert "forum" in res.out
    assert "clinic-ehr" in res.out
    assert "user-generated share: 25.0%" in res.out
    assert "no custody docs" in res.out  # the forum came with no chain-of-custody papers


def test_lineage_refuses_another_model(world: World, cli: Cli) -> None:
    world.model.write_bytes(b"a different model")
    res = cli("provenance", "lineage", world.model, "--attestation", world.attestation)
    assert res.code == 1
    assert "not the subject" in res.err


def test_lineage_with_data_root(world: World, cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(world.root.parent)
    res = cli("provenance", "lineage", world.model, "--attestation", world.attestation,
              "--data-root", world.root, "--format", "json")  # fmt: skip
    assert res.code == 0, res.err
    assert json.loads(res.out)["rows_total"] == 40
