"""TensorFlow SavedModel: Python ops and file-system ops in the graph and its functions.

Loading a SavedModel and calling a signature runs its graph. ``PyFunc``/``EagerPyFunc``
call back into Python, and ops such as ``ReadFile``, ``WriteFile``, ``MatchingFiles``
or a ``PrintV2`` to a ``file://`` stream read and write the host's file system with the
server's rights: a model can exfiltrate ``~/.aws/credentials`` through its output or
drop a file. Checkpoint ops (``SaveV2``, ``RestoreV2``, ``MergeV2Checkpoints``) are normal
inside the saver subgraph (TF1 ``save/`` scope named by ``saver_def``) and the TF2
``_traced_save``/``_traced_restore`` functions, and are flagged anywhere else.

``saved_model.pb`` is walked with the bounded wire reader along fixed field paths
(SavedModel > MetaGraphDef > GraphDef > NodeDef, and > FunctionDefLibrary > FunctionDef
> NodeDef), so message nesting cannot make the walk deep. TensorFlow is never imported.
"""

from __future__ import annotations

import mmap
import re
from collections.abc import Iterator
from dataclasses import dataclass

from custodes.findings import Category, Finding, Location, RuleId, Severity
from custodes.scan.artifacts import protobuf as pb
from custodes.scan.artifacts.sniff import Format, sniff
from custodes.scan.interface import ScanContext, Scanner, Target

__all__ = [
    "FILE_OPS",
    "PYFUNC_OPS",
    "OpHit",
    "SavedModelScanner",
    "find_ops",
    "looks_like_savedmodel",
]

FORMAT = "tensorflow-savedmodel"
RULE_PYFUNC = RuleId("ARTIFACT-SAVEDMODEL-PYFUNC")
RULE_FILE = RuleId("ARTIFACT-SAVEDMODEL-FILE-OP")
RULE_MALFORMED = RuleId("ARTIFACT-SAVEDMODEL-MALFORMED")
THREATS = ("SUPPLYMODELPOISON", "RUNTIMEMODELPOISON")
FILE_THREATS = (*THREATS, "RUNTIMEMODELLEAK")
MAX_FINDINGS = 50

PYFUNC_OPS = frozenset({"PyFunc", "PyFuncStateless", "EagerPyFunc"})
CHECKPOINT_OPS = frozenset(
    {"Save", "SaveV2", "SaveSlices", "MergeV2Checkpoints", "Restore", "RestoreV2", "RestoreSlice"}
)
FILE_OPS = CHECKPOINT_OPS | frozenset(
    {
        "ReadFile", "WriteFile", "MatchingFiles", "ImmutableConst", "LoadAndRemapMatrix",
        "WholeFileReader", "WholeFileReaderV2", "TextLineReader", "TextLineReaderV2",
        "FixedLengthRecordReader", "FixedLengthRecordReaderV2", "TFRecordReader",
        "TFRecordReaderV2", "TextLineDataset", "TFRecordDataset", "TFRecordDatasetV2",
        "FixedLengthRecordDataset", "FixedLengthRecordDatasetV2", "SaveDataset",
        "SaveDatasetV2", "ExperimentalSaveDataset", "LoadDataset", "DatasetToTFRecord",
        "ExperimentalDatasetToTFRecord", "CreateSummaryFileWriter", "DebugIdentityV2",
        "DebugIdentityV3",
    }
)  # fmt: skip
"""Ops that touch the host file system; PrintV2 joins them when it prints to a file."""

_CHECKPOINT_FUNCTION = re.compile(r"_traced_(save|restore)_\d+$|^__(inference|forward)_save")
_DEFAULT_SAVER_SCOPE = re.compile(r"^save(_\d+)?/")

# Field numbers along the paths we walk.
_SM_META_GRAPHS = 2
_MG_GRAPH_DEF, _MG_SAVER_DEF = 2, 3
_GD_NODE, _GD_LIBRARY = 1, 2
_LIB_FUNCTION = 1
_FD_SIGNATURE, _FD_NODE = 1, 3
_ND_NAME, _ND_OP, _ND_ATTR = 1, 2, 5
_ATTR_S = 2


@dataclass(frozen=True)
class OpHit:
    """One flagged op: where it sits (graph or function) and why it matters."""

    op: str
    node: str
    scope: str
    detail: str = ""


