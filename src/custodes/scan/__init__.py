"""Static scanners that read and never execute: credentials, model files, code, notebooks.

``run_scan`` is the one entry point the CLI, ``assess`` and the server share: it finds the
files, runs the scanners in parallel, applies pragmas, the baseline and (optionally) the
git history walk, and returns a :class:`ScanResult`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

from custodes.scan.baseline import filter_new, read_baseline
from custodes.scan.engine import ScanResult, scan_targets
from custodes.scan.interface import Limits, ScanContext, Scanner, Target
from custodes.scan.targets import collect_targets, git_tracked

__all__ = ["Limits", "ScanContext", "ScanResult", "Scanner", "Target", "run_scan"]


def run_scan(
    paths: Sequence[Path],
    *,
    only: set[str] | None = None,
    skip: set[str] | None = None,
    baseline: Path | None = None,
    history: bool = False,
    jobs: int | None = None,
    progress: Callable[[int, int, int, int], None] | None = None,
    registry: tuple[tuple[str, str], ...] | None = None,
) -> ScanResult:
    """Scan files and directories; ``progress(files, total_files, bytes, total_bytes)``."""
    targets = list(collect_targets(paths))
    repo = git_tracked(paths[0]) if paths else None
    ctx = ScanContext(
        limits=Limits(),
        repo_root=repo[0] if repo else None,
        git_tracked=repo[1] if repo else None,
    )
    total_files = len(targets)
    total_bytes = sum(t.size for t in targets)
    result = scan_targets(
        targets,
        ctx,
        only=only,
        skip=skip,
        jobs=jobs,
        progress=(lambda f, b: progress(f, total_files, b, total_bytes)) if progress else None,
        registry=registry,
    )
    findings = list(result.findings)
    if history and repo is not None and (not only or "secrets" in only):
        from custodes.scan.history import history_findings
        from custodes.scan.secrets import find_secrets

        present = frozenset(
            f.subject for f in findings if f.subject and f.rule_id.startswith("SECRET-")
        )
        root = repo[0]
        given = paths[0] if paths[0].is_dir() else paths[0].parent
        try:
            display_root = _display_root(given, root)
        except ValueError:
            display_root = str(root)
        findings.extend(history_findings(root, display_root, present, find_secrets))
    baselined = 0
    if baseline is not None:
        keys = read_baseline(baseline)
        kept = filter_new(findings, keys, baseline.parent)
        baselined = len(findings) - len(kept)
        findings = kept
    return replace(result, findings=tuple(findings), baselined=baselined)


def _display_root(given: Path, root: Path) -> str:
    """How to name the repository root in reports, relative to what the user gave."""
    given_abs = given.resolve()
    if given_abs == root:
        return str(given)
    rel = Path(*[".."] * len(given_abs.relative_to(root).parts))
    return str(given / rel)
