"""Helpers: build a Target the way the engine does and run one scanner on it."""

from __future__ import annotations

from pathlib import Path

from custodes.findings import Category, Finding
from custodes.scan.interface import HEAD_BYTES, ScanContext, Scanner, Target


def target_for(path: Path) -> Target:
    """A Target for ``path`` with its real head bytes."""
    with path.open("rb") as fh:
        head = fh.read(HEAD_BYTES)
    return Target(path=path, display=path.name, size=path.stat().st_size, head=head)


def run(scanner: Scanner, path: Path, *, wanted: bool = True) -> list[Finding]:
    """Check ``wants`` and return the findings, checking the common contract on each."""
    target = target_for(path)
    assert scanner.wants(target) is wanted
    findings = list(scanner.scan(target, ScanContext()))
    for f in findings:
        assert f.category is Category.ARTIFACT
        assert f.location is not None
        assert f.location.path == path.name
        assert "SUPPLYMODELPOISON" in f.threats
        assert f.remediation
        assert set(f.properties) == {"format", "detail"}
    return findings


def rules(findings: list[Finding]) -> set[tuple[str, str]]:
    """(rule id, severity) pairs, for compact assertions."""
    return {(f.rule_id, f.severity.value) for f in findings}
