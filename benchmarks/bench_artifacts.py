"""Model-artifact scanning: custodes beside modelaudit, fickling, picklescan and modelscan.

One run generates one labelled corpus and scans every file of it with every tool, so the
figures are comparable. Malicious files: every technique of ``tests/corpus/pickle_gen.py``
plus the hostile model files of ``tests/corpus/artifacts_other_gen.py`` (SavedModel py
functions, file ops, a rogue SaveV2, deep ONNX subgraph nesting) and a few made with the
real libraries (Keras Lambda layers in .keras and .h5, GGUF chat templates that reach
Python internals, ONNX external data that leaves the model directory). Benign files: the
real-library files of ``pickle_gen.BENIGN`` (scikit-learn, joblib, xgboost, lightgbm,
numpy, pandas, torch) plus ONNX, safetensors, GGUF and Keras files written by those
libraries. The corpus is written by a child process, so JAX's threads (Keras) never live
in the process that times the tools.

custodes runs in-process through ``custodes.scan.run_scan``, one call per file (flagged =
a finding at medium or above). The anchors pin conflicting dependencies, so they live in
their own virtualenv and run as subprocesses, once per file, with a timeout; their time
per file therefore includes interpreter start-up, as a user of their CLI pays it:

    python3.11 -m venv /tmp/anchors-venv
    /tmp/anchors-venv/bin/pip install modelaudit==0.2.54 fickling==0.1.12 \
        picklescan==1.0.5 modelscan==0.8.8 "onnx>=1.21.0rc3,<2" "h5py>=3.1,<4" "safetensors>=0.4"
    # or: PYTHONPATH=src .venv/bin/python benchmarks/bench_artifacts.py --setup

    PYTHONPATH=src .venv/bin/python benchmarks/bench_artifacts.py --json /tmp/bench-artifacts.json

Verdicts, read from each tool's own output format:

- modelaudit ``scan --format json``: *any* = an issue of severity warning or critical
  (what its exit code 1 means); *critical* = a critical issue only. Telemetry is off
  (``PROMPTFOO_DISABLE_TELEMETRY=1``).
- fickling: its CLI ``--check-safety`` reads only bare pickle streams, so a tiny driver
  applies fickling's own per-file dispatch (the one its ``--huggingface`` scan uses):
  zips and .pt/.pth through ``scan_zip_archive``, pickles through ``scan_file``, and
  anything else (tar, .npy, ONNX, ...) is not scanned. Flagged = a result that is not
  ``is_safe``. ``fickling.polyglot`` imports torch for one 4-byte zip-magic check only;
  the driver supplies that function (torch's own code) instead of installing torch.
- picklescan ``--path``: flagged = exit code 1 (infected: a dangerous global).
- modelscan ``-r json``: flagged = ``summary.total_issues`` > 0.

A tool's error or timeout is "not flagged" and is counted in the errors column. Nothing
in the corpus is ever loaded by this script; running the anchors on it is their business.
Not part of the test suite.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "tests" / "corpus"
ANCHORS = Path(os.environ.get("ANCHORS_VENV", "/tmp/anchors-venv"))
PINS = ["modelaudit==0.2.54", "fickling==0.1.12", "picklescan==1.0.5", "modelscan==0.8.8"]
EXTRAS = ["onnx>=1.21.0rc3,<2", "h5py>=3.1,<4", "safetensors>=0.4"]
"""modelaudit's ONNX, Keras .h5 and safetensors checks need these (its ``all`` extra, less
torch): without them it reports those files as inconclusive instead of scanning them."""
ENV = {**os.environ, "PROMPTFOO_DISABLE_TELEMETRY": "1", "DO_NOT_TRACK": "1"}

FICKLING_DRIVER = r"""
import json, sys, types
from pathlib import PurePosixPath

def _is_zipfile(f):  # torch.serialization._is_zipfile (torch 2.13), verbatim in effect
    start = f.tell()
    head = f.read(4)
    f.seek(start)
    return head == b"PK"

