"""A data check as one self-contained HTML page: no script, inline CSS and SVG.

Per column the reference and batch shares on the reference's bins side by side as SVG
bars (a reviewer sees *how* a column moved), the per-source table and the flagged rows
summary. Autoescaping is on because column names and values are batch input.
"""

from __future__ import annotations

import functools

import jinja2
from markupsafe import Markup, escape

from custodes.data.check.result import ColumnResult, DataCheckResult

__all__ = ["histogram_svg", "render_data_check_html"]

W, H = 240, 70


def histogram_svg(c: ColumnResult) -> Markup:
    """Reference (grey) and batch (blue) bars on the same bins."""
    ref, got = c.reference_hist, c.batch_hist
    nb = max(len(ref), 1)
    top = max(max(ref, default=0), max(got, default=0)) or 1.0
    bw = W / nb
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" role="img">']
    for i, (p, q) in enumerate(zip(ref, got, strict=False)):
        label = escape(c.bin_labels[i]) if i < len(c.bin_labels) else ""
        for j, (v, color) in enumerate(((p, "#999"), (q, "#2f6fdd"))):
            h = H * v / top
            x = i * bw + j * bw / 2
            parts.append(
                f'<rect x="{x:.2f}" y="{H - h:.2f}" width="{bw / 2:.2f}" height="{h:.2f}" '
                f'fill="{color}"><title>{label}: {v:.2%}</title></rect>'
            )
    parts.append("</svg>")
    # every interpolated text above went through escape(); numbers are formatted floats
    return Markup("".join(parts))  # noqa: S704


@functools.cache
def _env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("custodes.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["num"] = lambda n: f"{n:,}" if isinstance(n, int) else n
    env.globals["svg"] = histogram_svg
    return env


def render_data_check_html(result: DataCheckResult) -> str:
    flagged = result.to_dict()["flagged_rows"]
    return _env().get_template("data_check.html.j2").render(r=result, flagged=flagged)
