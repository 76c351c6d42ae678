"""Every rule fires on the facts it documents and stays quiet without them."""

from __future__ import annotations

from datetime import date

import pytest

from custodes.system import parse_system
from custodes.threatmodel import ThreatModel, analyze
from custodes.threatmodel.rules import RULES

TODAY = date(2026, 11, 26)
HEAD = "version: 1\nsystem:\n  name: t\n  consequence: high\n"


def run(body: str) -> ThreatModel:
    return analyze(parse_system(HEAD + body), today=TODAY, root=None)


def fired(tm: ThreatModel, rule_id: str) -> list[tuple[str, str]]:
    return [(t.threat_id, t.element_id) for t in tm.threats if t.rule_id == rule_id]


TRAIN = """
processes:
  - {id: train, kind: training}
models:
  - {id: m, format: onnx}
"""

# rule id -> (body that fires, expected (threat, element), body that must not fire)
CASES: dict[str, tuple[str, tuple[str, str], str]] = {
    "TM-POISON-USER": (
        "sources:\n  - {id: app, tier: user_generated}\n"
        + TRAIN
        + "flows:\n  - {from: app, to: train}\n",
        ("DATAPOISON", "app"),
        # user data that never reaches training
        "sources:\n  - {id: app, tier: user_generated}\n" + TRAIN,
    ),
    "TM-POISON-BROKER": (
        "sources:\n  - {id: b, tier: broker}\n" + TRAIN + "flows:\n  - {from: b, to: train}\n",
        ("DATAPOISON", "b"),
        "sources:\n  - {id: b, tier: first_party}\n" + TRAIN + "flows:\n  - {from: b, to: train}\n",
    ),
    "TM-POISON-FEEDBACK": (
        "outputs:\n  - {id: ui}\nstores:\n  - {id: lake}\nfeedback_loops:\n  - {id: fb, from: ui, into: lake}\n",
        ("DATAPOISON", "fb"),
        "outputs:\n  - {id: ui}\nstores:\n  - {id: lake}\n",
    ),
    "TM-SENSITIVE-STORE": (
        "stores:\n  - {id: s, health_data: true}\n",
        ("DEVDATALEAK", "s"),
        "stores:\n  - {id: s}\n",
    ),
    "TM-EXTRACTION": (
        "endpoints:\n  - {id: api, callers: public, returns: [label, confidence]}\n",
        ("MODELEXFILTRATION", "api"),
        "endpoints:\n  - {id: api, callers: internal, returns: [label]}\n",
    ),
    "TM-INVERSION": (
        "sources:\n  - {id: s, tier: first_party, health_data: true}\n"
        + TRAIN
        + "endpoints:\n  - {id: api, callers: public, returns: [confidence], serves: [m]}\n"
        + "flows:\n  - {from: s, to: train}\n  - {from: train, to: m}\n",
        ("MODELINVERSIONANDMEMBERSHIP", "api"),
        # same system, but the endpoint returns labels only
        "sources:\n  - {id: s, tier: first_party, health_data: true}\n"
        + TRAIN
        + "endpoints:\n  - {id: api, callers: public, returns: [label], serves: [m]}\n"
        + "flows:\n  - {from: s, to: train}\n  - {from: train, to: m}\n",
    ),
    "TM-EVASION": (
        "endpoints:\n  - {id: api, callers: authenticated_users, returns: [label]}\n",
        ("EVASION", "api"),
        "endpoints:\n  - {id: api, callers: public, returns: [text]}\n",
    ),
    "TM-ENDPOINT-ACCESS": (
        "endpoints:\n  - {id: api, callers: public}\n",
        ("GENERICSECTHREATS", "api"),
        "endpoints:\n  - {id: api, callers: public, authentication: true}\n",
    ),
    "TM-INPUT-LEAK": (
        "models:\n  - {id: llm, format: api, origin: foundation, provider: Example AI}\n",
        ("INPUTDATALEAK", "llm"),
        "models:\n  - {id: llm, format: safetensors, origin: foundation}\n",
    ),
    "TM-DEV-NOTEBOOK": (
        "notebooks:\n  - {id: nb, production_data_access: true}\n",
        ("DEVDATALEAK", "nb"),
        "notebooks:\n  - {id: nb, production_data_access: false}\n",
    ),
    "TM-DEV-IP": (
        "notebooks:\n  - {id: nb, version_controlled: false}\n",
        ("DEVCODELEAK", "nb"),
        "notebooks:\n  - {id: nb, version_controlled: true}\n",
    ),
    "TM-SUPPLY-MODEL": (
        "models:\n  - {id: m, origin: third_party, format: pytorch}\n",
        ("SUPPLYMODELPOISON", "m"),
        "models:\n  - {id: m, origin: in_house, format: pytorch}\n",
    ),
    "TM-MODEL-FILE": (
        "models:\n  - {id: m, format: pickle}\n",
        ("RUNTIMEMODELPOISON", "m"),
        "models:\n  - {id: m, format: safetensors}\n",
    ),
    "TM-MODEL-THEFT": (
        "models:\n  - {id: m}\nendpoints:\n  - {id: api, serves: [m]}\n",
        ("RUNTIMEMODELLEAK", "m"),
        "models:\n  - {id: m}\n",
    ),
    "TM-SUPPLY-DEPENDENCY": (
        "dependencies:\n  - {id: hub, kind: model_hub}\n",
        ("SUPPLYMODELPOISON", "hub"),
        "dependencies:\n  - {id: hub, kind: model_hub, pinned: true}\n",
    ),
    "TM-PROMPT-INJECTION": (
        "endpoints:\n  - {id: chat, callers: public, returns: [text]}\n",
        ("DIRECTPROMPTINJECTION", "chat"),
        "endpoints:\n  - {id: chat, callers: public, returns: [label]}\n",
    ),
    "TM-RAG": (
        "stores:\n  - {id: vec, kind: vector_store}\n",
        ("AUGMENTATIONDATAMANIPULATION", "vec"),
        "stores:\n  - {id: vec, kind: database}\n",
    ),
    "TM-AGENT-TOOL": (
        "tools:\n  - {id: refund, actions: [issue refund]}\n",
        ("AGENTESCAPE", "refund"),
        "",
    ),
    "TM-OUTPUT-INJECTION": (
        "endpoints:\n  - {id: chat, returns: [text]}\noutputs:\n  - {id: web, kind: ui}\n"
        "flows:\n  - {from: chat, to: web}\n",
        ("OUTPUTCONTAINSCONVENTIONALINJECTION", "web"),
        "endpoints:\n  - {id: chat, returns: [label]}\noutputs:\n  - {id: web, kind: ui}\n"
        "flows:\n  - {from: chat, to: web}\n",
    ),
}


