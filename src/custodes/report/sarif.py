"""Findings as a SARIF 2.1.0 log, the format code-scanning UIs and editors read.

SARIF is how custodes findings reach the places developers already look (GitHub code
scanning, VS Code's SARIF viewer, Azure DevOps). Those tools key on three things, so
this module gets them exactly right: a stable ``ruleId``/``ruleIndex`` pair, a
``partialFingerprints`` value that survives rewording (so a dismissed alert stays
dismissed), and a location whose URI is relative to the checkout so the viewer can open
the file. Everything else custodes knows (threat ids, ATLAS ids, the facts that made a
rule fire) travels in ``properties`` and in the message text.

Findings are already redacted by the analyzers that made them; nothing here reads the
files they point at, so no secret can enter the log on this path.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path, PurePath
from urllib.parse import quote

from custodes.catalog import load_catalog
from custodes.findings import Finding, Severity

__all__ = ["INFORMATION_URI", "SARIF_SCHEMA", "SARIF_VERSION", "render_sarif"]

SARIF_VERSION = "2.1.0"
SARIF_SCHEMA = (
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
)
#: Where a reader of the log learns what the findings mean: the OWASP AI Exchange,
#: whose ids every custodes threat finding cites.
INFORMATION_URI = "https://owaspai.org/"

_LEVEL = {
    Severity.CRITICAL: "error",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "note",
    Severity.INFO: "note",
}
# GitHub code scanning ranks security alerts by this CVSS-like number on the rule.
_SECURITY_SEVERITY = {
    Severity.CRITICAL: "9.5",
    Severity.HIGH: "8.0",
    Severity.MEDIUM: "5.5",
    Severity.LOW: "3.0",
    Severity.INFO: "0.0",
}
_SRCROOT = "%SRCROOT%"


def sarif_level(severity: Severity) -> str:
    """The SARIF ``level`` of a severity: error, warning or note."""
    return _LEVEL[severity]


def render_sarif(
    findings: Sequence[Finding], *, tool_version: str, base_dir: Path | None = None
) -> dict[str, object]:
    """A SARIF 2.1.0 log with one run of custodes over ``findings``.

    ``base_dir`` is the checkout root: locations under it become relative POSIX URIs
    anchored at ``%SRCROOT%``, which is what code-scanning uploads expect. Locations
    outside it (or all of them when no base is given) keep their path as written, or
    become ``file://`` URIs when absolute.
    """
    rules, index = _rules(findings)
    results = [_result(f, index[f.rule_id], base_dir) for f in findings]
    run: dict[str, object] = {
        "tool": {
            "driver": {
                "name": "custodes",
                "informationUri": INFORMATION_URI,
                "version": tool_version,
                "semanticVersion": tool_version,
                "rules": rules,
            }
        },
        "results": results,
        "columnKind": "unicodeCodePoints",
    }
    if base_dir is not None:
        run["originalUriBaseIds"] = {_SRCROOT: {"uri": _dir_uri(base_dir)}}
    return {"$schema": SARIF_SCHEMA, "version": SARIF_VERSION, "runs": [run]}


def _rules(findings: Sequence[Finding]) -> tuple[list[dict[str, object]], dict[str, int]]:
    """One reportingDescriptor per rule id, sorted, and each id's index in the list."""
    by_rule: dict[str, list[Finding]] = {}
    for f in findings:
        by_rule.setdefault(f.rule_id, []).append(f)
    rules: list[dict[str, object]] = []
    index: dict[str, int] = {}
    for rule_id in sorted(by_rule):
        group = by_rule[rule_id]
        index[rule_id] = len(rules)
        rules.append(_rule(rule_id, group))
    return rules, index


