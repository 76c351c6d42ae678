"""ONNX: models built with onnx.helper, external data pointing out of the directory."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from custodes.scan.artifacts.onnx import OnnxScanner

from .conftest import rules, run

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402


def _model(domain: str = "", subgraph: bool = False) -> onnx.ModelProto:
    w = numpy_helper.from_array(np.ones((4, 4), np.float32), "W")
    nodes = [helper.make_node("MatMul", ["X", "W"], ["Y"])]
    opsets = [helper.make_opsetid("", 17)]
    if domain:
        nodes.append(helper.make_node("Evil", ["Y"], ["Z"], domain=domain))
        opsets.append(helper.make_opsetid(domain, 1))
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [1, 4])],
        [w],
    )
    return helper.make_model(graph, opset_imports=opsets)


def _external(model: onnx.ModelProto, location: str) -> onnx.ModelProto:
    t = model.graph.initializer[0]
    t.ClearField("raw_data")
    t.data_location = TensorProto.EXTERNAL
    for key, value in (("location", location), ("offset", "0"), ("length", "64")):
        e = t.external_data.add()
        e.key, e.value = key, value
    return model


def _save(model: onnx.ModelProto, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    return path


def test_plain_model_is_clean(tmp_path: Path) -> None:
    assert run(OnnxScanner(), _save(_model(), tmp_path / "m.onnx")) == []


def test_external_data_saved_by_onnx_is_clean(tmp_path: Path) -> None:
    path = tmp_path / "ext" / "m.onnx"
    path.parent.mkdir()
    model = _model()
    onnx.external_data_helper.convert_model_to_external_data(
        model, all_tensors_to_one_file=True, location="weights.bin", size_threshold=0
    )
    onnx.save_model(model, str(path))
    assert (path.parent / "weights.bin").exists()
    assert run(OnnxScanner(), path) == []


@pytest.mark.parametrize(
    "location", ["../../etc/passwd", "/etc/passwd", "sub/../../x", "C:\\Windows\\win.ini"]
)
def test_external_path_escaping_is_high(tmp_path: Path, location: str) -> None:
    found = run(OnnxScanner(), _save(_external(_model(), location), tmp_path / "d" / "m.onnx"))
    assert rules(found) == {("ARTIFACT-ONNX-EXTERNAL-PATH", "high")}
    assert "RUNTIMEMODELLEAK" in found[0].threats


def test_external_symlink_out_of_directory_is_high(tmp_path: Path) -> None:
    outside = tmp_path / "secret.txt"
    outside.write_text("k")
    model_dir = tmp_path / "d"
    model_dir.mkdir()
    os.symlink(outside, model_dir / "weights.bin")
    found = run(OnnxScanner(), _save(_external(_model(), "weights.bin"), model_dir / "m.onnx"))
    assert rules(found) == {("ARTIFACT-ONNX-EXTERNAL-PATH", "high")}
    assert "symlink" in found[0].message


def test_custom_domain_is_low_and_contrib_domain_info(tmp_path: Path) -> None:
    found = run(OnnxScanner(), _save(_model("org.evil"), tmp_path / "a.onnx"))
    assert rules(found) == {("ARTIFACT-ONNX-CUSTOM-DOMAIN", "low")}
    found = run(OnnxScanner(), _save(_model("com.microsoft"), tmp_path / "b.onnx"))
    assert rules(found) == {("ARTIFACT-ONNX-CUSTOM-DOMAIN", "info")}


def test_oversized_declared_sizes_are_high(tmp_path: Path) -> None:
    model = _external(_model(), "w.bin")
    t = model.graph.initializer[0]
    del t.dims[:]
    t.dims.extend([2**31, 2**31, 2**31])
    t.external_data[2].value = str(2**60)
    found = run(OnnxScanner(), _save(model, tmp_path / "m.onnx"))
    assert rules(found) == {("ARTIFACT-ONNX-MALFORMED", "high")}
    assert len(found) == 2


@pytest.mark.parametrize("depth", [80, 10_000])
def test_subgraph_nesting_beyond_the_limit_is_a_finding(tmp_path: Path, depth: int) -> None:
    from tests.corpus.artifacts_other_gen import onnx_nested_subgraphs

    p = tmp_path / "deep.onnx"
    p.write_bytes(onnx_nested_subgraphs(depth))
    assert ("ARTIFACT-ONNX-MALFORMED", "high") in rules(run(OnnxScanner(), p))


def test_shallow_subgraphs_parse_like_onnx_does(tmp_path: Path) -> None:
    from tests.corpus.artifacts_other_gen import onnx_nested_subgraphs

    data = onnx_nested_subgraphs(5)
    onnx.ModelProto().ParseFromString(data)  # the real library accepts the generator's bytes
    p = tmp_path / "ok.onnx"
    p.write_bytes(data)
    assert run(OnnxScanner(), p) == []


def test_truncated_model_is_a_finding(tmp_path: Path) -> None:
    data = _model("org.evil").SerializeToString()
    p = tmp_path / "t.onnx"
    p.write_bytes(data[: len(data) - 30])
    assert ("ARTIFACT-ONNX-MALFORMED", "high") in rules(run(OnnxScanner(), p))


def test_savedmodel_is_not_onnx(tmp_path: Path) -> None:
    from tests.corpus.artifacts_other_gen import benign_tf1

    p = tmp_path / "saved_model.pb"
    p.write_bytes(benign_tf1())
    run(OnnxScanner(), p, wanted=False)


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=300), st.integers(min_value=0, max_value=200))
def test_fuzz_mutated_model(
    tmp_path_factory: pytest.TempPathFactory, noise: bytes, cut: int
) -> None:
    data = _model("org.evil").SerializeToString()
    p = tmp_path_factory.mktemp("fz") / "m.onnx"
    p.write_bytes(data[:cut] + noise + data[cut:])
    from custodes.scan.interface import ScanContext

    from .conftest import target_for

    list(OnnxScanner().scan(target_for(p), ScanContext()))
