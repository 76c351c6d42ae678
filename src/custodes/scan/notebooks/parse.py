"""Read a Jupyter notebook as text segments that point back to lines of the .ipynb file.

Detectors (credentials, personal data, unsafe code) want plain text: a cell's source, a
stream's output, a traceback. Reports want the line of the .ipynb JSON as stored on disk,
so editors and SARIF viewers land on it. This module gives both, without executing
anything and in time linear in the file size:

1. ``json.loads`` checks the document (the C decoder is fast and bounded by the recursion
   limit, so deeply nested hostile input is a :class:`NotebookError`, not a crash);
2. a small tokenizer walks the raw text once, tracking the JSON path and line of every
   string (and the span of a few objects) at the paths a notebook keeps text in;
3. the decoded values are joined into :class:`Segment` objects whose ``line_map`` says
   on which file line each text line starts.

List-valued ``source`` and ``text`` fields are joined with no separator, as nbformat
does, so a key split across two list elements is one contiguous string. Base64 payloads
(images, PDFs: any non-text mime) are skipped; text mimes beside them are kept. ANSI
escape codes are stripped from stream and error outputs (they never hold a newline, so
line numbers stay right).
"""

from __future__ import annotations

import bisect
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from custodes.errors import InputError

__all__ = ["NotebookError", "Segment", "is_text_mime", "notebook_segments", "strip_ansi"]


class NotebookError(InputError):
    """A notebook that is not valid JSON, too large, or not shaped like a notebook."""


@dataclass(frozen=True)
class Segment:
    """One piece of notebook text and where each of its lines sits in the .ipynb file."""

    text: str
    """Decoded text of one cell source or one output (or metadata / widget-state text)."""
    cell: int | None
    """0-based cell index; None for notebook metadata and widget state."""
    in_output: bool
    """True for outputs (stream, execute_result, display_data, error traceback)."""
    kind: str
    """``source``, ``stream``, ``execute_result``, ``display_data``, ``error``,
    ``metadata`` or ``widgets``."""
    mime: str | None
    """The mime type for outputs with data (``text/plain``, ``text/html``...)."""
    line_map: tuple[int, ...]
    """``line_map[i]`` is the 1-based .ipynb line where line ``i`` of ``text`` starts."""
    cell_type: str | None = None
    """``code``, ``markdown`` or ``raw`` for cell segments; None otherwise."""
    _line_starts: tuple[int, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        starts = [0]
        find = self.text.find
        pos = find("\n")
        while pos != -1:
            starts.append(pos + 1)
            pos = find("\n", pos + 1)
        object.__setattr__(self, "_line_starts", tuple(starts))

    def file_position(self, offset: int) -> tuple[int, int]:
        """``(file line, 1-based cell_line)`` of a character offset in ``text``.

        The cell line counts lines of this segment's text (of the source, or of the
        output), which is what a person sees in Jupyter.
        """
        index = bisect.bisect_right(self._line_starts, max(offset, 0)) - 1
        if not self.line_map:
            return 1, index + 1
        return self.line_map[min(index, len(self.line_map) - 1)], index + 1


_ANSI = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b\n]*(?:\x07|\x1b\\)|[@-Z\\-_])")
# A JSON string token (unrolled loop: fast on multi-megabyte base64 strings) or a
# structural character. Numbers, literals and whitespace are skipped by the search.
_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[{}\[\],:]')

_OUTPUT_KINDS = frozenset({"stream", "execute_result", "display_data", "error"})

_Path = tuple[str | int, ...]


def strip_ansi(text: str) -> str:
    """Remove terminal colour and cursor codes, which split tokens in tracebacks."""
    return _ANSI.sub("", text)


def is_text_mime(mime: str) -> bool:
    """Whether an output mime type holds text worth reading (not a base64 payload)."""
    mime = mime.lower()
    return (
        mime.startswith("text/")
        or mime == "application/json"
        or mime.endswith("+json")
        or mime == "application/javascript"
    )


def _interesting(path: _Path) -> bool:
    """Whether the tokenizer should remember the position of the value at ``path``."""
    n = len(path)
    if not n:
        return False
    head = path[0]
    if head == "metadata":
        return n == 1 or (n == 2 and path[1] == "widgets")
    if head != "cells" or n < 3:
        return False
    field_name = path[2]
    if field_name in ("source", "metadata"):
        return n <= 4
    if field_name != "outputs" or n < 5:
        return False
    out_field = path[4]
    if out_field in ("text", "traceback"):
        return n <= 6
    if out_field == "evalue":
        return n == 5
    if out_field == "data" and n >= 6:
        mime = path[5]
        return isinstance(mime, str) and is_text_mime(mime) and n <= 7
    return False


@dataclass(frozen=True)
class _Span:
    """Where a value sits in the raw text."""

    start: int
    end: int
    line: int


