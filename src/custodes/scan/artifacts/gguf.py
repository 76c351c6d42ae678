"""GGUF: a bounded header parse and a static look at the chat template.

A GGUF file carries weights and a metadata table; one entry, ``tokenizer.chat_template``,
is a Jinja2 template that llama.cpp front-ends and ``transformers`` render on every chat
turn. A template that walks ``__class__.__mro__`` or ``lipsum.__globals__`` reaches ``os``
and runs commands (CVE-2024-34359, "llama-cpp-python SSTI"). We never render it: the
template text is read as data and matched against the gadget chains such escapes need,
including their usual disguises (escaped underscores, ``|attr``, string concatenation).
Counts and lengths in the header are checked against the file before anything is read,
so a file declaring 2**64 keys costs a finding, not memory.
"""

from __future__ import annotations

import mmap
import re
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field

from custodes.findings import Category, Finding, Location, RuleId, Severity
from custodes.scan.artifacts.sniff import Format, sniff
from custodes.scan.interface import ScanContext, Scanner, Target

__all__ = [
    "GgufError",
    "GgufHeader",
    "GgufScanner",
    "TemplateRisk",
    "parse_header",
    "template_risks",
]

FORMAT = "gguf"
MAGIC = b"GGUF"
RULE_TEMPLATE = RuleId("ARTIFACT-GGUF-TEMPLATE-INJECTION")
RULE_MALFORMED = RuleId("ARTIFACT-GGUF-MALFORMED")
THREATS = ("SUPPLYMODELPOISON", "RUNTIMEMODELPOISON")

MAX_KV = 1 << 20
MAX_TENSORS = 1 << 24
MAX_KEY = 1 << 16
MAX_KEPT_STRING = 1 << 22  # template and general.* values kept; others are skipped
MAX_ARRAY_DEPTH = 4
MAX_DIMS = 4  # GGML_MAX_DIMS

_FIXED = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
_STRING, _ARRAY = 8, 9


class GgufError(ValueError):
    """The bytes are not a well-formed GGUF header."""


@dataclass
class GgufHeader:
    """What the scanner needs from a GGUF header: version, counts and kept strings."""

    version: int = 0
    tensor_count: int = 0
    kv_count: int = 0
    strings: dict[str, str] = field(default_factory=dict)
    """String values of keys worth reading (templates, ``general.*``)."""
    problems: list[str] = field(default_factory=list)
    """Inconsistencies found after the metadata parsed (tensor table)."""


class _Reader:
    """Cursor over a buffer that refuses to read past its end."""

    def __init__(self, buf: bytes | mmap.mmap) -> None:
        self.buf = buf
        self.pos = 0
        self.size = len(buf)

    def take(self, n: int) -> int:
        if n < 0 or n > self.size - self.pos:
            raise GgufError(
                f"needs {n} bytes at offset {self.pos}, file has {self.size - self.pos}"
            )
        start = self.pos
        self.pos += n
        return start

    def u32(self) -> int:
        return int(struct.unpack_from("<I", self.buf, self.take(4))[0])

    def u64(self) -> int:
        return int(struct.unpack_from("<Q", self.buf, self.take(8))[0])

    def string(self, keep: bool, limit: int = MAX_KEPT_STRING) -> str | None:
        length = self.u64()
        start = self.take(length)
        if not keep:
            return None
        return bytes(self.buf[start : start + min(length, limit)]).decode("utf-8", "replace")


def _wanted(key: str) -> bool:
    return "template" in key or key.startswith("general.")


def _skip_value(r: _Reader, vtype: int, key: str, depth: int) -> str | None:
    """Read (or skip) one value; returns it when it is a string worth keeping."""
    if vtype in _FIXED:
        r.take(_FIXED[vtype])
        return None
    if vtype == _STRING:
        return r.string(_wanted(key))
    if vtype == _ARRAY:
        if depth >= MAX_ARRAY_DEPTH:
            raise GgufError(f"arrays nested deeper than {MAX_ARRAY_DEPTH} under {key[:80]!r}")
        etype = r.u32()
        count = r.u64()
        if etype in _FIXED:
            r.take(count * _FIXED[etype])
            return None
        if etype not in (_STRING, _ARRAY):
            raise GgufError(f"unknown array element type {etype} under {key[:80]!r}")
        if count > (r.size - r.pos) // 8:
            raise GgufError(f"array under {key[:80]!r} declares {count} elements, too many")
        for _ in range(count):
            _skip_value(r, etype, "" if etype == _STRING else key, depth + 1)
        return None
    raise GgufError(f"unknown value type {vtype} for key {key[:80]!r}")


