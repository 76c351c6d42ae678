"""The HDF5 reader runs in a child: a file that crashes or hangs it is a finding."""

from __future__ import annotations

from pathlib import Path

import pytest

from custodes.findings import Severity
from custodes.scan.artifacts import keras
from custodes.scan.interface import HEAD_BYTES, ScanContext, Target

H5_MAGIC = b"\x89HDF\r\n\x1a\n"


def _target(path: Path) -> Target:
    data = path.read_bytes()
    return Target(path=path, display=str(path), size=len(data), head=data[:HEAD_BYTES])


@pytest.fixture
def h5_file(tmp_path: Path) -> Path:
    path = tmp_path / "model.h5"
    path.write_bytes(H5_MAGIC + b"\0" * 512)
    return path


def test_a_reader_crash_is_a_high_finding(monkeypatch: pytest.MonkeyPatch, h5_file: Path) -> None:
    monkeypatch.setattr(
        keras, "_H5_CHILD", "import os, signal; os.kill(os.getpid(), signal.SIGSEGV)"
    )
    [finding] = list(keras.KerasScanner().scan(_target(h5_file), ScanContext()))
    assert finding.severity is Severity.HIGH
    assert "crashed on this file (signal 11)" in finding.message


def test_a_reader_hang_is_a_high_finding(monkeypatch: pytest.MonkeyPatch, h5_file: Path) -> None:
    monkeypatch.setattr(keras, "_H5_CHILD", "import time; time.sleep(60)")
    monkeypatch.setattr(keras, "H5_TIMEOUT", 0.5)
    [finding] = list(keras.KerasScanner().scan(_target(h5_file), ScanContext()))
    assert "did not finish" in finding.message


def test_garbage_hdf5_is_malformed_not_a_crash(h5_file: Path) -> None:
    [finding] = list(keras.KerasScanner().scan(_target(h5_file), ScanContext()))
    assert finding.rule_id == "ARTIFACT-KERAS-MALFORMED"
    assert "cannot be read" in finding.message
