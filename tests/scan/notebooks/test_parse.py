"""notebook_segments on real notebooks written by nbformat, and on hostile input."""

from __future__ import annotations

import json

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from custodes.scan.notebooks.parse import NotebookError, Segment, notebook_segments

MAX = 32 * 1024 * 1024
KEY = "AKIAZ7QW3EXAMPLEKEY9"


def write(nb: nbformat.NotebookNode) -> bytes:
    """Serialise as Jupyter does (nbformat.writes: indent 1, sources split into lines)."""
    return nbformat.writes(nb).encode("utf-8")


def line_of(data: bytes, needle: str) -> int:
    """1-based line of the first occurrence of needle in the raw file."""
    text = data.decode("utf-8")
    return text[: text.index(needle)].count("\n") + 1


def find(segments: list[Segment], needle: str) -> tuple[Segment, int, int]:
    """The segment holding needle and the (file line, cell line) where it is."""
    for seg in segments:
        at = seg.text.find(needle)
        if at != -1:
            return (seg, *seg.file_position(at))
    raise AssertionError(f"{needle!r} not found")


def test_source_lines_map_to_json_lines() -> None:
    nb = new_notebook(
        cells=[
            new_markdown_cell("# Title\nsome text"),
            new_code_cell("import os\nx = 1\nkey = 'abc'\nprint(key)"),
        ]
    )
    data = write(nb)
    segs = notebook_segments(data, max_bytes=MAX)
    seg, line, cell_line = find(segs, "key = 'abc'")
    assert seg.cell == 1
    assert seg.kind == "source"
    assert not seg.in_output
    assert seg.cell_type == "code"
    assert cell_line == 3
    assert line == line_of(data, "key = 'abc'")
    assert seg.text == "import os\nx = 1\nkey = 'abc'\nprint(key)"
    assert len(seg.line_map) == 4


def test_source_as_single_string_maps_all_lines_to_that_json_line() -> None:
    nb = new_notebook(cells=[new_code_cell("a = 1\nb = 2\nc = 3")])
    doc = json.loads(write(nb))
    assert isinstance(doc["cells"][0]["source"], list)
    doc["cells"][0]["source"] = "a = 1\nb = 2\nc = 3"
    data = json.dumps(doc, indent=1).encode()
    seg, line, cell_line = find(notebook_segments(data, max_bytes=MAX), "c = 3")
    assert cell_line == 3
    assert line == line_of(data, '"a = 1\\nb = 2\\nc = 3"')
    assert set(seg.line_map) == {line}


def test_key_split_across_list_elements_is_contiguous() -> None:
    nb = new_notebook(cells=[new_code_cell("x = 1")])
    doc = json.loads(write(nb))
    doc["cells"][0]["source"] = ["k = '", KEY[:8], KEY[8:] + "'\n", "print(k)"]
    data = json.dumps(doc, indent=1).encode()
    seg, line, cell_line = find(notebook_segments(data, max_bytes=MAX), KEY)
    assert (line, cell_line) == (line_of(data, "\"k = '"), 1)
    _, line2, cl2 = find([seg], "print(k)")
    assert (line2, cl2) == (line_of(data, '"print(k)"'), 2)


def test_outputs_skip_images_but_keep_text_beside_them() -> None:
    png = "iVBORw0KGgo" + "A" * 5000 + KEY  # a key shape inside base64 is not text
    out = new_output(
        "display_data",
        data={"image/png": png, "text/plain": ["<Figure>\n", f"token {KEY}"]},
    )
    stream = new_output("stream", name="stdout", text="hello\nworld\n")
    nb = new_notebook(cells=[new_code_cell("plot()", outputs=[stream, out])])
    data = write(nb)
    segs = notebook_segments(data, max_bytes=MAX)
    assert all("iVBORw0KGgo" not in s.text for s in segs)
    seg, line, cell_line = find(segs, KEY)
    assert seg.in_output
    assert seg.kind == "display_data"
    assert seg.mime == "text/plain"
    assert (line, cell_line) == (line_of(data, f'"token {KEY}"'), 2)
    seg, line, cell_line = find(segs, "world")
    assert seg.kind == "stream"
    assert cell_line == 2
    assert line == line_of(data, '"world\\n"')


