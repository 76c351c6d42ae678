"""The README's CLI tour works when pasted: every line runs, none is bad usage or a crash."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import REPO


def _tour() -> list[str]:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split("## A tour of the CLI", 1)[1]
    block = re.search(r"```sh\n(.*?)```", section, re.S)
    assert block, "the tour has a sh block"
    return [
        line
        for line in block.group(1).splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]


@pytest.mark.slow
def test_readme_tour_runs(tmp_path: Path) -> None:
    bindir = Path(sys.executable).parent
    if not (bindir / "custodes").exists():
        pytest.fail(
            "custodes console script not installed in the test environment (make test installs it)"
        )
    env = {**os.environ, "PATH": f"{bindir}{os.pathsep}{os.environ['PATH']}", "COLUMNS": "100"}
    setup = subprocess.run(
        ["custodes", "demo", "demo-output"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert setup.returncode == 0, setup.stderr
    lines = _tour()
    assert len(lines) > 10
    for line in lines:
        # Keep the tour's /tmp project inside this test's directory.
        line = line.replace("/tmp/my-project", str(tmp_path / "my-project"))
        proc = subprocess.run(
            ["bash", "-o", "pipefail", "-c", line],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        assert proc.returncode in (0, 1, 141), (
            f"{line!r} exited {proc.returncode}: {proc.stderr[-500:]}"
        )
        assert "Traceback" not in proc.stderr, line
        assert "internal error" not in proc.stderr, line


def test_readme_yaml_example_is_a_valid_system_model() -> None:
    from custodes.system import parse_system

    text = (REPO / "README.md").read_text(encoding="utf-8")
    block = (
        text.split("## custodes.yaml in brief", 1)[1].split("```yaml\n", 1)[1].split("```", 1)[0]
    )
    model = parse_system(block).model
    assert model.controls[0].response is not None
    assert (
        model.controls[0].response.escalation
        == "security on-call, then the clinical safety officer"
    )
    assert [d.id for d in model.data_checks] == ["weekly-upload"]
