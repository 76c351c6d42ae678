"""The HTML report: self-contained, script-free, escaped, and saying what a board needs."""

from __future__ import annotations

import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest

from custodes.assess import assess
from custodes.report import html as html_module
from custodes.report.diagram import to_svg
from custodes.report.html import render_assessment_html, render_html

from .systems import HEALTH_YAML, HOSTILE_NAME, TODAY, health, hostile

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz dot not installed")
AUDIENCES = ("developer", "data-scientist", "leadership")
SCALE_SENTENCE = "90% accuracy on 7,500,000 people is 750,000 people given a wrong result"


class _Tags(HTMLParser):
    """Collects (tag, attrs) of every start tag, to inspect what a browser would load."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _parse(doc: str) -> _Tags:
    parser = _Tags()
    parser.feed(doc)
    parser.close()
    return parser


def assert_self_contained(doc: str) -> None:
    """No script, nothing fetched: only <a href> may point at the network."""
    lowered = doc.lower()
    assert "<script" not in lowered
    assert "@import" not in lowered
    assert "url(" not in lowered
    for tag, attrs in _parse(doc).tags:
        assert tag not in ("script", "link", "iframe", "object", "embed", "img", "base"), tag
        assert not [a for a in attrs if a.startswith("on")], (tag, attrs)
        for name in ("src", "href", "xlink:href", "srcset", "data"):
            value = attrs.get(name) or ""
            if value.startswith(("http://", "https://", "//")):
                assert (tag, name) == ("a", "href"), value
        if tag == "a" and attrs.get("href"):
            href = attrs["href"] or ""
            assert href.startswith(("#", "https://owaspai.org/")), href


@pytest.mark.parametrize("audience", AUDIENCES)
def test_every_audience_is_self_contained(audience: str) -> None:
    tm = health()
    doc = render_html(tm, audience=audience, svg=to_svg(tm))
    assert doc.startswith("<!DOCTYPE html>")
    assert_self_contained(doc)
    parsed = _parse(doc)
    assert [t for t, _ in parsed.tags].count("h1") == 1
    assert "Patient outcome model" in doc
    assert "clinical-ml-lead" in doc
    assert "Not ready for production" in doc
    assert SCALE_SENTENCE in doc
    assert "@media print" in doc
    for title in ("Is it secure?", "Can we operationalize it?", "Does it scale?"):
        assert title in doc
    assert "Go back to Q1" in doc


@pytest.mark.parametrize("audience", AUDIENCES)
def test_hostile_names_are_escaped(audience: str) -> None:
    tm = hostile()
    doc = render_html(tm, audience=audience, svg=to_svg(tm))
    assert_self_contained(doc)
    assert "<img" not in doc
    assert "<iframe" not in doc
    assert "<b>bold" not in doc
    assert "&lt;img src=x onerror=alert(1)&gt;" in doc
    assert HOSTILE_NAME not in doc
    assert "</svg><script>" not in doc


@needs_dot
def test_developer_report_inlines_the_svg_and_every_section() -> None:
    tm = health()
    doc = render_html(tm, svg=to_svg(tm))
    svg = doc[doc.index("<svg") : doc.index("</svg>")]
    for title in ("Hospital network", "ML platform account", "Public internet"):
        assert title in svg
    for section in (
        "summary",
        "loop",
        "diagram",
        "work",
        "risks",
        "details",
        "controls",
        "findings",
        "staleness",
    ):
        assert f'id="{section}"' in doc, section
    # Risk arithmetic, the missing controls, the facts, ATLAS ids and the OWASP link.
    assert "5 × 5 = <strong>25</strong>" in doc
    assert "<code>OBSCURECONFIDENCE</code>" in doc
    assert "it holds 1,200,000 records" in doc
    assert "AML.T0020" in doc
    assert 'href="https://owaspai.org/goto/datapoison/"' in doc
    # Controls with owner, evidence and response; severity badges carry words.
    assert "ci/validate.yml" in doc
    assert "on-call data engineer" in doc
    assert '<span class="badge critical">critical</span>' in doc
    for f in tm.findings:
        assert f"<code>{f.rule_id}</code>" in doc


def test_leadership_is_short_and_plain() -> None:
    tm = health()
    doc = render_html(tm, audience="leadership", svg=to_svg(tm))
    main = doc[doc.index("<main>") : doc.index("</main>")]
    assert "Decisions needed" in main
    assert "Halt" in main
    assert "TM-" not in main
    for t in tm.threats:
        assert t.threat_id not in main
    assert "<svg" not in doc
    assert 'id="details"' not in doc
    assert 'id="findings"' not in doc
    assert len(doc) < len(render_html(tm, audience="developer")) / 2


def test_data_scientist_report_shows_data_work() -> None:
    doc = render_html(health(), audience="data-scientist")
    assert 'id="data"' in doc
    assert 'id="work"' not in doc
    assert "Patient app uploads" in doc
    assert "chain of custody" in doc
    assert "hard-coded" in doc


def test_without_svg_the_mermaid_text_is_shown() -> None:
    doc = render_html(health())
    assert "<svg" not in doc
    assert '<pre class="mermaid-text">flowchart LR' in doc
    assert_self_contained(doc)


def test_assessment_html(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "custodes.yaml").write_text(HEALTH_YAML, encoding="utf-8")
    a = assess(tmp_path, today=TODAY)
    doc = render_assessment_html(a)
    assert_self_contained(doc)
    assert "What was assessed" in doc
    assert "threat-model" in doc
    if shutil.which("dot") is not None:
        assert "<svg" in doc
    monkeypatch.setattr(html_module, "to_svg", lambda _tm: None)
    fallback = render_assessment_html(a, audience="data-scientist")
    assert "<svg" not in fallback
    assert '<pre class="mermaid-text">' in fallback


def test_unknown_audience_is_refused() -> None:
    with pytest.raises(ValueError, match="audience"):
        render_html(health(), audience="everyone")
