"""The threat model as Markdown, written for one audience at a time.

Markdown is what lands in a pull request, a wiki or a ticket, next to the people who
act on it. A developer needs the controls to build, on which element, and the line of
custodes.yaml to edit; a data scientist needs the data sources, notebooks and
validation steps to change; leadership needs one page in plain words ending in the
decisions only they can take. One renderer, three selections, so the numbers never
disagree between them.

All user text is escaped: names in a custodes.yaml are input, and a name must not be
able to become a link, an image or HTML in whoever renders this file.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from custodes import __version__
from custodes.assess import Assessment
from custodes.findings import Finding, count_by_severity
from custodes.report.diagram import to_mermaid
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
from custodes.report.views import data_items, declared_controls, work_by_element
from custodes.threatmodel.model import ThreatInstance, ThreatModel

__all__ = ["render_assessment_markdown", "render_markdown"]

_MD_SPECIAL = re.compile(r"([\\`*_\[\]{}|#!~])")
_ANSWER = {"yes": "✅ yes", "partial": "⚠️ partial", "no": "❌ no"}
_VERDICT_MARK = {"blocked": "⛔", "conditions": "⚠️", "ready": "✅"}


def md(text: object) -> str:
    """User text made inert in Markdown: one line, punctuation that formats escaped.

    Angle brackets become entities rather than backslash escapes, so that no renderer,
    however lax about CommonMark, can read them as the start of an HTML tag.
    """
    escaped = _MD_SPECIAL.sub(r"\\\1", " ".join(str(text).split()))
    return escaped.replace("<", "&lt;").replace(">", "&gt;")


def code(text: object) -> str:
    """An inline code span that survives backticks inside the text."""
    s = " ".join(str(text).split())
    fence = "``" if "`" in s else "`"
    pad = " " if s.startswith("`") or s.endswith("`") else ""
    return f"{fence}{pad}{s}{pad}{fence}"


def _table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(row) + " |" for row in rows]
    return out


def render_markdown(tm: ThreatModel, *, audience: str = "developer") -> str:
    """The threat model for ``developer``, ``data-scientist`` or ``leadership``."""
    check_audience(audience)
    if audience == "leadership":
        lines = _leadership(tm)
    else:
        lines = [f"# Threat model: {md(tm.name)}", ""]
        lines += _body(tm, audience)
    return "\n".join(lines).rstrip() + "\n"


def render_assessment_markdown(a: Assessment, *, audience: str = "developer") -> str:
    """An assessment: what ran, the threat model for the audience, other findings."""
    check_audience(audience)
    tm = a.threat_model
    title = md(tm.name) if tm is not None else md(a.project.name or str(a.project))
    lines = [f"# Assessment: {title}", ""]
    lines.append(
        f"Project {code(a.project)}, assessed {a.assessed_on.isoformat()}; analyzers run: "
        + (", ".join(a.analyzers) or "none")
        + "."
    )
    lines += [f"- skipped: {md(s)}" for s in a.skipped]
    lines.append("")
    if tm is not None:
        body = _leadership(tm)[2:] if audience == "leadership" else _body(tm, audience)
        lines += body
    # Findings hold a dict of properties, so compare by identity of rule, place and text.
    known = {(f.fingerprint, f.message) for f in tm.findings} if tm is not None else set()
    others = [f for f in a.findings if (f.fingerprint, f.message) not in known]
    if others:
        lines += ["## Other findings", "", *_findings(others), ""]
    return "\n".join(lines).rstrip() + "\n"


def render_findings_markdown(findings: Sequence[Finding], *, title: str) -> str:
    """Findings alone (a scan), as a Markdown table a pull request can carry."""
    return "\n".join([f"# {md(title)}", "", *_findings(findings)]).rstrip() + "\n"


# -- developer and data-scientist ---------------------------------------------------------


def _body(tm: ThreatModel, audience: str) -> list[str]:
    v = verdict(tm)
    system = tm.system.model.system
    lines = [
        f"> {_VERDICT_MARK[v.level]} **{v.label}.** {md(v.sentence)}",
        "",
        f"Owner: {md(system.owner or 'not named')} · consequence: {system.consequence} · "
        f"analysed {tm.analyzed_on.isoformat()} · file {code(tm.system.path)} · "
        f"for: {audience}",
        "",
    ]
    if tm.scale.sentence:
        lines += [f"**{tm.scale.sentence}.**", ""]
    lines += _loop(tm, plain=False)
    lines += ["## Data-flow diagram", "", "```mermaid", to_mermaid(tm).rstrip(), "```", ""]
    if audience == "developer":
        lines += _developer_work(tm)
    else:
        lines += _data_work(tm)
    lines += _risks(tm, audience)
    lines += _details(open_threats(tm, audience))
    if audience == "developer":
        lines += _controls(tm)
    lines += ["## Findings", "", *_findings(tm.findings), ""]
    lines += _staleness(tm)
    lines.append(
        f"<sub>custodes {__version__} · {len(tm.threats)} threat(s) analysed on "
        f"{tm.elements} element(s)</sub>"
    )
    return lines


def _loop(tm: ThreatModel, *, plain: bool) -> list[str]:
    lines = ["## Diagnostic loop", ""]
    for q in tm.diagnostic.questions:
        lines.append(f"### Q{q.number}. {q.title} {_ANSWER[q.answer]}")
        lines.append("")
        if q.back_to is not None:
            lines += [f"**Go back to Q{q.back_to} first:** that layer is not in place.", ""]
        for g in q.gaps:
            where = ""
            if g.elements:
                where = (
                    f" ({md(names_of(tm, g.elements))})"
                    if plain
                    else (" (" + ", ".join(code(e) for e in g.elements) + ")")
                )
            lines.append(f"- ✗ **{md(g.check)}:** {md(g.detail)}{where}")
        lines += [f"- ✓ {md(p)}" for p in q.passed]
        lines.append("")
    return lines


def _developer_work(tm: ThreatModel) -> list[str]:
    lines = ["## Controls to build, by element", ""]
    work = work_by_element(tm)
    if not work:
        return [*lines, "Nothing open: every threat found is mitigated.", ""]
    path = tm.system.path.name
    for w in work:
        at = f", {code(f'{path}:{w.line}')}" if w.line else ""
        title = f"{md(w.label)} ({code(w.element_id)}, {w.kind}{at})"
        lines += [f"### {title}: worst risk {w.worst}", ""]
        rows = [
            [
                code(m.control.id),
                md(m.control.name),
                m.control.status.replace("_", " ") + (" (lapsed)" if m.control.lapsed else ""),
                ", ".join(code(t.threat_id) for t in m.threats),
            ]
            for m in w.missing
        ]
        lines += _table(["control", "name", "status", "threats it addresses"], rows)
        lines += ["", "Facts that fired:", *[f"- {md(f)}" for f in w.facts], ""]
    return lines


def _data_work(tm: ThreatModel) -> list[str]:
    lines = ["## What to change in data and notebooks", ""]
    for item in data_items(tm):
        line = f" — {code(f'{tm.system.path.name}:{item.line}')}" if item.line else ""
        lines += [f"### {md(item.label)} ({item.kind} {code(item.id)}){line}", ""]
        lines += [f"- {k}: {md(v)}" for k, v in item.details]
        for t in item.threats:
            lines.append(
                f"- **{md(t.threat_name)}** ({t.residual.level}, {t.status}): {md(t.clears)}"
            )
        lines.append("")
    return lines


def _risks(tm: ThreatModel, audience: str) -> list[str]:
    threats = open_threats(tm, audience)
    lines = [f"## Risks ({len(threats)} open of {len(tm.threats)})", ""]
    rows = [
        [
            f"**{t.residual.level}**",
            f"{md(t.threat_name)} ({code(t.threat_id)})",
            f"{md(t.element_label)} ({code(t.element_id)})",
            t.status,
            f"{t.residual.likelihood} × {t.residual.impact} = {t.residual.score}",
            ", ".join(code(c.id) for c in t.controls if c.status != "implemented") or "—",
        ]
        for t in threats
    ]
    lines += _table(
        ["risk", "threat", "element", "status", "likelihood × impact", "controls missing"], rows
    )
    return [*lines, ""]


def _details(threats: Sequence[ThreatInstance]) -> list[str]:
    lines = ["## Threat details", ""]
    for t in threats:
        lines += [
            f"### {md(t.threat_name)} on {md(t.element_label)} — {t.residual.level}",
            "",
            f"Rule {code(t.rule_id)} · threat [{t.threat_id}]({t.url}) · status {t.status}"
            + (f" · ATLAS {', '.join(code(a) for a in t.atlas)}" if t.atlas else ""),
            "",
            "Facts that fired:",
            *[f"- {md(f)}" for f in t.facts],
            "",
            f"Residual: {t.residual.arithmetic}; inherent: {t.inherent.arithmetic}.",
            "",
            *[f"- {md(r)}" for r in (*t.residual.likelihood_reasons, *t.residual.impact_reasons)],
            "",
            f"To clear it: {md(t.clears)}.",
            "",
        ]
    return lines


def _controls(tm: ThreatModel) -> list[str]:
    controls = declared_controls(tm)
    lines = ["## Declared controls", ""]
    if not controls:
        return [*lines, "No controls are declared in custodes.yaml.", ""]
    rows = [
        [
            code(c.id),
            md(c.name),
            c.status + (f" until {c.expires}" if c.expires else ""),
            md(c.applies_to),
            md(c.owner or "—"),
            md(c.evidence or "—"),
            md(f"{c.procedure}; escalate to {c.escalation}" if c.procedure else "—"),
            str(c.line or "—"),
        ]
        for c in controls
    ]
    header = ["id", "control", "status", "applies to", "owner", "evidence", "response", "line"]
    return [*lines, *_table(header, rows), ""]


def _findings(findings: Sequence[Finding]) -> list[str]:
    if not findings:
        return ["No findings."]
    counts = ", ".join(f"{n} {s}" for s, n in count_by_severity(findings).items() if n)
    rows = []
    for f in findings:
        loc = f.location
        where = code(f"{loc.path}:{loc.line}" if loc and loc.line else loc.path) if loc else "—"
        rows.append([f"**{f.severity.value}**", code(f.rule_id), where, md(f.message)])
    return [
        f"{len(findings)} finding(s): {counts}.",
        "",
        *_table(["severity", "rule", "where", "message"], rows),
    ]


def _staleness(tm: ThreatModel) -> list[str]:
    st = tm.staleness
    reviewed = st.last_reviewed.isoformat() if st.last_reviewed else "never"
    due = st.due.isoformat() if st.due else "not scheduled"
    state = "**stale**" if st.stale else "current"
    lines = [
        "## Staleness",
        "",
        f"The threat model is {state}: last reviewed {reviewed}, next review due {due}.",
        "",
    ]
    lines += [f"- {md(r)}" for r in st.reasons]
    lines += [
        "",
        f"Fingerprint now {code(st.fingerprint)}; recorded at review "
        f"{code(st.recorded_fingerprint) if st.recorded_fingerprint else 'none'} "
        f"({st.artifacts} repository file(s) included).",
        "",
    ]
    return lines


# -- leadership ---------------------------------------------------------------------------


def _leadership(tm: ThreatModel) -> list[str]:
    """One page, plain words; catalog and rule ids only in the closing footnote."""
    v = verdict(tm)
    system = tm.system.model.system
    sc = tm.scale
    lines = [f"# {md(tm.name)}: AI risk summary", ""]
    lines += [f"> {_VERDICT_MARK[v.level]} **{v.label}.** {md(v.plain)}", ""]
    about = md(sentence(system.purpose or system.description or "purpose not stated"))
    lines += [
        "## The system",
        "",
        f"{about} Owner: {md(system.owner or 'nobody named')}. "
        f"A wrong result can do {system.consequence} harm to a person. "
        f"Assessed {tm.analyzed_on.isoformat()}.",
        "",
        "## People affected",
        "",
    ]
    if sc.sentence:
        lines.append(f"**{sc.sentence}.**")
        if sc.wrong_per_day is not None and sc.decisions_per_day is not None:
            lines.append(
                f"At {sc.decisions_per_day:,} decisions a day, that is about "
                f"{sc.wrong_per_day:,} wrong decisions every day."
            )
    else:
        lines.append(
            "The model's accuracy or scale is not declared, so the harm of its "
            "errors cannot be counted yet."
        )
    lines += ["", "## Top risks", ""]
    top = open_threats(tm, "leadership")[:5]
    for i, t in enumerate(top, 1):
        lines.append(
            f"{i}. **{md(plain_title(t))}** ({md(t.element_label)}): {plain_risk(t)}. "
            f"{md(plain_why(t))}"
        )
    if not top:
        lines.append("No open risk was found.")
    lines += ["", "## Is it secure? Can we run it? Does it scale?", ""]
    for q in tm.diagnostic.questions:
        gaps = "; ".join(
            g.detail + (f" ({names_of(tm, g.elements)})" if g.elements else "") for g in q.gaps
        )
        back = ""
        if q.back_to is not None:
            earlier = next(x for x in tm.diagnostic.questions if x.number == q.back_to)
            back = f" Fix \u201c{earlier.title}\u201d first."
        lines.append(
            f"- **{q.title}** {_ANSWER[q.answer]}." + (f" {md(gaps)}." if gaps else "") + back
        )
    lines += ["", "## Decisions needed", ""]
    lines += [f"- **{d.kind}:** {md(d.text)}" for d in decisions(tm)] or ["- None."]
    st = tm.staleness
    lines += [
        "",
        "## Is this assessment current?",
        "",
        ("No: " + md("; ".join(st.reasons)) + ".") if st.stale else "Yes.",
        "",
        "---",
        "",
    ]
    refs = "; ".join(f"{n} = {tid}" for tid, n, _u in footnote_ids(top))
    lines.append(
        f"<sub>Reference ids (OWASP AI Exchange): {md(refs) or 'none'}. Generated by custodes "
        f"{__version__}; the developer report has every finding and the line to change.</sub>"
    )
    return lines
