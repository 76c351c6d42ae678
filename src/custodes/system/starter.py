"""A first custodes.yaml, drafted from what a project's files give away.

Nobody writes a threat model from a blank page. This looks at the project (notebooks,
data files, model files, requirements, serving code) and drafts the elements it can
see, marking with ``TODO`` every fact it cannot infer (provenance tiers, owners, who
calls the endpoint). It reads file names and dependency lists; it never imports or
executes project code.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import yaml

__all__ = ["Discovery", "discover", "render_starter"]

_SKIP = frozenset(
    {".git", ".venv", "venv", "env", "node_modules", "__pycache__", ".tox", "site-packages"}
)
DATA_SUFFIXES = {
    ".csv": "csv",
    ".parquet": "parquet",
    ".jsonl": "jsonl",
    ".tsv": "tsv",
    ".feather": "feather",
    ".avro": "avro",
}
MODEL_SUFFIXES = {
    ".pkl": "pickle",
    ".pickle": "pickle",
    ".joblib": "joblib",
    ".pt": "pytorch",
    ".pth": "pytorch",
    ".ckpt": "pytorch",
    ".safetensors": "safetensors",
    ".onnx": "onnx",
    ".h5": "keras",
    ".keras": "keras",
    ".gguf": "gguf",
}
_SERVING = re.compile(
    rb"\b(FastAPI|Flask|Starlette)\s*\(|@app\.(post|get|route)\b|gradio|bentoml|ray\.serve"
)
_REQ = re.compile(
    r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?\s*(==|~=|>=|<=|>|<|!=)?\s*([^\s;#]*)"
)
ML_LIBS = frozenset(
    {
        "torch",
        "tensorflow",
        "scikit-learn",
        "sklearn",
        "xgboost",
        "lightgbm",
        "transformers",
        "keras",
        "pandas",
        "numpy",
        "huggingface-hub",
        "datasets",
        "openai",
        "anthropic",
        "langchain",
        "mlflow",
        "onnxruntime",
        "polars",
        "pyarrow",
        "fastapi",
        "flask",
    }
)
MAX_SCAN_BYTES = 2 * 1024 * 1024


@dataclass
class Discovery:
    """What a walk over the project found."""

    notebooks: list[str] = field(default_factory=list)
    data: list[tuple[str, str]] = field(default_factory=list)
    models: list[tuple[str, str]] = field(default_factory=list)
    dependencies: list[tuple[str, bool, str]] = field(default_factory=list)
    serving: list[str] = field(default_factory=list)


def _files(root: Path) -> Iterator[Path]:
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in _SKIP and not d.startswith("."))
        for name in sorted(filenames):
            yield Path(dirpath, name)


def _requirements(path: Path) -> Iterator[tuple[str, bool, str]]:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(("#", "-")):
            continue
        m = _REQ.match(line)
        if m:
            yield m.group(1).lower(), m.group(3) == "==", m.group(4) or ""


def discover(root: Path) -> Discovery:
    """Walk the project once and sort what it holds into element candidates."""
    found = Discovery()
    seen_data_dirs: set[Path] = set()
    for path in _files(root):
        rel = path.relative_to(root).as_posix()
        suffix = path.suffix.lower()
        if suffix == ".ipynb":
            found.notebooks.append(rel)
        elif suffix in MODEL_SUFFIXES:
            found.models.append((rel, MODEL_SUFFIXES[suffix]))
        elif suffix in DATA_SUFFIXES:
            # A partitioned dataset is one source, not one per file.
            parent = path.parent
            if (
                suffix == ".parquet"
                and parent != root
                and any(p.suffix == ".parquet" for p in parent.iterdir() if p != path)
            ):
                top = parent
                while top.parent != root and any(top.parent.glob("*/*.parquet")):
                    top = top.parent
                if top in seen_data_dirs:
                    continue
                seen_data_dirs.add(top)
                found.data.append((top.relative_to(root).as_posix() + "/", "parquet"))
            else:
                found.data.append((rel, DATA_SUFFIXES[suffix]))
        elif path.name in ("requirements.txt", "requirements.in") or (
            path.name.startswith("requirements") and suffix == ".txt"
        ):
            found.dependencies.extend(_requirements(path))
        elif suffix == ".py":
            try:
                with path.open("rb") as fh:
                    head = fh.read(MAX_SCAN_BYTES)
            except OSError:
                continue
            if _SERVING.search(head):
                found.serving.append(rel)
    return found


def _slug(text: str) -> str:
    stem = re.sub(r"\.[A-Za-z0-9]+$", "", text.rstrip("/"))
    slug = re.sub(r"[^A-Za-z0-9]+", "-", stem).strip("-").lower()
    return slug[:60] or "item"


def _q(value: str) -> str:
    return yaml.safe_dump(value, default_style=None).strip().removesuffix("...").strip()


def render_starter(root: Path, found: Discovery, name: str) -> str:
    """The starter custodes.yaml text, comments and TODOs included."""
    out: list[str] = [
        "# custodes.yaml: the threat model of this AI system, kept as code.",
        "# Drafted by `custodes init`; every TODO is a fact only you can supply.",
        "# Check it with: custodes threat-model .   Editor schema: custodes schema",
        "version: 1",
        "system:",
        f"  name: {_q(name)}",
        "  owner: TODO  # the accountable person or team",
        "  purpose: TODO  # what decisions the model makes, about whom",
        "  consequence: moderate  # TODO: low | moderate | high | critical harm of a wrong output",
        "  scale:",
        "    records: null  # TODO: training records",
        "    people_affected: null  # TODO: people the decisions reach",
        "    accuracy: null  # TODO: measured accuracy, e.g. 0.9",
        "  review:",
        "    interval_days: 90",
        "",
    ]
    ids: set[str] = set()

    def unique(base: str) -> str:
        candidate, n = base, 2
        while candidate in ids:
            candidate, n = f"{base}-{n}", n + 1
        ids.add(candidate)
        return candidate

    flows: list[tuple[str, str]] = []
    out.append("sources:")
    if not found.data:
        out.append("  []  # TODO: no data files found; list where training data comes from")
    train_id = "training"
    for rel, fmt in found.data:
        sid = unique("src-" + _slug(rel))
        out += [
            f"  - id: {sid}",
            f"    path: {_q(rel)}",
            f"    format: {fmt}",
            "    tier: first_party  # TODO: first_party | broker | user_generated",
            "    custodian: TODO  # who held the data before it reached you",
            "    personal_data: false  # TODO",
        ]
        flows.append((sid, train_id))
    out += [
        "",
        "processes:",
        f"  - id: {train_id}",
        "    kind: training",
        "    automated_validation: false  # TODO",
        "",
    ]
    ids.add(train_id)

    out.append("models:")
    if not found.models:
        out.append("  []  # TODO: no model files found")
    model_ids = []
    for rel, fmt in found.models:
        mid = unique("model-" + _slug(Path(rel).name))
        model_ids.append(mid)
        out += [
            f"  - id: {mid}",
            f"    path: {_q(rel)}",
            f"    format: {fmt}",
            "    origin: in_house  # TODO: in_house | third_party | foundation",
        ]
        flows.append((train_id, mid))
    out.append("")

    out.append("notebooks:")
    if not found.notebooks:
        out.append("  []")
    for rel in found.notebooks:
        nid = unique("nb-" + _slug(Path(rel).name))
        out += [
            f"  - id: {nid}",
            f"    path: {_q(rel)}",
            "    production_data_access: false  # TODO: can it reach production data?",
            "    credentials: unknown  # TODO: secret_manager | environment | hard_coded | none",
        ]
    out.append("")

    out.append("dependencies:")
    deps = [
        (n, pinned, v) for n, pinned, v in found.dependencies if n in ML_LIBS
    ] or found.dependencies[:20]
    if not deps:
        out.append("  []  # TODO: libraries, model hubs, APIs the system relies on")
    for dep_name, pinned, version in deps:
        did = unique("dep-" + _slug(dep_name))
        out += [
            f"  - id: {did}",
            f"    name: {_q(dep_name)}",
            "    kind: library",
            f"    pinned: {'true' if pinned else 'false'}",
        ]
        if version:
            out.append(f"    version: {_q(version)}")
    out.append("")

    out.append("endpoints:")
    if not found.serving:
        out.append("  []")
    for rel in found.serving:
        eid = unique("api-" + _slug(Path(rel).name))
        out += [
            f"  - id: {eid}",
            f"    description: {_q('served by ' + rel)}",
            "    callers: internal  # TODO: public | authenticated_users | partners | internal",
            "    authentication: null  # TODO",
            "    rate_limit: null  # TODO, e.g. 100/minute",
            "    returns: [label]  # TODO: label, confidence, probabilities, text ...",
            f"    serves: [{', '.join(model_ids)}]",
        ]
    out.append("")

    out.append("flows:")
    if not flows:
        out.append("  []")
    for src, dst in flows:
        out += [f"  - from: {src}", f"    to: {dst}", "    classification: internal  # TODO"]
    out += [
        "",
        "# Controls: OWASP AI Exchange control ids (custodes catalog controls).",
        "controls: []",
        "",
    ]
    return "\n".join(out)
