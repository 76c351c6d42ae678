"""The data-flow diagram: every element drawn, boundaries as groups, user text escaped."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from custodes.report.diagram import to_dot, to_mermaid, to_svg

from .systems import HOSTILE_NAME, health, hostile

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz dot not installed")
BOUNDARY_TITLES = ("Hospital network", "ML platform account", "Public internet")


def test_mermaid_draws_every_element_in_its_boundary() -> None:
    tm = health()
    text = to_mermaid(tm)
    lines = [line.strip() for line in text.splitlines()]
    assert lines[0] == "flowchart LR"
    for element_id in tm.graph.nodes:
        assert element_id in text, element_id
    subgraphs = [line for line in lines if line.startswith("subgraph ")]
    assert len(subgraphs) == len(tm.graph.model.trust_boundaries) == 3
    # Every subgraph is closed, and the output named "end" did not close one early.
    assert lines.count("end") == len(subgraphs)
    for title in BOUNDARY_TITLES:
        assert any(title in s for s in subgraphs)
    # The patient app sits inside the internet boundary.
    start = lines.index(next(s for s in subgraphs if "Public internet" in s))
    block = lines[start : lines.index("end", start)]
    assert any("patient-app" in line for line in block)


def test_mermaid_ids_are_sanitized_and_edges_labelled() -> None:
    text = to_mermaid(health())
    node_def = re.compile(r"^\s+(\S+?)(\(|\[|\{|>)")
    for line in text.splitlines()[1:]:
        m = node_def.match(line)
        if m and not line.strip().startswith(("classDef", "subgraph", "linkStyle")):
            assert re.fullmatch(r"[A-Za-z0-9_]+", m.group(1)), line
    # Flow classification on the edge, the feedback loop dashed.
    assert re.search(r'n_patient_app -->\|"[^"]*restricted"\| n_ingest', text)
    loop = next(line for line in text.splitlines() if "readmit-feedback" in line)
    assert "-.->" in loop
    assert "n_portal" in loop
    assert "n_lake" in loop
    # Risk classes: the worst residual risk per element, in words as well as colour.
    assert re.search(r'n_api>"Scoring API<br/>[^"]*critical risk"\]:::risk_critical', text)


def test_mermaid_escapes_hostile_text() -> None:
    text = to_mermaid(hostile())
    assert "<script" not in text
    assert "<b>" not in text
    assert "<iframe" not in text
    assert "#lt;/svg#gt;#lt;script#gt;" in text
    assert '"Evil \\#quot;' in text  # the quote cannot end the label


def test_dot_has_a_cluster_per_boundary_and_risk_fills() -> None:
    tm = health()
    source = to_dot(tm)
    for tb in tm.graph.model.trust_boundaries:
        assert re.search(rf'subgraph "?cluster_{re.escape(tb.id)}"? {{', source), tb.id
    for title in BOUNDARY_TITLES:
        assert f"{title} (trust boundary)" in source
    api_line = next(line for line in source.splitlines() if line.strip().startswith("api "))
    assert "CRITICAL risk" in api_line
    assert 'fillcolor="#fbd5d5"' in api_line
    assert "Legend" in source
    assert "style=dashed" in next(
        line for line in source.splitlines() if "readmit-feedback" in line
    )


def test_dot_escapes_hostile_text() -> None:
    source = to_dot(hostile())
    # Quoted as text, never as a <...> HTML label.
    assert f'label="{HOSTILE_NAME}: data flows' in source
    assert "label=<" not in source.replace("label=<<TABLE", "")


@needs_dot
def test_svg_is_inlineable_and_names_the_boundaries() -> None:
    svg = to_svg(health())
    assert svg is not None
    assert svg.lstrip().startswith("<svg")
    assert "<?xml" not in svg
    assert "<!DOCTYPE" not in svg
    for title in BOUNDARY_TITLES:
        assert title in svg
    assert "<script" not in svg


@needs_dot
def test_svg_escapes_hostile_text() -> None:
    svg = to_svg(hostile())
    assert svg is not None
    assert "<img" not in svg
    assert "<script" not in svg
    assert "<iframe" not in svg
    assert "&lt;img src=x onerror=alert(1)&gt;" in svg


def test_svg_is_none_without_graphviz(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("custodes.report.diagram.shutil.which", lambda _name: None)
    assert to_svg(health()) is None


def test_svg_is_none_when_layout_times_out(monkeypatch: pytest.MonkeyPatch) -> None:
    def slow(*_args: object, **kwargs: object) -> None:
        raise subprocess.TimeoutExpired(cmd="dot", timeout=float(str(kwargs["timeout"])))

    monkeypatch.setattr("custodes.report.diagram.shutil.which", lambda _name: "/usr/bin/dot")
    monkeypatch.setattr("custodes.report.diagram.subprocess.run", slow)
    assert to_svg(health(), timeout=0.01) is None