def _positions(raw: str) -> dict[_Path, _Span]:
    """Walk the raw JSON once; return spans of the values at interesting paths.

    Only called on text ``json.loads`` accepted, so the tokens are well formed. For
    duplicate keys the last one wins, as with ``json.loads``.
    """
    spans: dict[_Path, _Span] = {}
    path: list[str | int] = []
    # Per open container: is it an object, does it expect a key, start offset, line.
    kinds: list[bool] = []
    expect_key: list[bool] = []
    starts: list[tuple[int, int]] = []
    line = 1
    last = 0
    count = raw.count
    for m in _TOKEN.finditer(raw):
        pos = m.start()
        line += count("\n", last, pos)
        last = pos
        tok = m.group()
        c = tok[0]
        if c == '"':
            if kinds and kinds[-1] and expect_key[-1]:
                path[-1] = json.loads(tok) if "\\" in tok else tok[1:-1]
            else:
                key = tuple(path)
                if _interesting(key):
                    spans[key] = _Span(pos, m.end(), line)
        elif c in "{[":
            starts.append((pos, line))
            is_obj = c == "{"
            kinds.append(is_obj)
            expect_key.append(is_obj)
            path.append("" if is_obj else 0)
        elif c in "}]":
            kinds.pop()
            expect_key.pop()
            path.pop()
            start, start_line = starts.pop()
            key = tuple(path)
            if _interesting(key):
                spans[key] = _Span(start, m.end(), start_line)
        elif c == ",":
            if kinds[-1]:
                expect_key[-1] = True
            else:
                index = path[-1]
                assert isinstance(index, int)
                path[-1] = index + 1
        else:  # ":"
            expect_key[-1] = False
    return spans


def _build(parts: Sequence[tuple[str, int]]) -> tuple[str, tuple[int, ...]]:
    """Join text pieces (each with its JSON line) and map every text line to a file line."""
    line_map: list[int] = []
    pending = True
    last_line = parts[0][1] if parts else 1
    for piece, json_line in parts:
        last_line = json_line
        if not piece:
            continue
        if pending:
            line_map.append(json_line)
            pending = False
        newlines = piece.count("\n")
        if newlines:
            if piece.endswith("\n"):
                line_map.extend([json_line] * (newlines - 1))
                pending = True
            else:
                line_map.extend([json_line] * newlines)
    if pending:
        line_map.append(last_line)
    return "".join(p for p, _ in parts), tuple(line_map)


