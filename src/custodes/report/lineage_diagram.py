"""A model's lineage as a Graphviz picture: sources → datasets → training run → model.

A reviewer signing a model off asks two things of its inputs: where each came from (and
how much of the model is user-generated, the rows anyone could have written) and whether
the evidence still holds. So sources are filled by tier and labelled with it in words
(colour is never the only signal), the user-generated tier says its row share on the
node, and every edge into the training run carries the verification of its dataset: a
failed link is drawn red and names what failed.

The DOT text and its SVG use the escaping and the bounded ``dot`` call of
:mod:`custodes.report.diagram`: source names and custodians are input, not trusted.
"""

from __future__ import annotations

import graphviz

from custodes.provenance.lineage import Lineage
from custodes.provenance.lineage_links import LineageLinks, LinkStatus
from custodes.report.diagram import SVG_TIMEOUT, dot_text, dot_to_svg, wrap

__all__ = ["TIER_COLOURS", "TIER_LABELS", "lineage_dot", "lineage_svg", "link_summary"]

#: Fill and border per provenance tier: the less control over who wrote it, the warmer.
TIER_COLOURS: dict[str, tuple[str, str]] = {
    "first_party": ("#dcfce7", "#15803d"),
    "broker": ("#fef3c7", "#a16207"),
    "user_generated": ("#fbd5d5", "#b42318"),
}
_OTHER = ("#f1f5f9", "#64748b")
TIER_LABELS = {
    "first_party": "first-party",
    "broker": "broker",
    "user_generated": "USER-GENERATED",
}
_FAIL, _OK, _UNCHECKED = "#b42318", "#475569", "#a16207"
_FONT = "Helvetica,Arial,sans-serif"
_WRAP = 30
_MARK = {"ok": "✓", "failed": "✗", "unchecked": "?"}


def _pct(value: float | None) -> str:
    return "rows unknown" if value is None else f"{value:.1%} of rows"


def link_summary(links: list[LinkStatus]) -> tuple[str, str]:
    """(status, one-line text) of a set of links: the first failure wins, named."""
    failed = next((k for k in links if k.status == "failed"), None)
    if failed is not None:
        return "failed", f"✗ {failed.name}: {failed.detail}"
    status = "unchecked" if any(k.status == "unchecked" for k in links) else "ok"
    return status, " · ".join(f"{k.name} {_MARK[k.status]}" for k in links)


def _edge_attrs(status: str, text: str) -> dict[str, str]:
    colour = {"failed": _FAIL, "unchecked": _UNCHECKED}.get(status, _OK)
    attrs = {
        "label": dot_text(*wrap(text, _WRAP)),
        "color": colour,
        "fontcolor": colour,
    }
    if status == "failed":
        attrs.update(penwidth="2.6", style="bold")
    elif status == "unchecked":
        attrs.update(style="dashed")
    return attrs