def parse_header(buf: bytes | mmap.mmap) -> GgufHeader:
    """Parse magic, counts, every metadata entry and the tensor table, with bounds."""
    r = _Reader(buf)
    if bytes(buf[r.take(4) : 4]) != MAGIC:
        raise GgufError("missing GGUF magic")
    head = GgufHeader(version=r.u32())
    if head.version not in (2, 3):
        raise GgufError(f"unsupported GGUF version {head.version}")
    head.tensor_count, head.kv_count = r.u64(), r.u64()
    if head.kv_count > MAX_KV or head.tensor_count > MAX_TENSORS:
        raise GgufError(f"implausible counts: {head.kv_count} keys, {head.tensor_count} tensors")
    alignment = 32
    for _ in range(head.kv_count):
        key = r.string(True, MAX_KEY) or ""
        vtype = r.u32()
        value = _skip_value(r, vtype, key, 0)
        if key == "general.alignment" and vtype == 4:
            alignment = int(struct.unpack_from("<I", buf, r.pos - 4)[0])
        if value is not None:
            head.strings[key] = value
    if alignment == 0 or alignment & (alignment - 1):
        head.problems.append(f"general.alignment {alignment} is not a power of two")
        alignment = 32
    _check_tensors(r, head, alignment)
    return head


def _check_tensors(r: _Reader, head: GgufHeader, alignment: int) -> None:
    """Tensor infos: rank, dims and offsets must be sane and inside the data section."""
    if head.tensor_count > (r.size - r.pos) // 24:
        raise GgufError(f"{head.tensor_count} tensors declared, the file cannot hold their table")
    infos: list[tuple[str, int]] = []
    for _ in range(head.tensor_count):
        name = r.string(True, 256) or ""
        n_dims = r.u32()
        if n_dims > MAX_DIMS:
            raise GgufError(f"tensor {name[:80]!r} declares {n_dims} dimensions")
        dims = [r.u64() for _ in range(n_dims)]
        r.u32()  # ggml type: sizes per type change across releases; not checked
        offset = r.u64()
        if offset % alignment:
            head.problems.append(f"tensor {name[:80]!r} offset {offset} is not aligned")
        if any(d >= 1 << 62 for d in dims):
            head.problems.append(f"tensor {name[:80]!r} declares an absurd dimension")
        infos.append((name, offset))
    data_start = -(-r.pos // alignment) * alignment
    for name, offset in infos:
        if data_start + offset > r.size:
            head.problems.append(f"tensor {name[:80]!r} starts past the end of the file")


@dataclass(frozen=True)
class TemplateRisk:
    """One way a chat template reaches past the data it is meant to format."""

    what: str
    excerpt: str


_TAG = re.compile(r"\{[{%](.*?)[}%]\}", re.DOTALL)
_LITERAL = re.compile(r"'((?:[^'\\]|\\.)*)'" r'|"((?:[^"\\]|\\.)*)"', re.DOTALL)
_ESCAPE = re.compile(r"\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|[0-7]{1,3}|.)", re.DOTALL)
_REPEAT = re.compile(r"""(['"])(_+)\1\s*\*\s*(\d{1,2})""")
_DUNDER = re.compile(r"__[A-Za-z]\w*__")
_CODE_RULES = (
    (
        re.compile(
            r"\b(lipsum|cycler|joiner|namespace|self|config|request|url_for|"
            r"get_flashed_messages)\s*(\.|\[|\|\s*attr)"
        ),
        "a Jinja global used as a gadget",
    ),
    (re.compile(r"\.\s*(mro|subclasses)\b"), "class-hierarchy walking"),
    (
        re.compile(
            r"\b(os\s*\.|subprocess|popen|check_output|getoutput|import_module|"
            r"__import__|eval\s*\(|exec\s*\(|system\s*\()"
        ),
        "a command or import primitive",
    ),
)
_LITERAL_WORDS = re.compile(
    r"^(os|sys|subprocess|popen|eval|exec|builtins|import_module|check_output|"
    r"getoutput|globals|mro|subclasses|modules|func_globals)$"
)


def _unescape(raw: str) -> tuple[str, bool]:
    """Decode Python/Jinja string escapes; also say whether one hid a name character."""
    hidden = False

    def one(m: re.Match[str]) -> str:
        nonlocal hidden
        body = m.group(1)
        if body[0] in "xuU":
            ch = chr(int(body[1:], 16))
        elif body[0] in "01234567":
            ch = chr(int(body, 8))
        else:
            return {"n": "\n", "t": "\t", "r": "\r"}.get(body, body)
        hidden = hidden or ch.isalnum() or ch in "_."
        return ch

    return _ESCAPE.sub(one, raw), hidden


def template_risks(template: str) -> list[TemplateRisk]:
    """Static signs that a Jinja2 template escapes to Python, without rendering it.

    Only code inside ``{{ }}`` and ``{% %}`` counts: text outside tags is printed as is.
    ``namespace(...)`` for loop state is normal in real templates and is not flagged;
    attribute access on the ``namespace`` class itself is.
    """
    risks: dict[str, TemplateRisk] = {}

    def add(what: str, excerpt: str) -> None:
        risks.setdefault(what, TemplateRisk(what, excerpt.strip()[:120]))

    for tag in _TAG.finditer(template[:MAX_KEPT_STRING]):
        body = tag.group(1)
        code = _LITERAL.sub("''", body)
        literals: list[str] = []
        for lit in _LITERAL.finditer(body):
            decoded, hidden = _unescape(lit.group(1) if lit.group(1) is not None else lit.group(2))
            literals.append(decoded)
            if hidden:
                add("escaped characters hiding a name", tag.group(0))
            low = decoded.lower()
            if _DUNDER.search(low) or _DUNDER.search(low[::-1]):
                add("a dunder name in a string", tag.group(0))
            if _LITERAL_WORDS.match(low.strip()):
                add("a dangerous name in a string", tag.group(0))
            if "%c" in decoded or "{:c}" in decoded:
                add("characters built from codes", tag.group(0))
        if _DUNDER.search(code):
            add("dunder attribute access", tag.group(0))
        for pattern, what in _CODE_RULES:
            if pattern.search(code):
                add(what, tag.group(0))
        if re.search(r"\|\s*attr\s*\(", code) and not all(
            re.fullmatch(r"[a-z][a-z0-9]*", x) for x in literals
        ):
            add("the attr filter with a computed name", tag.group(0))
        joined = "".join(literals) + "".join(
            m.group(2) * int(m.group(3)) for m in _REPEAT.finditer(body)
        )
        if len(literals) > 1 and "__" in joined and _DUNDER.search(joined.lower()):
            add("a dunder name assembled from pieces", tag.group(0))
        elif _REPEAT.search(body):
            add("underscores assembled by repetition", tag.group(0))
    return list(risks.values())


def looks_like_gguf(head: bytes) -> bool:
    """GGUF files start with the four bytes ``GGUF``."""
    return head[:4] == MAGIC


class GgufScanner(Scanner):
    """Parses GGUF metadata with bounds and inspects chat templates without rendering them."""

    name = "artifacts-gguf"

    def wants(self, target: Target) -> bool:
        """Recognised by its magic bytes."""
        return sniff(target.head) is Format.GGUF or looks_like_gguf(target.head)

    def scan(self, target: Target, ctx: ScanContext) -> Iterator[Finding]:
        """Report a malformed header, and every template reaching Python internals."""
        try:
            with (
                open(target.path, "rb") as fh,
                mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as m,
            ):
                head = parse_header(m)
        except (GgufError, ValueError, OverflowError) as exc:
            yield _finding(target, RULE_MALFORMED, Severity.HIGH, f"malformed GGUF file: {exc}",
                           "malformed", str(exc))  # fmt: skip
            return
        for problem in head.problems[:20]:
            yield _finding(target, RULE_MALFORMED, Severity.HIGH, f"malformed GGUF file: {problem}",
                           problem, problem)  # fmt: skip
        for key, value in sorted(head.strings.items()):
            risks = template_risks(value) if "template" in key else []
            if risks:
                whats = ", ".join(r.what for r in risks)
                yield _finding(
                    target, RULE_TEMPLATE, Severity.CRITICAL,
                    f"the chat template {key!r} reaches Python internals ({whats}); "
                    "rendering it can run commands",
                    key, "; ".join(f"{r.what}: {r.excerpt}" for r in risks),
                )  # fmt: skip


def _finding(target: Target, rule: RuleId, severity: Severity, message: str,
             subject: str, detail: str) -> Finding:  # fmt: skip
    template = rule == RULE_TEMPLATE
    return Finding(
        rule_id=rule, category=Category.ARTIFACT, severity=severity, message=message,
        location=Location(path=target.display), threats=THREATS, facts=(detail,),
        subject=subject, properties={"format": FORMAT, "detail": detail},
        remediation=(
            "Do not serve this model with its embedded chat template; replace the template "
            "with a reviewed one and render templates in a sandboxed Jinja environment."
            if template
            else "Do not load this file; download the model again from a trusted source."
        ),
    )  # fmt: skip
