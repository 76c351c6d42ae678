"""joblib's on-disk pickle: its compressed streams and the arrays written inside the pickle.

joblib differs from a plain pickle in two ways a walker must know about: the whole
stream may be compressed (zlib, gzip, bz2, xz, lzma, lz4, or the old ``ZF`` header), and
every ``NumpyArrayWrapper`` is followed, right after its BUILD, by the array's raw bytes
*inside* the pickle stream. :class:`Decompressed` is a bounded :class:`ByteSource` over
the compressed stream (a bomb stops it, never fills memory), and :func:`joblib_hook`
skips the raw array bytes, or walks them when the dtype holds Python objects.
"""

from __future__ import annotations

import bz2
import lzma
import math
import mmap
import re
import zlib

from custodes.scan.artifacts.pickle_walk import (
    Anomaly,
    BuildHook,
    ByteSource,
    GlobalRef,
    Obj,
    WalkResult,
    walk,
)
from custodes.scan.interface import Limits

__all__ = ["RATIO_FLOOR", "WRAPPERS", "Decompressed", "dtype_size", "joblib_hook"]

WRAPPERS = {
    "joblib.numpy_pickle.NumpyArrayWrapper",
    "sklearn.externals.joblib.numpy_pickle.NumpyArrayWrapper",
}
"""The classes after whose BUILD joblib writes an array's bytes into the stream."""
RATIO_FLOOR = 16 * 1024 * 1024
"""Below this many bytes out, no compression ratio is a bomb: small files compress well."""


def joblib_hook(lim: Limits) -> BuildHook:
    """Skip (or walk) the array data joblib writes right after a NumpyArrayWrapper BUILD."""

    def hook(obj: Obj, src: ByteSource, res: WalkResult) -> None:
        callee = obj.callee
        if not isinstance(callee, GlobalRef) or callee.qualname not in WRAPPERS:
            return
        state = obj.state if isinstance(obj.state, dict) else {}
        shape, dtype = state.get("shape"), state.get("dtype")
        itemsize, has_object = dtype_size(dtype)
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


def dtype_size(dtype: object) -> tuple[int, bool]:
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


class Decompressed:
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
                self.total > RATIO_FLOOR
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
        """See :class:`ByteSource`."""
        self._fill(n)
        out = bytes(self.buf[:n])
        del self.buf[:n]
        self.base += len(out)
        return out

    def readline(self, limit: int) -> bytes:
        """See :class:`ByteSource`."""
        while True:
            nl = self.buf.find(b"\n", 0, limit)
            if nl >= 0 or len(self.buf) >= limit:
                return self.read(nl + 1 if nl >= 0 else limit)
            before = len(self.buf)
            self._fill(before + 65536)
            if len(self.buf) == before:
                return self.read(before)

    def skip(self, n: int) -> int:
        """See :class:`ByteSource`."""
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
        """See :class:`ByteSource`."""
        return self.base

    def at_end(self) -> bool:
        """See :class:`ByteSource`."""
        self._fill(1)
        return not self.buf
