"""What a model file really is, from its bytes: the extension is a hint an attacker picks.

Scanners that chose the parser by extension were bypassed by renaming (a pickle saved as
``.bin`` or ``.pt`` went unscanned, CVE-2025-10155), so every artifact scanner asks
:func:`sniff` instead. It reads the head (and, for zips and tars, the member list, which
is bounded and parsed without extraction) and returns a :class:`Format`.
"""

from __future__ import annotations

import bz2
import enum
import lzma
import mmap
import struct
import tarfile
import zlib
from pathlib import Path

from custodes.scan.artifacts.pickle_walk import looks_like_pickle
from custodes.scan.artifacts.zipsafe import is_zip, zip_names

__all__ = ["COMPRESSED_PREFIXES", "Format", "sniff", "sniff_path"]


class Format(enum.Enum):
    """Artifact formats custodes recognises by content."""

    PICKLE = "pickle"
    JOBLIB = "joblib"
    """A compressed (zlib, gzip, bz2, lzma, xz, lz4) pickle as joblib writes it."""
    TORCH_ZIP = "torch-zip"
    TORCH_TAR = "torch-tar"
    TORCH_LEGACY = "torch-legacy"
    NUMPY = "npy"
    NUMPY_ZIP = "npz"
    KERAS_H5 = "keras-h5"
    KERAS_ZIP = "keras"
    SAVEDMODEL = "savedmodel"
    ONNX = "onnx"
    SAFETENSORS = "safetensors"
    GGUF = "gguf"
    ZIP = "zip"
    TAR = "tar"
    UNKNOWN = "unknown"


COMPRESSED_PREFIXES: tuple[tuple[bytes, str], ...] = (
    (b"\x1f\x8b", "gzip"),
    (b"BZh", "bz2"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"\x5d\x00\x00", "lzma"),
    (b"\x04\x22\x4d\x18", "lz4"),
    (b"ZF", "zfile"),
    (b"\x78\x01", "zlib"),
    (b"\x78\x5e", "zlib"),
    (b"\x78\x9c", "zlib"),
    (b"\x78\xda", "zlib"),
)
"""Prefixes joblib's compressors write (``joblib.compressor``), and the old ``ZF`` header."""

_HDF5 = b"\x89HDF\r\n\x1a\n"
_TORCH_LEGACY = b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19"
"""PROTO 2, LONG1 of torch's legacy MAGIC_NUMBER 0x1950a86a20f9469cfc6c."""


def sniff_path(path: Path, head: bytes | None = None) -> Format:
    """Read the head of ``path`` (when not given) and sniff it."""
    if head is None:
        with path.open("rb") as fh:
            head = fh.read(8192)
    return sniff(head, path)


def sniff(head: bytes, path: Path | None = None) -> Format:
    """The format of a file from its first bytes (and its member list, given ``path``)."""
    if head.startswith(b"GGUF"):
        return Format.GGUF
    if head.startswith(_HDF5) or any(head[o : o + 8] == _HDF5 for o in (512, 1024, 2048, 4096)):
        return Format.KERAS_H5
    if head.startswith(b"\x93NUMPY"):
        return Format.NUMPY
    if head.startswith(_TORCH_LEGACY):
        return Format.TORCH_LEGACY
    if is_zip(head):
        return _zip_kind(path)
    if (len(head) >= 512 and head[257:262] == b"ustar") or _tar_like(head):
        return _tar_kind(path)
    if _safetensors(head):
        return Format.SAFETENSORS
    proto = _protobuf_kind(head, path)
    if proto is not None:
        return proto
    if looks_like_pickle(head):
        return Format.PICKLE
    for prefix, _ in COMPRESSED_PREFIXES:
        if head.startswith(prefix) and _decompresses_to_pickle(head, prefix):
            return Format.JOBLIB
    return Format.UNKNOWN


