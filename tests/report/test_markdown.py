"""Markdown for each audience carries what that audience acts on, and nothing hostile."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from custodes.assess import assess
from custodes.report.markdown import render_assessment_markdown, render_markdown

from .systems import HEALTH_YAML, TODAY, health, hostile

SCALE_SENTENCE = "90% accuracy on 7,500,000 people is 750,000 people given a wrong result"


def _yaml_line(needle: str) -> int:
    """1-based line of the first line of HEALTH_YAML containing ``needle``."""
    return next(i for i, line in enumerate(HEALTH_YAML.splitlines(), 1) if needle in line)


def test_leadership_is_one_plain_page() -> None:
    tm = health()
    text = render_markdown(tm, audience="leadership")
    main, _, footnote = text.partition("\n---\n")
    assert SCALE_SENTENCE in main
    assert "Not ready for production" in main
    assert "## Decisions needed" in main
    assert "**Halt:**" in main
    assert "**Fund:**" in main
    assert "lapsed on 2026-06-30" in main  # the expired risk acceptance needs a decision
    # No jargon in the main text: no rule ids, no catalog ids, no diagram source.
    assert "TM-" not in main
    for t in tm.threats:
        assert t.threat_id not in main, t.threat_id
        for c in t.controls:
            assert c.id not in main, c.id
    assert "```" not in main
    # Top five risks, in plain words, the diagnostic answers, and ids only in the footnote.
    assert len(re.findall(r"^\d\. \*\*", main, flags=re.M)) == 5
    for title in ("Is it secure?", "Can we operationalize it?", "Does it scale?"):
        assert re.search(rf"\*\*{re.escape(title)}\*\* \S+ (yes|partial|no)\.", main)
    assert "DATAPOISON" in footnote
    assert len(text.splitlines()) < 60


def test_developer_gets_controls_lines_and_diagram() -> None:
    tm = health()
    text = render_markdown(tm)
    assert "```mermaid\nflowchart LR" in text
    missing = {
        c.id
        for t in tm.threats
        if t.status != "mitigated"
        for c in t.controls
        if c.status != "implemented"
    }
    assert missing
    for control_id in missing:
        assert f"`{control_id}`" in text, control_id
    assert "Development environment security" in text  # catalog name beside the id
    assert f"`custodes.yaml:{_yaml_line('id: patient-app')}`" in text
    assert f"`custodes.yaml:{_yaml_line('id: api,')}`" in text
    assert "Go back to Q1 first" in text
    assert "## Declared controls" in text
    assert "on-call data engineer" in text
    assert "## Staleness" in text
    assert "**stale**" in text
    for f in tm.findings:
        assert f"`{f.rule_id}`" in text
    assert "likelihood 5 × impact 5 = 25 (critical)" in text
    assert "https://owaspai.org/goto/datapoison/" in text


def test_data_scientist_gets_sources_notebooks_and_validation() -> None:
    tm = health()
    text = render_markdown(tm, audience="data-scientist")
    assert "```mermaid" in text
    assert "## What to change in data and notebooks" in text
    for label in (
        "Patient app uploads",
        "Claims broker feed",
        "Exploration notebook",
        "Readmission outcomes",
    ):
        assert f"### {label}" in text
    assert "chain of custody: not documented" in text
    assert "credentials: hard-coded" in text
    assert "validation on its path: none" in text
    assert "## Declared controls" not in text
    # Only the threats tagged for data scientists are listed as risks.
    tagged = [t for t in tm.threats if "data-scientist" in t.audiences and t.status != "mitigated"]
    assert f"## Risks ({len(tagged)} open of {len(tm.threats)})" in text
    assert "RUNTIMEMODELLEAK" not in text.split("## Risks", 1)[1].split("## Threat details")[0]


def test_hostile_names_are_inert() -> None:
    for audience in ("developer", "data-scientist", "leadership"):
        text = render_markdown(hostile(), audience=audience)
        assert "<img" not in text
        assert "<script" not in text
        assert "<iframe" not in text
        assert "&lt;img src=x onerror=alert(1)&gt;" in text


def test_unknown_audience_is_refused() -> None:
    with pytest.raises(ValueError, match="audience"):
        render_markdown(health(), audience="board")


def test_assessment_markdown(tmp_path: Path) -> None:
    (tmp_path / "custodes.yaml").write_text(HEALTH_YAML, encoding="utf-8")
    a = assess(tmp_path, today=TODAY)
    text = render_assessment_markdown(a)
    assert text.startswith("# Assessment: Patient outcome model")
    assert "threat-model" in text
    assert "```mermaid" in text
    lead = render_assessment_markdown(a, audience="leadership")
    assert SCALE_SENTENCE in lead
    assert "```" not in lead
