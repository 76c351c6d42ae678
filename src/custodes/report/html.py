"""The threat model as one self-contained HTML file, fit to hand to a board.

The file must open anywhere, offline, years later, and be safe to open: so CSS is
inline, the diagram is inline SVG, there is no ``<script>`` at all and nothing is
loaded from the network (links to the OWASP AI Exchange are for reading only).
Jinja2 renders with autoescaping on, because every name in a custodes.yaml is input;
the only markup passed through unescaped is the SVG that Graphviz produced, in which
Graphviz has already escaped those names.

The audience selects emphasis exactly as the Markdown report does (leadership gets the
short page in plain words), and the choices come from the same
:mod:`custodes.report.narrative` and :mod:`custodes.report.views`.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import jinja2
from markupsafe import Markup

from custodes import __version__
from custodes.assess import Assessment
from custodes.catalog import load_catalog
from custodes.findings import Finding, Severity, count_by_severity
from custodes.report.diagram import to_mermaid, to_svg
from custodes.report.narrative import (
    check_audience,
    decisions,
    footnote_ids,
    names_of,
    open_threats,
    plain_risk,
    plain_title,
    plain_why,
    sentence,
    verdict,
)
from custodes.report.templating import environment
from custodes.report.views import data_items, declared_controls, work_by_element
from custodes.threatmodel.model import ThreatModel

__all__ = ["render_assessment_html", "render_html"]

_AUDIENCE_TITLE = {
    "developer": "Developer report",
    "data-scientist": "Data-science report",
    "leadership": "Leadership summary",
}


@functools.cache
def _env() -> jinja2.Environment:
    env = environment()
    env.filters["sentence"] = sentence
    env.globals.update(
        plain_title=plain_title,
        plain_risk=plain_risk,
        plain_why=plain_why,
    )
    return env


def render_html(tm: ThreatModel, *, audience: str = "developer", svg: str | None = None) -> str:
    """The report for one audience; ``svg`` is :func:`to_svg` output, or None for text.

    Without an SVG the diagram section shows the Mermaid source, which still reads as a
    list of boundaries, elements and flows and renders wherever Mermaid is supported.
    """
    check_audience(audience)
    return _render(_context(tm, audience, svg))


def render_assessment_html(a: Assessment, *, audience: str = "developer") -> str:
    """An assessment, with the diagram laid out by Graphviz when it is installed."""
    check_audience(audience)
    tm = a.threat_model
    if tm is None:
        ctx: dict[str, object] = _empty_context(a, audience)
    else:
        ctx = _context(tm, audience, to_svg(tm))
    known = {(f.fingerprint, f.message) for f in tm.findings} if tm is not None else set()
    others = [f for f in a.findings if (f.fingerprint, f.message) not in known]
    if "scan" in a.analyzers:
        ranked = sorted(others, key=lambda f: -f.severity.rank)
        top = [f for f in ranked if f.severity.at_least(Severity.HIGH)][:8]
        ctx["scan"] = {
            "files": a.scanned_files,
            "counts": count_by_severity(others),
            "top": [
                {**row, "kind": _KIND.get(f.category.value, f.category.value)}
                for f, row in zip(top, _finding_rows(top), strict=True)
            ],
            "more": max(0, len(others) - len(top)),
            "data_checks": list(a.data_checks),
        }
    ctx["gates"] = a.governance.to_json() if a.governance is not None else None
    ctx["assessment"] = {
        "project": str(a.project),
        "assessed_on": a.assessed_on.isoformat(),
        "analyzers": list(a.analyzers),
        "skipped": list(a.skipped),
        "other_findings": _finding_rows(
            [f for f in a.findings if (f.fingerprint, f.message) not in known]
        ),
    }
    return _render(ctx)


def render_findings_html(findings: Sequence[Finding], *, title: str) -> str:
    """Findings alone (a scan), in the same self-contained page as the reports."""
    ctx: dict[str, object] = {
        "audience": "developer",
        "audience_title": _AUDIENCE_TITLE["developer"],
        "version": __version__,
        "tm": None,
        "title": title,
        "assessment": None,
        "findings": _finding_rows(findings),
        "severity_counts": count_by_severity(findings),
    }
    return _render(ctx)


_KIND = {
    "secret": "Leaked credential",
    "artifact": "Model file runs code",
    "dependency": "Unsafe code or dependency",
    "notebook": "Ungoverned notebook",
    "data": "Data batch",
}


def _render(ctx: dict[str, object]) -> str:
    ctx.setdefault("scan", None)
    ctx.setdefault("gates", None)
    return _env().get_template("report.html.j2").render(**ctx)


def _context(tm: ThreatModel, audience: str, svg: str | None) -> dict[str, object]:
    system = tm.system.model.system
    threats = open_threats(tm, audience)
    all_open = open_threats(tm)
    levels = ("critical", "high", "medium", "low")
    catalog = load_catalog()
    return {
        "audience": audience,
        "audience_title": _AUDIENCE_TITLE[audience],
        "version": __version__,
        "catalog_commit": catalog.exchange_commit[:12],
        "atlas_version": catalog.atlas_version,
        "tm": tm,
        "system": system,
        "path_name": tm.system.path.name,
        "verdict": verdict(tm),
        "decisions": decisions(tm),
        "scale": tm.scale,
        "risk_counts": {lv: sum(1 for t in all_open if t.residual.level == lv) for lv in levels},
        "missing_controls": len(
            {c.id for t in all_open for c in t.controls if c.status != "implemented"}
        ),
        "top": open_threats(tm, "leadership")[:5],
        "threats": threats,
        "loop": [
            {
                "q": q,
                "back_title": next(
                    (x.title for x in tm.diagnostic.questions if x.number == q.back_to), None
                ),
                "gaps": [
                    {
                        "check": g.check,
                        "detail": g.detail,
                        "ids": list(g.elements),
                        "names": names_of(tm, g.elements),
                    }
                    for g in q.gaps
                ],
            }
            for q in tm.diagnostic.questions
        ],
        "svg": Markup(svg) if svg else None,  # noqa: S704 - Graphviz output, names escaped
        "mermaid": to_mermaid(tm),
        "work": work_by_element(tm) if audience == "developer" else [],
        "data": data_items(tm) if audience == "data-scientist" else [],
        "controls": declared_controls(tm) if audience == "developer" else [],
        "findings": _finding_rows(tm.findings),
        "severity_counts": count_by_severity(tm.findings),
        "staleness": tm.staleness,
        "footnote": footnote_ids(open_threats(tm, "leadership")[:5]),
        "assessment": None,
    }


def _empty_context(a: Assessment, audience: str) -> dict[str, object]:
    """An assessment with no threat model: only the findings other analyzers made."""
    return {
        "audience": audience,
        "audience_title": _AUDIENCE_TITLE[audience],
        "version": __version__,
        "tm": None,
        "findings": _finding_rows(a.findings),
        "severity_counts": count_by_severity(a.findings),
    }


def _finding_rows(findings: Sequence[Finding]) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for f in findings:
        loc = f.location
        where = ""
        if loc is not None:
            where = loc.path + (f":{loc.line}" if loc.line else "")
            if loc.cell is not None:
                where += f" (cell {loc.cell}{', output' if loc.in_output else ''})"
        rows.append(
            {
                "severity": f.severity.value,
                "rule_id": f.rule_id,
                "where": where,
                "message": f.message,
                "facts": list(f.facts),
                "remediation": f.remediation,
                "threats": list(f.threats),
            }
        )
    return rows
