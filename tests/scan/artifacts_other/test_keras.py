"""Keras: real models saved by keras 3 (jax backend), legacy h5 and hand-made configs."""

from __future__ import annotations

import base64
import json
import marshal
import os
import warnings
import zipfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from custodes.scan.artifacts.keras import KerasScanner, config_hits

from .conftest import rules, run

h5py = pytest.importorskip("h5py")
LAMBDA_CRIT = ("ARTIFACT-KERAS-LAMBDA", "critical")


def _layer(cls: str, config: dict[str, object], module: str = "keras.layers") -> dict[str, object]:
    return {"module": module, "class_name": cls, "config": config, "registered_name": None}


def _dense(name: str = "dense") -> dict[str, object]:
    return _layer("Dense", {"name": name, "units": 2, "activation": "relu"})


def _model(
    layers: list[dict[str, object]], compile_config: dict[str, object] | None = None
) -> dict[str, object]:
    m = {"module": "keras", "class_name": "Sequential", "registered_name": None,
         "config": {"name": "seq", "layers": layers}}  # fmt: skip
    if compile_config:
        m["compile_config"] = compile_config
    return m


def _code() -> str:
    return base64.b64encode(marshal.dumps((lambda x: x).__code__)).decode()


def _keras_zip(path: Path, config: object, *, extra: dict[str, bytes] | None = None) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("metadata.json", json.dumps({"keras_version": "3.15.1"}))
        zf.writestr("config.json", json.dumps(config))
        zf.writestr("model.weights.h5", b"\x89HDF\r\n\x1a\n" + b"\0" * 64)
        for name, data in (extra or {}).items():
            zf.writestr(name, data)
    return path


def _legacy_h5(path: Path, model_config: object, training_config: object = None) -> Path:
    with h5py.File(path, "w") as fh:
        fh.attrs["keras_version"] = "2.15.0"
        fh.attrs["backend"] = "tensorflow"
        fh.attrs["model_config"] = json.dumps(model_config)
        if training_config is not None:
            fh.attrs["training_config"] = json.dumps(training_config)
        fh.create_group("model_weights")
    return path


# -- real keras ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def real_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    os.environ.setdefault("KERAS_BACKEND", "jax")
    keras = pytest.importorskip("keras")
    out = tmp_path_factory.mktemp("keras")

    def build(with_lambda: bool) -> object:
        inp = keras.Input((4,))
        x = keras.layers.Lambda(lambda t: t * 2)(inp) if with_lambda else inp
        x = keras.layers.Normalization(mean=0.0, variance=1.0)(x)
        return keras.Model(inp, keras.layers.Dense(2, activation="relu")(x))

    paths = {}
    with warnings.catch_warnings():  # keras/jax deprecation noise, not ours
        warnings.simplefilter("ignore")
        for name, lam in (("clean", False), ("lambda", True)):
            model = build(lam)
            model.compile(loss="mse", metrics=["mae"])
            for ext in ("keras", "h5"):
                p = out / f"{name}.{ext}"
                model.save(p)
                paths[f"{name}.{ext}"] = p
    return paths


@pytest.mark.parametrize("name", ["clean.keras", "clean.h5"])
def test_real_clean_models(real_models: dict[str, Path], name: str) -> None:
    assert run(KerasScanner(), real_models[name]) == []


@pytest.mark.parametrize("name", ["lambda.keras", "lambda.h5"])
def test_real_lambda_models(real_models: dict[str, Path], name: str) -> None:
    found = run(KerasScanner(), real_models[name])
    assert rules(found) == {LAMBDA_CRIT}
    assert len(found) == 1


# -- configs anywhere ------------------------------------------------------------------


def test_legacy_keras2_lambda_in_h5(tmp_path: Path) -> None:
    lam = {"class_name": "Lambda", "config": {"name": "l", "function": [_code(), None, None],
           "function_type": "lambda", "module": "__main__"}}  # fmt: skip
    found = run(KerasScanner(), _legacy_h5(tmp_path / "m.h5", _model([_dense(), lam])))
    assert rules(found) == {LAMBDA_CRIT}


def test_lambda_in_nested_model_inside_a_layer(tmp_path: Path) -> None:
    inner = _model([_layer("Lambda", {"name": "hid", "function": {"class_name": "__lambda__",
                    "config": {"code": _code()}}})])  # fmt: skip
    inner["config"]["name"] = "inner"  # type: ignore[index]
    found = run(KerasScanner(), _keras_zip(tmp_path / "m.keras", _model([_dense(), inner])))
    assert rules(found) == {LAMBDA_CRIT}
    assert "layers[1].config.layers[0]" in str(found[0].properties["detail"])


def test_bytecode_hidden_in_a_preprocessing_field(tmp_path: Path) -> None:
    layer = _layer("TextVectorization", {"name": "tv", "standardize": _code()})
    found = run(KerasScanner(), _keras_zip(tmp_path / "m.keras", _model([layer])))
    assert rules(found) == {LAMBDA_CRIT}


