"""A static pickle opcode walker: what a pickle would import and call, without loading it.

``pickle.load`` is a small stack machine whose only dangerous moves are importing a
global (GLOBAL, STACK_GLOBAL, INST, EXT*) and calling something (REDUCE, INST, OBJ,
NEWOBJ, NEWOBJ_EX, and BUILD through ``__setstate__``). This module replays that machine
over *symbolic* values: strings, numbers and containers are kept so that STACK_GLOBAL
operands and memo lookups resolve exactly as the real unpickler would resolve them, while
every object that loading would build is an inert placeholder. Nothing is imported and
nothing is called. Scanners that track only GLOBAL opcodes, or only ``MEMOIZE`` but not
``BINPUT`` (picklescan issue #14), or that stop at the first malformed opcode after a
payload (GHSA-9gvj-pp9x-gcfr), are exactly what this walker is built not to be.

The walker reads from a :class:`ByteSource`, so the same code walks an in-memory member,
an ``mmap`` of a multi-gigabyte file, or a bounded decompression stream, and big byte
arguments are skipped rather than copied. It never raises on hostile input: every
oddity becomes an :class:`Anomaly` and the walk stops or moves on.

The byte sources and result types live in :mod:`pickle_values` and argument decoding in
:mod:`pickle_opargs`; they are re-exported here, where callers have always found them.
"""

from __future__ import annotations

import _compat_pickle
import contextlib

from custodes.scan.artifacts.pickle_opargs import BIG_ARG, OPS, ArgReader, StreamStop
from custodes.scan.artifacts.pickle_values import (
    Anomaly,
    BufferSource,
    BuildHook,
    ByteSource,
    Call,
    GlobalRef,
    Obj,
    Opaque,
    WalkResult,
)

__all__ = [
    "BIG_ARG",
    "Anomaly",
    "BufferSource",
    "BuildHook",
    "ByteSource",
    "Call",
    "GlobalRef",
    "Obj",
    "Opaque",
    "WalkResult",
    "looks_like_pickle",
    "walk",
]

_FIX_MODULES: dict[str, str] = dict(_compat_pickle.IMPORT_MAPPING)
_FIX_NAMES: dict[tuple[str, str], tuple[str, str]] = dict(_compat_pickle.NAME_MAPPING)
_CALLERS = {"REDUCE", "NEWOBJ", "NEWOBJ_EX", "OBJ", "INST"}


def looks_like_pickle(head: bytes) -> bool:
    """A cheap content test: PROTO 2-5, or a protocol 0/1 stream that parses to STOP."""
    if len(head) >= 2 and head[0] == 0x80:
        return 2 <= head[1] <= 5 and (len(head) < 3 or head[2] in OPS)
    if not head or head[0] not in b"(]})c\x80}":
        return False
    res = walk(BufferSource(head), max_ops=10_000, multi_stream=False)
    bad = {"truncated", "bad-opcode", "stack", "bad-argument", "memo-miss"}
    return res.clean_stop and not any(a.kind in bad for a in res.anomalies)


def walk(
    source: ByteSource | bytes,
    *,
    max_ops: int = 5_000_000,
    max_bytes: int | None = None,
    multi_stream: bool = True,
    max_streams: int = 64,
    on_build: BuildHook | None = None,
    result: WalkResult | None = None,
) -> WalkResult:
    """Walk one pickle stream, and the streams after it while bytes remain.

    ``multi_stream`` keeps walking after STOP (a payload hidden in a second stream is
    still a payload; bytes that are no pickle are a ``trailing-data`` anomaly). Formats
    that legitimately put raw data after their pickles pass ``multi_stream=False`` and
    judge the rest themselves.
    """
    src: ByteSource = BufferSource(source) if isinstance(source, bytes) else source
    res = result if result is not None else WalkResult()
    limit = None if max_bytes is None else src.tell() + max_bytes
    _Machine(src, res, max_ops, limit, on_build, res.streams).run()
    while res.clean_stop and multi_stream and not src.at_end():
        if res.streams >= max_streams:
            res.anomalies.append(Anomaly("limit", src.tell(), f"more than {max_streams} streams"))
            break
        # Another stream follows. Walk it on a scratch result: a real pickle is merged
        # (its anomalies count), garbage is one trailing-data anomaly. Imports seen in
        # either case are kept: a GLOBAL is worth reporting wherever it sits.
        nxt = src.tell()
        probe = WalkResult(streams=res.streams, ops=res.ops)
        _Machine(src, probe, max_ops, limit, on_build, res.streams).run()
        res.ops = probe.ops
        res.globals.extend(probe.globals)
        res.calls.extend(probe.calls)
        if probe.clean_stop:
            res.streams = probe.streams
            res.anomalies.append(Anomaly("extra-stream", nxt, "another pickle stream follows STOP"))
            res.anomalies.extend(probe.anomalies)
        else:
            kinds = {a.kind for a in probe.anomalies}
            if "limit" in kinds:
                res.anomalies.extend(a for a in probe.anomalies if a.kind == "limit")
            res.anomalies.append(
                Anomaly("trailing-data", nxt, "bytes after STOP that are not a valid pickle")
            )
            res.clean_stop = False
    res.end = src.tell()
    return res