# fickling.polyglot imports torch only for that check; torch (GBs with CUDA) stays out.
_t, _ts = types.ModuleType("torch"), types.ModuleType("torch.serialization")
_ts._is_zipfile = _is_zipfile
_t.serialization = _ts
sys.modules.update({"torch": _t, "torch.serialization": _ts})
from fickling.cli import HF_RAW_PICKLE_EXTENSIONS, HF_ZIP_PICKLE_EXTENSIONS
from fickling.loader import scan_file, scan_zip_archive
from fickling.polyglot import find_file_properties
path, out = sys.argv[1], sys.argv[2]
ext = PurePosixPath(path).suffix.lower()
props = find_file_properties(path)
if props["is_torch_zip"] or props["is_standard_zip"] or ext in HF_ZIP_PICKLE_EXTENSIONS:
    results = list(scan_zip_archive(path, graceful=True, json_output_path=out).values())
elif props["is_valid_pickle"] or ext in HF_RAW_PICKLE_EXTENSIONS:
    results = [scan_file(path, graceful=True, json_output_path=out)]
else:
    results = None
print(json.dumps({
    "scanned": results is not None,
    "unsafe": any(not r.is_safe for r in results or []),
    "severity": max((r.severity.name for r in results or []), default=None),
    "errors": [e for r in results or [] for e in r.errors],
}))
"""


# -- corpus -----------------------------------------------------------------------------


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, CORPUS / f"{name}.py")
    assert spec
    assert spec.loader
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


def _keras_files(out: Path, mal: dict[str, Path], ben: dict[str, Path]) -> None:
    os.environ.setdefault("KERAS_BACKEND", "jax")
    import keras  # type: ignore[import-untyped]

    for lam in (False, True):
        inp = keras.Input((4,))
        x = keras.layers.Lambda(lambda t: t * 2)(inp) if lam else inp
        x = keras.layers.Normalization(mean=0.0, variance=1.0)(x)
        model = keras.Model(inp, keras.layers.Dense(2, activation="relu")(x))
        model.compile(loss="mse", metrics=["mae"])
        for ext in ("keras", "h5"):
            d = (
                out
                / ("malicious" if lam else "benign")
                / f"keras_{'lambda' if lam else 'clean'}_{ext}"
            )
            d.mkdir(parents=True)
            model.save(d / f"model.{ext}")
            (mal if lam else ben)[d.name] = d / f"model.{ext}"


def _gguf_file(path: Path, template: str | None) -> Path:
    import gguf
    import numpy as np

    path.parent.mkdir(parents=True)
    w = gguf.GGUFWriter(str(path), "llama")
    w.add_name("tiny")
    if template is not None:
        w.add_chat_template(template)
    w.add_token_list([b"a", b"b", b"<s>"])
    w.add_token_scores([0.0, 0.1, 0.2])
    w.add_tensor("t", np.ones((4, 8), np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


def _onnx_model(external: str | None) -> object:
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    w = numpy_helper.from_array(np.ones((4, 4), np.float32), "W")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["X", "W"], ["Y"])],
        "g",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [1, 4])],
        [w],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    if external is not None:
        t = model.graph.initializer[0]
        t.ClearField("raw_data")
        t.data_location = onnx.TensorProto.EXTERNAL
        for key, value in (("location", external), ("offset", "0"), ("length", "64")):
            e = t.external_data.add()
            e.key, e.value = key, value
    return model


def generate(out: Path) -> None:
    """Write the corpus under ``out`` and its labels to ``out/manifest.json``."""
    import warnings

    warnings.simplefilter("ignore")
    pg = _load("pickle_gen")
    og = _load("artifacts_other_gen")
    mal: dict[str, Path] = {}
    ben: dict[str, Path] = {}
    built, marker = pg.build_all(out / "malicious")
    mal.update(built)
    for name, make in (
        ("savedmodel_pyfunc_in_function", og.pyfunc_in_function),
        ("savedmodel_file_ops", og.file_ops),
        ("savedmodel_rogue_save", og.rogue_save),
        ("onnx_subgraph_nesting_80", lambda: og.onnx_nested_subgraphs(80)),
    ):
        d = out / "malicious" / name
        d.mkdir(parents=True)
        fname = "model.onnx" if name.startswith("onnx") else "saved_model.pb"
        (d / fname).write_bytes(make())
        mal[name] = d / fname
    evil = {
        "gguf_template_globals_import": (
            "{{ self.__init__.__globals__.__builtins__.__import__('os').popen('id').read() }}"
        ),
        "gguf_template_lipsum_os": "{{ lipsum.__globals__['os'].system('id') }}",
    }
    for name, tpl in evil.items():
        mal[name] = _gguf_file(out / "malicious" / name / "model.gguf", tpl)
    import onnx

    for name, loc in (("onnx_external_data_traversal", "../../../../etc/passwd"),):
        d = out / "malicious" / name
        d.mkdir(parents=True)
        onnx.save(_onnx_model(loc), str(d / "model.onnx"))  # type: ignore[arg-type]
        mal[name] = d / "model.onnx"
    for fam, fn in pg.BENIGN.items():
        d = out / "benign" / fam
        d.mkdir(parents=True)
        for p in fn(d):
            ben[f"{fam}/{p.name}"] = p
    d = out / "benign" / "onnx_plain"
    d.mkdir(parents=True)
    onnx.save(_onnx_model(None), str(d / "model.onnx"))  # type: ignore[arg-type]
    ben["onnx_plain"] = d / "model.onnx"
    d = out / "benign" / "onnx_external"
    d.mkdir(parents=True)
    onnx.save(
        _onnx_model(None),  # type: ignore[arg-type]
        str(d / "model.onnx"),
        save_as_external_data=True,
        all_tensors_to_one_file=True,
        location="weights.bin",
        size_threshold=0,
    )
    ben["onnx_external"] = d / "model.onnx"
    import numpy as np
    import torch
    from safetensors.numpy import save_file as np_save
    from safetensors.torch import save_file as torch_save

    d = out / "benign" / "safetensors"
    d.mkdir(parents=True)
    np_save({"a": np.ones((4, 4), np.float32), "b": np.arange(7)}, str(d / "np.safetensors"))
    net = torch.nn.Linear(4, 2)
    torch_save(net.state_dict(), str(d / "torch.safetensors"), metadata={"format": "pt"})
    ben["safetensors/np"] = d / "np.safetensors"
    ben["safetensors/torch"] = d / "torch.safetensors"
    llama3 = (
        "{% for message in messages %}{{ '<|start_header_id|>' + message['role'] + "
        "'<|end_header_id|>\\n\\n' + message['content'] | trim + '<|eot_id|>' }}{% endfor %}"
        "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>' }}"
        "{% endif %}"
    )
    ben["gguf_llama3_template"] = _gguf_file(out / "benign" / "gguf_t" / "model.gguf", llama3)
    ben["gguf_no_template"] = _gguf_file(out / "benign" / "gguf_n" / "model.gguf", None)
    _keras_files(out, mal, ben)
    manifest = {
        "marker": str(marker),
        "files": [{"name": k, "path": str(v), "malicious": True} for k, v in mal.items()]
        + [{"name": k, "path": str(v), "malicious": False} for k, v in ben.items()],
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1))


# -- tools ------------------------------------------------------------------------------


@dataclass
class Verdict:
    """One tool's answer on one file."""

    flagged: bool
    seconds: float
    error: str | None = None
    flagged_strict: bool | None = None
    """modelaudit's critical-only reading; None for the other tools."""
    detail: str = ""


