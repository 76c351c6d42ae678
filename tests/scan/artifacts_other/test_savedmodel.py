"""SavedModel: Python ops and file ops flagged, the saver's own checkpoint ops not."""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from custodes.scan.artifacts.protobuf import WireError
from custodes.scan.artifacts.savedmodel import SavedModelScanner, find_ops
from tests.corpus import artifacts_other_gen as gen

from .conftest import rules, run


def write(tmp_path: Path, data: bytes, name: str = "saved_model.pb") -> Path:
    d = tmp_path / "model"
    d.mkdir(exist_ok=True)
    p = d / name
    p.write_bytes(data)
    return p


@pytest.mark.parametrize("make", [gen.benign_tf1, gen.benign_tf2])
def test_benign_savedmodels_have_no_findings(tmp_path: Path, make: object) -> None:
    assert callable(make)
    assert run(SavedModelScanner(), write(tmp_path, make())) == []


def test_pyfunc_inside_a_function_is_critical(tmp_path: Path) -> None:
    found = run(SavedModelScanner(), write(tmp_path, gen.pyfunc_in_function()))
    assert rules(found) == {("ARTIFACT-SAVEDMODEL-PYFUNC", "critical")}
    assert "__inference_serve_7" in found[0].message


def test_file_ops_and_print_to_file_are_high(tmp_path: Path) -> None:
    found = run(SavedModelScanner(), write(tmp_path, gen.file_ops()))
    assert rules(found) == {("ARTIFACT-SAVEDMODEL-FILE-OP", "high")}
    ops = {str(f.properties["detail"]).split()[0] for f in found}
    assert ops == {"ReadFile", "WriteFile", "PrintV2"}
    assert any("file:///tmp/exfil.txt" in str(f.properties["detail"]) for f in found)


def test_checkpoint_op_outside_the_saver_is_flagged(tmp_path: Path) -> None:
    found = run(SavedModelScanner(), write(tmp_path, gen.rogue_save()))
    assert rules(found) == {("ARTIFACT-SAVEDMODEL-FILE-OP", "high")}


def test_detected_from_content_not_name(tmp_path: Path) -> None:
    assert rules(run(SavedModelScanner(), write(tmp_path, gen.file_ops(), "blob.bin")))


def test_truncated_file_is_a_finding(tmp_path: Path) -> None:
    data = gen.file_ops()
    found = run(SavedModelScanner(), write(tmp_path, data[: len(data) - 7]))
    assert ("ARTIFACT-SAVEDMODEL-MALFORMED", "high") in rules(found)


def test_ten_thousand_nested_levels_do_not_recurse(tmp_path: Path) -> None:
    start = time.perf_counter()
    run(SavedModelScanner(), write(tmp_path, gen.nested_message(10_000)))
    assert time.perf_counter() - start < 1.0


def test_not_wanted_for_other_protobufs(tmp_path: Path) -> None:
    p = tmp_path / "x.pb"
    p.write_bytes(b"\x08\x07\x12\x07pytorch")
    run(SavedModelScanner(), p, wanted=False)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400), st.integers(min_value=0, max_value=400))
def test_fuzz_mutated_savedmodel(noise: bytes, cut: int) -> None:
    base = gen.file_ops()
    data = base[:cut] + noise + base[cut:]
    with contextlib.suppress(WireError):
        find_ops(data)
