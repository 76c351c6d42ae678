"""``custodes assess`` and ``custodes demo``: the whole diagnostic loop on a project."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from custodes.cli.common import (
    FAIL_ON_HELP,
    TODAY_HELP,
    Audience,
    FindingsFormat,
    ListFormat,
    console,
    dump_json,
    exit_for,
    parse_severity,
    parse_today,
    scan_progress,
    write_output,
    write_sarif,
)
from custodes.errors import InputError
from custodes.findings import worst_severity

if TYPE_CHECKING:
    from custodes.assess import Assessment

__all__ = ["assess_command", "demo_command"]

REPORT_NAME = "custodes-report.html"


def _write_html(a: Assessment, audience: str, path: Path) -> Path:
    from custodes.report.html import render_assessment_html

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render_assessment_html(a, audience=audience), encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot write the report: {exc.strerror}", path=path) from None
    return path


def assess_command(
    path: Annotated[Path, typer.Argument(help="Project directory (holding custodes.yaml).")] = Path(
        "."
    ),
    fmt: Annotated[
        FindingsFormat, typer.Option("--format", "-f", help="Output format.")
    ] = FindingsFormat.console,
    audience: Annotated[Audience, typer.Option(help="Who the report is for.")] = Audience.developer,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here instead of stdout.")
    ] = None,
    report: Annotated[
        Path | None,
        typer.Option(
            help=f"HTML report path (default: PROJECT/{REPORT_NAME}); console format only."
        ),
    ] = None,
    no_report: Annotated[
        bool, typer.Option("--no-report", help="Do not write the HTML report.")
    ] = False,
    fail_on: Annotated[str, typer.Option(help=FAIL_ON_HELP)] = "high",
    today: Annotated[str | None, typer.Option(help=TODAY_HELP)] = None,
) -> None:
    """Run every analyzer on a project and write one report: is it secure, operable, scalable?"""
    from custodes.assess import assess
    from custodes.report.console import print_assessment
    from custodes.report.jsonfmt import assessment_document

    threshold = parse_severity(fail_on)
    with scan_progress() as progress:
        a = assess(path, today=parse_today(today), progress=progress)
    if fmt is FindingsFormat.console:
        print_assessment(console, a, audience=audience.value)
        if not no_report:
            where = _write_html(a, audience.value, report or a.project / REPORT_NAME)
            # soft_wrap: a path broken across lines cannot be pasted.
            console.print(f"\nHTML report: [bold]{where}[/bold]", soft_wrap=True)
    elif fmt is FindingsFormat.json:
        write_output(dump_json(assessment_document(a)), output)
    elif fmt is FindingsFormat.sarif:
        write_sarif(a.findings, output)
    elif fmt is FindingsFormat.markdown:
        from custodes.report.markdown import render_assessment_markdown

        write_output(render_assessment_markdown(a, audience=audience.value), output)
    else:
        from custodes.report.html import render_assessment_html

        write_output(render_assessment_html(a, audience=audience.value), output)
    exit_for(a.findings, threshold)


def demo_command(
    directory: Annotated[Path, typer.Argument(help="Where to write the example projects.")] = Path(
        "custodes-demo"
    ),
    audience: Annotated[
        Audience, typer.Option(help="Who the reports are for.")
    ] = Audience.leadership,
    fmt: Annotated[
        ListFormat, typer.Option("--format", "-f", help="Output format.")
    ] = ListFormat.console,
    today: Annotated[str | None, typer.Option(help=TODAY_HELP)] = None,
) -> None:
    """Write the example projects and assess each; exits 0 (the findings are the point)."""
    from custodes.assess import assess
    from custodes.demo import example_names, write_examples

    day = parse_today(today)
    projects = write_examples(directory)
    rows: list[dict[str, object]] = []
    table = Table(title="custodes demo", title_justify="left", expand=True)
    table.add_column("project")
    table.add_column("threats", justify="right")
    table.add_column("scan + data findings", justify="right")
    table.add_column("data check")
    table.add_column("worst")
    table.add_column("Q1 secure / Q2 operable / Q3 scales")
    assessments = []
    for project in projects:
        a = assess(project, today=day)
        assessments.append(a)
        where = _write_html(a, audience.value, project / REPORT_NAME)
        tm = a.threat_model
        worst = worst_severity(a.findings)
        answers = " / ".join(q.answer for q in tm.diagnostic.questions) if tm else "-"
        table.add_row(
            project.name,
            str(len(tm.threats)) if tm else "-",
            str(len(a.findings) - (len(tm.findings) if tm else 0)),
            ", ".join(o.verdict or "not run" for o in a.data_checks) or "-",
            worst.value if worst else "none",
            answers,
        )
        rows.append(
            {
                "project": str(project),
                "report": str(where),
                "threats": len(tm.threats) if tm else 0,
                "findings": len(a.findings),
                "worst": worst.value if worst else None,
                "diagnostic": [q.answer for q in tm.diagnostic.questions] if tm else [],
                "data_checks": {o.id: o.verdict for o in a.data_checks},
            }
        )
    monitoring = _demo_monitoring(projects, assessments)
    gates = _demo_gates(projects, assessments)
    if fmt is ListFormat.json:
        write_output(
            dump_json({"projects": rows, "monitoring": monitoring, "governance": gates}), None
        )
        return
    console.print(table)
    console.print(
        f"\nWrote {len(projects)} example projects ({', '.join(example_names())}) to "
        f"[bold]{directory}[/bold]. Open the HTML reports in a browser:"
    )
    for row in rows:
        console.print(f"  {row['report']}", soft_wrap=True)
    _print_lineages(projects)
    for g in gates:
        console.print(f"\nGovernance of the {g['project']} project (custodes gate, audit):")
        for line in g["lines"]:
            console.print(f"  {line}", soft_wrap=True)
    for m in monitoring:
        console.print(f"\nMonitoring of the {m['project']} model (custodes monitor):")
        for c in m["suspected_clients"]:
            console.print(
                f"  [bold red]client {c['client_id']}[/bold red] suspected of model extraction: "
                f"{c['queries']:,} queries ({', '.join(c['signals'])}); suggested rate limit "
                f"{c['suggested_rate_limit_per_hour']:,}/h",
                soft_wrap=True,
            )
        for s in m["stale_monitors"]:
            console.print(f"  [bold red]{s}[/bold red]", soft_wrap=True)
        console.print(
            f"  {m['records']:,} predictions checked: verdict {m['verdict']}", soft_wrap=True
        )


def _demo_monitoring(projects: list[Path], assessments: list[Assessment]) -> list[dict[str, Any]]:
    """The demo week of each project that has one: who extracted, which monitor died."""
    from custodes.monitor import check_predictions, parse_window
    from custodes.monitor.simulate import DAY, START

    out: list[dict[str, Any]] = []
    for project, a in zip(projects, assessments, strict=True):
        week = project / "monitoring" / "predictions-week.jsonl"
        reference = project / "monitoring" / "reference.jsonl"
        if not (week.is_file() and reference.is_file()):
            continue
        result = check_predictions(
            week, reference, window=parse_window("1d"), now=START.timestamp() + 8 * DAY
        )
        out.append(
            {
                "project": project.name,
                "predictions": str(week),
                "records": result.records,
                "verdict": result.verdict,
                "suspected_clients": [
                    {
                        "client_id": c.client_id,
                        "queries": c.queries,
                        "signals": [s.kind for s in c.signals],
                        "suggested_rate_limit_per_hour": c.suggested_rate_limit_per_hour,
                    }
                    for c in result.clients
                ],
                "stale_monitors": [f.message for f in a.findings if f.rule_id == "MONITOR-STALE"],
            }
        )
    return out


def _demo_gates(projects: list[Path], assessments: list[Assessment]) -> list[dict[str, Any]]:
    """One or two lines per project with a governance store: what the gates decided."""
    out: list[dict[str, Any]] = []
    for project, a in zip(projects, assessments, strict=True):
        g = a.governance
        if g is None or g.error is not None:
            continue
        parts = []
        for art in g.artifacts:
            if art.passed and g.stages and art.stage == g.stages[-1]:
                approvers = sorted({p for step in art.passed for p in step["approvers"]})
                route = " → ".join([art.passed[0]["from"]] + [p["to"] for p in art.passed])
                parts.append(
                    f"{art.kind} {art.artifact} passed {route}, approved by "
                    f"{', '.join(approvers)}; in {art.stage} since {art.passed[-1]['at'][:10]}"
                )
            elif art.stage in ("rejected", "revoked") and art.decision is not None:
                parts.append(
                    f"{art.kind} {art.artifact} {art.stage} by {art.decision['by']} "
                    f"{art.decision['at'][:10]}"
                    + (
                        " (data check: suspected poisoning)"
                        if "poison" in str(art.decision.get("comment"))
                        else ""
                    )
                )
        log = (
            f"audit log verified ({g.log_size:,} entries): custodes audit verify -C {project}"
            if g.log_ok
            else f"audit log FAILED: {g.log_reason}"
        )
        out.append(
            {
                "project": project.name,
                "audit_log_verified": g.log_ok,
                "artifacts": {art.artifact: art.stage for art in g.artifacts},
                "lines": ["; ".join(parts), log] if parts else [log],
            }
        )
    return out


def _print_lineages(projects: list[Path]) -> None:
    """The lineage of every demo model that ships a training attestation."""
    from custodes.cli.custody import print_lineage
    from custodes.provenance.lineage import build_lineage

    for project in projects:
        attestation = project / "provenance" / "training-attestation.json"
        model = project / "models" / "outcome_model.joblib"
        if attestation.exists() and model.exists():
            console.print(f"\nLineage of the {project.name} model (custodes provenance lineage):")
            print_lineage(build_lineage(model, attestation, project))
