"""ONNX models: external data that leaves the model directory, custom op domains, sizes.

An ONNX file holds no code, but it can hold *paths*: a tensor stored outside the model
names a file in ``external_data.location``, and the runtime reads that file relative to
the model. An absolute path, a ``..`` or a symlink there turns "load this model" into
"read /etc/passwd into a weight" (and, through a model that echoes its weights, leak it).
Custom operator domains need a native library to run, so they are worth a note, and
declared sizes a loader trusts must be sane. The file is parsed with the bounded wire
reader, never with ``onnx`` or ``onnxruntime``.
"""

from __future__ import annotations

import mmap
import os
from collections.abc import Iterator
from pathlib import Path, PurePosixPath, PureWindowsPath

from custodes.findings import Category, Finding, Location, RuleId, Severity
from custodes.scan.artifacts import protobuf as pb
from custodes.scan.artifacts.sniff import Format, sniff
from custodes.scan.interface import ScanContext, Scanner, Target

__all__ = ["OnnxScanner", "looks_like_onnx"]

FORMAT = "onnx"
RULE_PATH = RuleId("ARTIFACT-ONNX-EXTERNAL-PATH")
RULE_DOMAIN = RuleId("ARTIFACT-ONNX-CUSTOM-DOMAIN")
RULE_MALFORMED = RuleId("ARTIFACT-ONNX-MALFORMED")
THREATS = ("SUPPLYMODELPOISON", "RUNTIMEMODELPOISON")
LEAK_THREATS = (*THREATS, "RUNTIMEMODELLEAK", "DEVDATALEAK")

STANDARD_DOMAINS = frozenset(
    {"", "ai.onnx", "ai.onnx.ml", "ai.onnx.training", "ai.onnx.preview.training"}
)
# Contrib ops shipped inside onnxruntime itself: no extra library to load.
RUNTIME_DOMAINS = frozenset({"com.microsoft", "com.microsoft.nchwc", "com.ms.internal.nhwc"})

MAX_DEPTH = 64  # subgraphs (If/Loop/Scan bodies) nest; real models stay in single digits
MAX_DIMS = 64
MAX_FINDINGS = 50
MAX_DECLARED = 1 << 40  # 1 TiB: no real tensor is larger, a hostile size often is

# ModelProto / GraphProto / NodeProto / AttributeProto / TensorProto field numbers.
_MODEL_GRAPH, _MODEL_FUNCTIONS = 7, 25
_GRAPH_NODE, _GRAPH_INIT, _GRAPH_SPARSE = 1, 5, 15
_NODE_OP, _NODE_ATTR, _NODE_DOMAIN = 4, 5, 7
_ATTR_T, _ATTR_G, _ATTR_TENSORS, _ATTR_GRAPHS, _ATTR_SPARSE, _ATTR_SPARSES = 5, 6, 10, 11, 22, 23
_FUNC_NODE = 7
_TENSOR_DIMS, _TENSOR_NAME, _TENSOR_EXTERNAL, _TENSOR_LOCATION = 1, 8, 13, 14
_KNOWN_MODEL_FIELDS = frozenset({1, 2, 3, 4, 5, 6, 7, 8, 14, 20, 25})


def looks_like_onnx(head: bytes) -> bool:
    """Whether the first bytes read as an ONNX ModelProto.

    ModelProto starts with ``ir_version`` (field 1, a small varint) in every exporter we
    know; the following fields must be ModelProto fields with their proper wire types.
    SavedModel files also start with field 1 = 1, so ``ir_version`` must be 3 or more.
    """
    try:
        fields = pb.iter_fields(head)
        first = next(fields, None)
        if first is None:
            return False
        if first.number != 1 or first.wire_type != pb.VARINT or not 3 <= first.value <= 64:
            return False
        seen = 0
        for field in fields:
            if field.number not in _KNOWN_MODEL_FIELDS:
                return False
            if (field.number in (1, 5)) != (field.wire_type == pb.VARINT):
                return False
            seen += 1
        return seen > 0
    except pb.WireError as exc:
        # A head cut inside a large graph field is normal: judge what was read.
        return "declares" in str(exc) and head[:1] == b"\x08"


