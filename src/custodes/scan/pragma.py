"""Silencing one line: ``# custodes: ignore`` (optionally ``[RULE-ID, ...]``).

The pragma sits on the line the finding points at, in whatever comment syntax the file
uses; custodes only looks for the words. detect-secrets' ``pragma: allowlist secret``
is honoured too, so a team moving over keeps its reviewed exceptions.
"""

from __future__ import annotations

import re

__all__ = ["silenced"]

_PRAGMA = re.compile(r"custodes:\s*ignore(?:\[(?P<rules>[A-Za-z0-9_,\s-]+)\])?", re.IGNORECASE)
_DETECT_SECRETS = "pragma: allowlist secret"


def silenced(line_text: str, rule_id: str) -> bool:
    """Whether the line carries a pragma that silences this rule."""
    if _DETECT_SECRETS in line_text and rule_id.startswith("SECRET-"):
        return True
    m = _PRAGMA.search(line_text)
    if m is None:
        return False
    rules = m.group("rules")
    if not rules:
        return True
    return rule_id.upper() in {r.strip().upper() for r in rules.split(",")}