def lineage_dot(lineage: Lineage, links: LineageLinks | None = None) -> str:
    """DOT source of the lineage; ``links`` adds each link's verification to the edges."""
    g = graphviz.Digraph(
        "lineage",
        graph_attr={
            "rankdir": "LR",
            "fontname": _FONT,
            "fontsize": "14",
            "labelloc": "t",
            "label": dot_text(f"{lineage.model}: lineage by provenance tier"),
            "nodesep": "0.3",
            "ranksep": "0.7",
            "bgcolor": "white",
            "nslimit": "20",
            "mclimit": "2",
        },
        node_attr={"fontname": _FONT, "fontsize": "12", "style": "filled", "penwidth": "1.4"},
        edge_attr={"fontname": _FONT, "fontsize": "10", "color": _OK, "fontcolor": "#334155"},
    )
    tiers = lineage.tier_rows()
    source_ids: dict[str, str] = {}
    for d in lineage.datasets:
        if d.source in source_ids:
            continue
        sid = source_ids[d.source] = f"s{len(source_ids)}"
        fill, stroke = TIER_COLOURS.get(d.tier, _OTHER)
        rows = sum(x.rows or 0 for x in lineage.datasets if x.source == d.source)
        lines = [*wrap(d.source, _WRAP), f"source · tier {d.tier}"]
        if d.tier == "user_generated":
            share = _pct(lineage.share(tiers.get(d.tier)))
            lines.append(f"USER-GENERATED tier: {share}")
        lines.append(f"{rows:,} rows ({_pct(lineage.share(rows))})")
        g.node(
            sid,
            label=dot_text(*lines),
            shape="parallelogram",
            fillcolor=fill,
            color=stroke,
            penwidth="2.6" if d.tier == "user_generated" else "1.4",
        )
    run_label = ["training run"]
    if links is not None and links.commit:
        run_label.append(f"commit {links.commit[:12]}")
    g.node("run", label=dot_text(*run_label), shape="ellipse", fillcolor="#f8fafc", color="#334155")
    g.node(
        "model",
        label=dot_text(*wrap(lineage.model, _WRAP), f"model · sha256 {lineage.sha256[:12]}…"),
        shape="hexagon",
        fillcolor="#e0e7ff",
        color="#3730a3",
        penwidth="2",
    )
    for i, d in enumerate(lineage.datasets):
        did = f"d{i}"
        dataset_links = [] if links is None else links.datasets.get(d.name, [])
        status, text = link_summary(dataset_links) if dataset_links else ("ok", "")
        fill, stroke = TIER_COLOURS.get(d.tier, _OTHER)
        row_text = "rows unknown" if d.rows is None else f"{d.rows:,} rows"
        g.node(
            did,
            label=dot_text(
                *wrap(d.name, _WRAP),
                f"dataset · {row_text} ({_pct(lineage.share(d.rows))})",
                f"merkle {d.merkle_root[:12]}…",
                *(["VERIFICATION FAILED"] if status == "failed" else []),
            ),
            shape="cylinder",
            fillcolor="#ffffff" if status != "failed" else TIER_COLOURS["user_generated"][0],
            color=stroke if status != "failed" else _FAIL,
            penwidth="2.6" if status == "failed" else "1.4",
        )
        custody = f"custodian {d.custodian}" if d.custodian else "no custodian named"
        if not d.chain_of_custody and d.tier != "first_party":
            custody += " · no custody docs"
        g.edge(source_ids[d.source], did, label=dot_text(*wrap(custody, _WRAP)))
        if text:
            g.edge(did, "run", **_edge_attrs(status, text))
        else:
            g.edge(did, "run")
    if links is not None:
        g.edge("run", "model", **_edge_attrs(*link_summary(links.run)))
    else:
        g.edge("run", "model")
    _legend(g)
    return str(g.source)


def _legend(g: graphviz.Digraph) -> None:
    """Tier swatches named in words; an HTML label built only from the constants above."""
    rows = "".join(
        f'<TR><TD BGCOLOR="{fill}" COLOR="{stroke}" BORDER="1" WIDTH="18"> </TD>'
        f'<TD ALIGN="LEFT">{tier.replace("_", " ")}</TD></TR>'
        for tier, (fill, stroke) in TIER_COLOURS.items()
    )
    rows += '<TR><TD COLSPAN="2" ALIGN="LEFT">red bold edge: failed link</TD></TR>'
    rows += '<TR><TD COLSPAN="2" ALIGN="LEFT">dashed edge: signature not checked</TD></TR>'
    g.node(
        "__legend",
        label=(
            '<<TABLE BORDER="1" COLOR="#94a3b8" CELLBORDER="0" CELLSPACING="3" CELLPADDING="2">'
            f'<TR><TD COLSPAN="2" ALIGN="LEFT"><B>Legend: provenance tier</B></TD></TR>{rows}'
            "</TABLE>>"
        ),
        shape="plaintext",
        style="",
        fontsize="10",
    )


def lineage_svg(
    lineage: Lineage, links: LineageLinks | None = None, *, timeout: float = SVG_TIMEOUT
) -> str | None:
    """The picture as inline SVG, or None without Graphviz (the page then shows the DOT)."""
    return dot_to_svg(lineage_dot(lineage, links), timeout=timeout)
