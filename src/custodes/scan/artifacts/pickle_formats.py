"""Model files that are pickles inside: raw pickle, joblib, PyTorch, NumPy; one scanner.

Each container is opened without trusting it (``mmap`` plus :mod:`zipsafe`, streaming
decompression with a bound, :mod:`tarfile` listing without extraction), every pickle in
it is walked by :mod:`pickle_walk`, and every imported callable is judged by
:mod:`policy`. Tensor storage is never read: a torch checkpoint costs its central
directory and its ``data.pkl``, whatever the size of the weights.
"""

from __future__ import annotations

import bz2
import contextlib
import lzma
import math
import mmap
import re
import tarfile
import zlib
from collections.abc import Iterator
from pathlib import Path

from custodes.findings import Category, Finding, Location, RuleId, Severity
from custodes.scan.artifacts.pickle_walk import (
    Anomaly,
    BufferSource,
    BuildHook,
    ByteSource,
    GlobalRef,
    Obj,
    WalkResult,
    looks_like_pickle,
    walk,
)
from custodes.scan.artifacts.policy import Verdict, classify
from custodes.scan.artifacts.sniff import Format, sniff
from custodes.scan.artifacts.zipsafe import SafeZip, ZipMember
from custodes.scan.interface import Limits, ScanContext, Scanner, Target

__all__ = ["PickleArtifactScanner", "scan_path"]

THREATS = ("SUPPLYMODELPOISON", "RUNTIMEMODELPOISON")
REMEDIATION = (
    "Do not load this file; ask for a safetensors or ONNX export, or load it only with "
    "torch.load(weights_only=True) after review."
)
HANDLED = frozenset(
    {Format.PICKLE, Format.JOBLIB, Format.TORCH_ZIP, Format.TORCH_TAR, Format.TORCH_LEGACY}
    | {Format.NUMPY, Format.NUMPY_ZIP, Format.ZIP, Format.TAR}
)
_ANOMALY_RULES: dict[str, tuple[str, Severity]] = {
    "dynamic-call": ("ARTIFACT-PICKLE-DYNAMIC-CALL", Severity.HIGH),
    "persid-call": ("ARTIFACT-PICKLE-DYNAMIC-CALL", Severity.HIGH),
    "unresolved-global": ("ARTIFACT-PICKLE-DYNAMIC-CALL", Severity.HIGH),
    "global-mutation": ("ARTIFACT-PICKLE-GLOBAL-MUTATION", Severity.HIGH),
    "ext": ("ARTIFACT-PICKLE-EXT", Severity.HIGH),
    "limit": ("ARTIFACT-SCAN-INCOMPLETE", Severity.HIGH),
    "trailing-data": ("ARTIFACT-PICKLE-TRAILING-DATA", Severity.MEDIUM),
    "extra-stream": ("ARTIFACT-PICKLE-TRAILING-DATA", Severity.MEDIUM),
    "persid": ("ARTIFACT-PICKLE-PERSISTENT-ID", Severity.LOW),
}
_ZIP_RULES: dict[str, tuple[str, Severity]] = {
    "crc": ("ARTIFACT-ARCHIVE-CRC", Severity.HIGH),
    "traversal": ("ARTIFACT-ARCHIVE-TRAVERSAL", Severity.HIGH),
    "duplicate": ("ARTIFACT-ARCHIVE-DUPLICATE", Severity.HIGH),
    "name-mismatch": ("ARTIFACT-ARCHIVE-DUPLICATE", Severity.HIGH),
    "bomb": ("ARTIFACT-ARCHIVE-BOMB", Severity.HIGH),
    "overlap": ("ARTIFACT-ARCHIVE-BOMB", Severity.HIGH),
    "limit": ("ARTIFACT-SCAN-INCOMPLETE", Severity.HIGH),
}
_STORAGE = re.compile(r"(^|/)(\.?data)/\d+$")
_WRAPPERS = {
    "joblib.numpy_pickle.NumpyArrayWrapper",
    "sklearn.externals.joblib.numpy_pickle.NumpyArrayWrapper",
}
_RATIO_FLOOR = 16 * 1024 * 1024


