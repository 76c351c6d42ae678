"""Reading YAML we did not write, without trusting it.

PyYAML's safe loader never builds arbitrary objects, but it will happily expand a
billion-laughs alias bomb and it keeps the last of two duplicate keys without a word.
This module composes the node tree first, walks it under a budget (nodes, depth), refuses
duplicate keys, and keeps the line and column of every value so that later errors can
say ``custodes.yaml:14:5``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from custodes.errors import InputError

__all__ = [
    "MAX_BYTES",
    "MAX_DEPTH",
    "MAX_NODES",
    "Marks",
    "Position",
    "decode_utf8",
    "load_yaml",
    "read_capped",
]

MAX_BYTES = 8 * 1024 * 1024
MAX_NODES = 200_000
MAX_DEPTH = 64

_Loader: type[yaml.SafeLoader]
try:
    _Loader = yaml.CSafeLoader  # type: ignore[assignment]
except AttributeError:  # pragma: no cover - libyaml missing
    _Loader = yaml.SafeLoader

PathKey = tuple[str | int, ...]


@dataclass(frozen=True)
class Position:
    """1-based line and column of a node in the file."""

    line: int
    column: int


@dataclass
class Marks:
    """Where each value and each mapping key of a document sits in its file."""

    values: dict[PathKey, Position] = field(default_factory=dict)
    keys: dict[PathKey, Position] = field(default_factory=dict)

    def value(self, path: PathKey) -> Position | None:
        """Position of the value at ``path``, or of its nearest ancestor."""
        p = tuple(path)
        while True:
            if p in self.values:
                return self.values[p]
            if not p:
                return None
            p = p[:-1]

    def key(self, path: PathKey) -> Position | None:
        """Position of the mapping key that ends ``path`` (falls back to the value)."""
        return self.keys.get(tuple(path)) or self.value(path)


def _pos(node: yaml.Node) -> Position:
    return Position(node.start_mark.line + 1, node.start_mark.column + 1)


def _walk(root: yaml.Node, path: Path, marks: Marks) -> None:
    """Record positions; refuse duplicate keys and documents beyond the budget."""
    budget = MAX_NODES
    stack: list[tuple[yaml.Node, PathKey, int]] = [(root, (), 0)]
    while stack:
        node, at, depth = stack.pop()
        budget -= 1
        if budget < 0:
            pos = _pos(node)
            raise InputError(
                f"document expands to more than {MAX_NODES:,} nodes (an alias bomb?); refused",
                path=path,
                line=pos.line,
                column=pos.column,
            )
        if depth > MAX_DEPTH:
            pos = _pos(node)
            raise InputError(
                f"nesting deeper than {MAX_DEPTH} levels; refused",
                path=path,
                line=pos.line,
                column=pos.column,
            )
        marks.values.setdefault(at, _pos(node))
        if isinstance(node, yaml.MappingNode):
            seen: dict[str, Position] = {}
            for key_node, value_node in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    stack.append((value_node, at, depth + 1))
                    continue
                key = str(key_node.value) if isinstance(key_node, yaml.ScalarNode) else "?"
                kpos = _pos(key_node)
                if key in seen:
                    first = seen[key]
                    raise InputError(
                        f"duplicate key {key!r} (first defined on line {first.line})",
                        path=path,
                        line=kpos.line,
                        column=kpos.column,
                    )
                seen[key] = kpos
                marks.keys.setdefault((*at, key), kpos)
                stack.append((value_node, (*at, key), depth + 1))
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                stack.append((item, (*at, i), depth + 1))


def read_capped(path: Path, what: str = "") -> bytes:
    """The bytes of a YAML file, refused (:class:`InputError`) if unreadable or over MAX_BYTES.

    ``what`` (e.g. ``"policy"``) names the kind of file in the messages.
    """
    named = f"{what} " if what else ""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{named}file not found", path=path) from None
    except IsADirectoryError:
        raise InputError(f"is a directory, expected a {named}YAML file", path=path) from None
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror}", path=path) from None
    if len(raw) > MAX_BYTES:
        raise InputError(
            f"file is {len(raw):,} bytes, over the {MAX_BYTES:,}-byte limit", path=path
        )
    return raw


def decode_utf8(raw: bytes, path: Path) -> str:
    """``raw`` as text, or :class:`InputError` naming the line of the first bad byte."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise InputError("not valid UTF-8", path=path, line=line) from None


def load_yaml(path: Path, text: str | None = None) -> tuple[Any, Marks]:
    """Parse one YAML document safely; return the data and where each value sits.

    Raises :class:`InputError` (exit 2, ``file:line:col``) for anything malformed,
    oversized, aliased beyond the node budget, or with duplicate keys.
    """
    if text is None:
        text = decode_utf8(read_capped(path), path)
    loader = _Loader(text)
    try:
        root = loader.get_single_node()
        if root is None:
            raise InputError("the file is empty", path=path, line=1)
        marks = Marks()
        _walk(root, path, marks)
        data = loader.construct_document(root)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "malformed YAML"
        raise InputError(
            f"invalid YAML: {problem}",
            path=path,
            line=mark.line + 1 if mark else None,
            column=mark.column + 1 if mark else None,
        ) from None
    except yaml.YAMLError as exc:
        raise InputError(f"invalid YAML: {exc}", path=path) from None
    except RecursionError:
        raise InputError("YAML nested too deeply; refused", path=path) from None
    finally:
        loader.dispose()
    return data, marks