def test_every_rule_has_a_case_and_a_docstring() -> None:
    assert {r.id for r in RULES} == set(CASES)
    for spec in RULES:
        assert len(spec.doc) > 40, spec.id


@pytest.mark.parametrize("rule_id", sorted(CASES))
def test_rule_fires_on_its_facts(rule_id: str) -> None:
    body, expected, _ = CASES[rule_id]
    tm = run(body)
    assert expected in fired(tm, rule_id)
    threat = next(t for t in tm.threats if (t.threat_id, t.element_id) == expected)
    assert threat.facts, "a finding must say which facts made it fire"
    assert threat.clears
    assert threat.line is not None


@pytest.mark.parametrize("rule_id", sorted(CASES))
def test_rule_is_quiet_without_its_facts(rule_id: str) -> None:
    _, _, quiet = CASES[rule_id]
    assert fired(run(quiet), rule_id) == []


def test_user_source_reached_through_a_chain_of_flows() -> None:
    body = (
        "sources:\n  - {id: app, tier: user_generated, records: 1200000}\n"
        "processes:\n  - {id: ingest, kind: ingestion}\n  - {id: feat, kind: feature_engineering}\n"
        "  - {id: train, kind: fine_tuning}\n"
        "flows:\n  - {from: app, to: ingest}\n  - {from: ingest, to: feat}\n  - {from: feat, to: train}\n"
    )
    tm = run(body)
    t = next(t for t in tm.threats if t.rule_id == "TM-POISON-USER")
    assert "its data reaches training step(s) train" in t.facts
    assert "it holds 1,200,000 records" in t.facts
    assert t.inherent.likelihood == 5


def test_automated_validation_on_the_path_lowers_likelihood() -> None:
    body = (
        "sources:\n  - {id: app, tier: user_generated}\n"
        "processes:\n  - {id: check, kind: preprocessing, automated_validation: true}\n"
        "  - {id: train, kind: training}\n"
        "flows:\n  - {from: app, to: check}\n  - {from: check, to: train}\n"
    )
    t = next(t for t in run(body).threats if t.rule_id == "TM-POISON-USER")
    assert t.inherent.likelihood == 4
    assert any("automated validation in check" in r for r in t.inherent.likelihood_reasons)
