"""A data check as one self-contained HTML page: no script, inline CSS and SVG.

The page wears the assessment report's look (``style.css``, masthead, verdict banner,
badges, tables) and follows what a reviewer asks: the verdict and why, which source,
which rows to look at, which columns moved or broke, then per column the reference and
batch shares on the reference's bins side by side as SVG bars (a reviewer sees *how* a
column moved). Autoescaping is on because column names and values are batch input.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import PurePath

import jinja2
from markupsafe import Markup, escape

from custodes import __version__
from custodes.data.check.result import (
    DRIFT,
    OK,
    POISONING,
    SCHEMA,
    ColumnResult,
    DataCheckResult,
)
from custodes.report.data_evidence import source_evidence
from custodes.report.templating import environment

__all__ = ["histogram_svg", "render_data_check_html"]

W, H = 240, 70
_REF, _GOT = "#94a3b8", "#1d4ed8"


@dataclass(frozen=True)
class _Verdict:
    level: str
    """Class of the report's ``.verdict`` banner: ready (green), conditions, blocked (red)."""
    badge: str
    """Class of the ``.badge`` for this verdict."""
    label: str
    sentence: str


_VERDICTS = {
    OK: _Verdict(
        "ready",
        "ok",
        "OK",
        "No schema break, drift or poisoning signal against the baseline.",
    ),
    DRIFT: _Verdict(
        "conditions",
        "medium",
        "Drift",
        "Distributions moved against the baseline but no poisoning signal fired: "
        "check the moved columns are expected before training on this batch.",
    ),
    POISONING: _Verdict(
        "blocked",
        "critical",
        "Suspected poisoning",
        "Signals of tampering fired: hold the batch and review the flagged rows "
        "before training on it.",
    ),
    SCHEMA: _Verdict(
        "blocked",
        "critical",
        "Schema violation",
        "The batch breaks the baseline's schema: fix the columns below before "
        "training on it or trusting the other checks.",
    ),
}


def _verdict(v: str) -> _Verdict:
    return _VERDICTS.get(v, _Verdict("conditions", "info", v.replace("_", " "), ""))


def histogram_svg(c: ColumnResult, index: int = 0) -> Markup:
    """Reference (grey) and batch (blue) bars on the same bins, titled for screen readers."""
    ref, got = c.reference_hist, c.batch_hist
    nb = max(len(ref), 1)
    top = max(max(ref, default=0), max(got, default=0)) or 1.0
    bw = W / nb
    tid = f"hist-{index}"
    name = escape(c.name)
    parts = [
        f'<svg width="{W}" height="{H}" '
        f'viewBox="0 0 {W} {H}" role="img" aria-labelledby="{tid}-t {tid}-d">',
        f'<title id="{tid}-t">{name}: reference versus batch</title>',
        f'<desc id="{tid}-d">Share of rows per bin of {name}, reference in grey and batch '
        f"in blue, over {len(ref)} bins of the reference.</desc>",
        f'<line x1="0" y1="{H - 0.5}" x2="{W}" y2="{H - 0.5}" stroke="#cbd5e1"/>',
    ]
    for i, (p, q) in enumerate(zip(ref, got, strict=False)):
        label = escape(c.bin_labels[i]) if i < len(c.bin_labels) else ""
        for j, (v, color, who) in enumerate(((p, _REF, "reference"), (q, _GOT, "batch"))):
            h = H * v / top
            x = i * bw + j * bw / 2
            parts.append(
                f'<rect x="{x:.2f}" y="{H - h:.2f}" width="{bw / 2:.2f}" height="{h:.2f}" '
                f'fill="{color}"><title>{label}: {who} {v:.2%}</title></rect>'
            )
    parts.append("</svg>")
    # every interpolated text above went through escape(); numbers are formatted floats
    return Markup("".join(parts))  # noqa: S704


def _pct(v: float | None) -> str:
    return "—" if v is None else f"{v:.1%}"


def _moved(columns: tuple[ColumnResult, ...]) -> list[ColumnResult]:
    """Columns that drifted or broke, worst first (schema before drift, then effect size)."""
    bad = [c for c in columns if c.verdict != OK]
    return sorted(bad, key=lambda c: (c.verdict != SCHEMA, -(c.js_distance or c.psi or 0.0)))


@functools.cache
def _env() -> jinja2.Environment:
    env = environment()
    env.filters["pct"] = _pct
    env.globals.update(svg=histogram_svg, verdict_of=_verdict, evidence=source_evidence)
    return env


def render_data_check_html(
    result: DataCheckResult, *, flagged_rows_path: str | os.PathLike[str] | None = None
) -> str:
    """The page for one check; ``flagged_rows_path`` is where ``--flagged-rows`` wrote."""
    flagged = result.to_dict()["flagged_rows"]
    by_reason = sorted(flagged["by_reason"].items(), key=lambda kv: (-kv[1], kv[0]))
    moved = _moved(result.columns)
    moved_names = {c.name for c in moved}
    hists = [c for c in moved if c.reference_hist] + [
        c for c in result.columns if c.reference_hist and c.name not in moved_names
    ]
    sources = sorted(result.sources, key=lambda s: (s.verdict == OK, s.source))
    return (
        _env()
        .get_template("data_check.html.j2")
        .render(
            r=result,
            v=_verdict(result.verdict),
            title=PurePath(result.batch).name if result.batch else "Batch",
            suspects=[s.source for s in sources if s.verdict in (POISONING, SCHEMA)],
            sources=sources,
            flagged=flagged,
            by_reason=by_reason,
            flagged_path=None if flagged_rows_path is None else os.fspath(flagged_rows_path),
            moved=moved,
            hists=hists,
            version=__version__,
        )
    )
