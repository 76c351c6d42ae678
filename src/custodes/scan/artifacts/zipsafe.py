"""A bounded zip reader that reports what a lenient loader would accept.

``zipfile`` is the wrong tool for a scanner: it refuses a member whose CRC is wrong,
while PyTorch's loader reads it anyway, and that gap was a picklescan bypass
(CVE-2025-10156). So this module parses the central directory itself and never refuses:
a bad CRC, a path that climbs out of the archive, a duplicated name, a local header that
disagrees with the central one, encryption and odd flag bits, members that overlap (the
overlapping-file zip bomb) or expand beyond a ratio are :class:`ZipIssue` facts that the
caller turns into findings, and the member is still readable for analysis.

Reading is bounded: member data is only decompressed up to the caller's cap, in chunks,
with the ratio checked as it goes, and nothing is extracted to disk.
"""

from __future__ import annotations

import bz2
import collections
import itertools
import struct
import zlib
from dataclasses import dataclass
from typing import Protocol

__all__ = ["SafeZip", "ZipIssue", "ZipMember", "is_zip", "zip_names"]

_EOCD = b"PK\x05\x06"
_EOCD64_LOC = b"PK\x06\x07"
_EOCD64 = b"PK\x06\x06"
_CEN = b"PK\x01\x02"
_LOC = b"PK\x03\x04"
_CHUNK = 1 << 20
_RATIO_FLOOR = 16 * 1024 * 1024
"""Ratios are judged only past this many output bytes: tiny members compress wildly."""


class _Buffer(Protocol):
    def __getitem__(self, key: slice, /) -> bytes: ...
    def __len__(self) -> int: ...
    def rfind(self, sub: bytes, start: int, end: int, /) -> int: ...


@dataclass(frozen=True)
class ZipMember:
    """One central-directory entry and where its data starts."""

    name: str
    flags: int
    method: int
    crc: int
    compressed_size: int
    size: int
    header_offset: int
    data_offset: int
    """-1 when the local header is missing or broken."""


@dataclass(frozen=True)
class ZipIssue:
    """A structural fact about the archive that a person should know."""

    kind: str
    """``malformed``, ``traversal``, ``duplicate``, ``name-mismatch``, ``encrypted``,
    ``flags``, ``unsupported-method``, ``overlap``, ``bomb``, ``crc``, ``size-mismatch``,
    ``limit``, ``prefix``."""
    member: str | None
    detail: str


def is_zip(head: bytes) -> bool:
    """Local-file or empty-archive signature at the start."""
    return head.startswith(_LOC) or head.startswith(_EOCD)


def zip_names(data: _Buffer, max_members: int = 10_000) -> list[str] | None:
    """Member names, or None when the bytes are no readable zip."""
    z = SafeZip(data, max_members=max_members)
    if any(i.kind == "malformed" and i.member is None for i in z.issues) and not z.members:
        return None
    return [m.name for m in z.members]


