"""Shared fixtures: run the CLI in-process and write system models to temp projects."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest

from custodes.cli.main import main

pytest_plugins = ["tests.pgserver"]

TODAY = date(2026, 11, 26)
REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "src" / "custodes" / "demo" / "examples"


@dataclass
class Result:
    """Outcome of one in-process CLI run."""

    code: int
    out: str
    err: str


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., Result]:
    """Call ``custodes ARGS`` in-process; return exit code, stdout and stderr."""

    def run(*args: str) -> Result:
        capsys.readouterr()
        code = main([str(a) for a in args])
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run


@pytest.fixture
def write_system(tmp_path: Path) -> Callable[[str], Path]:
    """Write dedented YAML as tmp_path/custodes.yaml and return its path."""

    def write(text: str) -> Path:
        path = tmp_path / "custodes.yaml"
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return path

    return write
