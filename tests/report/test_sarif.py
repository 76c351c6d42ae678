"""SARIF output checked against the official OASIS schema and what viewers rely on."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import jsonschema
import pytest

from custodes.findings import Category, Finding, Location, RuleId, Severity
from custodes.report import sarif
from custodes.system import parse_system
from custodes.threatmodel import ThreatModel, analyze

from .systems import HEALTH_YAML, TODAY

SCHEMA_PATH = Path(__file__).parent.parent / "fixtures" / "sarif-schema-2.1.0.json"
SCHEMA_SHA256 = "c3b4bb2d6093897483348925aaa73af03b3e3f4bd4ca38cef26dcb4212a2682e"
# Written out here, not imported, so a wrong mapping in the code cannot pass by agreeing
# with itself.
EXPECTED_LEVEL = {
    "critical": "error",
    "high": "error",
    "medium": "warning",
    "low": "note",
    "info": "note",
}


@pytest.fixture(scope="module")
def schema() -> dict[str, object]:
    data = SCHEMA_PATH.read_bytes()
    assert hashlib.sha256(data).hexdigest() == SCHEMA_SHA256, "schema fixture was edited"
    loaded: dict[str, object] = json.loads(data)
    return loaded


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    root.mkdir()
    (root / "custodes.yaml").write_text(HEALTH_YAML, encoding="utf-8")
    return root


@pytest.fixture
def tm(project: Path) -> ThreatModel:
    path = project / "custodes.yaml"
    return analyze(parse_system(path.read_text(encoding="utf-8"), path), today=TODAY)


def render_sarif(findings: list[Finding] | tuple[Finding, ...], **kwargs: Any) -> Any:
    """The log as plain JSON data, so the tests can index into it freely."""
    return sarif.render_sarif(findings, **kwargs)


def _extra(project: Path) -> list[Finding]:
    """Findings of other kinds: a notebook cell with a space in its path, no line, no place."""
    return [
        Finding(
            rule_id=RuleId("SEC-AWS-KEY"),
            category=Category.SECRET,
            severity=Severity.CRITICAL,
            message="AWS access key in notebook cell 3: AKIA************MPLE",
            location=Location(
                path=str(project / "notebooks" / "explore data.ipynb"),
                line=42,
                column=7,
                cell=3,
                cell_line=2,
                in_output=False,
            ),
        ),
        Finding(
            rule_id=RuleId("ART-PICKLE"),
            category=Category.ARTIFACT,
            severity=Severity.INFO,
            message="model.pkl is a pickle",
            location=Location(path=str(project / "models" / "model.pkl")),
        ),
        Finding(
            rule_id=RuleId("GOV-NO-OWNER"),
            category=Category.GOVERNANCE,
            severity=Severity.LOW,
            message="no owner",
        ),
    ]


def test_fixture_is_the_official_sarif_2_1_0_schema(schema: dict[str, object]) -> None:
    assert "SARIF" in str(schema["title"])
    assert "2.1.0" in str(schema["title"])
    assert str(schema["id"]).endswith("/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json")
    assert str(schema["id"]).startswith("https://docs.oasis-open.org/")


def test_log_from_a_real_threat_model_validates(
    schema: dict[str, object], tm: ThreatModel, project: Path
) -> None:
    findings = [*tm.findings, *_extra(project)]
    log = render_sarif(findings, tool_version="0.1.0", base_dir=project)
    json.loads(json.dumps(log))  # plain JSON types only
    declared = jsonschema.validators.validator_for(schema)
    assert declared is jsonschema.Draft4Validator
    for cls in (declared, jsonschema.Draft7Validator):
        cls.check_schema(schema)
        errors = list(cls(schema, format_checker=cls.FORMAT_CHECKER).iter_errors(log))
        assert not errors, [e.message for e in errors[:3]]


def test_without_base_dir_it_still_validates(schema: dict[str, object], tm: ThreatModel) -> None:
    log = render_sarif(tm.findings, tool_version="0.1.0")
    jsonschema.Draft4Validator(schema).validate(log)
    location = log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]
    uri = location["artifactLocation"]["uri"]
    assert uri.startswith("file:///")


def test_rule_index_levels_fingerprints(tm: ThreatModel, project: Path) -> None:
    findings = [*tm.findings, *_extra(project)]
    log = render_sarif(findings, tool_version="9.9.9", base_dir=project)
    run = log["runs"][0]
    driver = run["tool"]["driver"]
    assert driver["name"] == "custodes"
    assert driver["version"] == "9.9.9"
    assert urlparse(driver["informationUri"]).scheme == "https"
    rules = driver["rules"]
    assert len({r["id"] for r in rules}) == len(rules) == len({f.rule_id for f in findings})
    results = run["results"]
    assert len(results) == len(findings)
    for f, r in zip(findings, results, strict=True):
        assert r["ruleId"] == f.rule_id
        assert rules[r["ruleIndex"]]["id"] == f.rule_id
        assert r["level"] == EXPECTED_LEVEL[f.severity.value]
        assert r["partialFingerprints"] == {"custodes/v1": f.fingerprint}
        assert r["properties"]["severity"] == f.severity.value
        assert r["properties"]["category"] == f.category.value
        assert r["properties"]["threats"] == list(f.threats)
        assert r["message"]["text"].startswith(f.message)
        if f.remediation:
            assert f.remediation.rstrip(".") in r["message"]["text"]
        for fact in f.facts:
            assert fact in r["message"]["text"]


def test_threat_rules_link_to_owasp(tm: ThreatModel) -> None:
    log = render_sarif(tm.findings, tool_version="0.1.0")
    rules = {r["id"]: r for r in log["runs"][0]["tool"]["driver"]["rules"]}
    for f in tm.findings:
        rule = rules[f.rule_id]
        if f.threats:
            assert rule["helpUri"].startswith("https://owaspai.org/goto/")
            assert set(f.threats) <= set(rule["properties"]["tags"])
    poison = rules["TM-POISON-USER"]
    assert poison["helpUri"] == "https://owaspai.org/goto/datapoison/"


def test_locations_are_relative_posix_with_lines(tm: ThreatModel, project: Path) -> None:
    extra = _extra(project)
    log = render_sarif([*tm.findings, *extra], tool_version="0.1.0", base_dir=project)
    results = log["runs"][0]["results"]
    yaml_lines = HEALTH_YAML.splitlines()
    by_rule = {r["ruleId"]: r for r in results}

    poison = by_rule["TM-POISON-USER"]["locations"][0]["physicalLocation"]
    assert poison["artifactLocation"] == {"uri": "custodes.yaml", "uriBaseId": "%SRCROOT%"}
    line = poison["region"]["startLine"]
    assert "id: patient-app" in yaml_lines[line - 1]

    secret = by_rule["SEC-AWS-KEY"]
    phys = secret["locations"][0]["physicalLocation"]
    assert phys["artifactLocation"]["uri"] == "notebooks/explore%20data.ipynb"
    assert phys["region"] == {"startLine": 42, "startColumn": 7}
    assert secret["properties"]["cell"] == 3

    pickle = by_rule["ART-PICKLE"]["locations"][0]["physicalLocation"]
    assert pickle["artifactLocation"]["uri"] == "models/model.pkl"
    assert "region" not in pickle
    assert "locations" not in by_rule["GOV-NO-OWNER"]
    base = log["runs"][0]["originalUriBaseIds"]["%SRCROOT%"]["uri"]
    assert base.startswith("file:///")
    assert base.endswith("/")


def test_redacted_messages_stay_redacted(project: Path) -> None:
    log = render_sarif(_extra(project), tool_version="0.1.0", base_dir=project)
    text = json.dumps(log)
    assert "AKIA************MPLE" in text
    assert "AKIAIOSFODNN7EXAMPLE" not in text
