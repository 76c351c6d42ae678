"""Pickle opcodes and their arguments: the byte-level half of the static walker.

Separate from the stack machine (:mod:`pickle_walk`) because decoding an argument is a
question of bytes alone (lengths, newlines, quoting, size bounds) and the machine is a
question of meaning (what is called, what the memo holds). The opcode table comes from
:mod:`pickletools`, so it is exactly the table the real unpickler implements.
"""

from __future__ import annotations

import codecs
import pickletools
import struct

from custodes.scan.artifacts.pickle_values import ByteSource, Opaque

__all__ = ["BIG_ARG", "OPS", "ArgReader", "StreamStop"]

BIG_ARG = 64 * 1024
"""Byte/str arguments longer than this are skipped, not copied: tensors need no reading."""

_LINE_LIMIT = 64 * 1024 * 1024


class StreamStop(Exception):
    """Internal: abandon the current stream (the anomaly is already recorded)."""


def _opcode_table() -> dict[int, tuple[str, str | None]]:
    table: dict[int, tuple[str, str | None]] = {}
    for op in pickletools.opcodes:
        table[ord(op.code.encode("latin-1"))] = (op.name, op.arg.name if op.arg else None)
    return table


OPS = _opcode_table()
"""Opcode byte -> (opcode name, argument kind or None), as :mod:`pickletools` lists them."""


class ArgReader:
    """Reads one opcode's argument from ``self.src``; every malformation goes to ``fail``.

    A mixin for the walker's machine: it supplies ``src`` and ``fail`` (which records an
    anomaly and returns the :class:`StreamStop` to raise).
    """

    src: ByteSource

    def fail(self, kind: str, detail: str) -> StreamStop:
        """Record an anomaly; the caller raises what this returns."""
        raise NotImplementedError

    def need(self, n: int) -> bytes:
        """Exactly ``n`` bytes, or a ``truncated`` stop."""
        data = self.src.read(n)
        if len(data) < n:
            raise self.fail("truncated", "argument cut short")
        return data

    def sized(self, n: int, *, text: bool) -> object:
        """A length-prefixed argument; big ones are skipped and become an Opaque blob."""
        if n < 0:
            raise self.fail("bad-argument", "negative length")
        if n > BIG_ARG:
            got = self.src.skip(n)
            if got < n:
                raise self.fail("truncated", "argument cut short")
            return Opaque("blob")
        data = self.need(n)
        if not text:
            return data
        return data.decode("utf-8", "surrogatepass")

    def line(self) -> bytes:
        """A newline-terminated argument without its newline."""
        data = self.src.readline(_LINE_LIMIT)
        if not data.endswith(b"\n"):
            raise self.fail("truncated", "line argument without newline")
        return data[:-1]

    def read_arg(self, kind: str) -> object:
        """The argument of kind ``kind`` (a :mod:`pickletools` ArgumentDescriptor name)."""
        if kind == "uint1":
            return self.need(1)[0]
        if kind == "uint2":
            return int(struct.unpack("<H", self.need(2))[0])
        if kind == "int4":
            return int(struct.unpack("<i", self.need(4))[0])
        if kind in ("uint4", "uint8"):
            n = 4 if kind == "uint4" else 8
            return int.from_bytes(self.need(n), "little")
        if kind in ("long1", "long4"):
            n = self.need(1)[0] if kind == "long1" else int(struct.unpack("<i", self.need(4))[0])
            if n < 0 or n > 4096:
                raise self.fail("bad-argument", "LONG argument too large")
            return int.from_bytes(self.need(n), "little", signed=True)
        if kind in ("string1", "bytes1", "unicodestring1"):
            return self.sized(self.need(1)[0], text=kind == "unicodestring1")
        if kind in ("string4", "bytes4", "unicodestring4"):
            fmt = "<i" if kind == "string4" else "<I"
            return self.sized(
                int(struct.unpack(fmt, self.need(4))[0]), text=kind == "unicodestring4"
            )
        if kind in ("bytes8", "unicodestring8", "bytearray8"):
            n = int(struct.unpack("<Q", self.need(8))[0])
            return self.sized(n, text=kind == "unicodestring8")
        if kind == "float8":
            self.need(8)
            return Opaque("float")
        if kind == "stringnl_noescape_pair":
            return (self.line().decode("utf-8", "replace"), self.line().decode("utf-8", "replace"))
        if kind == "stringnl_noescape":
            return self.line().decode("utf-8", "replace")
        if kind == "stringnl":
            raw = self.line().rstrip()
            if len(raw) < 2 or raw[0] != raw[-1] or raw[:1] not in (b"'", b'"'):
                raise self.fail("bad-argument", "STRING argument not quoted")
            decoded = codecs.escape_decode(raw[1:-1])[0]
            return decoded.decode("latin-1")
        if kind == "unicodestringnl":
            return self.line().decode("raw-unicode-escape")
        if kind in ("decimalnl_short", "decimalnl_long"):
            text = self.line().rstrip(b"L").strip()
            if len(text) > 4300:
                raise self.fail("bad-argument", "integer literal too long")
            if text in (b"00", b"01"):
                return text == b"01"
            return int(text)
        if kind == "floatnl":
            self.line()
            return Opaque("float")
        raise self.fail("bad-opcode", f"unknown argument kind {kind}")
