"""The diagnostic loop for a whole project: run every analyzer that exists, one result.

Later capabilities (scanners, data checks, provenance, gates, monitors) add their
results here; the report renders whatever is present. ``assess`` decides nothing the
analyzers did not: it gathers, it does not re-judge.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from custodes.errors import InputError
from custodes.findings import Finding
from custodes.system.loader import load_system
from custodes.threatmodel import ThreatModel, analyze

__all__ = ["SYSTEM_FILE", "Assessment", "assess", "find_system_file"]

SYSTEM_FILE = "custodes.yaml"


@dataclass(frozen=True)
class Assessment:
    """Everything custodes found about one project."""

    project: Path
    threat_model: ThreatModel | None
    findings: tuple[Finding, ...]
    analyzers: tuple[str, ...]
    """Names of the analyzers that ran, in order."""
    skipped: tuple[str, ...] = field(default_factory=tuple)
    """Analyzers that did not run, each with the reason."""
    assessed_on: date = field(default_factory=date.today)


def find_system_file(path: Path) -> Path:
    """The custodes.yaml of a project given as a directory or as the file itself."""
    if path.is_dir():
        candidate = path / SYSTEM_FILE
        if not candidate.exists():
            raise InputError(
                f"no {SYSTEM_FILE} here",
                path=path,
                hint="write one with: custodes init " + str(path),
            )
        return candidate
    if not path.exists():
        raise InputError("no such file or directory", path=path)
    return path


def assess(project: Path, *, today: date | None = None) -> Assessment:
    """Run every available analyzer on a project directory."""
    today = today or date.today()
    system_file = find_system_file(project)
    root = system_file.parent
    tm = analyze(load_system(system_file), today=today, root=root)
    return Assessment(
        project=root,
        threat_model=tm,
        findings=tm.findings,
        analyzers=("threat-model",),
        assessed_on=today,
    )
