"""What a report says, decided once for every format: verdict, decisions, plain words.

The Markdown and HTML reports must tell the same story: the same verdict, the same
top risks, the same decisions for the board. So the choices live here, over the
:class:`ThreatModel` result object, and the renderers only lay them out. Nothing here
re-judges the analysis: the verdict is read off the diagnostic loop and the residual
risks the threat model already computed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from custodes.catalog import load_catalog
from custodes.system.schema import Control
from custodes.threatmodel.model import ThreatInstance, ThreatModel

__all__ = [
    "AUDIENCES",
    "Decision",
    "Verdict",
    "check_audience",
    "decisions",
    "footnote_ids",
    "name_of",
    "names_of",
    "open_threats",
    "plain_risk",
    "plain_title",
    "plain_why",
    "sentence",
    "verdict",
]

AUDIENCES = ("developer", "data-scientist", "leadership")

# What each threat means to someone who does not know the catalog; ids stay in footnotes.
_PLAIN_TITLES = {
    "DATAPOISON": "Someone could corrupt the data the model learns from",
    "DEVDATALEAK": "Sensitive data could leak from development work",
    "DEVMODELPOISON": "Someone inside development could tamper with the model",
    "DEVMODELLEAK": "The model file could be taken from development systems",
    "DEVCODELEAK": "The code and settings that build the model could leak",
    "SUPPLYMODELPOISON": "A model bought or downloaded could arrive already tampered with",
    "MODELEXFILTRATION": "Someone could copy the model by querying it at volume",
    "MODELINVERSIONANDMEMBERSHIP": "The model's answers could reveal whose records it learnt from",
    "RUNTIMEMODELPOISON": "The live model could be tampered with where it runs",
    "RUNTIMEMODELLEAK": "The live model could be stolen from where it runs",
    "DIRECTPROMPTINJECTION": "Users could talk the assistant out of its rules",
    "INDIRECTPROMPTINJECTION": "Hidden instructions in documents could take over the assistant",
    "AGENTMESSAGESTRUCTUREMANIPULATION": "Forged messages could steer the agents",
    "DISCLOSUREINOUTPUT": "Answers could show people data they must not see",
    "AIRESOURCEEXHAUSTION": "Costly requests could exhaust the service",
    "OUTPUTCONTAINSCONVENTIONALINJECTION": "Model output could run as code in other systems",
    "INPUTDATALEAK": "What people send to the model could leak",
    "AUGMENTATIONDATALEAK": "Reference documents and prompts could leak",
    "AUGMENTATIONDATAMANIPULATION": "Reference documents could be altered to steer answers",
    "AGENTESCAPE": "An AI agent could act outside the task it was given",
}
_LIKELIHOOD_WORDS = {1: "rare", 2: "unlikely", 3: "possible", 4: "likely", 5: "almost certain"}
_IMPACT_WORDS = {1: "minor", 2: "moderate", 3: "serious", 4: "severe", 5: "very severe"}


def check_audience(audience: str) -> str:
    """The audience name, or a ValueError naming the ones that exist."""
    if audience not in AUDIENCES:
        raise ValueError(f"unknown audience {audience!r} (expected one of: {', '.join(AUDIENCES)})")
    return audience


def open_threats(tm: ThreatModel, audience: str = "developer") -> list[ThreatInstance]:
    """Threats not mitigated, highest residual risk first, for one audience.

    Data scientists see the threats tagged for them; developers and leadership see all,
    because the worst risk must reach the board whoever has to fix it.
    """
    ranked = [t for t in tm.ranked() if t.status != "mitigated"]
    if audience == "data-scientist":
        ranked = [t for t in ranked if audience in t.audiences]
    return ranked


@dataclass(frozen=True)
class Verdict:
    """The one-line answer at the top of a report, technical and plain."""

    level: Literal["blocked", "conditions", "ready"]
    label: str
    sentence: str
    plain: str
    """The same in board words: no question numbers, no ids."""


def verdict(tm: ThreatModel) -> Verdict:
    """Blocked when any loop question is "no" or a critical risk is open.

    Ready only with conditions when something is partial or a high risk is open; ready
    when neither. The thresholds are the analysis's own levels, not new judgements.
    """
    open_ = open_threats(tm)
    crit = sum(1 for t in open_ if t.residual.level == "critical")
    high = sum(1 for t in open_ if t.residual.level == "high")
    first = tm.diagnostic.first_failing
    failed = next((q for q in tm.diagnostic.questions if q.answer == "no"), None)
    counts = f"{crit} critical and {high} high risk(s) are open"
    if failed is not None or crit:
        where = (
            f"; the diagnostic loop answers no at Q{failed.number} ({failed.title})"
            if (failed)
            else ""
        )
        plain = f"; the answer to \u201c{failed.title}\u201d is no" if failed else ""
        return Verdict(
            "blocked", "Not ready for production", counts + where + ".", counts + plain + "."
        )
    if first is not None or high:
        where = f"; Q{first.number} ({first.title}) is only {first.answer}" if first else ""
        plain = f"; \u201c{first.title}\u201d is only partly answered" if first else ""
        return Verdict(
            "conditions", "Ready only with conditions", counts + where + ".", counts + plain + "."
        )
    text = "No critical or high risk is open and all three questions are answered yes."
    return Verdict("ready", "Ready", text, text)


def sentence(text: str) -> str:
    """User prose as a sentence: one line, capital first letter, closing full stop."""
    text = " ".join(text.split())
    text = text[:1].upper() + text[1:]
    return text if not text or text.endswith((".", "!", "?")) else text + "."


def plain_title(t: ThreatInstance) -> str:
    """The threat as a board member would say it, without catalog ids."""
    if t.threat_id in _PLAIN_TITLES:
        return _PLAIN_TITLES[t.threat_id]
    if "EVASION" in t.threat_id or t.threat_id == "TRANSFERATTACK":
        return "Crafted inputs could fool the model into a wrong answer"
    return t.threat_name


def plain_risk(t: ThreatInstance) -> str:
    """``likely and very severe (critical)``: the residual risk in words."""
    r = t.residual
    return f"{_LIKELIHOOD_WORDS[r.likelihood]} and {_IMPACT_WORDS[r.impact]} ({r.level})"


def plain_why(t: ThreatInstance) -> str:
    """First sentence of the catalog's description: what the attack looks like."""
    catalog = load_catalog()
    canonical = catalog.resolve_threat_id(t.threat_id)
    if canonical is None:
        return ""
    text = catalog.threats[canonical].description.strip()
    end = text.find(". ")
    return text if end < 0 else text[: end + 1]