@dataclass
class Tool:
    """A tool under test and how to ask it about one file."""

    name: str
    run: Callable[[Path, float, Path], Verdict]
    results: dict[str, Verdict] = field(default_factory=dict)


def _child(
    cmd: list[str], timeout: float, cwd: Path
) -> tuple[subprocess.CompletedProcess[str] | None, float]:
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(
            cmd, capture_output=True, text=True, timeout=timeout, cwd=cwd, env=ENV, check=False
        )
    except subprocess.TimeoutExpired:
        return None, time.perf_counter() - t0
    return proc, time.perf_counter() - t0


def run_custodes(path: Path, timeout: float, work: Path) -> Verdict:
    """In-process: ``run_scan`` on the one file; flagged at medium or above."""
    from custodes.findings import Severity
    from custodes.scan import run_scan

    t0 = time.perf_counter()
    res = run_scan([path], jobs=1)
    dt = time.perf_counter() - t0
    serious = sorted({f.rule_id for f in res.findings if f.severity.at_least(Severity.MEDIUM)})
    return Verdict(bool(serious), dt, detail=",".join(serious))


def run_modelaudit(path: Path, timeout: float, work: Path) -> Verdict:
    """``modelaudit scan --format json``; any = warning or critical issue, strict = critical."""
    exe = str(ANCHORS / "bin" / "modelaudit")
    cmd = [exe, "scan", "--format", "json", "--no-cache", "-t", str(int(timeout)), str(path)]
    proc, dt = _child(cmd, timeout + 10, work)
    if proc is None:
        return Verdict(False, dt, "timeout", False)
    try:
        doc = json.loads(proc.stdout[proc.stdout.find("{") :])
    except ValueError:
        return Verdict(False, dt, f"rc {proc.returncode}, no JSON", False)
    sev = [str(i.get("severity", "")).lower() for i in doc.get("issues", [])]
    crit = [i.get("message", "") for i in doc.get("issues", []) if i.get("severity") == "critical"]
    err = f"rc {proc.returncode}" if proc.returncode == 2 else None
    return Verdict(
        any(s in ("warning", "critical") for s in sev),
        dt,
        err,
        bool(crit),
        detail="; ".join(crit[:2])[:160],
    )


