"""Which files a scan reads, and how each is named in reports.

Paths are reported as given on the command line joined with the path below it, so
``custodes scan repo/`` reports ``repo/notebooks/x.ipynb`` and editors, SARIF viewers and
baselines all agree. Symbolic links are not followed: a link that points outside the
scanned tree would make the scan read what nobody asked it to.
"""

from __future__ import annotations

import os
import stat
import subprocess
from collections.abc import Iterable, Iterator
from pathlib import Path

from custodes.errors import InputError
from custodes.scan.interface import HEAD_BYTES, Target

__all__ = ["SKIP_DIRS", "collect_targets", "git_tracked"]

SKIP_DIRS = frozenset(
    {
        ".git",
        ".hg",
        # custodes' own state (governance store, audit-log key, witness head): never
        # committed (registry init writes .custodes/.gitignore) and not project content.
        ".custodes",
        ".svn",
        ".venv",
        "venv",
        "node_modules",
        "__pycache__",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        ".tox",
        ".ipynb_checkpoints",
        "site-packages",
    }
)


def _target(path: Path, display: str) -> Target | None:
    try:
        st = path.lstat()
        if not stat.S_ISREG(st.st_mode):
            return None
        with path.open("rb") as fh:
            head = fh.read(HEAD_BYTES)
    except OSError:
        return None
    return Target(path=path, display=display, size=st.st_size, head=head)


def collect_targets(paths: Iterable[Path]) -> Iterator[Target]:
    """Every regular file under the given paths, in a stable order."""
    for given in paths:
        if given.is_symlink() and given.is_file():
            continue
        if given.is_file():
            t = _target(given, str(given))
            if t is not None:
                yield t
            continue
        if not given.is_dir():
            raise InputError("no such file or directory", path=given)
        for dirpath, dirnames, filenames in os.walk(given, followlinks=False):
            dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS)
            for name in sorted(filenames):
                full = Path(dirpath, name)
                if full.is_symlink():
                    continue
                rel = full.relative_to(given)
                display = str(given / rel) if str(given) != "." else str(rel)
                t = _target(full, display)
                if t is not None:
                    yield t


def git_tracked(path: Path) -> tuple[Path, frozenset[str]] | None:
    """The git work tree holding ``path`` and the files git tracks there, or None."""
    start = path if path.is_dir() else path.parent
    try:
        # git with fixed arguments; the path is data, never a shell string.
        top = subprocess.run(  # noqa: S603
            ["git", "-C", str(start), "rev-parse", "--show-toplevel"],  # noqa: S607
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        if top.returncode != 0:
            return None
        root = Path(top.stdout.strip())
        listed = subprocess.run(  # noqa: S603
            ["git", "-C", str(root), "ls-files", "-z"],  # noqa: S607
            capture_output=True,
            timeout=120,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if listed.returncode != 0:
        return None
    names = frozenset(n.decode("utf-8", "surrogateescape") for n in listed.stdout.split(b"\0") if n)
    return root, names
