"""The one Jinja setup every HTML page uses: package templates, autoescape, strict names.

Each page adds its own filters and globals to a fresh environment from here, so a
security setting (autoescape, undefined names are errors) is decided in one place.
"""

from __future__ import annotations

import jinja2

__all__ = ["environment"]


def environment() -> jinja2.Environment:
    """A new environment over ``custodes/report/templates`` with the shared filters."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("custodes.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["num"] = lambda n: f"{n:,}" if isinstance(n, int) else n
    return env
