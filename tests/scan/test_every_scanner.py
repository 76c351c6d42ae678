"""Every real scanner on ordinary and odd files: no crash, no finding where there is nothing."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from custodes.scan import run_scan
from custodes.scan.registry import SCANNERS, load_scanners


def test_every_registered_scanner_loads() -> None:
    scanners, missing = load_scanners()
    assert missing == []
    assert [s.name for s in scanners] == [name for name, _ in SCANNERS]


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("__init__.py", b""),
        ("empty.ipynb", b""),
        ("empty.pkl", b""),
        ("one.bin", b"\x80"),
        ("two.onnx", b"\x08"),
        ("magic.safetensors", b"\x08\x00\x00\x00\x00\x00\x00\x00{}"),
        ("gguf.gguf", b"GGUF"),
        ("zip.keras", b"PK\x03\x04"),
        ("hdf.h5", b"\x89HDF\r\n\x1a\n"),
        ("text.txt", b"hello\n"),
        ("README.md", "naïve café — unicode\n".encode()),
    ],
)
def test_tiny_and_truncated_files_never_crash_a_scanner(
    tmp_path: Path, name: str, content: bytes
) -> None:
    (tmp_path / name).write_bytes(content)
    result = run_scan([tmp_path], jobs=1)
    crashes = [f for f in result.findings if f.rule_id in ("SCAN-INTERNAL-ERROR", "SCAN-CRASHED")]
    assert crashes == [], [f.message for f in crashes]
    if name in ("__init__.py", "text.txt", "README.md"):
        assert result.findings == ()


def test_random_bytes_never_crash_a_scanner(tmp_path: Path) -> None:
    for i in range(40):
        (tmp_path / f"blob{i}.bin").write_bytes(os.urandom(64 + 97 * i))
    result = run_scan([tmp_path], jobs=1)
    assert not [f for f in result.findings if f.rule_id in ("SCAN-INTERNAL-ERROR", "SCAN-CRASHED")]


def test_custodes_own_code_scans_clean() -> None:
    """Dogfood: our source and benchmarks hold no credential, unsafe load or bad file."""
    repo = Path(__file__).resolve().parents[2]
    result = run_scan([repo / "src", repo / "benchmarks"], jobs=1)
    assert [(f.rule_id, f.location.path if f.location else None) for f in result.findings] == []
