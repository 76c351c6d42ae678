"""Tables of the model for people who act on it: work per element, controls, data.

The verdict and decisions (:mod:`custodes.report.narrative`) say *whether* to act;
these views say *where*: which element needs which control and on which line of
custodes.yaml, what each declared control documents, and how each data source,
notebook and feedback loop is exposed to poisoning. Markdown and HTML lay out the same
views, so a developer and a reviewer reading different formats see the same work list.
"""

from __future__ import annotations

from dataclasses import dataclass

from custodes.catalog import load_catalog
from custodes.report.narrative import name_of, names_of, open_threats
from custodes.system.schema import Notebook, Process, Source
from custodes.threatmodel.model import ControlRef, ThreatInstance, ThreatModel

__all__ = [
    "DataItem",
    "DeclaredControl",
    "ElementWork",
    "MissingControl",
    "data_items",
    "declared_controls",
    "work_by_element",
]


@dataclass(frozen=True)
class MissingControl:
    """A control one element needs, and the open threats it would address there."""

    control: ControlRef
    threats: tuple[ThreatInstance, ...]


@dataclass(frozen=True)
class ElementWork:
    """What a developer builds on one element: missing controls, why, and where."""

    element_id: str
    label: str
    kind: str
    line: int | None
    worst: str
    missing: tuple[MissingControl, ...]
    facts: tuple[str, ...]


def work_by_element(tm: ThreatModel, audience: str = "developer") -> list[ElementWork]:
    """Per element with open threats, the controls still to build, worst element first."""
    order = ("critical", "high", "medium", "low")
    by_element: dict[str, list[ThreatInstance]] = {}
    for t in open_threats(tm, audience):
        by_element.setdefault(t.element_id, []).append(t)
    out: list[ElementWork] = []
    for eid, threats in by_element.items():
        controls: dict[str, tuple[ControlRef, list[ThreatInstance]]] = {}
        for t in threats:
            for c in t.controls:
                if c.status != "implemented":
                    controls.setdefault(c.id, (c, []))[1].append(t)
        first = threats[0]
        out.append(
            ElementWork(
                element_id=eid,
                label=first.element_label,
                kind=first.element_kind.replace("_", " "),
                line=first.line,
                worst=min((t.residual.level for t in threats), key=order.index),
                missing=tuple(MissingControl(ref, tuple(ts)) for ref, ts in controls.values()),
                facts=tuple(dict.fromkeys(f for t in threats for f in t.facts)),
            )
        )
    return sorted(out, key=lambda w: (order.index(w.worst), w.element_id))


@dataclass(frozen=True)
class DeclaredControl:
    """A control as declared in custodes.yaml, with what an auditor asks about it."""

    id: str
    name: str
    url: str
    status: str
    applies_to: str
    owner: str | None
    evidence: str | None
    procedure: str | None
    escalation: str | None
    approver: str | None
    expires: str | None
    lapsed: bool
    line: int | None


def declared_controls(tm: ThreatModel) -> list[DeclaredControl]:
    """Every declared control in file order, with catalog name and documentation."""
    catalog = load_catalog()
    out: list[DeclaredControl] = []
    for i, c in enumerate(tm.graph.model.controls):
        canonical = catalog.resolve_control_id(c.id)
        entry = catalog.controls[canonical] if canonical else None
        lapsed = (
            c.status == "risk_accepted" and c.expires is not None and (c.expires < tm.analyzed_on)
        )
        out.append(
            DeclaredControl(
                id=c.id,
                name=entry.name if entry else c.id,
                url=entry.url if entry else "",
                status="risk accepted (lapsed)" if lapsed else c.status.replace("_", " "),
                applies_to=names_of(tm, c.applies_to) if c.applies_to else "whole system",
                owner=c.owner,
                evidence=c.evidence,
                procedure=c.response.procedure if c.response else None,
                escalation=c.response.escalation if c.response else None,
                approver=c.approver,
                expires=c.expires.isoformat() if c.expires else None,
                lapsed=lapsed,
                line=tm.system.line_of(("controls", i)),
            )
        )
    return out


@dataclass(frozen=True)
class DataItem:
    """A data source, notebook, process or loop, as the data scientist needs to see it."""

    id: str
    label: str
    kind: str
    line: int | None
    details: tuple[tuple[str, str], ...]
    threats: tuple[ThreatInstance, ...]


def data_items(tm: ThreatModel) -> list[DataItem]:
    """Sources, notebooks, processes and feedback loops with their poisoning exposure."""
    threats: dict[str, list[ThreatInstance]] = {}
    for t in open_threats(tm):
        threats.setdefault(t.element_id, []).append(t)
    out: list[DataItem] = []
    for node in tm.graph.nodes.values():
        el = node.element
        details: list[tuple[str, str]] = []
        if isinstance(el, Source):
            training = tm.graph.reaches_kind(
                el.id, lambda n: isinstance(n.element, Process) and n.element.kind in _TRAINING
            )
            checks = tm.graph.reaches_kind(
                el.id, lambda n: isinstance(n.element, Process) and n.element.automated_validation
            )
            sensitive = [
                w
                for w, flag in (
                    ("health", el.health_data),
                    ("personal", el.personal_data),
                    ("biometric", el.biometric_data),
                )
                if flag
            ]
            details += [
                ("tier", el.tier.replace("_", " ")),
                ("custodian", el.custodian or "not stated"),
                ("chain of custody", el.chain_of_custody or "not documented"),
                ("records", f"{el.records:,}" if el.records is not None else "not stated"),
                ("sensitive data", ", ".join(sensitive) or "none declared"),
                ("reaches training", names_of(tm, [n.id for n in training]) or "no"),
                ("validation on its path", names_of(tm, [n.id for n in checks]) or "none"),
            ]
        elif isinstance(el, Notebook):
            details += [
                ("production data access", "yes" if el.production_data_access else "no"),
                ("credentials", el.credentials.replace("_", "-")),
                ("version-controlled", _yes_no(el.version_controlled)),
                ("users", names_of(tm, el.users) or "not stated"),
            ]
        elif isinstance(el, Process):
            details += [
                ("step", el.kind.replace("_", " ")),
                ("automated validation", "yes" if el.automated_validation else "no"),
            ]
        elif node.kind == "feedback_loop":
            loop = tm.graph.model.feedback_loops[node.index]
            details += [
                ("from", name_of(tm, loop.from_)),
                ("into", name_of(tm, loop.into)),
                ("used for", loop.used_for.replace("_", " ")),
                ("validated", "yes" if loop.validated else "no"),
            ]
        else:
            continue
        out.append(
            DataItem(
                el.id,
                el.label,
                node.kind.replace("_", " "),
                tm.system.line_of((node.section, node.index)),
                tuple(details),
                tuple(threats.get(el.id, [])),
            )
        )
    return out


_TRAINING = frozenset({"training", "fine_tuning"})


def _yes_no(value: bool | None) -> str:
    return "not declared" if value is None else ("yes" if value else "no")
