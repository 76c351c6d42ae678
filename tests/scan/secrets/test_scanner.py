"""SecretsScanner over real files: notebooks written by nbformat, plain text, fallbacks."""

from __future__ import annotations

import base64
import json
import random
from pathlib import Path

import nbformat
import pytest

from custodes.findings import Category
from custodes.scan.interface import HEAD_BYTES, Limits, ScanContext, Target
from custodes.scan.secrets import SecretsScanner, find_secrets, secret_findings

from .helpers import load_generator

gen = load_generator()
SCANNER = SecretsScanner()


def _target(path: Path, display: str | None = None) -> Target:
    data = path.read_bytes()
    return Target(path, display or path.name, len(data), data[:HEAD_BYTES])


def _token(seed: int) -> str:
    return str(gen.KINDS["github"][0](random.Random(seed)))


def _line_of(path: Path, needle: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if needle in line)


def _write_nb(tmp_path: Path, nb: nbformat.NotebookNode) -> Path:
    path = tmp_path / "leak.ipynb"
    path.write_text(nbformat.writes(nb), encoding="utf-8")
    return path


@pytest.mark.parametrize("form", ["list", "string"])
def test_key_in_cell_source(tmp_path: Path, form: str) -> None:
    key = _token(1)
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# title"), nbformat.v4.new_code_cell("x = 1")]
    src = ["import os\n", f'TOKEN = "{key}"\n', "print(1)"]
    nb.cells[1].source = src if form == "list" else "".join(src)
    path = _write_nb(tmp_path, nb)
    [f] = SCANNER.scan(_target(path), ScanContext())
    loc = f.location
    assert loc is not None
    assert f.category is Category.SECRET
    assert (loc.cell, loc.cell_line, loc.in_output) == (1, 2, False)
    assert loc.line == _line_of(path, key)
    assert key not in f.message


def _output_nb(tmp_path: Path, output: nbformat.NotebookNode) -> tuple[Path, int]:
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("run()")
    cell.outputs = [output]
    nb.cells = [nbformat.v4.new_code_cell("import x"), cell]
    return _write_nb(tmp_path, nb), 1


def test_key_in_stream_output(tmp_path: Path) -> None:
    key = _token(2)
    out = nbformat.v4.new_output("stream", name="stdout", text=["step 1\n", f"token {key}\n"])
    path, cell = _output_nb(tmp_path, out)
    [f] = SCANNER.scan(_target(path), ScanContext())
    assert f.location is not None
    assert (f.location.cell, f.location.in_output, f.location.cell_line) == (cell, True, 2)
    assert f.location.line == _line_of(path, key)


def test_key_in_ansi_traceback(tmp_path: Path) -> None:
    key = _token(3)
    tb = ["\x1b[0;31m----\x1b[0m", f"\x1b[0;31mValueError\x1b[0m: bad \x1b[1;32m{key}\x1b[0m"]
    out = nbformat.v4.new_output("error", ename="ValueError", evalue="bad", traceback=tb)
    path, cell = _output_nb(tmp_path, out)
    [f] = SCANNER.scan(_target(path), ScanContext())
    assert f.location is not None
    assert f.location.in_output
    assert f.location.cell == cell


def test_key_in_html_next_to_png(tmp_path: Path) -> None:
    key = _token(4)
    png = base64.b64encode(random.Random(4).randbytes(30_000)).decode()
    data = {"image/png": png, "text/html": f"<b>key</b> {key}"}
    path, _ = _output_nb(tmp_path, nbformat.v4.new_output("display_data", data=data))
    [f] = SCANNER.scan(_target(path), ScanContext())
    assert f.location is not None
    assert f.location.in_output
    assert f.location.line == _line_of(path, key)


def test_key_in_widget_state(tmp_path: Path) -> None:
    key = _token(5)
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("w")]
    nb.metadata["widgets"] = {
        "application/vnd.jupyter.widget-state+json": {
            "state": {"abc": {"model_name": "TextModel", "state": {"value": key}}},
            "version_major": 2,
            "version_minor": 0,
        }
    }
    path = _write_nb(tmp_path, nb)
    [f] = SCANNER.scan(_target(path), ScanContext())
    assert f.location is not None
    assert f.location.cell is None
    assert f.location.line == _line_of(path, key)


def test_key_split_across_source_elements(tmp_path: Path) -> None:
    key = _token(6)
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("")]
    nb.cells[0].source = ["import os\n", f'T = "{key[:20]}', f'{key[20:]}"\n']
    path = _write_nb(tmp_path, nb)
    [f] = SCANNER.scan(_target(path), ScanContext())
    assert f.location is not None
    assert f.location.line == _line_of(path, key[:20])
    assert find_secrets(path.read_text()) == []  # the raw JSON alone would miss it


def test_malformed_notebook_falls_back_to_raw_text(tmp_path: Path) -> None:
    key = _token(7)
    path = tmp_path / "broken.ipynb"
    path.write_text('{"cells": [{"source": ["T = \\"' + key + '\\"\\n"]', encoding="utf-8")
    [f] = SCANNER.scan(_target(path), ScanContext())
    assert f.location is not None
    assert f.location.line == 1
    assert f.location.cell is None


def test_plain_file_line_and_column(tmp_path: Path) -> None:
    key = _token(8)
    path = tmp_path / "train.py"
    path.write_text(f"import os\n\nclient = Github('{key}')\n", encoding="utf-8")
    [f] = SCANNER.scan(_target(path, "repo/train.py"), ScanContext())
    assert f.location is not None
    assert (f.location.path, f.location.line, f.location.column) == ("repo/train.py", 3, 18)
    assert f.subject
    assert key not in f.subject
    assert key not in f.message
    assert f.threats
    assert f.remediation


def test_reads_at_most_max_text_bytes(tmp_path: Path) -> None:
    key = _token(9)
    path = tmp_path / "big.txt"
    path.write_text("x" * 5000 + f"\nT = '{key}'\n", encoding="utf-8")
    assert list(SCANNER.scan(_target(path), ScanContext(limits=Limits(max_text_bytes=4096)))) == []
    assert len(list(SCANNER.scan(_target(path), ScanContext()))) == 1


@pytest.mark.parametrize(
    ("name", "content", "wanted"),
    [
        ("train.py", b"x", True),
        ("nb.ipynb", b"{}", True),
        (".env.production", b"A=1", True),
        ("Dockerfile", b"FROM x", True),
        (".netrc", b"machine x", True),
        ("main.tf", b"x", True),
        ("q.sql", b"x", True),
        ("analysis.R", b"x", True),
        ("deploy_key", b"-----BEGIN", True),
        ("weights", b"\x80\x04\x95\x00\x00", False),
        ("model.safetensors", b"\x08\x00", False),
        ("img.png", b"\x89PNG", False),
    ],
)
def test_wants(tmp_path: Path, name: str, content: bytes, wanted: bool) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    assert SCANNER.wants(_target(path)) is wanted


def test_secret_findings_with_line_map() -> None:
    key = _token(10)
    text = f"a\nb = '{key}'\n"
    [f] = secret_findings(
        find_secrets(text),
        text,
        display_path="n.ipynb",
        line_offset_map=(10, 11),
        cell=2,
        in_output=True,
    )
    assert f.location is not None
    assert (f.location.line, f.location.cell, f.location.cell_line) == (11, 2, 2)
    assert json.dumps(f.message).find(key) == -1