class SafeZip:
    """The members and structural issues of a zip held in memory or an mmap."""

    def __init__(
        self,
        data: _Buffer,
        *,
        max_members: int = 10_000,
        max_ratio: int = 200,
        max_total: int = 2 * 1024 * 1024 * 1024,
    ) -> None:
        self.data = data
        self.max_ratio = max_ratio
        self.max_total = max_total
        self.members: list[ZipMember] = []
        self.issues: list[ZipIssue] = []
        self._parse(max_members)

    def _issue(self, kind: str, member: str | None, detail: str) -> None:
        self.issues.append(ZipIssue(kind, member, detail))

    # -- directory -------------------------------------------------------------------

    def _parse(self, max_members: int) -> None:
        d, size = self.data, len(self.data)
        eocd = d.rfind(_EOCD, max(0, size - 65_557), size)
        if eocd < 0 or eocd + 22 > size:
            self._issue("malformed", None, "no end-of-central-directory record")
            return
        _, _, _, count, cd_size, cd_off, _ = struct.unpack("<HHHHIIH", d[eocd + 4 : eocd + 22])
        if 0xFFFF in (count,) or 0xFFFFFFFF in (cd_size, cd_off):
            loc = eocd - 20
            if loc >= 0 and d[loc : loc + 4] == _EOCD64_LOC:
                (z64,) = struct.unpack("<Q", d[loc + 8 : loc + 16])
                rec = d[z64 : z64 + 56]
                if len(rec) == 56 and rec[:4] == _EOCD64:
                    count, cd_size, cd_off = struct.unpack("<QQQ", rec[32:56])
                    eocd = z64
        expected = eocd - cd_size
        if cd_off != expected and 0 <= expected < size and d[expected : expected + 4] == _CEN:
            self._issue("prefix", None, f"{expected - cd_off} bytes precede the archive")
            shift = expected - cd_off
        else:
            shift = 0
        if count > max_members:
            self._issue("limit", None, f"{count} members; only {max_members} read")
        pos = cd_off + shift
        for _ in range(min(count, max_members)):
            fixed = d[pos : pos + 46]
            if len(fixed) < 46 or fixed[:4] != _CEN:
                self._issue("malformed", None, f"central directory entry broken at {pos}")
                break
            (flags, method, crc, csize, usize, nlen, elen, clen, off) = _cen(fixed)
            raw = d[pos + 46 : pos + 46 + nlen]
            extra = d[pos + 46 + nlen : pos + 46 + nlen + elen]
            usize, csize, off = _zip64(extra, usize, csize, off)
            name = raw.decode("utf-8" if flags & 0x800 else "cp437", "replace")
            self.members.append(self._local(name, flags, method, crc, csize, usize, off + shift))
            pos += 46 + nlen + elen + clen
        self._check()

    def _local(
        self, name: str, flags: int, method: int, crc: int, csize: int, usize: int, off: int
    ) -> ZipMember:
        d = self.data
        hdr = d[off : off + 30] if off >= 0 else b""
        data_off = -1
        if len(hdr) == 30 and hdr[:4] == _LOC:
            nlen, elen = struct.unpack("<HH", hdr[26:30])
            local = d[off + 30 : off + 30 + nlen]
            if local != name.encode("utf-8" if flags & 0x800 else "cp437", "replace"):
                self._issue("name-mismatch", name, f"local header names it {local[:80]!r}")
            data_off = off + 30 + nlen + elen
            if data_off + csize > len(d):
                self._issue("malformed", name, "member data runs past the end of the file")
        else:
            self._issue("malformed", name, "local header missing")
        return ZipMember(name, flags, method, crc, csize, usize, off, data_off)

    def _check(self) -> None:
        counts = collections.Counter(m.name for m in self.members)
        for name, n in counts.items():
            if n > 1:
                self._issue(
                    "duplicate", name, f"name appears {n} times; loaders disagree on which wins"
                )
        for m in self.members:
            parts = m.name.replace("\\", "/").split("/")
            if (
                m.name.startswith(("/", "\\"))
                or ".." in parts
                or (len(m.name) > 1 and m.name[1] == ":")
            ):
                self._issue("traversal", m.name, "member path leaves the extraction directory")
            if m.flags & 0x1:
                self._issue("encrypted", m.name, "member is encrypted and cannot be inspected")
            elif m.flags & 0x2040:
                self._issue("flags", m.name, f"unusual general-purpose flags 0x{m.flags:04x}")
            if m.method not in (0, 8, 12):
                self._issue("unsupported-method", m.name, f"compression method {m.method}")
            if m.size > _RATIO_FLOOR and m.size > self.max_ratio * max(m.compressed_size, 1):
                self._issue("bomb", m.name, f"declares {m.size} bytes from {m.compressed_size}")
        spans = sorted(
            (m.header_offset, m.data_offset + m.compressed_size, m.name)
            for m in self.members
            if m.data_offset >= 0
        )
        for (_, end, name), (start, _, nxt) in itertools.pairwise(spans):
            if start < end:
                self._issue(
                    "overlap", nxt, f"data overlaps member {name!r} (overlapping-file zip bomb)"
                )

    # -- data ------------------------------------------------------------------------

    def head(self, m: ZipMember, n: int) -> bytes:
        """The first ``n`` bytes of a member, decompressed; no CRC check."""
        return self._inflate(m, n, check=False)

    def read(self, m: ZipMember, cap: int) -> bytes:
        """The member, decompressed up to ``cap`` bytes; CRC and ratio become issues."""
        return self._inflate(m, cap, check=True)

    def _inflate(self, m: ZipMember, cap: int, *, check: bool) -> bytes:
        if m.data_offset < 0 or m.flags & 0x1:
            return b""
        raw_end = min(m.data_offset + m.compressed_size, len(self.data))
        if m.method == 0:
            out = self.data[m.data_offset : min(raw_end, m.data_offset + cap)]
            if check and len(out) == m.compressed_size and zlib.crc32(out) != m.crc:
                self._issue("crc", m.name, "stored CRC does not match the data")
            return bytes(out)
        if m.method == 8:
            dec: zlib._Decompress | bz2.BZ2Decompressor = zlib.decompressobj(-15)
        elif m.method == 12:
            dec = bz2.BZ2Decompressor()
        else:
            return b""
        chunks: list[bytes] = []
        got = 0
        crc = 0
        pos = m.data_offset
        limit = min(cap, self.max_total)
        try:
            while pos < raw_end and got < limit:
                block = self.data[pos : min(pos + _CHUNK, raw_end)]
                pos += len(block)
                piece = _feed(dec, block, limit - got)
                while piece:
                    chunks.append(piece)
                    got += len(piece)
                    crc = zlib.crc32(piece, crc)
                    if got > _RATIO_FLOOR and got > self.max_ratio * (pos - m.data_offset):
                        self._issue("bomb", m.name, f"expands more than {self.max_ratio}x")
                        return b"".join(chunks)
                    if got >= limit:
                        break
                    piece = _feed(dec, b"", limit - got)
        except (zlib.error, OSError, EOFError, ValueError) as e:
            self._issue("malformed", m.name, f"compressed data is corrupt: {e}")
            return b"".join(chunks)
        if check and got < limit:
            if got != m.size:
                self._issue("size-mismatch", m.name, f"declares {m.size} bytes, holds {got}")
            if crc != m.crc:
                self._issue("crc", m.name, "stored CRC does not match the data")
        return b"".join(chunks)