def name_of(tm: ThreatModel, ref: str) -> str:
    """What a person calls an element id, a control id or the whole system."""
    if ref == "system":
        return "the system"
    node = tm.graph.nodes.get(ref)
    if node is not None:
        return node.element.label
    catalog = load_catalog()
    canonical = catalog.resolve_control_id(ref)
    return catalog.controls[canonical].name if canonical else ref


def names_of(tm: ThreatModel, refs: Iterable[str]) -> str:
    """Comma-separated names, for gap and decision sentences."""
    return ", ".join(name_of(tm, r) for r in refs)


@dataclass(frozen=True)
class Decision:
    """Something only the accountable people can decide, in one sentence."""

    kind: str
    text: str


def decisions(tm: ThreatModel) -> list[Decision]:
    """The decisions the findings force: halt, fund, accept or renew, review, assign."""
    out: list[Decision] = []
    v = verdict(tm)
    first = tm.diagnostic.first_failing
    if v.level == "blocked" and first is not None:
        out.append(
            Decision(
                "Halt",
                f"Keep {tm.name} out of production (or pause it) until \u201c{first.title}\u201d "
                f"is answered yes: {len(first.gaps)} gap(s) to close first.",
            )
        )
    missing = _missing_controls(tm)
    if missing:
        top = ", ".join(name_of(tm, cid) for cid, _ in missing[:4])
        more = f" and {len(missing) - 4} more" if len(missing) > 4 else ""
        out.append(
            Decision(
                "Fund",
                f"Fund the {len(missing)} missing safeguard(s), most urgent first: {top}{more}.",
            )
        )
    out.extend(
        Decision(
            "Renew or withdraw",
            f"The acceptance of the risk covered by \u201c{name_of(tm, c.id)}\u201d lapsed on "
            f"{c.expires.isoformat() if c.expires else 'an unknown date'}; until it is "
            "renewed by its approver or the safeguard is built, the risk counts as open.",
        )
        for c in _lapsed(tm)
    )
    unreviewed = [o for o in tm.graph.model.outputs if not o.human_review]
    sc = tm.scale
    if sc.wrong is not None and sc.consequence in ("high", "critical") and unreviewed:
        out.append(
            Decision(
                "Accept or change",
                f"Decide whether {sc.wrong:,} {sc.population_label} given a wrong result, with "
                f"{sc.consequence} consequences, is acceptable, or require a person to review "
                "results before they act on someone.",
            )
        )
    crit = [t for t in open_threats(tm) if t.residual.level == "critical"]
    if crit:
        out.append(
            Decision(
                "Accept in writing",
                f"Any of the {len(crit)} critical risk(s) you choose not to fix needs a named "
                "owner, an approver and an expiry date.",
            )
        )
    if tm.staleness.stale:
        due = tm.staleness.due.isoformat() if tm.staleness.due else "now"
        out.append(
            Decision("Review", f"Schedule a threat-model review (due {due}): the model is stale.")
        )
    if not tm.graph.model.system.owner:
        out.append(Decision("Assign", "Name an owner accountable for this system."))
    return out


def _missing_controls(tm: ThreatModel) -> list[tuple[str, int]]:
    """Control ids not implemented, by the residual risk they would address, worst first."""
    weight: dict[str, int] = {}
    for t in open_threats(tm):
        for c in t.controls:
            if c.status != "implemented":
                weight[c.id] = weight.get(c.id, 0) + t.residual.score
    return sorted(weight.items(), key=lambda kv: (-kv[1], kv[0]))


def _lapsed(tm: ThreatModel) -> list[Control]:
    lapsed_ids = {c.id for t in tm.threats for c in t.controls if c.lapsed}
    return [
        c
        for c in tm.graph.model.controls
        if c.status == "risk_accepted"
        and (c.id in lapsed_ids or (c.expires is not None and c.expires < tm.analyzed_on))
    ]


def footnote_ids(threats: Iterable[ThreatInstance]) -> list[tuple[str, str, str]]:
    """(threat id, name, url) of the threats a report mentions, for the id footnote."""
    seen: dict[str, tuple[str, str, str]] = {}
    for t in threats:
        seen.setdefault(t.threat_id, (t.threat_id, t.threat_name, t.url))
    return list(seen.values())
