"""The scanners a scan runs, listed explicitly so tests can enumerate them.

Each entry names the module and class; a scanner whose module cannot be imported (an
optional dependency missing) is reported as skipped, not silently dropped.
"""

from __future__ import annotations

import importlib

from custodes.scan.interface import Scanner

__all__ = ["SCANNERS", "load_scanners"]

#: (name, "module:Class") in the order they run on each file.
SCANNERS: tuple[tuple[str, str], ...] = (
    ("secrets", "custodes.scan.secrets:SecretsScanner"),
    ("notebooks", "custodes.scan.notebooks.governance:NotebookGovernanceScanner"),
    ("code", "custodes.scan.code:UnsafeCodeScanner"),
    ("requirements", "custodes.scan.code.requirements:RequirementsScanner"),
    ("artifacts-pickle", "custodes.scan.artifacts.pickle_formats:PickleArtifactScanner"),
    ("artifacts-keras", "custodes.scan.artifacts.keras:KerasScanner"),
    ("artifacts-savedmodel", "custodes.scan.artifacts.savedmodel:SavedModelScanner"),
    ("artifacts-onnx", "custodes.scan.artifacts.onnx:OnnxScanner"),
    ("artifacts-safetensors", "custodes.scan.artifacts.safetensors:SafetensorsScanner"),
    ("artifacts-gguf", "custodes.scan.artifacts.gguf:GgufScanner"),
)

GROUPS = {
    "secrets": ("secrets",),
    "artifacts": tuple(n for n, _ in SCANNERS if n.startswith("artifacts-")),
    "code": ("code", "requirements"),
    "notebooks": ("notebooks",),
}


def expand(names: list[str]) -> set[str]:
    """Scanner names from user words: a scanner name or a group (secrets, artifacts...)."""
    known = {n for n, _ in SCANNERS}
    out: set[str] = set()
    for word in names:
        for part in word.split(","):
            part = part.strip()
            if not part:
                continue
            if part in GROUPS:
                out.update(GROUPS[part])
            elif part in known:
                out.add(part)
            else:
                from custodes.errors import UsageError

                choices = ", ".join(sorted({*GROUPS, *known}))
                raise UsageError(f"unknown scanner {part!r} (choose from: {choices})")
    return out


def load_scanners(
    only: set[str] | None = None,
    skip: set[str] | None = None,
    registry: tuple[tuple[str, str], ...] | None = None,
) -> tuple[list[Scanner], list[str]]:
    """Instantiate the selected scanners; return them and the ones that could not load."""
    scanners: list[Scanner] = []
    missing: list[str] = []
    for name, ref in SCANNERS if registry is None else registry:
        if only and name not in only:
            continue
        if skip and name in skip:
            continue
        module_name, cls_name = ref.split(":")
        try:
            cls = getattr(importlib.import_module(module_name), cls_name)
        except (ImportError, AttributeError) as exc:
            missing.append(f"{name} ({exc})")
            continue
        scanners.append(cls())
    return scanners, missing
