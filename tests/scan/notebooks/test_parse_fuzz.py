"""Fuzz notebook_segments with mutated real notebooks: only NotebookError may escape."""

from __future__ import annotations

import json
from typing import Any

import nbformat
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from custodes.scan.notebooks.parse import NotebookError, notebook_segments

MAX = 1024 * 1024


def _seed() -> str:
    out = [
        new_output("stream", name="stdout", text="a\nb\n"),
        new_output("display_data", data={"image/png": "iVBORw0KGgo=", "text/plain": "fig"}),
        new_output("error", ename="E", evalue="v", traceback=["\x1b[31mE\x1b[0m", "x\ny"]),
        new_output("execute_result", data={"application/json": {"k": [1, "v"]}}),
    ]
    nb = new_notebook(
        cells=[new_markdown_cell("# t\ntext"), new_code_cell("x = 1\ny = 'é'", outputs=out)]
    )
    nb.metadata["widgets"] = {"state": {"w": {"value": "s"}}}
    return str(nbformat.writes(nb))


SEED = _seed()
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


def check(data: bytes) -> None:
    """Run the parser; check the invariants of every segment it returns."""
    try:
        segments = notebook_segments(data, max_bytes=MAX)
    except NotebookError:
        return
    lines = data.count(b"\n") + 1
    for seg in segments:
        assert len(seg.line_map) == seg.text.count("\n") + 1
        assert all(1 <= n <= lines for n in seg.line_map)
        for offset in (0, len(seg.text) // 2, len(seg.text)):
            line, cell_line = seg.file_position(offset)
            assert 1 <= line <= lines
            assert cell_line >= 1


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_byte_mutations(data: st.DataObject) -> None:
    raw = bytearray(SEED.encode())
    for _ in range(data.draw(st.integers(1, 6))):
        op = data.draw(st.sampled_from(["delete", "insert", "flip", "dup"]))
        at = data.draw(st.integers(0, len(raw)))
        if op == "delete":
            del raw[at : at + data.draw(st.integers(1, 40))]
        elif op == "insert":
            raw[at:at] = data.draw(
                st.binary(max_size=8) | st.sampled_from([b'"', b"\\", b"[", b"{"])
            )
        elif op == "flip" and at < len(raw):
            raw[at] = data.draw(st.integers(0, 255))
        else:
            raw[at:at] = raw[at : at + data.draw(st.integers(1, 80))]
    check(bytes(raw))


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            found += _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            found += _paths(v, (*prefix, i))
    return found


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_structural_mutations(data: st.DataObject) -> None:
    doc = json.loads(SEED)
    for _ in range(data.draw(st.integers(1, 4))):
        paths = [p for p in _paths(doc) if p]
        path = data.draw(st.sampled_from(paths))
        parent = doc
        for key in path[:-1]:
            parent = parent[key]
        parent[path[-1]] = data.draw(json_values)
    indent = data.draw(st.sampled_from([None, 1, 2]))
    check(json.dumps(doc, indent=indent, ensure_ascii=data.draw(st.booleans())).encode())