def run_fickling(path: Path, timeout: float, work: Path) -> Verdict:
    """fickling's own dispatch (see the module docstring) in the anchors' interpreter."""
    py = str(ANCHORS / "bin" / "python")
    cmd = [py, "-c", FICKLING_DRIVER, str(path), str(work / "fickling.json")]
    proc, dt = _child(cmd, timeout, work)
    if proc is None:
        return Verdict(False, dt, "timeout")
    try:
        doc = json.loads(proc.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return Verdict(False, dt, f"rc {proc.returncode}: {proc.stderr.strip()[-120:]}")
    err = None if doc["scanned"] else "not scanned (format unsupported)"
    return Verdict(bool(doc["unsafe"]), dt, err, detail=str(doc["severity"]))


def run_picklescan(path: Path, timeout: float, work: Path) -> Verdict:
    """``picklescan --path``: exit 1 = infected, 2 = scan error."""
    proc, dt = _child([str(ANCHORS / "bin" / "picklescan"), "--path", str(path)], timeout, work)
    if proc is None:
        return Verdict(False, dt, "timeout")
    err = "scan error" if proc.returncode == 2 else None
    found = [ln for ln in proc.stdout.splitlines() if "FOUND" in ln]
    return Verdict(proc.returncode == 1, dt, err, detail="; ".join(found[:2])[-160:])


def run_modelscan(path: Path, timeout: float, work: Path) -> Verdict:
    """``modelscan -r json``: flagged when ``summary.total_issues`` is positive."""
    report = work / "modelscan.json"
    report.unlink(missing_ok=True)
    exe = str(ANCHORS / "bin" / "modelscan")
    proc, dt = _child([exe, "-p", str(path), "-r", "json", "-o", str(report)], timeout, work)
    if proc is None:
        return Verdict(False, dt, "timeout")
    try:
        doc = json.loads(report.read_text())
    except (OSError, ValueError):
        return Verdict(False, dt, f"rc {proc.returncode}, no report")
    issues = int(doc.get("summary", {}).get("total_issues", 0))
    scanned = doc.get("summary", {}).get("scanned", {}).get("total_scanned", 0)
    err = "; ".join(str(e.get("description", e))[:80] for e in doc.get("errors", [])) or None
    if not scanned and not issues and err is None:
        err = "not scanned (skipped)"
    ops = sorted({f"{i.get('module')}.{i.get('operator')}" for i in doc.get("issues", [])})
    return Verdict(issues > 0, dt, err, detail=",".join(ops)[:160])


TOOLS: dict[str, Callable[[Path, float, Path], Verdict]] = {
    "custodes": run_custodes,
    "modelaudit": run_modelaudit,
    "fickling": run_fickling,
    "picklescan": run_picklescan,
    "modelscan": run_modelscan,
}


# -- report -----------------------------------------------------------------------------


def _pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round(q * (len(xs) - 1)))]


