"""The example projects `custodes demo` writes: real system models, shipped as package data."""

from __future__ import annotations

import shutil
from importlib import resources
from importlib.abc import Traversable
from pathlib import Path

from custodes.demo.artifacts import write_artifacts

__all__ = ["example_names", "write_examples"]


def _root() -> Traversable:
    return resources.files("custodes.demo").joinpath("examples")


def example_names() -> list[str]:
    """Names of the bundled example projects, sorted."""
    return sorted(p.name for p in _root().iterdir() if p.is_dir() and not p.name.startswith("_"))


def _copy(src: Traversable, dest: Path) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    for item in src.iterdir():
        if item.name.startswith("__"):
            continue
        target = dest / item.name
        if item.is_dir():
            _copy(item, target)
        else:
            with resources.as_file(item) as path:
                shutil.copyfile(path, target)


def write_examples(dest: Path, names: list[str] | None = None) -> list[Path]:
    """Write example projects under ``dest``; return their directories.

    Existing files of the same name are overwritten, other files are left alone, so a
    demo directory can be refreshed without losing a user's notes in it.
    """
    written = []
    for name in names or example_names():
        target = dest / name
        _copy(_root().joinpath(name), target)
        write_artifacts(target)
        written.append(target)
    return written
