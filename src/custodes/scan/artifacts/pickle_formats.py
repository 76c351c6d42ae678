"""Model files that are pickles inside: raw pickle, joblib, PyTorch, NumPy; one scanner.

Each container is opened without trusting it (``mmap`` plus :mod:`zipsafe`, streaming
decompression with a bound, :mod:`tarfile` listing without extraction), every pickle in
it is walked by :mod:`pickle_walk`, and every imported callable is judged by
:mod:`policy`. Tensor storage is never read: a torch checkpoint costs its central
directory and its ``data.pkl``, whatever the size of the weights.

This module is the scanner and the dispatch on the sniffed format; the container
readers are in :mod:`pickle_containers`, joblib's streams in :mod:`joblib_source`, and
the walk-to-findings step in :mod:`pickle_report`.
"""

from __future__ import annotations

import mmap
from collections.abc import Iterator
from pathlib import Path

from custodes.findings import Finding
from custodes.scan.artifacts.pickle_containers import (
    scan_joblib,
    scan_npy,
    scan_tar,
    scan_torch_legacy,
    scan_zip,
)
from custodes.scan.artifacts.pickle_report import REMEDIATION, THREATS, Report
from custodes.scan.artifacts.pickle_walk import BufferSource
from custodes.scan.artifacts.sniff import Format, sniff
from custodes.scan.interface import Limits, ScanContext, Scanner, Target

__all__ = ["HANDLED", "REMEDIATION", "THREATS", "PickleArtifactScanner", "scan_path"]

HANDLED = frozenset(
    {Format.PICKLE, Format.JOBLIB, Format.TORCH_ZIP, Format.TORCH_TAR, Format.TORCH_LEGACY}
    | {Format.NUMPY, Format.NUMPY_ZIP, Format.ZIP, Format.TAR}
)
"""Formats whose bytes may hold a pickle, so this scanner wants them."""


class PickleArtifactScanner(Scanner):
    """Pickle-bearing model files, found by content: pickle, joblib, torch, npy/npz."""

    name = "artifacts-pickle"

    def wants(self, target: Target) -> bool:
        """True for any format whose bytes may hold a pickle (never by extension)."""
        return sniff(target.head, target.path) in HANDLED

    def scan(self, target: Target, ctx: ScanContext) -> Iterator[Finding]:
        """Walk every pickle in the file; yield policy and structure findings."""
        yield from scan_path(target.path, target.display, ctx.limits, head=target.head)


def scan_path(
    path: Path,
    display: str | None = None,
    limits: Limits | None = None,
    *,
    head: bytes | None = None,
) -> list[Finding]:
    """All findings for one file; never raises on hostile content."""
    lim = limits or Limits()
    if head is None:
        with path.open("rb") as fh:
            head = fh.read(8192)
    fmt = sniff(head, path)
    rep = Report(display or str(path), fmt)
    if path.stat().st_size == 0 or fmt not in HANDLED:
        return rep.findings
    with path.open("rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        if fmt is Format.PICKLE:
            rep.walk(BufferSource(mm), lim)
        elif fmt is Format.JOBLIB:
            scan_joblib(mm, rep, lim)
        elif fmt is Format.TORCH_LEGACY:
            scan_torch_legacy(mm, rep, lim)
        elif fmt is Format.NUMPY:
            scan_npy(mm, rep, lim, None)
        elif fmt in (Format.TORCH_ZIP, Format.NUMPY_ZIP, Format.ZIP):
            scan_zip(mm, rep, lim)
    if fmt in (Format.TORCH_TAR, Format.TAR):
        scan_tar(path, rep, lim)
    return rep.findings
