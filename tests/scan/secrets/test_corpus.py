"""Recall and precision on a small generated corpus (the benchmark runs a larger one)."""

from __future__ import annotations

from pathlib import Path

from custodes.scan.interface import HEAD_BYTES, ScanContext, Target
from custodes.scan.secrets import SecretsScanner

from .helpers import load_generator

gen = load_generator()


def test_recall_and_precision_on_generated_corpus(tmp_path: Path) -> None:
    labels = gen.generate(tmp_path, files=300, seed=2026)
    scanner, ctx = SecretsScanner(), ScanContext()
    found: set[tuple[str, int]] = set()
    for path in sorted(tmp_path.rglob("*")):
        if not path.is_file() or path.name == "labels.json":
            continue
        rel = path.relative_to(tmp_path).as_posix()
        data = path.read_bytes()
        target = Target(path, rel, len(data), data[:HEAD_BYTES])
        assert scanner.wants(target), rel
        for f in scanner.scan(target, ctx):
            assert f.location is not None
            assert f.location.line is not None
            found.add((rel, f.location.line))
    recall, precision, misses, fps = gen.score(labels, found)
    assert len(labels["secrets"]) > 100
    assert recall >= 0.95, (recall, misses)
    assert precision >= 0.98, (precision, fps)
