"""What the pickle walker reads from and what it hands back: byte sources and result types.

Kept apart from the walker's stack machine (:mod:`pickle_walk`) because the formats
(:mod:`joblib_source`, :mod:`pickle_report`) build sources and read results without
needing the machine itself: a decompression stream is a :class:`ByteSource`, a finding
is made from a :class:`GlobalRef` or an :class:`Anomaly`. The symbolic values the
machine pushes (:class:`Opaque`, :class:`Obj`, the MARK sentinel) live here too, since a
build hook receives them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

__all__ = [
    "MARK",
    "Anomaly",
    "BufferSource",
    "BuildHook",
    "ByteSource",
    "Call",
    "GlobalRef",
    "Obj",
    "Opaque",
    "WalkResult",
]


class ByteSource(Protocol):
    """Sequential bytes with a position: a buffer, an mmap or a decompression stream."""

    def read(self, n: int) -> bytes:
        """Up to ``n`` bytes; fewer only at the end."""

    def readline(self, limit: int) -> bytes:
        """Bytes up to and including ``\\n``, at most ``limit``; no newline means none found."""

    def skip(self, n: int) -> int:
        """Move forward ``n`` bytes without keeping them; returns how many were skipped."""

    def tell(self) -> int:
        """Offset of the next byte from the start of the source."""

    def at_end(self) -> bool:
        """Whether no byte is left."""


class _Findable(Protocol):
    def find(self, sub: bytes, start: int, end: int, /) -> int: ...
    def __getitem__(self, key: slice, /) -> bytes: ...
    def __len__(self) -> int: ...


class BufferSource:
    """A :class:`ByteSource` over ``bytes`` or an ``mmap``: skipping costs nothing."""

    def __init__(self, data: _Findable, start: int = 0, end: int | None = None) -> None:
        self._data = data
        self._pos = start
        self._end = len(data) if end is None else min(end, len(data))

    def read(self, n: int) -> bytes:
        """See :class:`ByteSource`."""
        stop = min(self._pos + n, self._end)
        chunk = self._data[self._pos : stop]
        self._pos = stop
        return bytes(chunk)

    def readline(self, limit: int) -> bytes:
        """See :class:`ByteSource`."""
        stop = min(self._pos + limit, self._end)
        nl = self._data.find(b"\n", self._pos, stop)
        return self.read((nl + 1 if nl >= 0 else stop) - self._pos)

    def skip(self, n: int) -> int:
        """See :class:`ByteSource`."""
        stop = min(self._pos + n, self._end)
        done = stop - self._pos
        self._pos = stop
        return done

    def tell(self) -> int:
        """See :class:`ByteSource`."""
        return self._pos

    def at_end(self) -> bool:
        """See :class:`ByteSource`."""
        return self._pos >= self._end


class _Mark:
    """The MARK sentinel on the stack."""


MARK = _Mark()


class Opaque:
    """A value the walker does not model (a float, a skipped blob, a persistent object)."""

    def __init__(self, what: str) -> None:
        self.what = what


@dataclass(eq=False)
class GlobalRef:
    """A callable or class the pickle imports, with whether loading calls it."""

    module: str
    name: str
    offset: int
    opcode: str
    called: bool = False
    stream: int = 0

    @property
    def qualname(self) -> str:
        """``module.name``, the form a policy and a person read."""
        return f"{self.module}.{self.name}"


@dataclass(eq=False)
class Obj:
    """What a call would return: the callee, its arguments and any BUILD state."""

    callee: object
    args: object
    offset: int
    state: object = None


@dataclass(frozen=True)
class Call:
    """One call loading would make (REDUCE, INST, OBJ, NEWOBJ, NEWOBJ_EX, BUILD)."""

    callee: GlobalRef | None
    """The imported callable, or None when the callee is not a plain global (dynamic)."""
    opcode: str
    offset: int


@dataclass(frozen=True)
class Anomaly:
    """Something a well-formed pickle from a real library does not do."""

    kind: str
    """``truncated``, ``bad-opcode``, ``stack``, ``memo-miss``, ``trailing-data``, ``ext``,
    ``persid``, ``dynamic-call``, ``unresolved-global``, ``global-mutation``, ``limit``,
    ``bad-protocol``, ``bad-argument``."""
    offset: int
    detail: str


@dataclass
class WalkResult:
    """Everything one walk learned: imports, calls, oddities, and where it stopped."""

    globals: list[GlobalRef] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)
    anomalies: list[Anomaly] = field(default_factory=list)
    streams: int = 0
    """How many pickle streams reached STOP."""
    ops: int = 0
    end: int = 0
    """Offset just after the last byte the walker consumed."""
    clean_stop: bool = False
    """True when the last stream ended at STOP with no malformation."""


BuildHook = Callable[[Obj, ByteSource, WalkResult], None]
"""Called after BUILD on an object: lets a format (joblib) consume data written inline."""
