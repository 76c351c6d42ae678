"""The packaged catalog must agree with the OWASP AI Exchange reference, fact for fact.

The catalog YAML is maintained by hand, so these tests compare it against the reference
extraction in shared/reference (and the ATLAS data next to it) rather than against
copies of the same values: a slip in either the ids or the mappings shows up here.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import yaml

from custodes.catalog import (
    Catalog,
    CatalogIntegrityError,
    UnknownCatalogId,
    load_catalog,
    parse_catalog,
)
from custodes.errors import CustodesError

# Ids the catalog may hold beyond the reference. Empty on purpose: anything added here
# must be explained next to it.
DOCUMENTED_EXTRA_THREATS: frozenset[str] = frozenset()
DOCUMENTED_EXTRA_CONTROLS: frozenset[str] = frozenset()

CIA = ("confidentiality", "integrity", "availability")
REPO_ROOT = Path(__file__).resolve().parents[2]


def _reference_dir() -> Path:
    env = os.environ.get("CUSTODES_REFERENCE")
    candidate = Path(env) if env else REPO_ROOT.parent / "shared" / "reference"
    if not (candidate / "owasp-ai-exchange.yaml").is_file():
        pytest.fail(
            f"OWASP AI Exchange reference not found at {candidate}; set CUSTODES_REFERENCE "
            "to the directory holding owasp-ai-exchange.yaml and atlas/ATLAS.yaml"
        )
    return candidate


@pytest.fixture(scope="module")
def ref() -> dict[str, Any]:
    with (_reference_dir() / "owasp-ai-exchange.yaml").open(encoding="utf-8") as fh:
        data: dict[str, Any] = yaml.safe_load(fh)
    return data


@pytest.fixture(scope="module")
def atlas() -> dict[str, set[str]]:
    path = _reference_dir() / "atlas" / "ATLAS.yaml"
    if not path.is_file():
        pytest.fail(f"ATLAS data not found at {path}")
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with path.open(encoding="utf-8") as fh:
        # C loader when PyYAML has libyaml: the file is 450 KB. Either loader is a safe one.
        data = yaml.load(fh, Loader=loader)
    techniques: set[str] = set()
    mitigations: set[str] = set()
    for matrix in data["matrices"]:
        techniques.update(t["id"] for t in matrix["techniques"])
        mitigations.update(m["id"] for m in matrix["mitigations"])
    return {"techniques": techniques, "mitigations": mitigations}


@pytest.fixture(scope="module")
def cat() -> Catalog:
    return load_catalog()


def _by_id(entries: list[Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    return {e["id"]: e for e in entries}


def _url(permalink: str) -> str:
    return f"https://owaspai.org/goto/{permalink}/"


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


def _shingles(text: str, n: int) -> set[tuple[str, ...]]:
    w = _words(text)
    return {tuple(w[i : i + n]) for i in range(len(w) - n + 1)}


def _sentences(text: str) -> int:
    return len(re.findall(r"[.!?](?:\s|$)", text.strip()))


# -- ids ---------------------------------------------------------------------------------


def test_reference_sizes_are_what_the_catalog_was_built_from(ref: dict[str, Any]) -> None:
    assert len(ref["threats"]) == 34
    assert len(ref["controls"]) == 55


def test_every_reference_threat_is_in_catalog_and_nothing_else(
    cat: Catalog, ref: dict[str, Any]
) -> None:
    expected = {t["id"] for t in ref["threats"]}
    assert expected - set(cat.threats) == set()
    assert set(cat.threats) - expected == DOCUMENTED_EXTRA_THREATS


def test_every_reference_control_is_in_catalog_and_nothing_else(
    cat: Catalog, ref: dict[str, Any]
) -> None:
    expected = {c["id"] for c in ref["controls"]}
    assert expected - set(cat.controls) == set()
    assert set(cat.controls) - expected == DOCUMENTED_EXTRA_CONTROLS


def test_categories_match_reference(cat: Catalog, ref: dict[str, Any]) -> None:
    assert {c["id"]: c["exchange_name"] for c in ref["categories"]} == {
        c.id: c.name for c in cat.categories.values()
    }


def test_control_groups_match_reference(cat: Catalog, ref: dict[str, Any]) -> None:
    expected = {g["id"]: (g["name"], tuple(g["members"])) for g in ref["control_groups"]}
    assert expected == {g.id: (g.name, g.members) for g in cat.control_groups.values()}


def test_provenance_points_at_the_reference_commit(cat: Catalog, ref: dict[str, Any]) -> None:
    assert cat.exchange_commit == ref["source"]["commit"]
    assert cat.atlas_version == ref["atlas_reference"]["release_tag"]
    text = resources.files("custodes.catalog").joinpath("data", "catalog.yaml").read_text("utf-8")
    header = text.split("\nschema_version:", 1)[0]
    assert ref["source"]["commit"] in header
    assert "CC0" in header
    assert ref["atlas_reference"]["release_tag"] in header
    assert "own words" in header


# -- per-entry facts ---------------------------------------------------------------------


def test_threat_facts_equal_reference(cat: Catalog, ref: dict[str, Any]) -> None:
    mismatches = []
    for rid, r in _by_id(ref["threats"]).items():
        t = cat.threats[rid]
        expected = {
            "name": r["name"],
            "category": r["category"],
            "level": r["level"],
            "parent": r.get("parent"),
            "element_kinds": tuple(r["custodes_elements"]),
            "atlas": tuple(r["atlas"]),
            "controls": tuple(r["controls"]),
            "controls_all": tuple(r["controls_all"]),
            "aliases": tuple(r.get("legacy_ids", [])),
            "url": _url(r["permalink"]),
        }
        actual = {field: getattr(t, field) for field in expected}
        if actual != expected:
            diff = {k: (actual[k], v) for k, v in expected.items() if actual[k] != v}
            mismatches.append((rid, diff))
    assert mismatches == []


def test_threat_impact_follows_reference(cat: Catalog, ref: dict[str, Any]) -> None:
    for r in ref["threats"]:
        stated = r.get("impact")
        if stated is None:
            expected: tuple[str, ...] = ()
        elif "CIA" in stated:
            expected = CIA
        else:
            expected = tuple(w for w in CIA if w in stated)
            assert expected, f"reference impact {stated!r} of {r['id']} names no C/I/A"
        assert cat.threats[r["id"]].impact == expected, r["id"]


def test_control_facts_equal_reference(cat: Catalog, ref: dict[str, Any]) -> None:
    mismatches = []
    for rid, r in _by_id(ref["controls"]).items():
        c = cat.controls[rid]
        group = r.get("control_group")
        expected = {
            "name": r["name"],
            "group": group.upper() if group else None,
            "phase": tuple(r["phase"]),
            "atlas_mitigations": tuple(r["atlas_mitigations"]),
            "aliases": tuple(r.get("legacy_ids", [])),
            "url": _url(r["permalink"]),
        }
        actual = {field: getattr(c, field) for field in expected}
        if actual != expected:
            mismatches.append((rid, {k: (actual[k], v) for k, v in expected.items()}))
    assert mismatches == []


def test_atlas_technique_ids_exist_in_atlas(
    cat: Catalog, atlas: dict[str, set[str]], ref: dict[str, Any]
) -> None:
    used = {a for t in cat.threats.values() for a in t.atlas}
    assert used, "no threat cites ATLAS; the mapping was lost"
    assert used - atlas["techniques"] == set()
    cited = {k for k in ref["atlas_reference"]["cited_by_exchange"] if k.startswith("AML.T")}
    assert cited - atlas["techniques"] == set()


def test_atlas_mitigation_ids_exist_in_atlas(cat: Catalog, atlas: dict[str, set[str]]) -> None:
    used = {m for c in cat.controls.values() for m in c.atlas_mitigations}
    assert used
    assert used - atlas["mitigations"] == set()


def test_element_kinds_are_the_custodes_kinds(cat: Catalog, ref: dict[str, Any]) -> None:
    assert cat.element_kinds == tuple(ref["custodes_element_kinds"]["kinds"])


# -- descriptions ------------------------------------------------------------------------


def test_descriptions_are_own_words_not_reference_summaries(
    cat: Catalog, ref: dict[str, Any]
) -> None:
    summaries = {e["id"]: e["summary"] for e in [*ref["threats"], *ref["controls"]]}
    all_shingles: set[tuple[str, ...]] = set()
    for s in summaries.values():
        all_shingles |= _shingles(s, 5)
    entries: list[tuple[str, str]] = [
        *((t.id, t.description) for t in cat.threats.values()),
        *((c.id, c.description) for c in cat.controls.values()),
    ]
    assert len(entries) == len(summaries)
    for entry_id, text in entries:
        desc = " ".join(text.split())
        summary = " ".join(summaries[entry_id].split())
        assert desc, entry_id
        assert desc.lower() != summary.lower(), entry_id
        assert summary.lower() not in desc.lower(), entry_id
        # A five-word run shared with any summary hints at an edited copy, not fresh text.
        shared = _shingles(desc, 5) & all_shingles
        assert shared == set(), (entry_id, shared)


def test_description_lengths_follow_the_house_rule(cat: Catalog) -> None:
    for t in cat.threats.values():
        assert 2 <= _sentences(t.description) <= 3, t.id
    for c in cat.controls.values():
        assert 1 <= _sentences(c.description) <= 2, c.id


# -- lookups -----------------------------------------------------------------------------


def test_legacy_threat_aliases_resolve(cat: Catalog, ref: dict[str, Any]) -> None:
    pairs = [(legacy, t["id"]) for t in ref["threats"] for legacy in t.get("legacy_ids", [])]
    assert len(pairs) >= 10
    for legacy, current in pairs:
        assert cat.threat(legacy).id == current
        assert cat.threat(legacy.lower()).id == current


def test_legacy_control_aliases_resolve(cat: Catalog, ref: dict[str, Any]) -> None:
    pairs = [(legacy, c["id"]) for c in ref["controls"] for legacy in c.get("legacy_ids", [])]
    assert pairs
    for legacy, current in pairs:
        assert cat.resolve_control_id(legacy) == current
        assert cat.control(legacy.lower()).id == current
        assert cat.has_control(legacy)


def test_ids_resolve_in_any_spelling(cat: Catalog) -> None:
    assert cat.threat("modelexfiltration").id == "MODELEXFILTRATION"
    assert cat.threat("Model-Exfiltration").id == "MODELEXFILTRATION"
    assert cat.control("#MONITOR USE").id == "MONITORUSE"
    assert cat.resolve_control_id("rate limit") == "RATELIMIT"


def test_category_aliases_resolve(cat: Catalog, ref: dict[str, Any]) -> None:
    for c in ref["categories"]:
        for spelling in (c["id"], c["exchange_name"], *c["aka"]):
            assert cat.category(spelling).id == c["id"]
            assert cat.category(spelling.upper()).id == c["id"]
    assert cat.category("threats through use").id == "input"
    assert cat.category("inference-time attacks").id == "input"
    assert cat.category("runtime application security threats").id == "runtime-conventional"


@pytest.mark.parametrize(
    ("lookup", "bad"),
    [
        ("threat", "NOSUCHTHREAT"),
        ("control", "NOSUCHCONTROL"),
        ("category", "training-time"),
        ("threats_for_kind", "gpu_cluster"),
    ],
)
def test_unknown_ids_raise(cat: Catalog, lookup: str, bad: str) -> None:
    with pytest.raises(UnknownCatalogId) as info:
        getattr(cat, lookup)(bad)
    assert isinstance(info.value, KeyError)
    assert isinstance(info.value, CustodesError)
    assert bad in str(info.value)


def test_unknown_lookups_without_raising(cat: Catalog) -> None:
    assert cat.resolve_control_id("NOSUCHCONTROL") is None
    assert not cat.has_control("NOSUCHCONTROL")
    assert cat.suggest_control("QQQQQQ") is None


def test_typo_gets_did_you_mean(cat: Catalog) -> None:
    assert cat.suggest_control("RATELIMT") == "RATELIMIT"
    with pytest.raises(UnknownCatalogId) as info:
        cat.control("RATELIMT")
    assert "RATELIMIT" in info.value.diagnostics()
    with pytest.raises(UnknownCatalogId) as info:
        cat.threat("DATAPOISONING")
    assert "DATAPOISON" in info.value.diagnostics()


def test_retired_controls_are_explained(cat: Catalog, ref: dict[str, Any]) -> None:
    retired = [r["id"] for r in ref["retired_control_ids"]]
    assert retired
    for rid in retired:
        assert cat.is_retired_control(rid)
        assert cat.is_retired_control(rid.lower())
        assert not cat.has_control(rid)
        with pytest.raises(UnknownCatalogId) as info:
            cat.control(rid)
        assert "retired" in info.value.diagnostics()
    assert not cat.is_retired_control("RATELIMIT")


def test_threats_for_kind_returns_leaves_only(cat: Catalog) -> None:
    found = cat.threats_for_kind("inference_endpoint")
    ids = {t.id for t in found}
    assert "MODELEXFILTRATION" in ids
    assert all(t.level == "threat" for t in found)
    for non_leaf in ("INPUTTHREATS", "EVASION", "PROMPTINJECTION", "DISCLOSUREUSE"):
        assert non_leaf not in ids


def test_threats_for_kind_matches_reference_for_every_kind(
    cat: Catalog, ref: dict[str, Any]
) -> None:
    for kind in ref["custodes_element_kinds"]["kinds"]:
        expected = [
            t["id"]
            for t in ref["threats"]
            if t["level"] == "threat" and kind in t["custodes_elements"]
        ]
        assert [t.id for t in cat.threats_for_kind(kind)] == expected, kind


# -- loader ------------------------------------------------------------------------------


def test_load_catalog_is_cached(cat: Catalog) -> None:
    assert load_catalog() is cat


def test_entries_are_immutable(cat: Catalog) -> None:
    with pytest.raises(AttributeError):
        cat.threats["EVASION"].name = "x"  # type: ignore[misc]
    with pytest.raises(TypeError):
        cat.threats["X"] = cat.threats["EVASION"]  # type: ignore[index]


def _packaged_doc() -> dict[str, Any]:
    text = resources.files("custodes.catalog").joinpath("data", "catalog.yaml").read_text("utf-8")
    doc: dict[str, Any] = yaml.safe_load(text)
    return doc


def _threat_entry(doc: dict[str, Any], threat_id: str) -> dict[str, Any]:
    entry: dict[str, Any] = next(t for t in doc["threats"] if t["id"] == threat_id)
    return entry


def test_packaged_document_parses_cleanly() -> None:
    assert len(parse_catalog(_packaged_doc()).threats) == 34


def test_dangling_references_are_reported_together() -> None:
    doc = _packaged_doc()
    _threat_entry(doc, "EVASION")["controls"].append("NOSUCHCONTROL")
    _threat_entry(doc, "DATAPOISON")["parent"] = "NOSUCHPARENT"
    _threat_entry(doc, "AGENTESCAPE")["element_kinds"] = ["gpu_cluster"]
    with pytest.raises(CatalogIntegrityError) as info:
        parse_catalog(doc)
    message = str(info.value)
    assert "EVASION: references unknown control NOSUCHCONTROL" in message
    assert "DATAPOISON: parent NOSUCHPARENT does not exist" in message
    assert "AGENTESCAPE: unknown element kind 'gpu_cluster'" in message


def test_clashing_alias_is_reported() -> None:
    doc = _packaged_doc()
    _threat_entry(doc, "EVASION")["aliases"] = ["DATAPOISON"]
    with pytest.raises(CatalogIntegrityError, match="names both"):
        parse_catalog(doc)


def test_malformed_field_is_reported() -> None:
    doc = _packaged_doc()
    doc["controls"][0]["phase"] = "runtime"
    with pytest.raises(CatalogIntegrityError, match="phase must be a list"):
        parse_catalog(doc)