def table(tools: list[Tool], files: list[dict[str, object]]) -> str:
    """The comparison table (markdown), one row per tool and reading."""
    mal = [str(f["name"]) for f in files if f["malicious"]]
    ben = [str(f["name"]) for f in files if not f["malicious"]]
    rows = [
        "| tool | malicious caught | benign flagged | errors/timeouts/unscanned | median ms/file "
        "| p95 ms/file | total s |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for t in tools:
        readings: list[tuple[str, Callable[[Verdict], bool]]] = [(t.name, lambda v: v.flagged)]
        if t.name == "modelaudit":
            readings = [
                ("modelaudit (any issue)", lambda v: v.flagged),
                ("modelaudit (CRITICAL only)", lambda v: bool(v.flagged_strict)),
            ]
        secs = [v.seconds for v in t.results.values()]
        errs = sum(1 for v in t.results.values() if v.error)
        for label, pick in readings:
            caught = sum(1 for n in mal if pick(t.results[n]))
            noisy = sum(1 for n in ben if pick(t.results[n]))
            rows.append(
                f"| {label} | {caught} / {len(mal)} | {noisy} / {len(ben)} | {errs} "
                f"| {statistics.median(secs) * 1000:.1f} | {_pct(secs, 0.95) * 1000:.1f} "
                f"| {sum(secs):.1f} |"
            )
    return "\n".join(rows)


def setup() -> None:
    """Create the anchors' virtualenv with the pinned versions."""
    subprocess.run([sys.executable, "-m", "venv", str(ANCHORS)], check=True)
    pip = str(ANCHORS / "bin" / "pip")
    subprocess.run([pip, "install", "--upgrade", "pip"], check=True)
    subprocess.run([pip, "install", *PINS, *EXTRAS], check=True)


def main() -> None:
    """Generate, scan with every tool, print the table and the disagreements."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--setup", action="store_true", help="create the anchors' venv and exit")
    ap.add_argument("--generate", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--out", type=Path, help="corpus directory (default: a temp dir)")
    ap.add_argument("--timeout", type=float, default=120.0, help="seconds per tool per file")
    ap.add_argument("--tools", default=",".join(TOOLS), help="comma-separated subset")
    ap.add_argument("--json", type=Path, help="write every verdict here")
    args = ap.parse_args()
    if args.setup:
        setup()
        return
    if args.generate:
        generate(args.generate)
        return
    out = args.out or Path(tempfile.mkdtemp(prefix="bench-artifacts-"))
    if not (out / "manifest.json").exists():
        t0 = time.perf_counter()
        subprocess.run([sys.executable, __file__, "--generate", str(out)], check=True)
        print(f"corpus generated in {time.perf_counter() - t0:.1f} s at {out}", file=sys.stderr)
    manifest = json.loads((out / "manifest.json").read_text())
    files: list[dict[str, object]] = manifest["files"]
    tools = [Tool(n, TOOLS[n]) for n in args.tools.split(",")]
    work = Path(tempfile.mkdtemp(prefix="bench-artifacts-work-"))
    for t in tools:
        if t.name != "custodes" and not (ANCHORS / "bin" / "python").exists():
            sys.exit(f"{ANCHORS} missing: run with --setup first")
        t0 = time.perf_counter()
        for f in files:
            t.results[str(f["name"])] = t.run(Path(str(f["path"])), args.timeout, work)
        print(f"{t.name}: {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    nmal = sum(1 for f in files if f["malicious"])
    print(f"corpus: {nmal} malicious, {len(files) - nmal} benign files")
    print(table(tools, files))
    print(f"\nmarker file created by any tool: {Path(manifest['marker']).exists()}")
    by_name = {t.name: t for t in tools}
    if "custodes" in by_name:
        cust = by_name["custodes"].results
        print("\nmalicious files custodes misses, with the tools that catch them:")
        for f in files:
            n = str(f["name"])
            if f["malicious"] and not cust[n].flagged:
                who = [t.name for t in tools if t.results[n].flagged]
                print(f"  {n}: {who}")
    for t in tools:
        noisy = [
            str(f["name"])
            for f in files
            if not f["malicious"] and t.results[str(f["name"])].flagged
        ]
        missed = [
            str(f["name"])
            for f in files
            if f["malicious"] and not t.results[str(f["name"])].flagged
        ]
        print(f"\n{t.name}: benign flagged {noisy}\n{t.name}: malicious missed {missed}")
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "files": files,
                    "results": {
                        t.name: {k: v.__dict__ for k, v in t.results.items()} for t in tools
                    },
                },
                indent=1,
            )
        )


if __name__ == "__main__":
    main()