def looks_like_savedmodel(head: bytes) -> bool:
    """A SavedModel proto: schema version 1 (field 1), then a MetaGraphDef (field 2).

    The MetaGraphDef itself starts with ``meta_info_def`` (field 1) or ``graph_def``
    (field 2), both messages; ONNX, which also starts with field 1, has a string there.
    """
    pos = 0
    if head[:2] == b"\x08\x01":
        pos = 2
    if head[pos : pos + 1] != b"\x12":
        return False
    try:
        _, inner = pb.read_varint(head, pos + 1, len(head))
    except pb.WireError:
        return False
    return head[inner : inner + 1] in (b"\x0a", b"\x12")


class _Walk:
    """Collects flagged ops across meta graphs, their graphs and function libraries."""

    def __init__(self, buf: pb.Buffer) -> None:
        self.buf = buf
        self.hits: list[OpHit] = []

    def model(self) -> None:
        for mg in pb.iter_fields(self.buf):
            if mg.number == _SM_META_GRAPHS and mg.wire_type == pb.LEN:
                self.meta_graph(mg.start, mg.end)

    def meta_graph(self, start: int, end: int) -> None:
        saver_scopes: set[str] = set()
        graphs: list[pb.Field] = []
        for f in pb.iter_fields(self.buf, start, end):
            if f.wire_type != pb.LEN:
                continue
            if f.number == _MG_GRAPH_DEF:
                graphs.append(f)
            elif f.number == _MG_SAVER_DEF:
                for s in pb.iter_fields(self.buf, f.start, f.end):
                    if s.wire_type == pb.LEN and s.number in (1, 2, 3):
                        name = pb.text(self.buf, s, 1024)
                        if "/" in name:
                            saver_scopes.add(name.split("/", 1)[0] + "/")
        for g in graphs:
            for f in pb.iter_fields(self.buf, g.start, g.end):
                if f.wire_type == pb.LEN and f.number == _GD_NODE:
                    self.node(f, "graph", saver_scopes)
                elif f.wire_type == pb.LEN and f.number == _GD_LIBRARY:
                    self.library(f)

    def library(self, lib: pb.Field) -> None:
        for fn in pb.iter_fields(self.buf, lib.start, lib.end):
            if fn.number != _LIB_FUNCTION or fn.wire_type != pb.LEN:
                continue
            name = "?"
            nodes: list[pb.Field] = []
            for f in pb.iter_fields(self.buf, fn.start, fn.end):
                if f.wire_type != pb.LEN:
                    continue
                if f.number == _FD_SIGNATURE:
                    for s in pb.iter_fields(self.buf, f.start, f.end):
                        if s.number == 1 and s.wire_type == pb.LEN:
                            name = pb.text(self.buf, s, 512)
                elif f.number == _FD_NODE:
                    nodes.append(f)
            for n in nodes:
                self.node(n, f"function {name}", set())

    def node(self, nd: pb.Field, scope: str, saver_scopes: set[str]) -> None:
        name_field: pb.Field | None = None
        op = ""
        attrs: list[pb.Field] = []
        for f in pb.iter_fields(self.buf, nd.start, nd.end):
            if f.wire_type != pb.LEN:
                continue
            if f.number == _ND_NAME:
                name_field = f
            elif f.number == _ND_OP:
                # Compare raw bytes first: decoding every op name of a 40k-node graph
                # costs more than the walk, and nearly all of them are harmless.
                raw = bytes(self.buf[f.start : f.start + min(f.value, 256)])
                if raw not in _WATCHED_OPS:
                    return
                op = raw.decode("utf-8", errors="replace")
            elif f.number == _ND_ATTR:
                attrs.append(f)
        if not op:
            return
        name = pb.text(self.buf, name_field, 512) if name_field is not None else ""
        if op in PYFUNC_OPS:
            self.hits.append(OpHit(op, name, scope, _attr_text(self.buf, attrs, "token")))
        elif op == "PrintV2":
            stream = _attr_text(self.buf, attrs, "output_stream")
            if stream.startswith("file://"):
                self.hits.append(OpHit(op, name, scope, f"output_stream={stream[:200]}"))
        elif op in CHECKPOINT_OPS and _is_checkpoint_use(name, scope, saver_scopes):
            return
        elif op in FILE_OPS:
            detail = (
                _attr_text(self.buf, attrs, "memory_region_name") if op == "ImmutableConst" else ""
            )
            self.hits.append(OpHit(op, name, scope, detail))