def _feed(dec: zlib._Decompress | bz2.BZ2Decompressor, block: bytes, room: int) -> bytes:
    """Decompress at most ``room + 1`` bytes, keeping the rest of the input pending."""
    if isinstance(dec, bz2.BZ2Decompressor):
        if dec.eof:
            return b""
        return dec.decompress(block, max_length=room + 1)
    data = dec.unconsumed_tail + block if dec.unconsumed_tail else block
    return dec.decompress(data, room + 1) if data else b""


def _cen(fixed: bytes) -> tuple[int, ...]:
    flags, method = struct.unpack("<HH", fixed[8:12])
    crc, csize, usize = struct.unpack("<III", fixed[16:28])
    nlen, elen, clen = struct.unpack("<HHH", fixed[28:34])
    (off,) = struct.unpack("<I", fixed[42:46])
    return flags, method, crc, csize, usize, nlen, elen, clen, off


def _zip64(extra: bytes, usize: int, csize: int, off: int) -> tuple[int, int, int]:
    """Apply a ZIP64 extra field: 8-byte values for each 32-bit field that is saturated."""
    i = 0
    while i + 4 <= len(extra):
        tag, n = struct.unpack("<HH", extra[i : i + 4])
        body = extra[i + 4 : i + 4 + n]
        if tag == 1:
            vals = [struct.unpack("<Q", body[j : j + 8])[0] for j in range(0, len(body) - 7, 8)]
            if usize == 0xFFFFFFFF and vals:
                usize = vals.pop(0)
            if csize == 0xFFFFFFFF and vals:
                csize = vals.pop(0)
            if off == 0xFFFFFFFF and vals:
                off = vals.pop(0)
        i += 4 + n
    return usize, csize, off
