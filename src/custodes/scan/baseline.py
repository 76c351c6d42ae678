"""Baselines: start clean, fail only on new leaks.

A baseline records the findings a team has triaged, keyed so that a finding stays the
same finding when lines move or the scan is started from another directory: the key is
the rule, the file relative to the baseline's own directory, the notebook cell, and the
finding's subject (a digest of the secret, never the secret).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from custodes import __version__
from custodes.errors import InputError
from custodes.findings import Finding

__all__ = ["baseline_key", "filter_new", "read_baseline", "write_baseline"]

FORMAT = "custodes-baseline"
VERSION = 1


def baseline_key(finding: Finding, base_dir: Path) -> str:
    """The identity of a finding across runs, independent of line numbers and cwd."""
    loc = finding.location
    rel = ""
    if loc is not None:
        where = Path(loc.path.split("@", 1)[0])
        try:
            rel = where.resolve().relative_to(base_dir.resolve()).as_posix()
        except ValueError:
            rel = where.as_posix()
    parts = [
        finding.rule_id,
        rel,
        str(loc.cell) if loc is not None and loc.cell is not None else "",
        finding.subject or finding.message,
    ]
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


def read_baseline(path: Path) -> frozenset[str]:
    """Keys recorded in a baseline file; a missing or foreign file is exit 2."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(
            "baseline file not found", path=path, hint="create it with --update-baseline"
        ) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"not a readable baseline: {exc}", path=path) from None
    if (
        not isinstance(doc, dict)
        or doc.get("format") != FORMAT
        or not isinstance(doc.get("findings"), list)
    ):
        raise InputError(f"not a {FORMAT} file", path=path)
    keys = set()
    for i, entry in enumerate(doc["findings"]):
        if not isinstance(entry, dict) or not isinstance(entry.get("key"), str):
            raise InputError(f"entry {i} has no key", path=path)
        keys.add(entry["key"])
    return frozenset(keys)


def write_baseline(path: Path, findings: Sequence[Finding]) -> None:
    """Record findings as triaged; entries carry rule and place to make review possible."""
    base = path.parent
    entries = sorted(
        (
            {
                "key": baseline_key(f, base),
                "rule_id": f.rule_id,
                "path": f.location.path if f.location else None,
                "line": f.location.line if f.location else None,
            }
            for f in findings
        ),
        key=lambda e: (str(e["path"]), str(e["rule_id"]), str(e["key"])),
    )
    doc = {
        "format": FORMAT,
        "version": VERSION,
        "generated_by": f"custodes {__version__}",
        "generated_at": datetime.now(UTC).replace(microsecond=0).isoformat(),
        "findings": entries,
    }
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot write baseline: {exc.strerror}", path=path) from None


def filter_new(findings: Iterable[Finding], keys: frozenset[str], base_dir: Path) -> list[Finding]:
    """Findings not in the baseline."""
    return [f for f in findings if baseline_key(f, base_dir) not in keys]