def _zip_kind(path: Path | None) -> Format:
    names: list[str] | None = None
    if path is not None:
        try:
            with path.open("rb") as fh:
                size = path.stat().st_size
                if size == 0:
                    return Format.ZIP
                with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
                    names = zip_names(mm)
        except (OSError, ValueError):
            names = None
    if not names:
        return Format.ZIP
    base = {n.rsplit("/", 1)[-1] for n in names}
    if "config.json" in names and "metadata.json" in names:
        return Format.KERAS_ZIP
    if all(n.endswith(".npy") for n in names):
        return Format.NUMPY_ZIP
    torchish = {"data.pkl", "version", ".format_version", "byteorder", "constants.pkl"}
    if base & torchish or any("/data/" in n for n in names):
        return Format.TORCH_ZIP
    return Format.ZIP


def _tar_like(head: bytes) -> bool:
    if len(head) < 512:
        return False
    chk = head[148:156].split(b"\x00", 1)[0].strip()
    try:
        stored = int(chk, 8)
    except ValueError:
        return False
    computed = sum(head[:148]) + 256 + sum(head[156:512])
    return stored == computed


def _tar_kind(path: Path | None) -> Format:
    if path is None:
        return Format.TAR
    try:
        with tarfile.open(path, "r:") as tf:
            names = set()
            for i, member in enumerate(tf):
                names.add(member.name)
                if i > 64:
                    break
    except (tarfile.TarError, OSError, ValueError):
        return Format.TAR
    if {"pickle", "storages", "tensors"} & names or "sys_info" in names:
        return Format.TORCH_TAR
    return Format.TAR


def _safetensors(head: bytes) -> bool:
    if len(head) < 10:
        return False
    (n,) = struct.unpack("<Q", head[:8])
    return 2 <= n <= 100 * 1024 * 1024 and head[8:9] == b"{"


def _protobuf_kind(head: bytes, path: Path | None) -> Format | None:
    """SavedModel and ONNX are protobufs without magic: judge their top-level fields."""
    if not head.startswith(b"\x08"):
        return None
    fields = _top_fields(head)
    if not fields or fields[0] != (1, 0):
        return None
    numbers = {f for f, _ in fields}
    if (path is not None and path.name == "saved_model.pb") or (
        numbers <= {1, 2}
        and (2, 2) in fields
        and path is not None
        and (path.parent / "variables").is_dir()
    ):
        return Format.SAVEDMODEL
    if ((7, 2) in fields or (8, 2) in fields) and max(numbers) <= 25:
        return Format.ONNX
    return None


def _top_fields(buf: bytes) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    pos = 0
    while pos < len(buf) and len(out) < 32:
        key, pos = _varint(buf, pos)
        if key < 0:
            break
        field, wire = key >> 3, key & 7
        if field == 0:
            return []
        out.append((field, wire))
        if wire == 0:
            _, pos = _varint(buf, pos)
        elif wire == 2:
            n, pos = _varint(buf, pos)
            pos += max(n, 0)
        elif wire == 1:
            pos += 8
        elif wire == 5:
            pos += 4
        else:
            return []
        if pos < 0:
            break
    return out


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while pos < len(buf) and shift < 64:
        b = buf[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        if not b & 0x80:
            return value, pos
        shift += 7
    return -1, -1


def _decompresses_to_pickle(head: bytes, prefix: bytes) -> bool:
    """Whether a compressed head starts a pickle (decompressing at most a few KB)."""
    try:
        if prefix == b"ZF":
            return True
        if prefix == b"\x04\x22\x4d\x18":
            return True  # lz4: not decompressible here, the scanner reports it unscannable
        if prefix == b"BZh":
            out = bz2.BZ2Decompressor().decompress(head, max_length=64)
        elif prefix.startswith((b"\xfd7zXZ", b"\x5d")):
            out = lzma.LZMADecompressor().decompress(head, max_length=64)
        else:
            out = zlib.decompressobj(47).decompress(head, 64)
    except (OSError, EOFError, ValueError, zlib.error, lzma.LZMAError):
        return False
    return len(out) >= 2 and (out[0] == 0x80 or looks_like_pickle(out) or out[:1] in b"(]}c")