def _rule(rule_id: str, group: Sequence[Finding]) -> dict[str, object]:
    catalog = load_catalog()
    threats = list(dict.fromkeys(t for f in group for t in f.threats))
    names: list[str] = []
    help_uri: str | None = None
    for tid in threats:
        canonical = catalog.resolve_threat_id(tid)
        if canonical is None:
            names.append(tid)
            continue
        threat = catalog.threats[canonical]
        names.append(f"{threat.name} ({threat.id})")
        help_uri = help_uri or threat.url or None
    first = group[0]
    worst = max((f.severity for f in group), key=lambda s: s.rank)
    if names:
        short = f"{_humanize(rule_id)}: evidence of {', '.join(names)}"
    else:
        short = f"{_humanize(rule_id)} ({first.category.value})"
    tags = ["security", first.category.value, *threats]
    tags += list(dict.fromkeys(a for f in group for a in f.atlas))
    rule: dict[str, object] = {
        "id": rule_id,
        "name": _pascal(rule_id),
        "shortDescription": {"text": short},
        "defaultConfiguration": {"level": _LEVEL[worst]},
        "properties": {
            "tags": list(dict.fromkeys(tags)),
            "security-severity": _SECURITY_SEVERITY[worst],
            "category": first.category.value,
        },
    }
    if help_uri:
        rule["helpUri"] = help_uri
    if first.remediation:
        rule["help"] = {"text": first.remediation}
    return rule


def _result(f: Finding, rule_index: int, base_dir: Path | None) -> dict[str, object]:
    result: dict[str, object] = {
        "ruleId": f.rule_id,
        "ruleIndex": rule_index,
        "level": _LEVEL[f.severity],
        "message": {"text": _message(f)},
        "partialFingerprints": {"custodes/v1": f.fingerprint},
    }
    props: dict[str, object] = {
        "severity": f.severity.value,
        "category": f.category.value,
        "threats": list(f.threats),
        "element": f.element,
        "atlas": list(f.atlas),
    }
    loc = f.location
    if loc is not None:
        artifact: dict[str, object] = {"uri": _uri(loc.path, base_dir)}
        if base_dir is not None and not _is_absolute_uri(str(artifact["uri"])):
            artifact["uriBaseId"] = _SRCROOT
        physical: dict[str, object] = {"artifactLocation": artifact}
        region = _region(loc.line, loc.column, loc.end_line)
        if region:
            physical["region"] = region
        result["locations"] = [{"physicalLocation": physical}]
        if loc.cell is not None:
            props.update(cell=loc.cell, cell_line=loc.cell_line, in_output=loc.in_output)
    for key, value in f.properties.items():
        props.setdefault(key, value)
    result["properties"] = props
    return result


def _message(f: Finding) -> str:
    """The message a viewer shows: what, the facts behind it, and how to clear it."""
    text = f.message.rstrip()
    if not text.endswith((".", "!", "?")):
        text += "."
    if f.facts:
        text += "\nFacts: " + "; ".join(f.facts) + "."
    if f.remediation:
        text += "\nTo clear: " + f.remediation.rstrip(".") + "."
    return text


def _region(line: int | None, column: int | None, end_line: int | None) -> dict[str, int]:
    if line is None or line < 1:
        return {}
    region = {"startLine": line}
    if column is not None and column >= 1:
        region["startColumn"] = column
    if end_line is not None and end_line >= line:
        region["endLine"] = end_line
    return region


def _uri(path: str, base_dir: Path | None) -> str:
    """A URI reference for a finding's path: relative to ``base_dir`` when inside it."""
    p = Path(path)
    if base_dir is not None:
        rel = _relative(p, base_dir)
        if rel is not None:
            return quote(rel.as_posix(), safe="/")
    if p.is_absolute():
        return p.as_uri()
    return quote(PurePath(path).as_posix(), safe="/")


def _relative(p: Path, base: Path) -> PurePath | None:
    # Lexically first (keeps symlinked checkouts as the user named them), then resolved.
    for left, right in ((p, base), (p.resolve(), base.resolve())):
        try:
            return left.relative_to(right)
        except ValueError:
            continue
    return None


def _dir_uri(base_dir: Path) -> str:
    uri = base_dir.resolve().as_uri()
    return uri if uri.endswith("/") else uri + "/"


def _is_absolute_uri(uri: str) -> bool:
    return uri.startswith("file:")


def _humanize(rule_id: str) -> str:
    """``TM-ACCEPTANCE-LAPSED`` -> ``Acceptance lapsed``: a readable rule title."""
    words = [w for w in rule_id.replace("_", "-").split("-") if w]
    if len(words) > 1 and words[0].isupper() and len(words[0]) <= 3:
        words = words[1:]
    text = " ".join(w.lower() for w in words)
    return text[:1].upper() + text[1:]


def _pascal(rule_id: str) -> str:
    return "".join(w.capitalize() for w in rule_id.replace("_", "-").split("-") if w)
