"""``custodes bom``: a CycloneDX 1.6 AI-BOM that the library's strict validator accepts."""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from custodes.provenance import Provenance, Tier, build_manifest, write_manifest
from custodes.provenance.bom import build_bom, validation_error
from custodes.system import load_system
from tests.conftest import EXAMPLES, Result

Cli = Callable[..., Result]
EXAMPLE_FILES = sorted(EXAMPLES.glob("*/custodes.yaml"))
HEALTH = EXAMPLES / "health-outcomes"


def _props(component: dict[str, Any]) -> dict[str, str]:
    return {p["name"]: p["value"] for p in component.get("properties", [])}


def _by_ref(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["bom-ref"]: c for c in doc["components"]}


def _depends_on(doc: dict[str, Any], ref: str) -> set[str]:
    return next(set(d.get("dependsOn", [])) for d in doc["dependencies"] if d["ref"] == ref)


@pytest.fixture
def health(tmp_path: Path) -> Path:
    """A writable copy of the health example's project."""
    root = tmp_path / "health"
    shutil.copytree(HEALTH, root)
    return root


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda p: p.parent.name)
def test_every_example_validates_strictly(path: Path) -> None:
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    doc = build_bom(load_system(path), path.parent)
    assert doc["specVersion"] == "1.6"
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(json.dumps(doc)) is None
    types = {c["type"] for c in doc["components"]}
    assert "machine-learning-model" in types
    assert "data" in types


def test_hand_written_fields_are_checked_by_the_schema() -> None:
    doc = build_bom(load_system(HEALTH / "custodes.yaml"), HEALTH)
    model = _by_ref(doc)["model:outcome-model"]
    model["modelCard"]["modelParameters"]["datasets"] = [{"nope": 1}]
    assert validation_error(doc) is not None


def test_health_example_data_components_carry_provenance() -> None:
    loaded = load_system(HEALTH / "custodes.yaml")
    doc = build_bom(loaded, HEALTH)
    comps = _by_ref(doc)
    tiers = {s.id: s.tier for s in loaded.model.sources}
    assert "user_generated" in tiers.values()
    for source_id, tier in tiers.items():
        component = comps[f"data:{source_id}"]
        assert component["type"] == "data"
        assert _props(component)["custodes:tier"] == tier
        assert component["data"][0]["type"] == "dataset"
    bloom = comps["data:symptom-tracker-entries"]
    assert _props(bloom)["custodes:tier"] == "user_generated"
    assert _props(bloom)["custodes:chain_of_custody"] == "missing"
    assert bloom["data"][0]["classification"] == "restricted"
    # The EHR manifest is declared but not in the example tree: no hash, and it says so.
    ehr = comps["data:ehr-extract"]
    assert "hashes" not in ehr
    assert _props(ehr)["custodes:manifest"] == "missing"


def test_health_model_depends_on_its_training_sources_and_libraries() -> None:
    doc = build_bom(load_system(HEALTH / "custodes.yaml"), HEALTH)
    sources = {"data:ehr-extract", "data:claims-demographics", "data:symptom-tracker-entries"}
    model = _by_ref(doc)["model:outcome-model"]
    assert model["type"] == "machine-learning-model"
    props = _props(model)
    assert props["custodes:origin"] == "in_house"
    assert props["custodes:format"] == "joblib"
    assert props["custodes:signed"] == "false"
    cards = {d["ref"] for d in model["modelCard"]["modelParameters"]["datasets"]}
    assert cards == sources
    assert _depends_on(doc, "model:outcome-model") == sources | {
        "dependency:scikit-learn",
        "dependency:great-expectations",
    }
    sklearn = _by_ref(doc)["dependency:scikit-learn"]
    assert sklearn["type"] == "library"
    assert sklearn["purl"] == "pkg:pypi/scikit-learn@1.5.2"
    assert doc["metadata"]["component"]["name"] == "Maternal Outcome Predictor"


def test_foundation_model_without_training_step_lists_no_datasets() -> None:
    path = EXAMPLES / "llm-support-assistant" / "custodes.yaml"
    doc = build_bom(load_system(path), path.parent)
    base = _by_ref(doc)["model:support-llm"]
    assert base["modelCard"]["modelParameters"]["datasets"] == []
    tuned = _by_ref(doc)["model:support-llm-ft"]
    assert tuned["modelCard"]["modelParameters"]["datasets"]


def test_model_file_present_under_root_gets_its_sha256(health: Path) -> None:
    model_file = health / "models" / "outcome_model.joblib"
    model_file.parent.mkdir(parents=True)
    model_file.write_bytes(b"not really a model\n" * 1000)
    doc = build_bom(load_system(health / "custodes.yaml"), health)
    model = _by_ref(doc)["model:outcome-model"]
    expected = hashlib.sha256(model_file.read_bytes()).hexdigest()
    assert model["hashes"] == [{"alg": "SHA-256", "content": expected}]
    assert "custodes:artifact" not in _props(model)


def test_model_file_absent_has_no_hash(health: Path) -> None:
    doc = build_bom(load_system(health / "custodes.yaml"), health)
    model = _by_ref(doc)["model:outcome-model"]
    assert "hashes" not in model
    assert _props(model)["custodes:artifact"] == "missing"


def test_source_manifest_present_gives_its_merkle_root(health: Path) -> None:
    data = health / "data" / "ehr"
    data.mkdir(parents=True)
    (data / "visits.csv").write_text("id,bp\n1,120\n")
    manifest = build_manifest(data, Provenance(source="ehr-extract", tier=Tier.first_party))
    write_manifest(manifest, health / "data" / "sources" / "ehr-extract.parquet.manifest.json")
    doc = build_bom(load_system(health / "custodes.yaml"), health)
    ehr = _by_ref(doc)["data:ehr-extract"]
    assert ehr["hashes"] == [{"alg": "SHA-256", "content": manifest["merkle_root"]}]
    assert _props(ehr)["custodes:manifest"] == "data/sources/ehr-extract.parquet.manifest.json"


def test_malformed_manifest_is_an_input_error(cli: Cli, health: Path) -> None:
    bad = health / "data" / "sources" / "ehr-extract.parquet.manifest.json"
    bad.parent.mkdir(parents=True)
    bad.write_text("{not json")
    result = cli("bom", health)
    assert result.code == 2
    assert "manifest is not valid JSON" in result.err


def test_cli_writes_valid_json_to_a_file(cli: Cli, tmp_path: Path) -> None:
    out = tmp_path / "bom.json"
    result = cli("bom", HEALTH / "custodes.yaml", "-o", out)
    assert result.code == 0, result.err
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert doc["bomFormat"] == "CycloneDX"
    assert validation_error(doc) is None


def test_cli_prints_to_stdout_from_a_project_directory(cli: Cli) -> None:
    result = cli("bom", HEALTH)
    assert result.code == 0, result.err
    assert validation_error(json.loads(result.out)) is None


def test_cli_without_custodes_yaml_exits_2(cli: Cli, tmp_path: Path) -> None:
    assert cli("bom", tmp_path).code == 2


def test_manifest_with_a_bad_merkle_root_is_an_input_error(cli: Cli, health: Path) -> None:
    bad = health / "data" / "sources" / "ehr-extract.parquet.manifest.json"
    bad.parent.mkdir(parents=True)
    bad.write_text(
        json.dumps({"format": "custodes-manifest", "version": 1, "merkle_root": "x", "files": []})
    )
    result = cli("bom", health)
    assert result.code == 2
    assert "merkle_root" in result.err
