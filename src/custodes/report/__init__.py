"""Renderers: console, JSON, SARIF, Markdown, HTML and diagrams of result objects.

Rendering happens in one place so every command shows the same facts the same way.
This package reads result objects (findings, threat models, assessments) and never
runs an analysis itself; the core never imports it.
"""

from custodes.report.diagram import to_dot, to_mermaid, to_svg
from custodes.report.html import render_assessment_html, render_html
from custodes.report.markdown import render_assessment_markdown, render_markdown
from custodes.report.narrative import AUDIENCES
from custodes.report.sarif import render_sarif

__all__ = [
    "AUDIENCES",
    "render_assessment_html",
    "render_assessment_markdown",
    "render_html",
    "render_markdown",
    "render_sarif",
    "to_dot",
    "to_mermaid",
    "to_svg",
]
