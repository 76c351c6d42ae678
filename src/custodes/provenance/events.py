"""Custody events: a signed, hash-chained log of what happened to an artifact after recording.

A manifest says what the bytes were; the events say who touched them since (acquired,
transformed, validated, used to train). They live beside the manifest as
``<manifest>.events.jsonl``, one JSON object a line, so appending never rewrites history.

Each event carries ``seq`` (its position), ``subject`` (the manifest's Merkle root, so an
event cannot be replayed into another artifact's log), ``prev`` (SHA-256 of the previous
event's canonical JSON, signature included) and an Ed25519 signature by whoever recorded it.
Editing an event breaks its signature; dropping, inserting or reordering one breaks ``seq``
and ``prev``. Dropping the *last* events leaves a valid shorter chain, which is why the
training attestation pins the log head it saw (see :mod:`custodes.provenance.attest`).
"""

from __future__ import annotations

import enum
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from custodes.errors import InputError, UsageError
from custodes.provenance.keys import sign_document, verify_document
from custodes.provenance.manifest import canonical_bytes, load_manifest

__all__ = [
    "Kind",
    "LogCheck",
    "append_event",
    "event_hash",
    "events_path",
    "make_details",
    "verify_log",
]

_RFC3339_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")


class Kind(enum.StrEnum):
    """The custody steps issue 5 names; anything else is not a custody event."""

    acquired = "acquired"
    transformed = "transformed"
    validated = "validated"
    trained = "trained"


#: Details each kind must carry: an event without them proves nothing a reviewer can check.
REQUIRED: dict[Kind, tuple[str, ...]] = {
    Kind.acquired: (),
    Kind.transformed: ("step", "commit"),
    Kind.validated: ("verdict",),
    Kind.trained: ("run", "model_digest"),
}


def events_path(manifest: Path) -> Path:
    """``<manifest>.events.jsonl``: beside the manifest, never inside the hashed tree's files."""
    return manifest.with_name(manifest.name + ".events.jsonl")


def event_hash(event: Mapping[str, Any]) -> str:
    """What the next event's ``prev`` must equal: the whole event, signature included."""
    return hashlib.sha256(canonical_bytes(dict(event))).hexdigest()


def make_details(
    kind: Kind, options: Mapping[str, str | None], params: Mapping[str, str]
) -> dict[str, Any]:
    """Details of one event from CLI-style options; an InputError names what is missing."""
    details: dict[str, Any] = {k: v for k, v in options.items() if v is not None}
    missing = [k for k in REQUIRED[kind] if k not in details]
    if missing:
        flags = ", ".join("--" + k.replace("_", "-") for k in missing)
        raise UsageError(f"a {kind.value} event needs {flags}")
    if params:
        details["parameters"] = dict(sorted(params.items()))
    return details


def _read_lines(log: Path) -> list[str]:
    try:
        return log.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read custody log: {exc}", path=log) from None


def append_event(
    manifest: Path,
    kind: Kind,
    actor: str,
    details: Mapping[str, Any],
    private: Ed25519PrivateKey,
    *,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Sign and append one event to the manifest's log; returns the event written.

    The log must parse before we append: chaining onto a line we cannot read would hide
    the damage behind a fresh, valid signature.
    """
    doc = load_manifest(manifest)
    log = events_path(manifest)
    lines = [line for line in _read_lines(log) if line.strip()]
    prev: str | None = None
    if lines:
        try:
            last = json.loads(lines[-1])
        except json.JSONDecodeError:
            raise InputError(
                "last custody event is not valid JSON; refusing to chain onto it",
                path=log,
                line=len(lines),
            ) from None
        prev = event_hash(last)
    ts = (now or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    event = {
        "seq": len(lines),
        "ts": ts,
        "kind": kind.value,
        "actor": actor,
        "subject": doc["merkle_root"],
        "details": dict(details),
        "prev": prev,
    }
    signed = sign_document(event, private)
    try:
        with log.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(signed, sort_keys=True, ensure_ascii=False) + "\n")
    except OSError as exc:
        raise InputError(f"cannot append custody event: {exc.strerror}", path=log) from None
    return signed


@dataclass
class LogCheck:
    """Outcome of checking a custody log: problems as (line, message), and the head hash."""

    path: Path
    events: int = 0
    head: str | None = None
    problems: list[tuple[int, str]] = field(default_factory=list)
    hashes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def describe(self) -> list[str]:
        return [f"{self.path}:{line}: {msg}" for line, msg in self.problems]


def _shape_problem(event: Any) -> str | None:
    if not isinstance(event, dict):
        return "not a JSON object"
    for name in ("ts", "kind", "actor", "subject"):
        if not isinstance(event.get(name), str):
            return f"missing or non-string {name!r}"
    if not _RFC3339_UTC.match(event["ts"]):
        return f"ts {event['ts']!r} is not an RFC 3339 UTC timestamp"
    if event["kind"] not in Kind.__members__:
        return f"unknown kind {event['kind']!r}"
    if not isinstance(event.get("seq"), int) or not isinstance(event.get("details"), dict):
        return "missing seq or details"
    missing = [k for k in REQUIRED[Kind(event["kind"])] if k not in event["details"]]
    if missing:
        return f"{event['kind']} event lacks {', '.join(missing)}"
    return None


def _chain_problem(event: dict[str, Any], index: int, check: LogCheck) -> str | None:
    expected = check.hashes[index - 1] if index else None
    if event.get("seq") != index:
        return (
            f"event seq {event.get('seq')!r} where {index} was expected: "
            "an event was dropped, inserted or reordered before this line"
        )
    if event.get("prev") != expected:
        if event.get("prev") in check.hashes:
            other = check.hashes.index(event["prev"]) + 1
            return f"chain broken: this event follows line {other}, not line {index} (reordered)"
        return "chain broken: prev does not match the previous event (dropped or edited)"
    return None


def verify_log(
    log: Path, trusted: Mapping[str, Ed25519PublicKey], subject: str | None = None
) -> LogCheck:
    """Every line parsed, signed by a trusted key, chained to the one before, about ``subject``.

    Never raises on a damaged log: damage to custody evidence is a finding (exit 1), named
    by line, not a usage error. ``trusted`` maps key ids to public keys.
    """
    check = LogCheck(log)
    lines = _read_lines(log)
    index = 0
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            event = json.loads(line)
        except json.JSONDecodeError as exc:
            check.problems.append((number, f"not valid JSON ({exc.msg}): edited or truncated"))
            check.hashes.append("")
            index += 1
            continue
        problem = _shape_problem(event) or _chain_problem(event, index, check)
        if problem is None and subject is not None and event["subject"] != subject:
            problem = "event is about another artifact (subject is not this manifest's root)"
        if problem is None:
            signer = (
                event.get("signature", {}).get("key_id")
                if isinstance(event.get("signature"), dict)
                else None
            )
            key = trusted.get(signer) if isinstance(signer, str) else None
            if key is None:
                problem = f"signed by untrusted key {signer}" if signer else "event is not signed"
            else:
                sig = verify_document(event, key)
                if not sig.ok:
                    problem = f"signature {sig.status}: event edited after it was signed"
        if problem is not None:
            check.problems.append((number, problem))
        check.hashes.append(event_hash(event) if isinstance(event, dict) else "")
        index += 1
    check.events = index
    check.head = check.hashes[-1] if check.hashes else None
    return check
