"""The hostile corpus is all caught, the benign corpus made by real libraries is clean.

One test per technique (ids are the technique names in ``tests/corpus/pickle_gen.py``,
where each cites its advisory or trick), fickling's test_bypasses habit.
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path

import pytest

from custodes.findings import Severity
from custodes.scan.artifacts.pickle_formats import PickleArtifactScanner, scan_path
from custodes.scan.interface import HEAD_BYTES, ScanContext, Target
from tests.corpus import pickle_gen as gen

EXPECTED_RULE = {
    "build_on_global_class": "ARTIFACT-PICKLE-GLOBAL-MUTATION",
    "dynamic_call_of_result": "ARTIFACT-PICKLE-DYNAMIC-CALL",
    "ext_opcode": "ARTIFACT-PICKLE-EXT",
    "garbage_after_benign_stop": "ARTIFACT-PICKLE-TRAILING-DATA",
    "payload_then_garbage": "ARTIFACT-PICKLE-TRAILING-DATA",
    "torch_zip_bad_crc": "ARTIFACT-ARCHIVE-CRC",
    "zip_path_traversal": "ARTIFACT-ARCHIVE-TRAVERSAL",
    "zip_duplicate_names": "ARTIFACT-ARCHIVE-DUPLICATE",
    "zip_bomb_member": "ARTIFACT-ARCHIVE-BOMB",
    "unknown_callable": "ARTIFACT-PICKLE-UNKNOWN-CALLABLE",
    "sklearn_function_not_class": "ARTIFACT-PICKLE-UNKNOWN-CALLABLE",
}
NOT_CODE_EXEC = set(EXPECTED_RULE) - {
    "torch_zip_bad_crc",
    "zip_duplicate_names",
    "payload_then_garbage",
}


def _target(path: Path) -> Target:
    with path.open("rb") as fh:
        head = fh.read(HEAD_BYTES)
    return Target(path=path, display=path.name, size=path.stat().st_size, head=head)


def test_corpus_is_large_enough() -> None:
    assert len(gen.HOSTILE) >= 40


@pytest.mark.parametrize("technique", sorted(gen.HOSTILE))
def test_hostile_technique_is_caught(technique: str, tmp_path: Path) -> None:
    path = gen.HOSTILE[technique][1](tmp_path, tmp_path / "MARKER")
    scanner = PickleArtifactScanner()
    target = _target(path)
    assert scanner.wants(target), f"{technique}: format not recognised from content"
    findings = list(scanner.scan(target, ScanContext()))
    serious = [f for f in findings if f.severity.at_least(Severity.MEDIUM)]
    assert serious, f"{technique} ({gen.HOSTILE[technique][0]}) was not caught"
    rules = {f.rule_id for f in serious}
    if technique in EXPECTED_RULE:
        assert EXPECTED_RULE[technique] in rules
    if technique not in NOT_CODE_EXEC:
        assert "ARTIFACT-PICKLE-CODE-EXECUTION" in rules, rules
    for f in findings:
        assert f.location is not None
        assert f.location.path == path.name
        assert f.location.line is None
        assert set(f.threats) == {"SUPPLYMODELPOISON", "RUNTIMEMODELPOISON"}
        assert "offset" in f.properties
        assert "format" in f.properties
        assert f.remediation


def test_code_execution_names_the_callable(tmp_path: Path) -> None:
    path = gen.HOSTILE["os_system_reduce"][1](tmp_path, tmp_path / "M")
    (f,) = [f for f in scan_path(path) if f.rule_id == "ARTIFACT-PICKLE-CODE-EXECUTION"]
    assert f.properties["callable"] == "os.system"
    assert f.subject == "os.system"
    assert f.severity is Severity.CRITICAL


def test_zip_member_is_named(tmp_path: Path) -> None:
    path = gen.HOSTILE["torch_zip_odd_member"][1](tmp_path, tmp_path / "M")
    members = {f.properties.get("member") for f in scan_path(path)}
    assert "archive/extra/weights.bin" in members


def test_scanning_the_hostile_corpus_runs_nothing(tmp_path: Path) -> None:
    built, marker = gen.build_all(tmp_path)
    for path in built.values():
        scan_path(path)
    assert not marker.exists()
    assert not list(tmp_path.rglob("MARKER*"))


@pytest.fixture(scope="module")
def benign_files(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    out = tmp_path_factory.mktemp("benign")
    files: list[Path] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, build in gen.BENIGN.items():
            d = out / name
            d.mkdir()
            try:
                files += build(d)
            except ImportError as e:  # a fixture library missing: skip that family only
                warnings.warn(f"benign family {name} skipped: {e}", stacklevel=1)
    return files


def test_benign_real_library_files_have_no_findings(benign_files: list[Path]) -> None:
    assert len(benign_files) >= 30
    scanner = PickleArtifactScanner()
    noisy = {}
    for path in benign_files:
        target = _target(path)
        assert scanner.wants(target), path
        bad = [
            f for f in scanner.scan(target, ScanContext()) if f.severity.at_least(Severity.MEDIUM)
        ]
        if bad:
            noisy[path.name] = [(f.rule_id, f.message) for f in bad]
    assert not noisy


def test_under_50ms_per_file(benign_files: list[Path], tmp_path: Path) -> None:
    built, _ = gen.build_all(tmp_path)
    files = benign_files + list(built.values())
    start = time.perf_counter()
    for path in files:
        scan_path(path)
    per_file = (time.perf_counter() - start) / len(files)
    assert per_file < 0.05, f"{per_file * 1000:.1f} ms per file"


def test_large_torch_checkpoint_is_not_read(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    path = tmp_path / "big.pt"
    torch.save({"w": torch.zeros(50 * 1024 * 1024 // 4)}, path)
    start = time.perf_counter()
    findings = scan_path(path)
    elapsed = time.perf_counter() - start
    assert not [f for f in findings if f.severity.at_least(Severity.MEDIUM)]
    assert elapsed < 0.5