class OnnxScanner(Scanner):
    """Statically checks ONNX models for path escapes, foreign op domains and bad sizes."""

    name = "artifacts-onnx"

    def wants(self, target: Target) -> bool:
        """ONNX is recognised from its first fields, not its extension."""
        return sniff(target.head) is Format.ONNX or looks_like_onnx(target.head)

    def scan(self, target: Target, ctx: ScanContext) -> Iterator[Finding]:
        """Walk graphs, subgraphs and functions; report what a loader would trust."""
        if target.size == 0:
            return
        with (
            open(target.path, "rb") as fh,
            mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as buf,
        ):
            walker = _Walker(buf, target)
            try:
                walker.walk_model()
            except pb.WireError as exc:
                walker.add(
                    RULE_MALFORMED,
                    Severity.HIGH,
                    f"the ONNX protobuf is malformed: {exc}",
                    "malformed",
                    str(exc),
                    THREATS,
                )
            yield from walker.findings


class _Walker:
    """Visits every tensor and node once, with an explicit stack bounded in depth."""

    def __init__(self, buf: pb.Buffer, target: Target) -> None:
        self.buf = buf
        self.target = target
        self.model_dir = target.path.resolve().parent
        self.findings: list[Finding] = []
        self.domains: set[str] = set()

    def add(
        self,
        rule: RuleId,
        severity: Severity,
        message: str,
        subject: str,
        detail: str,
        threats: tuple[str, ...],
        remediation: str | None = None,
    ) -> None:
        if len(self.findings) >= MAX_FINDINGS:
            return
        self.findings.append(
            Finding(
                rule_id=rule,
                category=Category.ARTIFACT,
                severity=severity,
                message=message,
                location=Location(path=self.target.display),
                threats=threats,
                facts=(detail,),
                subject=subject,
                remediation=remediation
                or "Do not load this model; obtain it from a trusted source "
                "and re-export it with standard operators and weights stored beside it.",
                properties={"format": FORMAT, "detail": detail},
            )
        )

    def walk_model(self) -> None:
        stack: list[tuple[str, int, int, int]] = []  # (kind, start, end, depth)
        for field in pb.iter_fields(self.buf):
            if field.wire_type != pb.LEN:
                continue
            if field.number == _MODEL_GRAPH:
                stack.append(("graph", field.start, field.end, 1))
            elif field.number == _MODEL_FUNCTIONS:
                stack.append(("function", field.start, field.end, 1))
        while stack:
            kind, start, end, depth = stack.pop()
            if depth > MAX_DEPTH:
                self.add(
                    RULE_MALFORMED,
                    Severity.HIGH,
                    f"the ONNX graph nests subgraphs more than {MAX_DEPTH} levels deep",
                    "depth",
                    f"nesting > {MAX_DEPTH}",
                    THREATS,
                )
                return
            if kind == "tensor":
                self.check_tensor(start, end)
            elif kind == "sparse":
                stack.extend(
                    ("tensor", f.start, f.end, depth)
                    for f in self._len_fields(start, end)
                    if f.number in (1, 2)
                )
            else:
                self._walk_container(kind, start, end, depth, stack)
        self._report_domains()

    def _len_fields(self, start: int, end: int) -> Iterator[pb.Field]:
        return (f for f in pb.iter_fields(self.buf, start, end) if f.wire_type == pb.LEN)

    def _walk_container(
        self, kind: str, start: int, end: int, depth: int, stack: list[tuple[str, int, int, int]]
    ) -> None:
        for f in self._len_fields(start, end):
            if (kind == "graph" and f.number == _GRAPH_NODE) or (
                kind == "function" and f.number == _FUNC_NODE
            ):
                stack.append(("node", f.start, f.end, depth))
            elif kind == "graph" and f.number == _GRAPH_INIT:
                stack.append(("tensor", f.start, f.end, depth))
            elif kind == "graph" and f.number == _GRAPH_SPARSE:
                stack.append(("sparse", f.start, f.end, depth))
            elif kind == "node" and f.number == _NODE_DOMAIN:
                self.domains.add(pb.text(self.buf, f, 256))
            elif kind == "node" and f.number == _NODE_ATTR:
                stack.append(("attr", f.start, f.end, depth))
            elif kind == "attr" and f.number in (_ATTR_T, _ATTR_TENSORS):
                stack.append(("tensor", f.start, f.end, depth))
            elif kind == "attr" and f.number in (_ATTR_SPARSE, _ATTR_SPARSES):
                stack.append(("sparse", f.start, f.end, depth))
            elif kind == "attr" and f.number in (_ATTR_G, _ATTR_GRAPHS):
                stack.append(("graph", f.start, f.end, depth + 1))

    def check_tensor(self, start: int, end: int) -> None:
        name = "?"
        dims: list[int] = []
        external: dict[str, str] = {}
        for f in pb.iter_fields(self.buf, start, end):
            if f.number == _TENSOR_NAME and f.wire_type == pb.LEN:
                name = pb.text(self.buf, f, 512)
            elif f.number == _TENSOR_DIMS and f.wire_type == pb.VARINT:
                dims.append(pb.signed64(f.value))
            elif f.number == _TENSOR_DIMS and f.wire_type == pb.LEN:
                dims.extend(
                    pb.signed64(v) for v in pb.unpack_varints(self.buf, f.start, f.end, MAX_DIMS)
                )
            elif f.number == _TENSOR_EXTERNAL and f.wire_type == pb.LEN:
                key = value = ""
                for kv in pb.iter_fields(self.buf, f.start, f.end):
                    if kv.wire_type == pb.LEN and kv.number in (1, 2):
                        key, value = (
                            (pb.text(self.buf, kv), value)
                            if kv.number == 1
                            else (key, pb.text(self.buf, kv))
                        )
                external[key] = value
        if len(dims) > MAX_DIMS or any(d < 0 for d in dims):
            self.add(
                RULE_MALFORMED,
                Severity.HIGH,
                f"tensor {name!r} declares invalid dimensions",
                f"dims:{name}",
                f"dims={dims[:8]}",
                THREATS,
            )
        elements = 1
        for d in dims:
            elements *= max(d, 0)
        if elements > MAX_DECLARED:
            self.add(
                RULE_MALFORMED,
                Severity.HIGH,
                f"tensor {name!r} declares {elements} elements, more than any real model",
                f"size:{name}",
                f"dims={dims[:8]}",
                THREATS,
            )
        if external:
            self.check_external(name, external)

    def check_external(self, name: str, external: dict[str, str]) -> None:
        location = external.get("location", "")
        for key in ("offset", "length"):
            raw = external.get(key)
            if raw is not None and (not raw.isdigit() or int(raw) > MAX_DECLARED):
                self.add(
                    RULE_MALFORMED,
                    Severity.HIGH,
                    f"tensor {name!r} declares an invalid external-data {key} {raw[:40]!r}",
                    f"{key}:{name}",
                    f"{key}={raw[:40]}",
                    THREATS,
                )
        problem = _path_problem(location, self.model_dir)
        if problem:
            self.add(
                RULE_PATH,
                Severity.HIGH,
                f"tensor {name!r} reads its data from {location[:200]!r}, {problem}",
                f"location:{location}",
                f"location={location[:200]}; {problem}",
                LEAK_THREATS,
                "Do not load this model: its loader would read a file outside the model "
                "directory. Keep external data files next to the model, named relatively.",
            )

    def _report_domains(self) -> None:
        for domain in sorted(self.domains - STANDARD_DOMAINS):
            runtime = domain in RUNTIME_DOMAINS
            self.add(
                RULE_DOMAIN,
                Severity.INFO if runtime else Severity.LOW,
                f"the model uses operators from the domain {domain[:100]!r}, "
                + (
                    "built into onnxruntime"
                    if runtime
                    else "which needs a custom op library to run"
                ),
                f"domain:{domain}",
                f"domain={domain[:100]}",
                THREATS,
                "Check that the custom op library this model needs comes from a trusted "
                "source before registering it with the runtime.",
            )


def _path_problem(location: str, model_dir: Path) -> str | None:
    """Why an external-data location is unsafe, or None when it stays in the directory."""
    if not location:
        return "an empty path"
    if "\x00" in location:
        return "a path with a NUL byte"
    if (
        PurePosixPath(location).is_absolute()
        or PureWindowsPath(location).is_absolute()
        or PureWindowsPath(location).drive
        or location.startswith(("\\", "/"))
    ):
        return "an absolute path"
    parts = location.replace("\\", "/").split("/")
    if ".." in parts:
        return "a path that climbs out of the model directory with '..'"
    candidate = model_dir / location
    try:
        resolved = Path(os.path.realpath(candidate))
    except (OSError, ValueError):
        return None
    if resolved != model_dir and model_dir not in resolved.parents:
        return f"a symlink that resolves outside the model directory (to {str(resolved)[:200]})"
    return None