class PickleArtifactScanner(Scanner):
    """Pickle-bearing model files, found by content: pickle, joblib, torch, npy/npz."""

    name = "artifacts-pickle"

    def wants(self, target: Target) -> bool:
        """True for any format whose bytes may hold a pickle (never by extension)."""
        return sniff(target.head, target.path) in HANDLED

    def scan(self, target: Target, ctx: ScanContext) -> Iterator[Finding]:
        """Walk every pickle in the file; yield policy and structure findings."""
        yield from scan_path(target.path, target.display, ctx.limits, head=target.head)


def scan_path(
    path: Path,
    display: str | None = None,
    limits: Limits | None = None,
    *,
    head: bytes | None = None,
) -> list[Finding]:
    """All findings for one file; never raises on hostile content."""
    lim = limits or Limits()
    if head is None:
        with path.open("rb") as fh:
            head = fh.read(8192)
    fmt = sniff(head, path)
    rep = _Report(display or str(path), fmt)
    if path.stat().st_size == 0 or fmt not in HANDLED:
        return rep.findings
    with path.open("rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        if fmt is Format.PICKLE:
            rep.walk(BufferSource(mm), lim)
        elif fmt is Format.JOBLIB:
            _joblib(mm, rep, lim)
        elif fmt is Format.TORCH_LEGACY:
            _torch_legacy(mm, rep, lim)
        elif fmt is Format.NUMPY:
            _npy(mm, rep, lim, None)
        elif fmt in (Format.TORCH_ZIP, Format.NUMPY_ZIP, Format.ZIP):
            _zip(mm, rep, lim)
    if fmt in (Format.TORCH_TAR, Format.TAR):
        _tar(path, rep, lim)
    return rep.findings


class _Report:
    """Turns walk results and archive issues into findings, once per subject and member."""

    def __init__(self, display: str, fmt: Format) -> None:
        self.display = display
        self.fmt = fmt
        self.findings: list[Finding] = []
        self._seen: set[tuple[str, str, str | None]] = set()

    def add(
        self,
        rule: str,
        sev: Severity,
        msg: str,
        subject: str,
        offset: int | None,
        member: str | None,
    ) -> None:
        key = (rule, subject, member)
        if key in self._seen:
            return
        self._seen.add(key)
        props: dict[str, object] = {"format": self.fmt.value, "offset": offset}
        if rule.startswith("ARTIFACT-PICKLE-") and "." in subject:
            props["callable"] = subject
        if member is not None:
            props["member"] = member
        where = f" (member {member})" if member else ""
        self.findings.append(
            Finding(
                rule_id=RuleId(rule),
                category=Category.ARTIFACT,
                severity=sev,
                message=msg + where,
                location=Location(path=self.display, line=None),
                threats=THREATS,
                remediation=REMEDIATION,
                properties=props,
                subject=subject if member is None else f"{member}:{subject}",
                facts=(f"format {self.fmt.value}", f"offset {offset}"),
            )
        )

    def walk(
        self,
        src: ByteSource,
        lim: Limits,
        member: str | None = None,
        *,
        torch: bool = False,
        multi: bool = True,
        quiet: bool = False,
    ) -> WalkResult:
        res = walk(
            src,
            max_ops=lim.max_pickle_ops,
            max_bytes=lim.max_pickle_bytes,
            multi_stream=multi,
            on_build=_joblib_hook(lim),
        )
        if quiet and not (res.clean_stop and all(a.kind == "persid" for a in res.anomalies)):
            return res  # a storage blob that only happened to start like a pickle
        self.judge(res, member, torch=torch)
        return res

    def judge(self, res: WalkResult, member: str | None, *, torch: bool) -> None:
        for g in res.globals:
            self.judge_global(g, member)
        for a in res.anomalies:
            self.judge_anomaly(a, member, torch=torch)

    def judge_global(self, g: GlobalRef, member: str | None) -> None:
        d = classify(g.module, g.name)
        how = "called" if g.called else "imported"
        if d.verdict is Verdict.DANGEROUS:
            self.add(
                "ARTIFACT-PICKLE-CODE-EXECUTION",
                Severity.CRITICAL,
                f"Loading this file would run code: it {how} {g.qualname} ({d.reason})",
                g.qualname,
                g.offset,
                member,
            )
        elif d.verdict is Verdict.UNKNOWN:
            sev = Severity.HIGH if g.called else Severity.MEDIUM
            self.add(
                "ARTIFACT-PICKLE-UNKNOWN-CALLABLE",
                sev,
                f"Pickle {how} {g.qualname}, which is not a known model-reconstruction callable",
                g.qualname,
                g.offset,
                member,
            )

    def judge_anomaly(self, a: Anomaly, member: str | None, *, torch: bool) -> None:
        if a.kind in ("persid", "persid-call") and torch:
            return
        rule, sev = _ANOMALY_RULES.get(a.kind, ("ARTIFACT-PICKLE-MALFORMED", Severity.MEDIUM))
        self.add(
            rule, sev, f"Pickle stream anomaly ({a.kind}): {a.detail}", a.kind, a.offset, member
        )

    def zip_issues(self, z: SafeZip, start: int = 0) -> None:
        for i in z.issues[start:]:
            rule, sev = _ZIP_RULES.get(i.kind, ("ARTIFACT-ARCHIVE-MALFORMED", Severity.MEDIUM))
            self.add(rule, sev, f"Archive anomaly ({i.kind}): {i.detail}", i.kind, None, i.member)


def _joblib_hook(lim: Limits) -> BuildHook:
    """Skip (or walk) the array data joblib writes right after a NumpyArrayWrapper BUILD."""

    def hook(obj: Obj, src: ByteSource, res: WalkResult) -> None:
        callee = obj.callee
        if not isinstance(callee, GlobalRef) or callee.qualname not in _WRAPPERS:
            return
        state = obj.state if isinstance(obj.state, dict) else {}
        shape, dtype = state.get("shape"), state.get("dtype")
        itemsize, has_object = _dtype_size(dtype)
        if has_object:
            walk(src, max_ops=lim.max_pickle_ops, multi_stream=False, on_build=hook, result=res)
            return
        if (
            not isinstance(shape, tuple)
            or not all(isinstance(n, int) for n in shape)
            or itemsize < 0
        ):
            res.anomalies.append(
                Anomaly("bad-argument", src.tell(), "joblib array without shape or dtype")
            )
            return
        if isinstance(state.get("numpy_array_alignment_bytes"), int):
            pad = src.read(1)
            src.skip(pad[0] if pad else 0)
        want = math.prod(shape) * itemsize
        if src.skip(want) < want:
            res.anomalies.append(Anomaly("truncated", src.tell(), "joblib array data cut short"))

    return hook


def _dtype_size(dtype: object) -> tuple[int, bool]:
    """(itemsize, has_object) of a pickled ``numpy.dtype`` placeholder, or (-1, False)."""
    if not isinstance(dtype, Obj) or not isinstance(dtype.args, tuple) or not dtype.args:
        return -1, False
    code = dtype.args[0]
    state = dtype.state if isinstance(dtype.state, tuple) else ()
    flags = state[7] if len(state) > 7 and isinstance(state[7], int) else 0
    if not isinstance(code, str):
        return -1, False
    if code.startswith("O") or flags & 1:
        return 8, True
    if len(state) > 5 and isinstance(state[5], int) and state[5] > 0:
        return state[5], False
    m = re.fullmatch(r"[biufcmMV](\d+)(\[.*\])?", code)
    if m:
        return int(m.group(1)), False
    return -1, False


class _Decompressed:
    """A :class:`ByteSource` over a compressed stream, bounded in output and ratio."""

    def __init__(self, raw: mmap.mmap, start: int, kind: str, lim: Limits) -> None:
        self.raw, self.pos_in, self.kind, self.lim = raw, start, kind, lim
        self.buf = bytearray()
        self.base = 0  # stream offset of buf[0]
        self.total = 0
        self.bomb = False
        self.error: str | None = None
        self.dec = self._new()

    def _new(self) -> zlib._Decompress | bz2.BZ2Decompressor | lzma.LZMADecompressor:
        if self.kind == "bz2":
            return bz2.BZ2Decompressor()
        if self.kind in ("xz", "lzma"):
            return lzma.LZMADecompressor()
        return zlib.decompressobj(47)

    def _fill(self, need: int) -> None:
        while len(self.buf) < need and not self.bomb and self.error is None:
            if self.total > self.lim.max_decompressed_bytes or (
                self.total > _RATIO_FLOOR
                and self.total > self.lim.max_compression_ratio * self.pos_in
            ):
                self.bomb = True
                return
            chunk = self.raw[self.pos_in : self.pos_in + 65536]
            try:
                if not isinstance(self.dec, (bz2.BZ2Decompressor, lzma.LZMADecompressor)):
                    data = self.dec.unconsumed_tail + chunk
                    out = self.dec.decompress(data, 1 << 20)
                    if not self.dec.unconsumed_tail:
                        self.pos_in += len(chunk)
                    if self.dec.eof and self.dec.unused_data:
                        self.pos_in -= len(self.dec.unused_data)
                        self.dec = self._new()
                elif self.dec.eof:
                    return
                else:
                    out = self.dec.decompress(chunk, max_length=1 << 20)
                    self.pos_in += len(chunk)
            except (OSError, EOFError, ValueError, zlib.error, lzma.LZMAError) as e:
                self.error = str(e)
                return
            if not out and not chunk:
                return
            self.buf += out
            self.total += len(out)

    def read(self, n: int) -> bytes:
        self._fill(n)
        out = bytes(self.buf[:n])
        del self.buf[:n]
        self.base += len(out)
        return out

    def readline(self, limit: int) -> bytes:
        while True:
            nl = self.buf.find(b"\n", 0, limit)
            if nl >= 0 or len(self.buf) >= limit:
                return self.read(nl + 1 if nl >= 0 else limit)
            before = len(self.buf)
            self._fill(before + 65536)
            if len(self.buf) == before:
                return self.read(before)

    def skip(self, n: int) -> int:
        done = 0
        while done < n:
            self._fill(min(n - done, 1 << 20))
            if not self.buf:
                break
            take = min(len(self.buf), n - done)
            del self.buf[:take]
            self.base += take
            done += take
        return done

    def tell(self) -> int:
        return self.base

    def at_end(self) -> bool:
        self._fill(1)
        return not self.buf


def _joblib(mm: mmap.mmap, rep: _Report, lim: Limits) -> None:
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
    src = _Decompressed(mm, start, kind, lim)
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


def _torch_legacy(mm: mmap.mmap, rep: _Report, lim: Limits) -> None:
    """magic, protocol, sys_info, the model, storage keys: five pickles, then raw storage."""
    src = BufferSource(mm)
    for _ in range(5):
        res = rep.walk(src, lim, torch=True, multi=False)
        if not res.clean_stop:
            return


def _npy(data: bytes | mmap.mmap, rep: _Report, lim: Limits, member: str | None) -> None:
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


def _zip(mm: mmap.mmap, rep: _Report, lim: Limits) -> None:
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


def _member(z: SafeZip, m: ZipMember, rep: _Report, lim: Limits, *, torch: bool) -> None:
    head = z.head(m, 64)
    if head.startswith(b"\x93NUMPY"):
        _npy(z.read(m, lim.max_pickle_bytes), rep, lim, m.name)
        return
    storage = bool(_STORAGE.search(m.name))
    if not (looks_like_pickle(head) or head[:1] == b"\x80" or m.name.endswith((".pkl", ".pickle"))):
        if not storage and m.size <= _RATIO_FLOOR:
            z.read(m, _RATIO_FLOOR)  # for CRC and ratio checks only
        return
    data = z.read(m, lim.max_pickle_bytes) if not storage else z.read(m, 1 << 20)
    rep.walk(BufferSource(data), lim, m.name, torch=torch, quiet=storage)


def _tar(path: Path, rep: _Report, lim: Limits) -> None:
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
