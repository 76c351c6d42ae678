"""What a person reads in the terminal: the verdict first, then what to do.

Rich renders; the content choices are the point. Every table leads with the thing a
reader must act on (the failing question, the highest residual risk, the missing
control), and every number shows its arithmetic.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console, Group
from rich.padding import Padding
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from custodes.assess import Assessment
from custodes.findings import Finding, Severity, count_by_severity
from custodes.governance.assess import GovernanceStatus
from custodes.scan.engine import ScanResult
from custodes.threatmodel.model import ThreatModel

__all__ = ["print_assessment", "print_findings", "print_gates", "print_scan", "print_threat_model"]

SEVERITY_STYLE = {
    Severity.CRITICAL: "bold white on red",
    Severity.HIGH: "bold red",
    Severity.MEDIUM: "yellow",
    Severity.LOW: "cyan",
    Severity.INFO: "dim",
}
RISK_STYLE = {
    "critical": "bold white on red",
    "high": "bold red",
    "medium": "yellow",
    "low": "cyan",
}
ANSWER_STYLE = {"yes": "bold green", "partial": "bold yellow", "no": "bold red"}
STATUS_STYLE = {
    "unmitigated": "bold red",
    "partial": "yellow",
    "accepted": "magenta",
    "mitigated": "green",
}


def _summary_line(findings: Sequence[Finding]) -> Text:
    counts = count_by_severity(findings)
    text = Text(f"{len(findings)} finding(s): ")
    parts = [(f"{n} {name}", SEVERITY_STYLE[Severity(name)]) for name, n in counts.items() if n]
    for i, (label, style) in enumerate(parts):
        if i:
            text.append(", ")
        text.append(label, style=style)
    if not parts:
        text.append("none", style="green")
    return text


def print_findings(
    console: Console, findings: Sequence[Finding], *, title: str = "Findings"
) -> None:
    """A findings table: severity, rule, where, what; then the counts."""
    if findings:
        table = Table(title=title, title_justify="left", show_lines=False, expand=True)
        table.add_column("severity", no_wrap=True)
        table.add_column("rule", no_wrap=True, style="dim")
        table.add_column("where", overflow="fold")
        table.add_column("what", ratio=1)
        for f in findings:
            loc = f.location
            where = ""
            if loc is not None:
                where = loc.path + (f":{loc.line}" if loc.line else "")
            table.add_row(
                Text(f.severity.value, style=SEVERITY_STYLE[f.severity]),
                f.rule_id,
                where,
                f.message,
            )
        console.print(table)
    console.print(_summary_line(findings))


def print_threat_model(
    console: Console, tm: ThreatModel, *, audience: str = "developer", limit: int = 15
) -> None:
    """The threat model for one audience; leadership gets the short version."""
    system = tm.system.model.system
    header = Text()
    header.append(system.name, style="bold")
    if system.owner:
        header.append(f"  owner {system.owner}", style="dim")
    header.append(f"\nconsequence {system.consequence}", style="dim")
    if tm.scale.sentence:
        header.append("\n" + tm.scale.sentence, style="bold")
    if tm.scale.wrong_per_day is not None:
        header.append(f"\n{tm.scale.wrong_per_day:,} wrong decisions a day at the declared volume")
    console.print(Panel(header, title="custodes threat model", title_align="left"))

    loop = Table(title="Diagnostic loop", title_justify="left", expand=True, show_lines=True)
    loop.add_column("question", no_wrap=True)
    loop.add_column("answer", no_wrap=True)
    loop.add_column("gaps", ratio=1, overflow="fold")
    for q in tm.diagnostic.questions:
        gaps = Text()
        if q.back_to is not None:
            gaps.append(f"Go back to Q{q.back_to} first.\n", style="bold")
        for g in q.gaps:
            gaps.append(f"• {g.check}: ", style="bold")
            gaps.append(g.detail)
            if g.elements:
                gaps.append(f" ({', '.join(g.elements)})", style="dim")
            gaps.append("\n")
        if not q.gaps:
            gaps.append("; ".join(q.passed), style="green")
        loop.add_row(f"Q{q.number} {q.title}", Text(q.answer, style=ANSWER_STYLE[q.answer]), gaps)
    console.print(loop)

    ranked = [t for t in tm.ranked() if t.status != "mitigated"]
    if audience == "data-scientist":
        ranked = [t for t in ranked if audience in t.audiences]
    shown = ranked[: 5 if audience == "leadership" else limit]
    risks = Table(
        title=f"Top risks ({len(shown)} of {len(ranked)} open)",
        title_justify="left",
        expand=True,
    )
    risks.add_column("risk", no_wrap=True)
    risks.add_column("threat on element", ratio=2)
    risks.add_column("status", no_wrap=True)
    risks.add_column("why it matters" if audience == "leadership" else "missing controls", ratio=2)
    for t in shown:
        r = t.residual
        level = Text(r.level, style=RISK_STYLE[r.level])
        if audience != "leadership":
            level.append(f"\n{r.likelihood}×{r.impact}={r.score}", style="dim")
        what = Text(t.threat_name)
        if audience != "leadership":
            what.append(f" {t.threat_id}", style="dim")
        what.append("\non ")
        what.append(t.element_label, style="bold")
        if audience == "leadership":
            detail = "; ".join(t.facts[:2])
        else:
            detail = ", ".join(c.id for c in t.controls if c.status != "implemented") or "-"
        risks.add_row(level, what, Text(t.status, style=STATUS_STYLE[t.status]), detail)
    console.print(risks)

    if audience != "leadership":
        others = [f for f in tm.findings if f.category.value != "threat"]
        if others:
            print_findings(console, others, title="Upkeep: controls, custody, reviews")
    st = tm.staleness
    if st.stale:
        console.print(
            Panel(
                Group(
                    *[Text("• " + r) for r in st.reasons],
                    Text(f"current fingerprint {st.fingerprint}", style="dim"),
                ),
                title="stale threat model",
                title_align="left",
                border_style="yellow",
            )
        )
    console.print(_summary_line(tm.findings))


def print_scan(console: Console, result: ScanResult) -> None:
    """Findings grouped by file, each with the threats it raises; then what was covered."""
    by_file: dict[str, list[Finding]] = {}
    for f in result.findings:
        by_file.setdefault(f.location.path if f.location else "(no file)", []).append(f)
    for path, items in by_file.items():
        console.print(Text(path, style="bold underline"), soft_wrap=True)
        for f in items:
            loc = f.location
            head = Text("  ")
            head.append(f"{f.severity.value:<9}", style=SEVERITY_STYLE[f.severity])
            if loc is not None and loc.line:
                where = f"line {loc.line}"
                if loc.cell is not None:
                    where += f", cell {loc.cell}" + (" output" if loc.in_output else "")
                head.append(f"{where}  ")
            head.append(f.rule_id, style="dim")
            console.print(head, soft_wrap=True)
            console.print(Padding(Text(f.message), (0, 0, 0, 6)))
            if f.threats:
                console.print(
                    Padding(Text(f"threatens {', '.join(f.threats)}", style="dim"), (0, 0, 0, 6))
                )
        console.print()
    covered = Text(
        f"scanned {result.files:,} file(s), {result.bytes / 1e6:,.1f} MB with {len(result.scanners)} scanner(s)",
        style="dim",
    )
    if result.silenced:
        covered.append(f"; {result.silenced} silenced by pragma", style="dim")
    if result.baselined:
        covered.append(f"; {result.baselined} already in the baseline", style="dim")
    console.print(covered)
    for missing in result.skipped_scanners:
        console.print(Text(f"scanner not available: {missing}", style="yellow"))
    console.print(_summary_line(result.findings))


def print_assessment(console: Console, a: Assessment, *, audience: str = "developer") -> None:
    """An assessment: the threat model, then what the other analyzers found."""
    if a.threat_model is not None:
        print_threat_model(console, a.threat_model, audience=audience)
    known = (
        {(f.fingerprint, f.message) for f in a.threat_model.findings} if a.threat_model else set()
    )
    others = [f for f in a.findings if (f.fingerprint, f.message) not in known]
    if "scan" in a.analyzers:
        title = f"Scan of {a.scanned_files:,} file(s): credentials, model files, code, notebooks"
        if others and audience != "leadership":
            print_findings(console, others, title=title)
        elif others:
            console.print(Text(title + ": ", style="bold"), _summary_line(others))
        else:
            console.print(Text(title + ": nothing found", style="green"))
    if a.governance is not None:
        print_gates(console, a.governance, audience=audience)
    for name in a.skipped:
        console.print(Text(f"skipped: {name}", style="dim"), soft_wrap=True)


def print_gates(console: Console, g: GovernanceStatus, *, audience: str = "developer") -> None:
    """Each registered artifact at the gates: stage, gates passed, what it meets and lacks."""
    head = Text("Promotion gates: ", style="bold")
    if g.error is not None:
        head.append(f"the governance store cannot be read: {g.error}", style="bold red")
        console.print(head, soft_wrap=True)
        return
    if g.log_ok:
        head.append(f"audit log verified ({g.log_size:,} entries)", style="green")
    else:
        at = f"entry {g.log_first_bad}: " if g.log_first_bad is not None else ""
        head.append(f"audit log FAILED ({at}{g.log_reason})", style="bold red")
    if g.policy_in_force:
        head.append(f"; policy {g.policy[:19]}… in force", style="dim")
    else:
        head.append(f"; no policy in force, every gate refuses: {g.policy}", style="bold red")
    table = Table(title=head, title_justify="left", expand=True, show_lines=True)
    table.add_column("artifact", overflow="fold")
    table.add_column("stage", no_wrap=True)
    table.add_column("gates passed", ratio=1)
    table.add_column("meets / lacks" if audience != "leadership" else "lacks", ratio=2)
    for a in g.artifacts:
        name = Text(a.artifact, style="bold")
        name.append(f"\n{a.kind}", style="dim")
        if a.content != "unchanged":
            name.append(f"\ncontent {a.content}", style="bold red")
        last = g.stages[-1] if g.stages else None
        style = (
            "bold green"
            if a.stage == last
            else ("bold red" if a.stage in ("rejected", "revoked") else "yellow")
        )
        stage = Text(a.stage, style=style)
        if a.request is not None:
            stage.append(f"\nrequest #{a.request['id']} → {a.request['to']}", style="dim")
        passed = Text()
        for p in a.passed:
            passed.append(f"{p['from']} → {p['to']} {p['at'][:10]}")
            if p["approvers"]:
                passed.append(f" ({', '.join(p['approvers'])})", style="dim")
            passed.append("\n")
        if a.decision is not None:
            role = f" as {a.decision['role']}" if a.decision.get("role") else ""
            passed.append(
                f"{a.stage} by {a.decision['by']}{role} {a.decision['at'][:10]}", style="red"
            )
            if a.decision.get("comment"):
                passed.append(f": {a.decision['comment']}")
        if not passed.plain:
            passed.append("none yet", style="dim")
        reqs = Text()
        lead = {
            "in force": f"{'still meets' if a.allowed else 'no longer meets'} the {a.target} rule",
            "request": f"request to {a.target}: {'may be promoted' if a.allowed else 'not yet'}",
            "next stage": f"to reach {a.target}:",
            "rejected": f"refused at the {a.target} gate:",
            "revoked": f"refused at the {a.target} gate:",
        }.get(a.basis)
        if lead:
            reqs.append(lead + "\n", style="bold")
        for m in a.missing:
            reqs.append("✗ " + m + "\n", style="red")
        if audience != "leadership":
            for m in a.satisfied:
                reqs.append("✓ " + m + "\n", style="green")
        passed.rstrip()
        reqs.rstrip()
        table.add_row(name, stage, passed, reqs)
    console.print(table)
