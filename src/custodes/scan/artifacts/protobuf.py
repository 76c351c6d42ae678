"""A small, bounded reader of the protobuf wire format, for ONNX and SavedModel files.

Why not the ``protobuf`` package with generated ONNX/TensorFlow classes: it would add a
heavy runtime dependency for a handful of field paths, and a full parse of a hostile
file (a 2 GB message, 10,000 nested levels) is exactly what a scanner must not do. This
reader walks one message level at a time over a ``bytes``/``mmap`` buffer by offsets, so
nothing is copied until a caller asks for a field's bytes, and every length is checked
against its enclosing message before it is trusted. Nesting is the caller's to bound:
each call to :func:`iter_fields` reads one level, so callers keep their own depth count.

Anything malformed raises :class:`WireError`; scanners turn it into a finding.
"""

from __future__ import annotations

import mmap
from collections.abc import Iterator
from dataclasses import dataclass

__all__ = [
    "LEN",
    "VARINT",
    "Buffer",
    "Field",
    "WireError",
    "iter_fields",
    "read_varint",
    "signed64",
    "text",
    "unpack_varints",
]

VARINT = 0
I64 = 1
LEN = 2
SGROUP = 3
EGROUP = 4
I32 = 5

_MAX_VARINT_BYTES = 10


Buffer = bytes | bytearray | mmap.mmap
"""What the reader walks: whole files are mapped, not read, so a 2 GB model costs nothing."""


class WireError(ValueError):
    """The bytes are not a well-formed protobuf message."""


@dataclass(frozen=True, slots=True)
class Field:
    """One field of a message: its number, wire type and value.

    For ``LEN`` fields ``value`` is the length and the payload sits at
    ``[start, start + value)`` in the buffer; for the others ``value`` is the number
    (fixed-width values are returned as unsigned integers).
    """

    number: int
    wire_type: int
    value: int
    start: int

    @property
    def end(self) -> int:
        """End offset of a ``LEN`` payload."""
        return self.start + self.value


def read_varint(buf: Buffer, pos: int, end: int) -> tuple[int, int]:
    """Decode a base-128 varint at ``pos``; returns (value, next position)."""
    result = 0
    shift = 0
    for i in range(_MAX_VARINT_BYTES):
        if pos >= end:
            raise WireError(f"truncated varint at offset {pos}")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result & 0xFFFFFFFFFFFFFFFF, pos
        shift += 7
        if i == _MAX_VARINT_BYTES - 1:
            break
    raise WireError(f"varint longer than 10 bytes before offset {pos}")


def iter_fields(buf: Buffer, start: int = 0, end: int | None = None) -> Iterator[Field]:
    """Yield the fields of one message stored at ``buf[start:end]``, in order.

    Groups (wire types 3 and 4, deprecated and unused by ONNX and TensorFlow) are
    rejected rather than skipped: skipping them needs a nesting walk a hostile file
    could make deep.
    """
    stop = len(buf) if end is None else end
    if stop > len(buf) or start < 0 or start > stop:
        raise WireError("message bounds outside the buffer")
    pos = start
    while pos < stop:
        # Most keys and lengths fit one byte; skip the general decoder for them.
        key = buf[pos]
        if key < 0x80:
            pos += 1
        else:
            key, pos = read_varint(buf, pos, stop)
        number, wire_type = key >> 3, key & 7
        if number == 0 or number > 0x1FFFFFFF:
            raise WireError(f"invalid field number {number} at offset {pos}")
        if wire_type == VARINT:
            value, pos = read_varint(buf, pos, stop)
            yield Field(number, wire_type, value, pos)
        elif wire_type == LEN:
            length = buf[pos] if pos < stop else 0x80
            if length < 0x80:
                pos += 1
            else:
                length, pos = read_varint(buf, pos, stop)
            if length > stop - pos:
                raise WireError(
                    f"field {number} declares {length} bytes at offset {pos}, "
                    f"only {stop - pos} left in its message"
                )
            yield Field(number, wire_type, length, pos)
            pos += length
        elif wire_type in (I64, I32):
            width = 8 if wire_type == I64 else 4
            if width > stop - pos:
                raise WireError(f"truncated fixed-width field {number} at offset {pos}")
            value = int.from_bytes(buf[pos : pos + width], "little")
            yield Field(number, wire_type, value, pos)
            pos += width
        else:
            raise WireError(f"unsupported wire type {wire_type} for field {number}")


def unpack_varints(buf: Buffer, start: int, end: int, limit: int) -> list[int]:
    """Decode a packed repeated varint field (e.g. tensor dims), at most ``limit`` values."""
    values: list[int] = []
    pos = start
    while pos < end:
        if len(values) >= limit:
            raise WireError(f"more than {limit} packed values at offset {pos}")
        value, pos = read_varint(buf, pos, end)
        values.append(value)
    return values


def text(buf: Buffer, field: Field, limit: int = 4096) -> str:
    """A ``LEN`` field decoded as UTF-8 (invalid bytes replaced), cut at ``limit`` bytes."""
    return bytes(buf[field.start : min(field.end, field.start + limit)]).decode(
        "utf-8", errors="replace"
    )


def signed64(value: int) -> int:
    """Read an unsigned 64-bit varint as the int64 protobuf meant (negatives wrap)."""
    return value - (1 << 64) if value >= 1 << 63 else value
