"""safetensors: files from the real library are clean; every corrupted copy is a finding."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from custodes.scan.artifacts.safetensors import SafetensorsScanner, header_problems

from .conftest import rules, run

st_numpy = pytest.importorskip("safetensors.numpy")
MALFORMED = {("ARTIFACT-SAFETENSORS-MALFORMED", "high")}


def _good(tmp_path: Path) -> Path:
    p = tmp_path / "good.safetensors"
    tensors = {"a": np.ones((3, 4), np.float32), "b": np.arange(5, dtype=np.int64),
               "empty": np.zeros((0, 3), np.float16)}  # fmt: skip
    st_numpy.save_file(tensors, str(p), metadata={"format": "np"})
    return p


def _rewrite(src: Path, dst: Path, edit: object) -> Path:
    data = src.read_bytes()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    assert callable(edit)
    new = edit(header)
    raw = new if isinstance(new, bytes) else json.dumps(header).encode()
    dst.write_bytes(struct.pack("<Q", len(raw)) + raw + data[8 + n :])
    return dst


def test_real_file_is_clean(tmp_path: Path) -> None:
    assert run(SafetensorsScanner(), _good(tmp_path)) == []


def _set(key: str, field: str, value: object) -> object:
    return lambda h: h[key].__setitem__(field, value)


@pytest.mark.parametrize(
    "edit",
    [
        _set("a", "dtype", "F128"),
        _set("a", "shape", [3, 5]),
        _set("a", "shape", [3, -4]),
        _set("a", "data_offsets", [40, 200]),
        _set("a", "data_offsets", [-8, 40]),
        _set("b", "data_offsets", [8, 48]),
        _set("a", "shape", [True, 4]),
        lambda h: h["__metadata__"].__setitem__("n", 3),
        lambda h: h["a"].__setitem__("extra", 1),
        lambda h: json.dumps(h).replace('"b":', '"a":', 1).encode(),
        lambda h: b'{"a": 1} trailing',
        lambda h: b"{" * 100_000,
        lambda h: b'{"a": \xff}',
    ],
    ids=[
        "dtype",
        "shape-size",
        "negative-dim",
        "out-of-file",
        "negative-offset",
        "overlap",
        "bool-dim",
        "metadata-int",
        "extra-field",
        "duplicate-key",
        "trailing-junk",
        "deep-json",
        "bad-utf8",
    ],
)
def test_corrupted_header_is_high(tmp_path: Path, edit: object) -> None:
    found = run(SafetensorsScanner(), _rewrite(_good(tmp_path), tmp_path / "bad.st", edit))
    assert rules(found) == MALFORMED


def test_giant_header_length_and_truncation(tmp_path: Path) -> None:
    data = _good(tmp_path).read_bytes()
    p = tmp_path / "t.st"
    p.write_bytes(data[:-10])
    assert rules(run(SafetensorsScanner(), p)) == MALFORMED
    p.write_bytes(struct.pack("<Q", 2**63) + data[8:])
    target_found = list(SafetensorsScanner().scan(__import__("tests.scan.artifacts_other.conftest",
                        fromlist=["target_for"]).target_for(p), __import__("custodes.scan.interface",
                        fromlist=["ScanContext"]).ScanContext()))  # fmt: skip
    assert {f.rule_id for f in target_found} == {"ARTIFACT-SAFETENSORS-MALFORMED"}


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300), st.integers(min_value=0, max_value=10_000))
def test_fuzz_header_problems(raw: bytes, size: int) -> None:
    for subject, message in header_problems(raw, size):
        assert subject
        assert message


@settings(max_examples=300, deadline=None)
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=8),
                    lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=5), c, max_size=4)))  # fmt: skip
def test_fuzz_json_headers(doc: object) -> None:
    header_problems(json.dumps(doc).encode(), 64)
