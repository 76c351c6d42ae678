"""safetensors: header sanity, so a "safe" format is not a door to its loaders' bugs.

safetensors holds no code; its risk is a header that lies. Overlapping or out-of-file
offsets, sizes that do not match shape x dtype, duplicate keys that two parsers resolve
differently (one tool validates the first, another loads the last) and non-string
metadata have each been how a weights file smuggled different tensors past review or
crashed a loader. A file the real library writes yields nothing here; anything else is
ARTIFACT-SAFETENSORS-MALFORMED. Only the header is read, never tensor storage.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Iterator
from typing import Any

from custodes.findings import Category, Finding, Location, RuleId, Severity
from custodes.scan.artifacts.sniff import Format, sniff
from custodes.scan.interface import ScanContext, Scanner, Target

__all__ = ["DTYPE_BITS", "SafetensorsScanner", "header_problems", "looks_like_safetensors"]

FORMAT = "safetensors"
RULE = RuleId("ARTIFACT-SAFETENSORS-MALFORMED")
THREATS = ("SUPPLYMODELPOISON", "RUNTIMEMODELPOISON")
MAX_HEADER = 100_000_000  # the reference implementation refuses larger headers
MAX_FINDINGS = 20
MAX_RANK = 64

DTYPE_BITS = {
    "BOOL": 8, "U8": 8, "I8": 8, "F8_E5M2": 8, "F8_E4M3": 8, "F8_E8M0": 8,
    "F8_E5M2FNUZ": 8, "F8_E4M3FNUZ": 8, "I16": 16, "U16": 16, "F16": 16, "BF16": 16,
    "I32": 32, "U32": 32, "F32": 32, "C64": 64, "F64": 64, "I64": 64, "U64": 64,
    "F4": 4, "F6_E2M3": 6, "F6_E3M2": 6,
}  # fmt: skip
"""Bits per element of every dtype the reference implementation (0.8) accepts."""


def looks_like_safetensors(head: bytes, size: int) -> bool:
    """An 8-byte little-endian header length that fits the file, then a JSON object."""
    if len(head) < 10:
        return False
    (length,) = struct.unpack_from("<Q", head)
    return 2 <= length <= size - 8 and head[8:9] == b"{"


class _Duplicate(ValueError):
    """A JSON object repeats a key."""


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise _Duplicate(key)
        seen[key] = value
    return seen


def header_problems(header: bytes, data_size: int) -> list[tuple[str, str]]:
    """(subject, message) for everything wrong in a header over ``data_size`` data bytes."""
    try:
        text = header.decode("utf-8")
        doc = json.loads(text, object_pairs_hook=_no_duplicates)
    except _Duplicate as exc:
        return [(f"duplicate:{exc}", f"the header repeats the key {str(exc)[:80]!r}")]
    except UnicodeDecodeError:
        return [("utf8", "the header is not valid UTF-8")]
    except RecursionError:
        return [("nesting", "the header JSON is nested too deeply to parse")]
    except ValueError as exc:
        return [("json", f"the header is not valid JSON ({str(exc)[:80]})")]
    if not isinstance(doc, dict):
        return [("json", "the header is not a JSON object")]
    problems: list[tuple[str, str]] = []
    spans: list[tuple[int, int, str]] = []
    for name, entry in doc.items():
        if name == "__metadata__":
            if not isinstance(entry, dict) or not all(isinstance(v, str) for v in entry.values()):
                problems.append(("metadata", "__metadata__ must map strings to strings"))
            continue
        span = _entry_span(name, entry, problems)
        if span is not None:
            spans.append((*span, name))
    spans.sort()
    cursor = 0
    for begin, end, name in spans:
        if begin < cursor:
            problems.append((f"overlap:{name}", f"tensor {name[:80]!r} overlaps another tensor"))
        elif begin > cursor:
            problems.append(
                (f"gap:{name}", f"a gap of {begin - cursor} bytes precedes {name[:80]!r}")
            )
        cursor = max(cursor, end)
    if cursor > data_size:
        problems.append(
            ("bounds", f"tensors end at byte {cursor}, past the {data_size} data bytes")
        )
    elif cursor < data_size:
        problems.append(
            ("trailing", f"{data_size - cursor} bytes after the last tensor belong to none")
        )
    return problems


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _entry_span(
    name: str, entry: object, problems: list[tuple[str, str]]
) -> tuple[int, int] | None:
    """Check one tensor entry; its (begin, end) when the offsets are usable."""
    label = f"tensor {name[:80]!r}"
    if not isinstance(entry, dict) or set(entry) != {"dtype", "shape", "data_offsets"}:
        problems.append(
            (f"entry:{name}", f"{label} must have exactly dtype, shape and data_offsets")
        )
        return None
    dtype, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
    bits = DTYPE_BITS.get(dtype) if isinstance(dtype, str) else None
    if bits is None:
        problems.append((f"dtype:{name}", f"{label} has an unknown dtype {str(dtype)[:40]!r}"))
    shape_ok = (
        isinstance(shape, list)
        and len(shape) <= MAX_RANK
        and all(_is_int(d) and d >= 0 for d in shape)
    )
    if not shape_ok:
        problems.append((f"shape:{name}", f"{label} has an invalid shape"))
    if not (
        isinstance(offsets, list)
        and len(offsets) == 2
        and all(_is_int(o) for o in offsets)
        and 0 <= offsets[0] <= offsets[1]
    ):
        problems.append((f"offsets:{name}", f"{label} has invalid data_offsets"))
        return None
    begin, end = int(offsets[0]), int(offsets[1])
    if bits is not None and shape_ok:
        elements = 1
        for d in shape:
            elements *= d
        if (elements * bits) % 8 or (elements * bits) // 8 != end - begin:
            problems.append(
                (
                    f"size:{name}",
                    f"{label}: shape x dtype is {elements * bits / 8:g} bytes "
                    f"but data_offsets span {end - begin}",
                )
            )
    return begin, end


class SafetensorsScanner(Scanner):
    """Checks a safetensors header against the rules the reference loader enforces."""

    name = "artifacts-safetensors"

    def wants(self, target: Target) -> bool:
        """Recognised by its length-prefixed JSON header, not by the extension."""
        return looks_like_safetensors(target.head, target.size) or (
            sniff(target.head) is Format.SAFETENSORS
        )

    def scan(self, target: Target, ctx: ScanContext) -> Iterator[Finding]:
        """Read the header only (bounded) and report each inconsistency once."""
        problems: list[tuple[str, str]]
        with open(target.path, "rb") as fh:
            raw = fh.read(8)
            length = struct.unpack("<Q", raw)[0] if len(raw) == 8 else -1
            if length < 0 or length > MAX_HEADER or length > target.size - 8:
                problems = [
                    (
                        "length",
                        f"the header declares {length} bytes, more than allowed "
                        f"or than the {target.size}-byte file holds",
                    )
                ]
            else:
                header = fh.read(length)
                problems = header_problems(header, target.size - 8 - length)
        for subject, message in problems[:MAX_FINDINGS]:
            yield Finding(
                rule_id=RULE,
                category=Category.ARTIFACT,
                severity=Severity.HIGH,
                message=f"malformed safetensors header: {message}",
                location=Location(path=target.display),
                threats=THREATS,
                facts=(message,),
                subject=subject,
                remediation="Do not load this file; re-export the weights with the safetensors "
                "library from a trusted copy of the model.",
                properties={"format": FORMAT, "detail": message},
            )
