"""The system's data-flow diagram, coloured by risk, as Mermaid, Graphviz DOT and SVG.

A reviewer understands a threat model from its picture first: where data enters, which
trust boundary it crosses, and which component carries the worst open risk. So every
element is drawn in its trust boundary, shaped by what it is, filled by its worst
residual risk and labelled with that risk in words (colour is never the only signal).
Feedback loops, the path by which use becomes training data, are dashed.

Mermaid goes into Markdown (GitHub renders it); DOT and its SVG go into the HTML report,
where the SVG is inlined so the report stays one self-contained file. All user text is
escaped for the target syntax: a system model is input, and its names are not trusted.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import textwrap
from collections.abc import Iterator
from typing import cast

import graphviz

from custodes.errors import InternalError
from custodes.system.schema import Element, Endpoint, FeedbackLoop, Flow
from custodes.threatmodel.model import ThreatModel

__all__ = ["RISK_COLOURS", "dot_text", "dot_to_svg", "to_dot", "to_mermaid", "to_svg", "wrap"]

#: Fill and border per worst residual risk; "none" is an element no threat applies to.
RISK_COLOURS: dict[str, tuple[str, str]] = {
    "critical": ("#fbd5d5", "#b42318"),
    "high": ("#fde4cf", "#c4320a"),
    "medium": ("#fef3c7", "#a16207"),
    "low": ("#dbeafe", "#1d4ed8"),
    "none": ("#f1f5f9", "#64748b"),
}
_RISK_ORDER = ("critical", "high", "medium", "low", "none")

_KIND_LABEL = {
    "actor": "actor",
    "source": "data source",
    "process": "process",
    "store": "store",
    "model": "model",
    "dependency": "dependency",
    "notebook": "notebook",
    "endpoint": "endpoint",
    "output": "output",
    "feedback_loop": "feedback loop",
    "tool": "tool",
    "trust_boundary": "trust boundary",
}
# Mermaid shape delimiters (open, close) per element kind.
_MERMAID_SHAPE = {
    "actor": ("([", "])"),
    "source": ("[/", "/]"),
    "process": ("(", ")"),
    "store": ("[(", ")]"),
    "model": ("{{", "}}"),
    "dependency": ("[[", "]]"),
    "notebook": ("[/", "\\]"),
    "endpoint": (">", "]"),
    "output": ("[\\", "\\]"),
    "tool": ("[\\", "/]"),
}
_DOT_SHAPE = {
    "actor": "box",
    "source": "parallelogram",
    "process": "ellipse",
    "store": "cylinder",
    "model": "hexagon",
    "dependency": "component",
    "notebook": "note",
    "endpoint": "box",
    "output": "tab",
    "tool": "septagon",
}
# Endpoints are where outsiders reach in: a double border marks the exposure.
_DOT_EXTRA = {
    "endpoint": {"peripheries": "2", "style": "filled,rounded"},
    "actor": {"style": "filled,rounded"},
}
_FONT = "Helvetica,Arial,sans-serif"
# Wrap widths (characters) that keep nodes and edge labels from stretching the page.
_NODE_WRAP = 26
_EDGE_WRAP = 30
#: Seconds a layout may take before the report falls back to the Mermaid text.
SVG_TIMEOUT = 30.0


def _risks(tm: ThreatModel) -> dict[str, str]:
    return dict(tm.element_risk())


def _drawn(tm: ThreatModel) -> Iterator[tuple[str, str, Element]]:
    """(id, kind, element) of every element drawn as a node: not boundaries, not loops."""
    for node in tm.graph.nodes.values():
        if node.kind not in ("trust_boundary", "feedback_loop"):
            yield node.id, node.kind, node.element


def _boundaries(tm: ThreatModel) -> tuple[dict[str | None, list[str]], dict[str | None, list[str]]]:
    """Members per boundary (None = outside all) and child boundaries per boundary.

    A boundary that would contain itself, directly or through others, is drawn at the
    top level instead: the loader allows the declaration, the picture must not loop.
    """
    members: dict[str | None, list[str]] = {}
    children: dict[str | None, list[str]] = {}
    boundary_ids = [n.id for n in tm.graph.of_kind("trust_boundary")]
    for bid in boundary_ids:
        parent = tm.graph.boundary_of(bid)
        seen = {bid}
        cursor = parent
        while cursor is not None and cursor not in seen:
            seen.add(cursor)
            cursor = tm.graph.boundary_of(cursor)
        if cursor is not None or parent == bid:
            parent = None
        children.setdefault(parent, []).append(bid)
    for eid, _kind, _el in _drawn(tm):
        members.setdefault(tm.graph.boundary_of(eid), []).append(eid)
    return members, children


def _edges(tm: ThreatModel) -> Iterator[tuple[str, str, str, str, str]]:
    """(from, to, label, style, risk) for flows, served models and feedback loops.

    Only a feedback loop is an element with threats of its own, so only its edge carries
    a risk level; other edges say "none".
    """
    model = tm.graph.model
    risks = _risks(tm)
    for flow in model.flows:
        yield flow.from_, flow.to, _flow_label(flow), "flow", "none"
    for ep in model.endpoints:
        if isinstance(ep, Endpoint):
            for m in ep.serves:
                yield m, ep.id, "serves", "serves", "none"
    for loop in model.feedback_loops:
        if isinstance(loop, FeedbackLoop):
            level = risks.get(loop.id, "none")
            label = f"{loop.label} ({loop.id}) · feedback for {loop.used_for}"
            if not loop.validated:
                label += ", not validated"
            label += f" · {level} risk" if level != "none" else ""
            yield loop.from_, loop.into, label, "loop", level


def _access(tm: ThreatModel) -> Iterator[tuple[str, str]]:
    """(actor, element) for every declared access: who can reach what, drawn dotted."""
    for node in tm.graph.of_kind("actor"):
        for target in getattr(node.element, "access", []):
            yield node.id, target


def _flow_label(flow: Flow) -> str:
    parts = [flow.data] if flow.data else []
    parts.append(flow.classification)
    if flow.encrypted is False:
        parts.append("unencrypted")
    return " · ".join(parts)


# -- Mermaid -----------------------------------------------------------------------------

_MERMAID_UNSAFE = re.compile(r"[^A-Za-z0-9_]")


def _mermaid_ids(tm: ThreatModel) -> dict[str, str]:
    """A Mermaid-safe, unique id per element.

    The prefix keeps ids off Mermaid keywords (``end``, ``graph``) and off the ``o``/``x``
    edge-ending letters that would turn ``A---oB`` into a circle edge.
    """
    out: dict[str, str] = {}
    used: set[str] = set()
    for eid in tm.graph.nodes:
        base = "n_" + _MERMAID_UNSAFE.sub("_", eid)
        candidate, n = base, 1
        while candidate in used:
            n += 1
            candidate = f"{base}_{n}"
        used.add(candidate)
        out[eid] = candidate
    return out


def mermaid_text(text: str) -> str:
    """Text safe inside a double-quoted Mermaid label (entity codes, one line)."""
    text = " ".join(text.split())
    for char, code in (
        ("#", "#35;"),
        ("&", "#amp;"),
        ('"', "#quot;"),
        ("<", "#lt;"),
        (">", "#gt;"),
        ("`", "#96;"),
    ):
        text = text.replace(char, code)
    return text


def to_mermaid(tm: ThreatModel) -> str:
    """A ``flowchart LR`` of the system: boundaries as subgraphs, nodes classed by risk."""
    ids = _mermaid_ids(tm)
    risks = _risks(tm)
    members, children = _boundaries(tm)
    lines = ["flowchart LR"]
    for level in _RISK_ORDER:
        fill, stroke = RISK_COLOURS[level]
        width = "3px" if level == "critical" else "1.5px"
        lines.append(
            f"  classDef risk_{level} fill:{fill},stroke:{stroke},"
            f"stroke-width:{width},color:#0f172a"
        )

    def node_line(eid: str, indent: str) -> str:
        node = tm.graph.nodes[eid]
        level = risks.get(eid, "none")
        open_, close = _MERMAID_SHAPE[node.kind]
        risk = f"{level} risk" if level != "none" else "no threat found"
        text = (
            mermaid_text(node.element.label)
            + "<br/>"
            + mermaid_text(f"{_KIND_LABEL[node.kind]} · {eid} · {risk}")
        )
        return f'{indent}{ids[eid]}{open_}"{text}"{close}:::risk_{level}'

    def boundary(bid: str, depth: int) -> None:
        indent = "  " * depth
        label = tm.graph.nodes[bid].element.label
        title = f"{label} · trust boundary" + (f" · {bid}" if label != bid else "")
        lines.append(f'{indent}subgraph {ids[bid]}["{mermaid_text(title)}"]')
        for child in children.get(bid, []):
            boundary(child, depth + 1)
        lines.extend(node_line(eid, indent + "  ") for eid in members.get(bid, []))
        lines.append(f"{indent}end")

    for bid in children.get(None, []):
        boundary(bid, 1)
    lines.extend(node_line(eid, "  ") for eid in members.get(None, []))

    # Feedback loops are where use becomes training data: dashed, coloured by their risk.
    drawn = {eid for eid, _k, _e in _drawn(tm)}
    loop_links: list[tuple[int, str]] = []
    count = 0
    for src, dst, label, style, level in _edges(tm):
        if src not in drawn or dst not in drawn:
            continue
        arrow = "-.->" if style == "loop" else "-->"
        lines.append(f'  {ids[src]} {arrow}|"{mermaid_text(label)}"| {ids[dst]}')
        if style == "loop":
            loop_links.append((count, level))
        count += 1
    for actor, target in _access(tm):
        if target in drawn:
            lines.append(f'  {ids[actor]} -.-|"access"| {ids[target]}')
            count += 1
    lines.extend(
        f"  linkStyle {i} stroke:{RISK_COLOURS[level][1]},stroke-width:2px,stroke-dasharray:6 4"
        for i, level in loop_links
    )
    return "\n".join(lines) + "\n"


# -- Graphviz ----------------------------------------------------------------------------


def _dot_text(*lines: str) -> str:
    """A DOT label: each line's backslashes made literal, lines joined by dot's ``\\n``.

    The result is marked ``nohtml`` so a name such as ``<b>x</b>`` is drawn as text,
    never parsed as a Graphviz HTML label.
    """
    escaped = (" ".join(line.split()).replace("\\", "\\\\") for line in lines)
    # cast, not str(): str() would drop the nohtml marker the quoting relies on.
    return cast(str, graphviz.nohtml("\\n".join(escaped)))


def _wrap(text: str, width: int) -> list[str]:
    # Ids such as symptom-tracker-entries must stay whole: break on spaces only.
    return textwrap.wrap(text, width, break_on_hyphens=False, break_long_words=False) or [""]


# Public names for other diagrams (lineage): same escaping, same wrapping rules.
dot_text = _dot_text
wrap = _wrap


def to_dot(tm: ThreatModel) -> str:
    """Graphviz DOT source: ``cluster_<id>`` per trust boundary, fills by risk, a legend."""
    risks = _risks(tm)
    members, children = _boundaries(tm)
    g = graphviz.Digraph(
        "custodes",
        graph_attr={
            # Top to bottom: a flow chain reads down a portrait page at a legible size.
            "rankdir": "TB",
            "fontname": _FONT,
            "fontsize": "14",
            "labelloc": "t",
            "label": _dot_text(f"{tm.name}: data flows and worst residual risk"),
            "nodesep": "0.35",
            "ranksep": "0.6",
            "bgcolor": "white",
            # Bound the layout's work so a huge model degrades instead of hanging.
            "nslimit": "20",
            "mclimit": "2",
        },
        node_attr={
            "fontname": _FONT,
            "fontsize": "13",
            "style": "filled",
            "penwidth": "1.4",
            "margin": "0.12,0.06",
        },
        edge_attr={"fontname": _FONT, "fontsize": "11", "color": "#475569", "fontcolor": "#334155"},
    )

    def add_node(sub: graphviz.Digraph, eid: str) -> None:
        node = tm.graph.nodes[eid]
        level = risks.get(eid, "none")
        fill, stroke = RISK_COLOURS[level]
        risk = f"{level.upper()} risk" if level != "none" else "no threat found"
        sub.node(
            eid,
            label=_dot_text(
                *_wrap(node.element.label, _NODE_WRAP),
                *_wrap(f"{_KIND_LABEL[node.kind]} · {eid}", _NODE_WRAP),
                risk,
            ),
            shape=_DOT_SHAPE[node.kind],
            fillcolor=fill,
            color=stroke,
            penwidth="2.6" if level == "critical" else "1.4",
            **_DOT_EXTRA.get(node.kind, {}),
        )

    def add_boundary(parent: graphviz.Digraph, bid: str) -> None:
        label = tm.graph.nodes[bid].element.label
        with parent.subgraph(name=f"cluster_{bid}") as sub:
            sub.attr(
                label=_dot_text(f"{label} (trust boundary)"),
                style="dashed,rounded",
                color="#334155",
                fontcolor="#0f172a",
                fontname=_FONT,
                fontsize="13",
                labeljust="l",
            )
            for child in children.get(bid, []):
                add_boundary(sub, child)
            for eid in members.get(bid, []):
                add_node(sub, eid)

    for bid in children.get(None, []):
        add_boundary(g, bid)
    for eid in members.get(None, []):
        add_node(g, eid)
    drawn = {eid for eid, _k, _e in _drawn(tm)}
    connected: set[str] = set()
    for src, dst, label, style, level in _edges(tm):
        if src not in drawn or dst not in drawn:
            continue
        connected.update((src, dst))
        attrs = {"label": _dot_text(*_wrap(label, _EDGE_WRAP))}
        if style == "loop":
            colour = RISK_COLOURS[level][1]
            attrs.update(style="dashed", color=colour, fontcolor=colour, penwidth="1.8")
        elif style == "serves":
            attrs.update(style="bold", arrowhead="vee")
        g.edge(src, dst, **attrs)
    # Actor access is left to the Mermaid view: drawn here it crosses the whole picture.
    _legend(g)
    # Unconnected top-level elements (dependencies, outside actors) would otherwise line
    # up in one very wide rank; stacked under the legend they use height instead.
    previous = "__legend"
    for eid in members.get(None, []):
        if eid not in connected:
            g.edge(previous, eid, style="invis")
            previous = eid
    return str(g.source)


def _legend(g: graphviz.Digraph) -> None:
    """One table-shaped node: colour swatches with the risk named in words beside each.

    It is a Graphviz HTML label built only from constants here, never from user text.
    """
    rows = "".join(
        f'<TR><TD BGCOLOR="{fill}" COLOR="{stroke}" BORDER="1" WIDTH="18"> </TD>'
        f'<TD ALIGN="LEFT">{level if level != "none" else "no threat found"}</TD></TR>'
        for level in _RISK_ORDER
        for fill, stroke in [RISK_COLOURS[level]]
    )
    rows += '<TR><TD COLSPAN="2" ALIGN="LEFT">dashed edge: feedback loop</TD></TR>'
    table = (
        '<<TABLE BORDER="1" COLOR="#94a3b8" CELLBORDER="0" CELLSPACING="3" CELLPADDING="2">'
        '<TR><TD COLSPAN="2" ALIGN="LEFT"><B>Legend: worst residual risk</B></TD></TR>'
        f"{rows}</TABLE>>"
    )
    g.node("__legend", label=table, shape="plaintext", style="", fontsize="11")


_PROLOG = re.compile(r"\A\s*(?:<\?xml[^>]*\?>\s*|<!DOCTYPE[^>]*>\s*|<!--.*?-->\s*)*", re.S)


def to_svg(tm: ThreatModel, *, timeout: float = SVG_TIMEOUT) -> str | None:
    """The diagram as an SVG element ready to inline in HTML, or None without Graphviz.

    graphviz's own ``pipe()`` has no timeout, so the same ``dot -Tsvg`` call is made
    here with one: a report must not hang on a pathological layout. None means "no
    picture" (no ``dot`` installed, or the layout took longer than ``timeout``), and the
    caller shows the Mermaid text instead.
    """
    if shutil.which("dot") is None:
        return None
    return dot_to_svg(to_dot(tm), timeout=timeout)


def dot_to_svg(source: str, *, timeout: float = SVG_TIMEOUT) -> str | None:
    """Any DOT source laid out by ``dot -Tsvg`` with a timeout, prolog stripped for inlining.

    Shared by every diagram custodes draws, so the one subprocess call and its bounds
    live in one place. None when Graphviz is missing or the layout timed out.
    """
    dot = shutil.which("dot")
    if dot is None:
        return None
    try:
        proc = subprocess.run(  # noqa: S603 - fixed argv, DOT text goes to stdin
            [dot, "-Tsvg"],
            input=source.encode("utf-8"),
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return None
    except OSError:
        return None
    if proc.returncode != 0:
        err = proc.stderr.decode("utf-8", "replace").strip()
        raise InternalError(f"graphviz could not lay out the diagram: {err}")
    svg = proc.stdout.decode("utf-8")
    return _PROLOG.sub("", svg, count=1).strip() + "\n"
