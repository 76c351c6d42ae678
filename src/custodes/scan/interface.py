"""What a scanner is: it reads bytes and yields findings, and never executes them.

Every scanner (credentials, model artifacts, unsafe code, notebook governance) gets a
:class:`Target` (where the file is, how to report it, its first bytes for format
sniffing) and a :class:`ScanContext` (limits and facts about the project), and yields
:class:`~custodes.findings.Finding` objects. The engine decides which files exist,
applies pragmas and baselines, and renders; scanners only look.

Rules of the house for scanners:
- never ``pickle.load``, ``torch.load``, ``yaml.load``, ``eval``, import or run what is read;
- bound time and memory (``ScanContext.limits``): a hostile file is a finding, never a
  crash, a hang or an out-of-memory;
- put the secret or payload nowhere in a finding except redacted (``redact``).
"""

from __future__ import annotations

import abc
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from custodes.findings import Finding

__all__ = ["HEAD_BYTES", "Limits", "ScanContext", "Scanner", "Target"]

HEAD_BYTES = 8192


@dataclass(frozen=True)
class Limits:
    """Bounds every scanner honours, so hostile input costs a finding and no more."""

    max_text_bytes: int = 32 * 1024 * 1024
    """Text files (code, configs, notebooks) larger than this are read only this far."""
    max_pickle_bytes: int = 256 * 1024 * 1024
    """Pickle streams are walked at most this far."""
    max_pickle_ops: int = 5_000_000
    max_archive_members: int = 10_000
    max_decompressed_bytes: int = 2 * 1024 * 1024 * 1024
    """Total bytes a compressed member may expand to before it is called a bomb."""
    max_compression_ratio: int = 200
    max_nesting: int = 8
    """Archives inside archives, pickles inside pickles."""


@dataclass(frozen=True)
class Target:
    """One file to scan."""

    path: Path
    """Where to read it."""
    display: str
    """How to report it: the path as given on the command line joined with the path below."""
    size: int
    head: bytes
    """The first :data:`HEAD_BYTES` bytes, for detecting the format from content."""

    @property
    def suffix(self) -> str:
        """Lower-case extension, a hint only: formats are detected from content."""
        return self.path.suffix.lower()


@dataclass(frozen=True)
class ScanContext:
    """Limits and project facts shared by all scanners of one run."""

    limits: Limits = field(default_factory=Limits)
    repo_root: Path | None = None
    """Root of the git repository being scanned, when there is one."""
    git_tracked: frozenset[str] | None = None
    """Paths (relative to ``repo_root``, POSIX) that git tracks; None when not a repo."""


class Scanner(abc.ABC):
    """One kind of look at a file; subclasses register in ``custodes.scan.registry``."""

    name: ClassVar[str]
    """Short name used in ``--only``/``--skip`` and in reports (e.g. ``secrets``)."""

    @abc.abstractmethod
    def wants(self, target: Target) -> bool:
        """Whether this scanner has anything to say about the file (cheap: head and name)."""

    @abc.abstractmethod
    def scan(self, target: Target, ctx: ScanContext) -> Iterator[Finding]:
        """Read the file (bounded by ``ctx.limits``) and yield findings."""