class _Machine(ArgReader):
    """One stream's stack machine; symbolic, bounded, never raises to the caller."""

    def __init__(
        self,
        src: ByteSource,
        res: WalkResult,
        max_ops: int,
        limit: int | None,
        on_build: BuildHook | None,
        stream: int,
    ) -> None:
        self.src = src
        self.res = res
        self.max_ops = max_ops
        self.limit = limit
        self.on_build = on_build
        self.stream = stream
        self.stack: list[object] = []
        self.marks: list[list[object]] = []
        self.memo: dict[int, object] = {}
        self.proto = 0
        self.pos = 0

    def note(self, kind: str, detail: str, offset: int | None = None) -> None:
        self.res.anomalies.append(Anomaly(kind, self.pos if offset is None else offset, detail))

    def fail(self, kind: str, detail: str) -> StreamStop:
        self.note(kind, detail)
        return StreamStop()

    def run(self) -> None:
        self.res.clean_stop = False
        try:
            while True:
                self.pos = self.src.tell()
                if self.limit is not None and self.pos >= self.limit:
                    raise self.fail("limit", "pickle larger than the scan limit; rest not walked")
                if self.res.ops >= self.max_ops:
                    raise self.fail("limit", f"more than {self.max_ops} opcodes; rest not walked")
                code = self.src.read(1)
                if not code:
                    raise self.fail("truncated", "stream ends before STOP")
                self.res.ops += 1
                entry = OPS.get(code[0])
                if entry is None:
                    raise self.fail("bad-opcode", f"byte 0x{code[0]:02x} is no pickle opcode")
                name, argkind = entry
                arg = self.read_arg(argkind) if argkind else None
                if name == "STOP":
                    self.pop()
                    if self.stack or self.marks:
                        self.note("stack", "values left on the stack at STOP")
                    self.res.streams += 1
                    self.res.clean_stop = True
                    return
                self.step(name, arg)
        except StreamStop:
            return
        except (IndexError, KeyError, TypeError, ValueError, OverflowError, RecursionError) as e:
            self.note("bad-argument", f"cannot model opcode: {type(e).__name__}")

    # -- stack -----------------------------------------------------------------------

    def pop(self) -> object:
        if not self.stack:
            raise self.fail("stack", "pop from an empty stack")
        return self.stack.pop()

    def pop_mark(self) -> list[object]:
        if not self.marks:
            raise self.fail("stack", "no MARK to pop to")
        items = self.stack
        self.stack = self.marks.pop()
        return items

    def top(self) -> object:
        if not self.stack:
            raise self.fail("stack", "empty stack")
        return self.stack[-1]

    def make_global(self, module: object, name: object, opcode: str) -> object:
        if not isinstance(module, str) or not isinstance(name, str):
            self.note("unresolved-global", f"{opcode} operands are not both strings")
            return Opaque("unresolved-global")
        if self.proto < 3:
            module, name = _FIX_NAMES.get((module, name), (module, name))
            module = _FIX_MODULES.get(module, module)
        ref = GlobalRef(module, name, self.pos, opcode, stream=self.stream)
        self.res.globals.append(ref)
        return ref

    def call(self, callee: object, args: object, opcode: str) -> Obj:
        if isinstance(callee, GlobalRef):
            callee.called = True
            self.res.calls.append(Call(callee, opcode, self.pos))
        elif (
            isinstance(callee, Obj)
            and isinstance(callee.callee, Opaque)
            and callee.callee.what == "persid"
        ):
            # torch's legacy format pickles module classes as persistent ids; the class
            # itself sits as a GLOBAL inside the id and is judged there.
            self.res.calls.append(Call(None, opcode, self.pos))
            self.note("persid-call", f"{opcode} calls an object returned by persistent_load")
        else:
            self.res.calls.append(Call(None, opcode, self.pos))
            what = "a call's result" if isinstance(callee, Obj) else "a non-global value"
            self.note("dynamic-call", f"{opcode} calls {what}, not an imported name")
        return Obj(callee, args, self.pos)

    def mutate(self, target: object, opcode: str) -> None:
        if isinstance(target, GlobalRef):
            self.note("global-mutation", f"{opcode} writes into imported {target.qualname}")

    def step(self, name: str, arg: object) -> None:
        st = self.stack
        if name in ("PROTO",):
            assert isinstance(arg, int)
            if arg > 5:
                self.note("bad-protocol", f"protocol {arg} is newer than 5")
            self.proto = arg
        elif name in ("FRAME", "READONLY_BUFFER"):
            pass
        elif name == "MARK":
            self.marks.append(st)
            self.stack = []
        elif name in ("NONE",):
            st.append(None)
        elif name in ("NEWTRUE", "NEWFALSE"):
            st.append(name == "NEWTRUE")
        elif name in ("EMPTY_LIST",):
            st.append([])
        elif name in ("EMPTY_DICT",):
            st.append({})
        elif name in ("EMPTY_TUPLE",):
            st.append(())
        elif name in ("EMPTY_SET", "NEXT_BUFFER"):
            st.append(Opaque(name.lower()))
        elif name in ("TUPLE1", "TUPLE2", "TUPLE3"):
            n = int(name[-1])
            self.stack.append(tuple([self.pop() for _ in range(n)][::-1]))
        elif name == "TUPLE":
            tup = tuple(self.pop_mark())
            self.stack.append(tup)
        elif name == "LIST":
            lst = self.pop_mark()
            self.stack.append(lst)
        elif name == "DICT":
            dct = self._dict(self.pop_mark())
            self.stack.append(dct)
        elif name == "FROZENSET":
            self.pop_mark()
            self.stack.append(Opaque("frozenset"))
        elif name == "APPEND":
            value = self.pop()
            target = self.top()
            self.mutate(target, name)
            if isinstance(target, list):
                target.append(value)
        elif name in ("APPENDS", "ADDITEMS"):
            added = self.pop_mark()
            target = self.top()
            self.mutate(target, name)
            if isinstance(target, list) and name == "APPENDS":
                target.extend(added)
        elif name == "SETITEM":
            value, key = self.pop(), self.pop()
            target = self.top()
            self.mutate(target, name)
            if isinstance(target, dict):
                self._put(target, key, value)
        elif name == "SETITEMS":
            pairs = self.pop_mark()
            target = self.top()
            self.mutate(target, name)
            if isinstance(target, dict):
                for k, v in zip(pairs[::2], pairs[1::2], strict=False):
                    self._put(target, k, v)
        elif name == "POP":
            if st:
                st.pop()
            else:
                self.pop_mark()
        elif name == "POP_MARK":
            self.pop_mark()
        elif name == "DUP":
            st.append(self.top())
        elif name in ("PUT", "BINPUT", "LONG_BINPUT"):
            self.memo[_int(arg)] = self.top()
        elif name == "MEMOIZE":
            self.memo[len(self.memo)] = self.top()
        elif name in ("GET", "BINGET", "LONG_BINGET"):
            idx = _int(arg)
            if idx not in self.memo:
                self.note("memo-miss", f"{name} {idx} reads an empty memo slot")
                st.append(Opaque("memo-miss"))
            else:
                st.append(self.memo[idx])
        elif name == "GLOBAL":
            assert isinstance(arg, tuple)
            st.append(self.make_global(arg[0], arg[1], name))
        elif name == "STACK_GLOBAL":
            gname, module = self.pop(), self.pop()
            self.stack.append(self.make_global(module, gname, name))
        elif name == "INST":
            assert isinstance(arg, tuple)
            inst_args = self.pop_mark()
            ref = self.make_global(arg[0], arg[1], name)
            inst = self.call(ref, tuple(inst_args), name)
            self.stack.append(inst)
        elif name == "OBJ":
            objs = self.pop_mark()
            if not objs:
                raise self.fail("stack", "OBJ without a class")
            made = self.call(objs[0], tuple(objs[1:]), name)
            self.stack.append(made)
        elif name == "REDUCE":
            args = self.pop()
            callee = self.pop()
            st.append(self.call(callee, args, name))
        elif name == "NEWOBJ":
            args = self.pop()
            cls = self.pop()
            st.append(self.call(cls, args, name))
        elif name == "NEWOBJ_EX":
            self.pop()
            args = self.pop()
            cls = self.pop()
            st.append(self.call(cls, args, name))
        elif name == "BUILD":
            state = self.pop()
            target = self.top()
            self.build(target, state)
        elif name in ("EXT1", "EXT2", "EXT4"):
            self.note("ext", f"{name} {arg} loads a global from the copyreg extension registry")
            st.append(Opaque("ext"))
        elif name == "PERSID":
            self.note("persid", f"persistent id {str(arg)[:40]!r}")
            st.append(Obj(Opaque("persid"), arg, self.pos))
        elif name == "BINPERSID":
            pid = self.pop()
            self.note("persid", "binary persistent id")
            st.append(Obj(Opaque("persid"), pid, self.pos))
        else:
            # Everything else pushes one constant (ints, strings, bytes, floats).
            st.append(arg)

    def build(self, target: object, state: object) -> None:
        if isinstance(target, GlobalRef):
            self.note("global-mutation", f"BUILD sets attributes on imported {target.qualname}")
            return
        if isinstance(target, Obj):
            target.state = state
            if isinstance(target.callee, GlobalRef):
                self.res.calls.append(Call(target.callee, "BUILD", self.pos))
            if self.on_build is not None:
                self.on_build(target, self.src, self.res)

    @staticmethod
    def _put(target: dict[object, object], key: object, value: object) -> None:
        with contextlib.suppress(TypeError):  # unhashable key: no value is needed from it
            target[key] = value

    def _dict(self, items: list[object]) -> dict[object, object]:
        out: dict[object, object] = {}
        for k, v in zip(items[::2], items[1::2], strict=False):
            self._put(out, k, v)
        return out


def _int(value: object) -> int:
    if not isinstance(value, int):
        raise ValueError("memo index is not an integer")
    return int(value)