def test_html_and_json_outputs() -> None:
    out = new_output(
        "execute_result",
        data={"text/html": "<table><tr><td>x</td></tr></table>", "application/json": {"a": KEY}},
        execution_count=1,
    )
    data = write(new_notebook(cells=[new_code_cell("df", outputs=[out])]))
    segs = notebook_segments(data, max_bytes=MAX)
    seg, _, _ = find(segs, "<table>")
    assert seg.mime == "text/html"
    assert seg.kind == "execute_result"
    seg, line, _ = find(segs, KEY)
    assert seg.mime == "application/json"
    assert line == line_of(data, KEY)


def test_error_traceback_strips_ansi_and_keeps_lines() -> None:
    tb = [
        "\x1b[0;31m---------------------------------\x1b[0m",
        "\x1b[0;31mValueError\x1b[0m  Traceback (most recent call last)",
        "Cell \x1b[0;32mIn[1], line 1\x1b[0m\n----> 1 connect(\x1b[38;5;124m'AKIAZ7QW3\x1b[39mEXAMPLEKEY9')",
        "\x1b[0;31mValueError\x1b[0m: bad",
    ]
    out = new_output("error", ename="ValueError", evalue="bad", traceback=tb)
    data = write(new_notebook(cells=[new_code_cell("connect()", outputs=[out])]))
    segs = notebook_segments(data, max_bytes=MAX)
    seg, line, cell_line = find(segs, KEY)
    assert "\x1b" not in seg.text
    assert seg.kind == "error"
    assert seg.in_output
    assert cell_line == 4  # element 2 holds an embedded newline
    assert line == line_of(data, '"Cell ')
    _, last_line, last_cl = find(segs, "ValueError: bad")
    assert last_cl == 5
    assert last_line == line + 1


def test_unicode_and_metadata_and_widgets() -> None:
    nb = new_notebook(cells=[new_code_cell("s = 'héllo 世界 🚀'\nt = 2")])
    nb.metadata["custom"] = {"owner": "ünïcode", "token": "meta-secret"}
    nb.metadata["widgets"] = {
        "application/vnd.jupyter.widget-state+json": {"state": {"w": {"value": "widget-secret"}}}
    }
    data = write(nb)
    segs = notebook_segments(data, max_bytes=MAX)
    seg, _, cl = find(segs, "t = 2")
    assert cl == 2
    assert "世界" in seg.text
    seg, line, _ = find(segs, "meta-secret")
    assert seg.kind == "metadata"
    assert seg.cell is None
    assert line == line_of(data, "meta-secret")
    seg, line, _ = find(segs, "widget-secret")
    assert seg.kind == "widgets"
    assert seg.cell is None
    assert line == line_of(data, "widget-secret")
    assert all("widget-secret" not in s.text for s in segs if s.kind == "metadata")


def test_empty_source_and_file_position_bounds() -> None:
    data = write(new_notebook(cells=[new_code_cell("")]))
    (seg,) = (s for s in notebook_segments(data, max_bytes=MAX) if s.kind == "source")
    assert seg.text == ""
    assert len(seg.line_map) == 1
    assert seg.file_position(0)[1] == 1
    assert seg.file_position(10)[1] == 1


@pytest.mark.parametrize(
    "payload",
    [
        b'{"cells": [',
        b"\xff\xfe not utf8",
        b"[1, 2, 3]",
        b'{"cells": [1, 2]}',
        b'{"cells": {}}',
        b'{"cells": [{"source": 5}]}',
        b'{"cells": [{"source": ["a", 1]}]}',
        b'{"cells": [{"outputs": [7]}]}',
        b'{"cells": [{"outputs": [{"data": []}]}]}',
        b'{"cells": [{"outputs": [{"traceback": "x"}]}]}',
        b'{"metadata": []}',
        b"",
        b"[" * 200_000 + b"]" * 200_000,
    ],
)
def test_hostile_input_is_notebook_error(payload: bytes) -> None:
    with pytest.raises(NotebookError):
        notebook_segments(payload, max_bytes=MAX)


def test_deeply_nested_large_input_is_bounded() -> None:
    payload = b"[" * (50 * 1024 * 1024)
    with pytest.raises(NotebookError):
        notebook_segments(payload, max_bytes=MAX)  # over the size limit
    with pytest.raises(NotebookError):
        notebook_segments(payload, max_bytes=len(payload) + 1)  # nested too deeply


def test_notebook_error_is_an_input_error() -> None:
    from custodes.errors import InputError

    assert issubclass(NotebookError, InputError)
