"""Run the scanners over files: in parallel, bounded, with pragmas applied.

Files are split into batches handed to worker processes (two cores scan twice as
fast, and a scanner that crashes on one file loses that file only). A scanner's bug
becomes a finding that says so rather than aborting the scan: a security scan that
stops at the first odd file hides everything after it.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path

from custodes.errors import CustodesError
from custodes.findings import Category, Finding, Location, RuleId, Severity
from custodes.scan import registry as scanner_registry
from custodes.scan.interface import ScanContext, Scanner, Target
from custodes.scan.pragma import silenced
from custodes.scan.registry import load_scanners

__all__ = ["ScanResult", "scan_targets"]

BATCH_FILES = 64
BATCH_BYTES = 64 * 1024 * 1024
#: Below this many files a pool costs more to start than it saves.
PARALLEL_FROM = 48


@dataclass(frozen=True)
class ScanResult:
    """What a scan found, and what it could not look at."""

    findings: tuple[Finding, ...]
    files: int
    bytes: int
    scanners: tuple[str, ...]
    skipped_scanners: tuple[str, ...] = ()
    silenced: int = 0
    """Findings silenced by an inline pragma."""
    baselined: int = 0
    """Findings already recorded in the baseline."""
    errors: tuple[str, ...] = field(default_factory=tuple)


def _line_text(path: Path, line: int, cache: dict[Path, list[bytes]]) -> str:
    if path not in cache:
        try:
            with path.open("rb") as fh:
                cache[path] = fh.read(64 * 1024 * 1024).splitlines()
        except OSError:
            cache[path] = []
    lines = cache[path]
    if 0 < line <= len(lines):
        return lines[line - 1].decode("utf-8", "replace")
    return ""


_LOADED: dict[tuple[object, ...], list[Scanner]] = {}


def _scanners(
    only: set[str] | None, skip: set[str] | None, registry: tuple[tuple[str, str], ...] | None
) -> list[Scanner]:
    """Scanners for this process, built once: some compile pattern databases on start."""
    entries = registry if registry is not None else scanner_registry.SCANNERS
    key = (frozenset(only or ()), frozenset(skip or ()), entries)
    if key not in _LOADED:
        _LOADED[key] = load_scanners(only, skip, entries)[0]
    return _LOADED[key]


def _scan_batch(
    batch: Sequence[Target],
    ctx: ScanContext,
    only: set[str] | None,
    skip: set[str] | None,
    registry: tuple[tuple[str, str], ...] | None = None,
) -> tuple[list[Finding], int]:
    scanners = _scanners(only, skip, registry)
    found: list[Finding] = []
    silenced_count = 0
    cache: dict[Path, list[bytes]] = {}
    for target in batch:
        for scanner in scanners:
            try:
                if not scanner.wants(target):
                    continue
                results = list(scanner.scan(target, ctx))
            except CustodesError as exc:
                results = [
                    _problem(target, scanner.name, exc.message, Severity.LOW, "SCAN-UNREADABLE")
                ]
            except Exception as exc:  # a scanner bug must not end the scan
                results = [
                    _problem(
                        target,
                        scanner.name,
                        f"scanner {scanner.name} failed on this file ({type(exc).__name__}: {exc}); "
                        "it was not fully inspected",
                        Severity.MEDIUM,
                        "SCAN-INTERNAL-ERROR",
                    )
                ]
            for f in results:
                loc = f.location
                if (
                    loc is not None
                    and loc.line
                    and silenced(_line_text(target.path, loc.line, cache), f.rule_id)
                ):
                    silenced_count += 1
                    continue
                found.append(f)
        cache.clear()
    return found, silenced_count


def _isolate(
    batch: Sequence[Target],
    ctx: ScanContext,
    only: set[str] | None,
    skip: set[str] | None,
    registry: tuple[tuple[str, str], ...] | None,
) -> tuple[list[Finding], int]:
    """Rescan a batch whose worker died, halving it until the file that kills it is alone.

    A broken pool fails every batch still in flight, innocent ones included; each is
    retried whole in a fresh process first, so the cost is a few processes per culprit,
    not one per file.
    """
    try:
        with ProcessPoolExecutor(
            max_workers=1, mp_context=multiprocessing.get_context("spawn")
        ) as solo:
            return solo.submit(_scan_batch, batch, ctx, only, skip, registry).result()
    except BrokenProcessPool:
        if len(batch) == 1:
            crashed = _problem(
                batch[0],
                "artifacts",
                "the scanner process died while reading this file (a parser crash or the "
                "memory limit); treat the file as hostile and do not load it",
                Severity.HIGH,
                "SCAN-CRASHED",
            )
            return [crashed], 0
    mid = len(batch) // 2
    left = _isolate(batch[:mid], ctx, only, skip, registry)
    right = _isolate(batch[mid:], ctx, only, skip, registry)
    return left[0] + right[0], left[1] + right[1]


def _problem(target: Target, scanner: str, message: str, severity: Severity, rule: str) -> Finding:
    return Finding(
        rule_id=RuleId(rule),
        category=Category.ARTIFACT if scanner.startswith("artifacts") else Category.DEPENDENCY,
        severity=severity,
        message=message,
        location=Location(path=target.display),
        subject=scanner,
    )


def _batches(targets: Iterable[Target]) -> Iterable[list[Target]]:
    batch: list[Target] = []
    size = 0
    for t in targets:
        batch.append(t)
        size += t.size
        if len(batch) >= BATCH_FILES or size >= BATCH_BYTES:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


def scan_targets(
    targets: Sequence[Target],
    ctx: ScanContext,
    *,
    only: set[str] | None = None,
    skip: set[str] | None = None,
    jobs: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    registry: tuple[tuple[str, str], ...] | None = None,
) -> ScanResult:
    """Scan files; ``progress(files_done, bytes_done)`` is called as batches finish.

    Workers are spawned, not forked: forking a process that runs threads (a notebook
    kernel, JAX, a server) can deadlock the child, and a scan must never hang.
    """
    scanners, missing = load_scanners(only, skip, registry)
    jobs = jobs or os.cpu_count() or 1
    findings: list[Finding] = []
    silenced_total = 0
    done_files = done_bytes = 0
    batches = list(_batches(targets))
    if jobs > 1 and len(targets) >= PARALLEL_FROM and len(batches) > 1:
        with ProcessPoolExecutor(
            max_workers=jobs, mp_context=multiprocessing.get_context("spawn")
        ) as pool:
            futures = [(b, pool.submit(_scan_batch, b, ctx, only, skip, registry)) for b in batches]
            for batch, fut in futures:
                try:
                    got, quiet = fut.result()
                except BrokenProcessPool:
                    # A worker died (a C parser crashed, the kernel killed it): find the file
                    # that does it, one process per file, and keep every other result.
                    got, quiet = _isolate(batch, ctx, only, skip, registry)
                findings.extend(got)
                silenced_total += quiet
                done_files += len(batch)
                done_bytes += sum(t.size for t in batch)
                if progress:
                    progress(done_files, done_bytes)
    else:
        for batch in batches:
            got, quiet = _scan_batch(batch, ctx, only, skip, registry)
            findings.extend(got)
            silenced_total += quiet
            done_files += len(batch)
            done_bytes += sum(t.size for t in batch)
            if progress:
                progress(done_files, done_bytes)
    findings.sort(
        key=lambda f: (
            f.location.path if f.location else "",
            f.location.line or 0 if f.location else 0,
            -f.severity.rank,
            f.rule_id,
        )
    )
    return ScanResult(
        findings=tuple(findings),
        files=len(targets),
        bytes=sum(t.size for t in targets),
        scanners=tuple(s.name for s in scanners),
        skipped_scanners=tuple(missing),
        silenced=silenced_total,
    )
