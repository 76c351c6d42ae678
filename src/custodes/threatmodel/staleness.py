"""Is the threat model still about the system we run?

A threat model goes stale two ways: time passes (its review interval runs out) or the
system changes under it (the model file, notebooks, data manifests or model files in
the repository differ from what was reviewed). The fingerprint captures the second: it
is recorded at review time and compared on every run.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

from custodes.system.loader import LoadedSystem
from custodes.threatmodel.model import Staleness

__all__ = ["ARTIFACT_SUFFIXES", "artifact_files", "fingerprint", "staleness"]

#: Files whose change means the system changed: notebooks, provenance manifests, models.
ARTIFACT_SUFFIXES = frozenset(
    {
        ".ipynb",
        ".pkl",
        ".pickle",
        ".joblib",
        ".pt",
        ".pth",
        ".ckpt",
        ".safetensors",
        ".onnx",
        ".h5",
        ".keras",
        ".gguf",
        ".pb",
        ".tflite",
    }
)
MANIFEST_NAMES = ("manifest.json", ".manifest.json", "custodes-manifest.json")
_SKIP_DIRS = frozenset(
    {".git", ".venv", "venv", "node_modules", "__pycache__", ".tox", ".mypy_cache"}
)
_CHUNK = 1 << 20


def artifact_files(root: Path) -> Iterator[Path]:
    """Notebooks, manifests and model files below ``root``, in a stable order."""
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS and not d.startswith("."))
        for name in sorted(filenames):
            path = Path(dirpath, name)
            if path.suffix.lower() in ARTIFACT_SUFFIXES or name.endswith(MANIFEST_NAMES):
                yield path


def _file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def fingerprint(system: LoadedSystem, root: Path | None = None) -> tuple[str, int]:
    """``v1.<system>.<artifacts>``: 16 hex digits each, and how many files went in.

    The system part hashes the validated model with its review block removed, so
    recording a review does not change the fingerprint it records. Two parts, so a
    stale verdict can say which side changed.
    """
    data = system.model.model_dump(mode="json", by_alias=True)
    data["system"].pop("review", None)
    canon = json.dumps(data, sort_keys=True, separators=(",", ":"))
    sys_part = hashlib.sha256(canon.encode()).hexdigest()[:16]
    art = hashlib.sha256()
    count = 0
    if root is not None and root.is_dir():
        for path in artifact_files(root):
            try:
                digest = _file_digest(path)
            except OSError:
                continue
            art.update(f"{path.relative_to(root).as_posix()}\0{digest}\n".encode())
            count += 1
    return f"v1.{sys_part}.{art.hexdigest()[:16]}", count


def staleness(system: LoadedSystem, today: date, root: Path | None = None) -> Staleness:
    """Compare the review record with today's date and today's fingerprint."""
    review = system.model.system.review
    current, count = fingerprint(system, root)
    reasons: list[str] = []
    due: date | None = None
    if review.last_reviewed is None:
        reasons.append("the threat model has never been reviewed (system.review.last_reviewed)")
    else:
        due = review.last_reviewed + timedelta(days=review.interval_days)
        if today > due:
            reasons.append(
                f"last reviewed {review.last_reviewed.isoformat()}, review was due "
                f"{due.isoformat()} ({(today - due).days} days overdue)"
            )
    recorded = review.fingerprint
    if recorded is None:
        reasons.append("no fingerprint recorded at review, so changes since cannot be detected")
    elif recorded != current:
        parts_now = current.split(".")
        parts_then = recorded.split(".")
        changed = []
        if len(parts_then) != 3 or parts_then[1] != parts_now[1]:
            changed.append("the system model")
        if len(parts_then) != 3 or parts_then[2] != parts_now[2]:
            changed.append("notebooks, manifests or model files")
        reasons.append(f"{' and '.join(changed)} changed since the review")
    return Staleness(
        stale=bool(reasons),
        reasons=tuple(reasons),
        last_reviewed=review.last_reviewed,
        due=due,
        fingerprint=current,
        recorded_fingerprint=recorded,
        artifacts=count,
    )
