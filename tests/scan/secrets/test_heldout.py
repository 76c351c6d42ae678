"""Recall and precision on the held-out corpus (tests/corpus/secrets_heldout_gen.py).

That generator was written without reading the detectors, from the providers' documented
key formats and from how ML repositories hold credentials (notebook outputs, ANSI
tracebacks, URLs with passwords, generic assignments...), with many hard negatives.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

from custodes.scan import run_scan


def load_heldout_generator() -> ModuleType:
    """The held-out generator, tests/corpus/secrets_heldout_gen.py."""
    from tests.corpus import secrets_heldout_gen

    return secrets_heldout_gen


def scan_found(root: Path) -> set[tuple[str, int]]:
    """(file relative to root, line) of every secret finding under root."""
    result = run_scan([root], only={"secrets"}, jobs=1)
    found: set[tuple[str, int]] = set()
    base = root.resolve()
    for f in result.findings:
        if not f.rule_id.startswith("SECRET-") or f.location is None or not f.location.line:
            continue
        rel = Path(f.location.path).resolve().relative_to(base).as_posix()
        found.add((rel, f.location.line))
    return found


def test_recall_and_precision_on_heldout_corpus(tmp_path: Path) -> None:
    gen = load_heldout_generator()
    labels = gen.generate(tmp_path, files=400, seed=3)
    assert len(labels["types"]) >= 35
    assert len(labels["secrets"]) > 250
    found = scan_found(tmp_path)
    recall, precision, misses, fps = gen.score(labels, found)
    report = "\n".join(
        [f"recall {recall:.3f} precision {precision:.3f}", "misses:"]
        + [f"  {m['file']}:{m['line']} {m['type']}" for m in misses]
        + ["false alarms:"]
        + [f"  {p}:{ln}" for p, ln in fps]
    )
    print(report)
    assert recall >= 0.95, report
    assert precision >= 0.98, report