class _Reader:
    """Turns the decoded notebook plus token spans into segments."""

    def __init__(self, raw: str, spans: dict[_Path, _Span]) -> None:
        self.raw = raw
        self.spans = spans
        self.segments: list[Segment] = []

    def line_of(self, path: _Path) -> int:
        """File line of the value at ``path``, or of its nearest recorded parent."""
        while path:
            span = self.spans.get(path)
            if span is not None:
                return span.line
            path = path[:-1]
        return 1

    def text_parts(self, value: object, path: _Path, what: str) -> list[tuple[str, int]]:
        """A multiline text field (one string or a list of strings) as pieces with lines."""
        if isinstance(value, str):
            return [(value, self.line_of(path))]
        if isinstance(value, list):
            parts: list[tuple[str, int]] = []
            for i, item in enumerate(value):
                if not isinstance(item, str):
                    raise NotebookError(f"{what} holds a {type(item).__name__}, not text")
                parts.append((item, self.line_of((*path, i))))
            return parts
        raise NotebookError(f"{what} is a {type(value).__name__}, not text")

    def add(
        self,
        parts: Sequence[tuple[str, int]],
        *,
        cell: int | None,
        in_output: bool,
        kind: str,
        mime: str | None = None,
        cell_type: str | None = None,
    ) -> None:
        """Append one segment built from text pieces."""
        text, line_map = _build(parts)
        self.segments.append(
            Segment(text, cell, in_output, kind, mime, line_map, cell_type=cell_type)
        )

    def add_output(
        self,
        parts: Sequence[tuple[str, int]],
        cell: int,
        kind: str,
        mime: str | None,
        cell_type: str | None,
    ) -> None:
        """Append one output segment."""
        self.add(parts, cell=cell, in_output=True, kind=kind, mime=mime, cell_type=cell_type)

    def raw_segment(
        self,
        path: _Path,
        *,
        cell: int | None,
        kind: str,
        blank: Iterable[_Path] = (),
    ) -> None:
        """A JSON object as it is stored (escapes and all), each line mapped exactly.

        Used for metadata and widget state, whose text sits in arbitrary nested fields.
        Sub-objects in ``blank`` are replaced by spaces (newlines kept) so they are not
        reported twice.
        """
        span = self.spans.get(path)
        if span is None:
            return
        text = self.raw[span.start : span.end]
        for sub in blank:
            inner = self.spans.get(sub)
            if inner is not None and span.start <= inner.start and inner.end <= span.end:
                a, b = inner.start - span.start, inner.end - span.start
                hole = re.sub(r"[^\n]", " ", text[a:b])
                text = text[:a] + hole + text[b:]
        line_map = tuple(range(span.line, span.line + text.count("\n") + 1))
        self.segments.append(Segment(text, cell, False, kind, None, line_map))

    def cell(self, index: int, cell: object) -> None:
        """Segments of one cell: its source, then each output."""
        if not isinstance(cell, dict):
            raise NotebookError(f"cell {index} is a {type(cell).__name__}, not an object")
        cell_type = cell.get("cell_type")
        cell_type = cell_type if isinstance(cell_type, str) else None
        base: _Path = ("cells", index)
        if "source" in cell:
            parts = self.text_parts(cell["source"], (*base, "source"), f"cell {index} source")
            self.add(parts, cell=index, in_output=False, kind="source", cell_type=cell_type)
        metadata = cell.get("metadata")
        if isinstance(metadata, dict) and metadata:
            self.raw_segment((*base, "metadata"), cell=index, kind="metadata")
        outputs = cell.get("outputs", [])
        if not isinstance(outputs, list):
            raise NotebookError(f"cell {index} outputs is not a list")
        for k, output in enumerate(outputs):
            self.output(index, k, output, cell_type)

    def output(self, index: int, k: int, output: object, cell_type: str | None) -> None:
        """Segments of one output: stream text, text mimes of data, or a traceback."""
        if not isinstance(output, dict):
            raise NotebookError(f"cell {index} output {k} is not an object")
        base: _Path = ("cells", index, "outputs", k)
        what = f"cell {index} output {k}"
        otype = output.get("output_type")
        kind = otype if isinstance(otype, str) and otype in _OUTPUT_KINDS else "display_data"
        if "text" in output:
            parts = self.text_parts(output["text"], (*base, "text"), what)
            self.add_output(
                [(strip_ansi(p), n) for p, n in parts], index, "stream", None, cell_type
            )
        data = output.get("data")
        if data is not None:
            if not isinstance(data, dict):
                raise NotebookError(f"{what} data is not an object")
            for mime, value in data.items():
                if not is_text_mime(mime):
                    continue  # base64 payloads: images, PDFs, anything binary
                path = (*base, "data", mime)
                if isinstance(value, str | list):
                    parts = self.text_parts(value, path, f"{what} {mime}")
                    self.add_output(parts, index, kind, mime, cell_type)
                else:  # application/json holds a JSON value: read it as stored
                    span = self.spans.get(path)
                    if span is not None and span.end - span.start > 2:
                        text = self.raw[span.start : span.end]
                        line_map = tuple(range(span.line, span.line + text.count("\n") + 1))
                        self.segments.append(
                            Segment(text, index, True, kind, mime, line_map, cell_type=cell_type)
                        )
        if "traceback" in output:
            tb = output["traceback"]
            if not isinstance(tb, list):
                raise NotebookError(f"{what} traceback is not a list")
            parts = self.text_parts(tb, (*base, "traceback"), f"{what} traceback")
            joined = [
                (strip_ansi(p) + ("\n" if i < len(parts) - 1 else ""), n)
                for i, (p, n) in enumerate(parts)
            ]
            if joined:
                self.add_output(joined, index, "error", None, cell_type)
        elif isinstance(output.get("evalue"), str):
            parts = [(strip_ansi(output["evalue"]), self.line_of((*base, "evalue")))]
            self.add_output(parts, index, "error", None, cell_type)


def notebook_segments(data: bytes, *, max_bytes: int) -> list[Segment]:
    """Every piece of text a notebook holds, each mapped to lines of the file as stored.

    Cell order is kept: for each cell its source, its metadata (when not empty), then
    its outputs; the notebook metadata (without widget state) and the widget state come
    last. Raises :class:`NotebookError` for input that is too large, not UTF-8, not JSON,
    or not shaped like an nbformat 4 notebook; never executes or imports anything.
    """
    if len(data) > max_bytes:
        raise NotebookError(f"notebook is {len(data)} bytes, over the {max_bytes}-byte limit")
    try:
        raw = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise NotebookError(f"notebook is not UTF-8 text (byte {exc.start})") from None
    try:
        doc = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise NotebookError(f"notebook is not valid JSON: {exc.msg}", line=exc.lineno) from None
    except RecursionError:
        raise NotebookError("notebook JSON is nested too deeply") from None
    except ValueError as exc:  # e.g. integers too long to convert
        raise NotebookError(f"notebook is not valid JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise NotebookError("notebook is not a JSON object")
    cells = doc.get("cells", [])
    if not isinstance(cells, list):
        raise NotebookError("notebook 'cells' is not a list")
    metadata = doc.get("metadata", {})
    if not isinstance(metadata, dict):
        raise NotebookError("notebook 'metadata' is not an object")
    reader = _Reader(raw, _positions(raw))
    for index, cell in enumerate(cells):
        reader.cell(index, cell)
    if metadata:
        widgets: _Path = ("metadata", "widgets")
        reader.raw_segment(("metadata",), cell=None, kind="metadata", blank=[widgets])
        if isinstance(metadata.get("widgets"), dict):
            reader.raw_segment(widgets, cell=None, kind="widgets")
    return reader.segments