_WATCHED_OPS = frozenset(op.encode() for op in (*PYFUNC_OPS, "PrintV2", *CHECKPOINT_OPS, *FILE_OPS))


def _is_checkpoint_use(name: str, scope: str, saver_scopes: set[str]) -> bool:
    """Whether a checkpoint op sits where TensorFlow's own saver puts it."""
    if scope.startswith("function "):
        return bool(_CHECKPOINT_FUNCTION.search(scope[len("function ") :]))
    if saver_scopes:
        return any(name.startswith(s) for s in saver_scopes)
    return bool(_DEFAULT_SAVER_SCOPE.match(name))


def _attr_text(buf: pb.Buffer, attrs: list[pb.Field], key: str) -> str:
    """The string value (AttrValue.s) of one NodeDef attr map entry, or ''."""
    for entry in attrs:
        k = v = None
        for f in pb.iter_fields(buf, entry.start, entry.end):
            if f.wire_type == pb.LEN and f.number == 1:
                k = pb.text(buf, f, 256)
            elif f.wire_type == pb.LEN and f.number == 2:
                v = f
        if k == key and v is not None:
            for s in pb.iter_fields(buf, v.start, v.end):
                if s.number == _ATTR_S and s.wire_type == pb.LEN:
                    return pb.text(buf, s, 1024)
    return ""


def find_ops(buf: pb.Buffer) -> list[OpHit]:
    """Every Python or file-system op outside the saver, in graphs and functions."""
    walk = _Walk(buf)
    walk.model()
    return walk.hits


class SavedModelScanner(Scanner):
    """Flags Python-callback and file-system ops in a SavedModel's graphs."""

    name = "artifacts-savedmodel"

    def wants(self, target: Target) -> bool:
        """Recognised by the SavedModel proto's first fields, not its file name."""
        return (
            looks_like_savedmodel(target.head)
            or sniff(target.head, target.path) is Format.SAVEDMODEL
        )

    def scan(self, target: Target, ctx: ScanContext) -> Iterator[Finding]:
        """Walk saved_model.pb; malformed protobuf is itself a finding."""
        if target.size == 0:
            return
        with (
            open(target.path, "rb") as fh,
            mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as buf,
        ):
            try:
                hits = find_ops(buf)
                error = None
            except pb.WireError as exc:
                hits, error = [], str(exc)
        if error is not None:
            yield _finding(target, RULE_MALFORMED, Severity.HIGH,
                           f"the SavedModel protobuf is malformed: {error}", "malformed", error,
                           THREATS)  # fmt: skip
        seen: set[tuple[str, str]] = set()
        for hit in hits:
            if (hit.op, hit.scope) in seen or len(seen) >= MAX_FINDINGS:
                continue
            seen.add((hit.op, hit.scope))
            where = f"node {hit.node[:120]!r} in {hit.scope[:120]}"
            detail = f"{hit.op} at {where}" + (f" ({hit.detail})" if hit.detail else "")
            if hit.op in PYFUNC_OPS:
                yield _finding(target, RULE_PYFUNC, Severity.CRITICAL,
                               f"the SavedModel calls Python through {hit.op} ({where}): "
                               "serving it runs whatever Python function is registered",
                               f"{hit.op}:{hit.scope}", detail, THREATS)  # fmt: skip
            else:
                yield _finding(target, RULE_FILE, Severity.HIGH,
                               f"the SavedModel uses the file-system op {hit.op} ({where}) "
                               "outside checkpoint saving", f"{hit.op}:{hit.scope}", detail,
                               FILE_THREATS)  # fmt: skip


def _finding(target: Target, rule: RuleId, severity: Severity, message: str, subject: str,
             detail: str, threats: tuple[str, ...]) -> Finding:  # fmt: skip
    return Finding(
        rule_id=rule, category=Category.ARTIFACT, severity=severity, message=message,
        location=Location(path=target.display), threats=threats, facts=(detail,),
        subject=subject, properties={"format": FORMAT, "detail": detail},
        remediation="Do not load or serve this SavedModel; re-export it from trusted source "
        "code without tf.py_function/tf.numpy_function or file I/O in its signatures.",
    )  # fmt: skip
