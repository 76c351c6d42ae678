"""The containers pickles hide in: joblib, legacy torch, .npy, zip (torch, npz) and tar.

Each reader opens its container without trusting it and hands every pickle it finds to
a :class:`Report`: joblib through a bounded decompression stream, legacy torch as its
five consecutive pickles, .npy only when its dtype holds objects, zip members through
:mod:`zipsafe` (every member that looks like a pickle, whatever its name, and never the
tensor storage), tar members listed without extraction.
"""

from __future__ import annotations

import contextlib
import mmap
import re
import tarfile
from pathlib import Path

from custodes.findings import Severity
from custodes.scan.artifacts.joblib_source import RATIO_FLOOR, Decompressed
from custodes.scan.artifacts.pickle_report import Report
from custodes.scan.artifacts.pickle_walk import BufferSource, looks_like_pickle
from custodes.scan.artifacts.sniff import Format
from custodes.scan.artifacts.zipsafe import SafeZip, ZipMember
from custodes.scan.interface import Limits

__all__ = ["scan_joblib", "scan_npy", "scan_tar", "scan_torch_legacy", "scan_zip"]

_STORAGE = re.compile(r"(^|/)(\.?data)/\d+$")
"""Torch zip tensor storage members (``archive/data/0``): raw bytes, never a pickle."""


def scan_joblib(mm: mmap.mmap, rep: Report, lim: Limits) -> None:
    head = mm[:32]
    kind, start = "zlib", 0
    if head.startswith(b"ZF"):
        start = 2 + 19
    elif head.startswith(b"BZh"):
        kind = "bz2"
    elif head.startswith((b"\xfd7zXZ", b"\x5d\x00")):
        kind = "xz"
    elif head.startswith(b"\x04\x22\x4d\x18"):
        rep.add(
            "ARTIFACT-PICKLE-UNSCANNABLE",
            Severity.MEDIUM,
            "lz4-compressed pickle cannot be inspected without lz4; treat as untrusted",
            "lz4",
            0,
            None,
        )
        return
    src = Decompressed(mm, start, kind, lim)
    rep.walk(src, lim)
    if src.bomb:
        rep.add(
            "ARTIFACT-ARCHIVE-BOMB",
            Severity.HIGH,
            f"Compressed pickle expands past the bound after {src.total} bytes",
            "bomb",
            None,
            None,
        )
    if src.error:
        rep.add(
            "ARTIFACT-ARCHIVE-MALFORMED",
            Severity.MEDIUM,
            f"Compressed stream is corrupt: {src.error}",
            "corrupt",
            None,
            None,
        )


def scan_torch_legacy(mm: mmap.mmap, rep: Report, lim: Limits) -> None:
    """magic, protocol, sys_info, the model, storage keys: five pickles, then raw storage."""
    src = BufferSource(mm)
    for _ in range(5):
        res = rep.walk(src, lim, torch=True, multi=False)
        if not res.clean_stop:
            return


def scan_npy(data: bytes | mmap.mmap, rep: Report, lim: Limits, member: str | None) -> None:
    """Object arrays in .npy are a pickle after the header: walk it."""
    import ast

    major = data[6] if len(data) > 7 else 0
    width = 2 if major == 1 else 4
    hlen = int.from_bytes(data[8 : 8 + width], "little")
    start = 8 + width
    header = data[start : start + min(hlen, 65536)]
    try:
        meta = ast.literal_eval(header.decode("latin-1").strip()) if hlen <= 65536 else None
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        meta = None
    if not isinstance(meta, dict) or "descr" not in meta:
        rep.add(
            "ARTIFACT-NPY-MALFORMED",
            Severity.MEDIUM,
            "NumPy header is not a valid dict",
            "header",
            8,
            member,
        )
        return
    if "O" in repr(meta["descr"]):
        rep.walk(BufferSource(data, start + hlen), lim, member)


def scan_zip(mm: mmap.mmap, rep: Report, lim: Limits) -> None:
    z = SafeZip(
        mm,
        max_members=lim.max_archive_members,
        max_ratio=lim.max_compression_ratio,
        max_total=lim.max_decompressed_bytes,
    )
    torch = rep.fmt is Format.TORCH_ZIP
    for m in z.members:
        _member(z, m, rep, lim, torch=torch)
    rep.zip_issues(z)


def _member(z: SafeZip, m: ZipMember, rep: Report, lim: Limits, *, torch: bool) -> None:
    head = z.head(m, 64)
    if head.startswith(b"\x93NUMPY"):
        scan_npy(z.read(m, lim.max_pickle_bytes), rep, lim, m.name)
        return
    storage = bool(_STORAGE.search(m.name))
    if not (looks_like_pickle(head) or head[:1] == b"\x80" or m.name.endswith((".pkl", ".pickle"))):
        if not storage and m.size <= RATIO_FLOOR:
            z.read(m, RATIO_FLOOR)  # for CRC and ratio checks only
        return
    data = z.read(m, lim.max_pickle_bytes) if not storage else z.read(m, 1 << 20)
    rep.walk(BufferSource(data), lim, m.name, torch=torch, quiet=storage)


def scan_tar(path: Path, rep: Report, lim: Limits) -> None:
    torch = rep.fmt is Format.TORCH_TAR
    try:
        with tarfile.open(path, "r:") as tf:
            for i, ti in enumerate(tf):
                if i >= lim.max_archive_members:
                    rep.add(
                        "ARTIFACT-SCAN-INCOMPLETE",
                        Severity.HIGH,
                        "too many tar members",
                        "limit",
                        None,
                        None,
                    )
                    return
                name = ti.name
                if name.startswith("/") or ".." in name.split("/") or ti.issym() or ti.islnk():
                    rep.add(
                        "ARTIFACT-ARCHIVE-TRAVERSAL",
                        Severity.HIGH,
                        "tar member path or link leaves the extraction directory",
                        "traversal",
                        None,
                        name,
                    )
                if not ti.isfile():
                    continue
                fh = tf.extractfile(ti)
                if fh is None:
                    continue
                with contextlib.closing(fh):
                    data = fh.read(min(ti.size, lim.max_pickle_bytes))
                if looks_like_pickle(data[:64]) or data[:1] == b"\x80":
                    raw = name in ("storages", "tensors")
                    rep.walk(BufferSource(data), lim, name, torch=torch, multi=not raw)
    except (tarfile.TarError, OSError, ValueError, EOFError) as e:
        rep.add(
            "ARTIFACT-ARCHIVE-MALFORMED",
            Severity.MEDIUM,
            f"tar archive is corrupt: {e}",
            "corrupt",
            None,
            None,
        )
