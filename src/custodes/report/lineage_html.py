"""A model's lineage as one self-contained HTML page: inline CSS and SVG, no script.

The page wears the assessment report's look (``style.css``, masthead, verdict banner,
badges, tables) because the same approver reads both. It leads with the verdict on the
evidence (every link held, or which one failed), then the picture (sources → datasets →
training run → model, by tier), then the same facts as tables, since a picture alone
cannot be searched, copied or read by a screen reader. Autoescaping is on: source names,
custodians and dataset names come from manifests, which are input.
"""

from __future__ import annotations

import functools
from typing import Any

import jinja2
from markupsafe import Markup

from custodes import __version__
from custodes.provenance.lineage import Lineage
from custodes.provenance.lineage_links import LineageLinks
from custodes.report.lineage_diagram import TIER_LABELS, lineage_dot, lineage_svg, link_summary
from custodes.report.templating import environment

__all__ = ["render_lineage_html"]


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"


@functools.cache
def _env() -> jinja2.Environment:
    env = environment()
    env.filters["pct"] = _pct
    env.globals.update(tier_label=lambda t: TIER_LABELS.get(t, t), summary=link_summary)
    return env


def _verdict(lineage: Lineage, links: LineageLinks | None) -> dict[str, Any]:
    """Banner class, stamp and sentence: failed evidence first, then unchecked, then ok."""
    if links is None:
        return {"level": "conditions", "label": "Unverified", "sentence": "Links not checked."}
    failures = links.failures()
    if failures:
        names = ", ".join(
            [f"training run: {k.name}" for k in links.run if k.status == "failed"]
            + [n for n in links.datasets if not links.dataset_ok(n)]
        )
        return {
            "level": "blocked",
            "label": "Link failed",
            "sentence": f"Evidence no longer holds for {names}: the model's lineage "
            "cannot be vouched for until it is explained.",
        }
    if not links.keys_given:
        return {
            "level": "conditions",
            "label": "Digests ok",
            "sentence": "Every digest matches; signatures were not checked "
            "(give --public-key to check them).",
        }
    return {
        "level": "ready",
        "label": "Verified",
        "sentence": "Every link holds: attestation signature, model digest, and each "
        "dataset's manifest, signature, files and custody log.",
    }


def render_lineage_html(lineage: Lineage, links: LineageLinks | None = None) -> str:
    """The page; without Graphviz the diagram section shows the DOT source instead."""
    svg = lineage_svg(lineage, links)
    tiers = lineage.to_json()["tiers"]
    return (
        _env()
        .get_template("lineage.html.j2")
        .render(
            lin=lineage,
            links=links,
            tiers=tiers,
            v=_verdict(lineage, links),
            # dot's SVG output escapes all text it was given (names went in as DOT text)
            svg=Markup(svg) if svg is not None else None,  # noqa: S704
            dot=None if svg is not None else lineage_dot(lineage, links),
            version=__version__,
        )
    )