def test_lambda_loss_in_compile_config(tmp_path: Path) -> None:
    cc = {"loss": {"class_name": "__lambda__", "config": {"code": _code()}}, "metrics": ["mae"]}
    found = run(KerasScanner(), _keras_zip(tmp_path / "m.keras", _model([_dense()], cc)))
    assert rules(found) == {LAMBDA_CRIT}


def test_legacy_training_config_is_walked(tmp_path: Path) -> None:
    tc = {"loss": {"class_name": "function", "module": "os", "config": "system"}}
    found = run(KerasScanner(), _legacy_h5(tmp_path / "m.h5", _model([_dense()]), tc))
    assert rules(found) == {("ARTIFACT-KERAS-CUSTOM-OBJECT", "critical")}


@pytest.mark.parametrize(
    ("obj", "severity"),
    [
        (
            {
                "module": "builtins",
                "class_name": "function",
                "config": "eval",
                "registered_name": "function",
            },
            "critical",
        ),
        (
            {"module": "subprocess", "class_name": "Popen", "config": {}, "registered_name": None},
            "critical",
        ),
        (
            {
                "module": "my_pkg.layers",
                "class_name": "Fancy",
                "config": {},
                "registered_name": "my_pkg>Fancy",
            },
            "medium",
        ),
        (
            {
                "module": "builtins",
                "class_name": "function",
                "config": "my_loss",
                "registered_name": "function",
            },
            "medium",
        ),
        ({"class_name": "Fancy", "config": {}, "registered_name": "Custom>Fancy"}, "medium"),
    ],
    ids=["builtins-eval", "subprocess", "custom-module", "custom-fn", "registered-only"],
)
def test_custom_objects(tmp_path: Path, obj: dict[str, object], severity: str) -> None:
    layer = _layer("Dense", {"name": "d", "units": 1, "activation": obj})
    found = run(KerasScanner(), _keras_zip(tmp_path / "m.keras", _model([layer])))
    assert rules(found) == {("ARTIFACT-KERAS-CUSTOM-OBJECT", severity)}


def test_tfoplambda_writing_files_is_flagged_and_math_is_not(tmp_path: Path) -> None:
    bad = {"class_name": "TFOpLambda", "config": {"name": "w", "function": "io.write_file"}}
    ok = {"class_name": "TFOpLambda", "config": {"name": "a", "function": "math.add"}}
    found = run(KerasScanner(), _legacy_h5(tmp_path / "m.h5", _model([ok, bad])))
    assert rules(found) == {("ARTIFACT-KERAS-LAMBDA", "high")}


# -- hostile containers ----------------------------------------------------------------


def test_deeply_nested_config_is_a_finding_not_a_crash(tmp_path: Path) -> None:
    p = tmp_path / "deep.keras"
    with zipfile.ZipFile(p, "w") as zf:
        zf.writestr("metadata.json", "{}")
        zf.writestr("config.json", "[" * 200_000 + "]" * 200_000)
    assert rules(run(KerasScanner(), p)) == {("ARTIFACT-KERAS-MALFORMED", "high")}


def test_deep_but_parseable_config_hits_the_walk_limit() -> None:
    doc: object = {}
    for _ in range(500):
        doc = {"layer": doc}
    assert {h.rule for h in config_hits(doc)} == {"ARTIFACT-KERAS-MALFORMED"}


def test_truncated_zip_and_h5(tmp_path: Path) -> None:
    good = _keras_zip(tmp_path / "g.keras", _model([_dense()]))
    cut = tmp_path / "cut.keras"
    cut.write_bytes(good.read_bytes()[:120])
    assert ("ARTIFACT-KERAS-MALFORMED", "high") in rules(run(KerasScanner(), cut))
    h5 = _legacy_h5(tmp_path / "g.h5", _model([_dense()]))
    bad = tmp_path / "cut.h5"
    bad.write_bytes(h5.read_bytes()[:600])
    assert rules(run(KerasScanner(), bad)) == {("ARTIFACT-KERAS-MALFORMED", "high")}


def test_duplicate_config_members_are_both_read(tmp_path: Path) -> None:
    p = tmp_path / "dup.keras"
    lam = _layer(
        "Lambda",
        {"name": "x", "function": {"class_name": "__lambda__", "config": {"code": _code()}}},
    )
    with pytest.warns(UserWarning, match="Duplicate name"):
        _keras_zip(p, _model([_dense()]), extra={"config.json": json.dumps(_model([lam])).encode()})
    found = run(KerasScanner(), p)
    assert LAMBDA_CRIT in rules(found)


def test_weights_only_h5_and_plain_zip_are_quiet(tmp_path: Path) -> None:
    p = tmp_path / "w.h5"
    with h5py.File(p, "w") as fh:
        fh.create_dataset("kernel", data=[1.0, 2.0])
    assert run(KerasScanner(), p) == []
    z = tmp_path / "a.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("readme.txt", "hi")
    run(KerasScanner(), z, wanted=False)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=12) | st.just(_code()),
    lambda c: (
        st.lists(c, max_size=4)
        | st.dictionaries(
            st.sampled_from(["class_name", "module", "config", "registered_name", "function", "x"]),
            c,
            max_size=5,
        )
    ),
)


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_fuzz_config_walk(doc: object) -> None:
    for hit in config_hits(doc):
        assert hit.path.startswith("$")
