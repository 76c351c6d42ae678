"""Renderers: console, JSON, SARIF, Markdown, HTML and diagrams of result objects."""
