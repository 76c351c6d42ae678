"""Keras models (.h5 legacy and .keras v3 zip): code hidden anywhere in the config.

A Keras model file is weights plus a JSON description of the model, and loading it
rebuilds every object the JSON names. Two things in that JSON run code: a ``Lambda``
(or any ``__lambda__``) carries marshalled Python bytecode that Keras turns back into
a function, and a ``module``/``class_name`` pair outside Keras makes the loader import
that module and call what it finds (CVE-2024-3660, CVE-2025-1550: ``safe_mode`` bypasses
through config.json). Such entries hide anywhere: in nested Functional/Sequential models
inside layers, in ``compile_config`` (a loss given as a function), in preprocessing
layers' fields, in TFOpLambda layers naming ``tf.io.write_file``. So the whole JSON tree
is walked, iteratively and with bounds, and every string that decodes to a marshalled
code object is reported wherever it sits. Nothing is deserialized or imported.
"""

from __future__ import annotations

import base64
import binascii
import importlib.util
import json
import mmap
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from custodes.findings import Category, Finding, Location, RuleId, Severity
from custodes.scan.artifacts.sniff import Format, sniff
from custodes.scan.artifacts.zipsafe import SafeZip
from custodes.scan.interface import ScanContext, Scanner, Target

__all__ = ["ConfigHit", "KerasScanner", "config_hits", "looks_like_keras"]

RULE_LAMBDA = RuleId("ARTIFACT-KERAS-LAMBDA")
RULE_CUSTOM = RuleId("ARTIFACT-KERAS-CUSTOM-OBJECT")
RULE_MALFORMED = RuleId("ARTIFACT-KERAS-MALFORMED")
THREATS = ("SUPPLYMODELPOISON", "RUNTIMEMODELPOISON")

HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
MAX_DEPTH = 200
MAX_NODES = 2_000_000
MAX_CONFIG_BYTES = 64 * 1024 * 1024
MAX_HITS = 50

KERAS_MODULES = frozenset(
    {"keras", "keras_core", "keras_nlp", "keras_hub", "keras_cv", "tf_keras", "tensorflow"}
)
DANGEROUS_MODULES = frozenset(
    {
        "os", "posix", "nt", "subprocess", "sys", "importlib", "runpy", "shutil", "pty",
        "socket", "code", "codeop", "pickle", "_pickle", "marshal", "ctypes", "webbrowser",
        "pip", "pkgutil", "commands", "multiprocessing", "asyncio", "io", "pathlib",
        "tempfile", "__builtin__", "operator", "functools", "types", "dill", "joblib",
    }
)  # fmt: skip
DANGEROUS_BUILTINS = frozenset(
    {"eval", "exec", "compile", "__import__", "open", "getattr", "setattr", "delattr",
     "globals", "locals", "vars", "breakpoint", "input", "exit", "quit", "help"}
)  # fmt: skip
_TF_OP_DANGER = re.compile(
    r"(^|\.)(io|gfile|summary|debugging)\.|py_function|numpy_function|py_func|"
    r"(^|\.)print$|read_file|write_file|matching_files|save_v2|restore_v2|load_library|load_op_library"
)
_B64 = re.compile(r"[A-Za-z0-9+/=\s]{40,}")


@dataclass(frozen=True)
class ConfigHit:
    """One risky spot in a Keras config: rule, severity, JSON path and what it is."""

    rule: RuleId
    severity: Severity
    path: str
    what: str
    subject: str


def looks_like_keras(head: bytes) -> bool:
    """An HDF5 file (possibly after a user block) or a zip holding a Keras config.json."""
    if any(head[o : o + 8] == HDF5_MAGIC for o in (0, 512, 1024, 2048, 4096)):
        return True
    return head[:4] == b"PK\x03\x04" and (b"config.json" in head or b"metadata.json" in head)


def _is_marshal(text: str) -> bool:
    """Whether a string is base64 of a marshalled code object (what Lambda layers store)."""
    if len(text) < 40 or not _B64.fullmatch(text):
        return False
    try:
        raw = base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        return False
    # TYPE_CODE is 'c' (0x63); marshal sets 0x80 on it when it records a reference.
    return len(raw) > 16 and raw[0] in (0x63, 0xE3)


def _module_root(module: str) -> str:
    return module.split(".", 1)[0]


def config_hits(doc: object) -> list[ConfigHit]:
    """Walk a parsed Keras config tree and report every entry that brings code with it."""
    hits: dict[str, ConfigHit] = {}

    lambdas: list[str] = []

    def add(rule: RuleId, severity: Severity, path: str, what: str, subject: str) -> None:
        # Parents are visited first: a Lambda layer already covers the code inside it.
        if rule == RULE_LAMBDA:
            if any(path.startswith((p + ".", p + "[")) for p in lambdas):
                return
            lambdas.append(path)
        if len(hits) < MAX_HITS:
            hits.setdefault(subject, ConfigHit(rule, severity, path, what, subject))

    stack: list[tuple[object, str, int]] = [(doc, "$", 0)]
    nodes = 0
    while stack:
        node, path, depth = stack.pop()
        nodes += 1
        if depth > MAX_DEPTH or nodes > MAX_NODES:
            add(RULE_MALFORMED, Severity.HIGH, path, "the config is nested too deeply or too large "
                "to inspect completely", "limits")  # fmt: skip
            break
        if isinstance(node, dict):
            _check_object(node, path, add)
            stack.extend((v, f"{path}.{str(k)[:60]}", depth + 1) for k, v in node.items())
        elif isinstance(node, list):
            stack.extend((v, f"{path}[{i}]", depth + 1) for i, v in enumerate(node))
        elif isinstance(node, str) and _is_marshal(node):
            add(RULE_LAMBDA, Severity.CRITICAL, path, "marshalled Python bytecode", f"code:{path}")
    return sorted(hits.values(), key=lambda h: (-h.severity.rank, h.path))


def _check_object(obj: dict[str, Any], path: str, add: Any) -> None:
    """Rules for one JSON object that names a class, a function or a module."""
    cls = obj.get("class_name")
    cfg = obj.get("config")
    cfg = cfg if isinstance(cfg, dict) else {}
    name = f"{cfg.get('name', '')}"[:80]
    if cls == "Lambda":
        fn = cfg.get("function")
        marshalled = (isinstance(fn, dict) and fn.get("class_name") == "__lambda__") or (
            cfg.get("function_type") == "lambda"
        )
        if marshalled:
            add(RULE_LAMBDA, Severity.CRITICAL, path,
                f"Lambda layer {name!r} with marshalled Python bytecode", f"lambda:{path}")  # fmt: skip
        else:
            add(RULE_LAMBDA, Severity.HIGH, path,
                f"Lambda layer {name!r} calling a Python function by name", f"lambda:{path}")  # fmt: skip
    elif cls == "__lambda__":
        add(
            RULE_LAMBDA,
            Severity.CRITICAL,
            path,
            "a lambda with marshalled bytecode",
            f"lambda:{path}",
        )
    elif cls in ("TFOpLambda", "SlicingOpLambda"):
        fn = str(cfg.get("function", ""))[:120]
        if _TF_OP_DANGER.search(fn):
            add(RULE_LAMBDA, Severity.HIGH, path,
                f"{cls} layer {name!r} calling tf.{fn}, which touches files or Python", f"tfop:{fn}")  # fmt: skip
    module = obj.get("module")
    registered = obj.get("registered_name")
    if isinstance(module, str) and isinstance(cls, str):
        root = _module_root(module)
        target = f"{module}.{cfg if isinstance(obj.get('config'), str) else cls}"[:160]
        if root == "builtins" and cls == "function":
            fn_name = obj.get("config")
            if fn_name in DANGEROUS_BUILTINS:
                add(RULE_CUSTOM, Severity.CRITICAL, path,
                    f"a reference to builtins.{fn_name}, which runs code when called", f"mod:{target}")  # fmt: skip
            elif not isinstance(fn_name, str) or not fn_name.isidentifier():
                add(RULE_CUSTOM, Severity.HIGH, path, "a function reference with an invalid name",
                    f"mod:{target}")  # fmt: skip
            else:
                add(RULE_CUSTOM, Severity.MEDIUM, path,
                    f"a custom function {fn_name!r} the loader must be given", f"fn:{fn_name}")  # fmt: skip
        elif root in DANGEROUS_MODULES or root == "builtins":
            add(RULE_CUSTOM, Severity.CRITICAL, path,
                f"an object from {module!r}, which the loader imports and calls", f"mod:{target}")  # fmt: skip
        elif root not in KERAS_MODULES:
            add(RULE_CUSTOM, Severity.MEDIUM, path,
                f"a custom object {cls!r} from module {module[:80]!r}, imported on load", f"mod:{target}")  # fmt: skip
    elif isinstance(registered, str) and ">" in registered:
        package = registered.split(">", 1)[0]
        if _module_root(package) not in KERAS_MODULES:
            add(RULE_CUSTOM, Severity.MEDIUM, path,
                f"a registered custom object {registered[:80]!r}", f"reg:{registered[:120]}")  # fmt: skip


class _Malformed(ValueError):
    """The Keras container (HDF5 or zip) could not be inspected."""


def _parse(raw: bytes | str, what: str) -> object:
    try:
        return json.loads(raw)
    except RecursionError:
        raise _Malformed(f"{what} is nested too deeply to parse") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise _Malformed(f"{what} is not valid JSON ({str(exc)[:80]})") from None


#: Runs in a child process: it opens the file with h5py and prints the two root attributes
#: as JSON strings, under an address-space cap. HDF5 is a C library; a crafted file that
#: crashes or hangs it must cost a finding, not the scan.
_H5_CHILD = """
import json, resource, sys
resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))
import h5py
out = {}
with h5py.File(sys.argv[1], "r") as fh:
    for key in ("model_config", "training_config"):
        if key in fh.attrs:
            v = fh.attrs[key]
            out[key] = v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)
sys.stdout.write(json.dumps(out))
"""
H5_TIMEOUT = 30.0


def _h5_configs(target: Target) -> list[tuple[str, object]]:
    """The JSON attributes a legacy .h5 model keeps on its root group, read in a child."""
    if importlib.util.find_spec("h5py") is None:
        raise ImportError("h5py is not installed")
    try:
        proc = subprocess.run(  # noqa: S603 - our own interpreter and script, the path is data
            [sys.executable, "-I", "-c", _H5_CHILD, str(target.path)],
            capture_output=True,
            timeout=H5_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise _Malformed(f"the HDF5 reader did not finish within {H5_TIMEOUT:.0f} s") from None
    if proc.returncode < 0:
        raise _Malformed(
            f"the HDF5 reader crashed on this file (signal {-proc.returncode}); treat it as hostile"
        )
    if proc.returncode != 0:
        last = proc.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["no detail"]
        raise _Malformed(f"the HDF5 file cannot be read ({last[0][:80]})")
    try:
        attrs = json.loads(proc.stdout)
    except ValueError:
        raise _Malformed("the HDF5 reader returned no attributes") from None
    out: list[tuple[str, object]] = []
    for key in ("model_config", "training_config"):
        raw = attrs.get(key)
        if raw is None:
            continue
        if len(raw) > MAX_CONFIG_BYTES:
            raise _Malformed(f"{key} is larger than {MAX_CONFIG_BYTES} bytes")
        out.append((key, _parse(raw, key)))
    return out


def _zip_configs(target: Target, ctx: ScanContext) -> tuple[list[tuple[str, object]], list[str]]:
    """config.json and metadata.json of a .keras archive, and the archive's own issues.

    Every member named config.json is read, not just the first: two copies that two
    readers resolve differently is exactly how a reviewed config differs from a loaded one.
    """
    out: list[tuple[str, object]] = []
    with open(target.path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as m:
        zf = SafeZip(m, max_members=ctx.limits.max_archive_members,
                     max_ratio=ctx.limits.max_compression_ratio)  # fmt: skip
        for member in zf.members:
            if member.name.rsplit("/", 1)[-1] not in ("config.json", "metadata.json"):
                continue
            raw = zf.read(member, MAX_CONFIG_BYTES + 1)
            if len(raw) > MAX_CONFIG_BYTES:
                raise _Malformed(f"{member.name[:200]} expands past {MAX_CONFIG_BYTES} bytes")
            out.append((member.name[:200], _parse(raw, member.name[:200])))
        issues = [f"{i.kind}: {i.member or ''} {i.detail}"[:300] for i in zf.issues]
    if not out and not issues:
        issues.append("malformed: the archive holds no config.json")
    return out, issues


class KerasScanner(Scanner):
    """Finds Lambda bytecode and non-Keras objects anywhere in a Keras model's config."""

    name = "artifacts-keras"

    def wants(self, target: Target) -> bool:
        """HDF5 or a zip with a Keras config, from content."""
        if looks_like_keras(target.head):
            return True
        return (
            target.head[:4] == b"PK\x03\x04" and sniff(target.head, target.path) is Format.KERAS_ZIP
        )

    def scan(self, target: Target, ctx: ScanContext) -> Iterator[Finding]:
        """Read the config JSON only (never the weights) and walk it."""
        fmt = "keras-h5" if target.head[:4] != b"PK\x03\x04" else "keras-v3"
        issues: list[str] = []
        if target.size == 0:
            return
        try:
            if fmt == "keras-h5":
                configs = _h5_configs(target)
            else:
                configs, issues = _zip_configs(target, ctx)
        except ImportError:
            yield _finding(target, fmt, ConfigHit(RULE_MALFORMED, Severity.INFO, "$",
                           "not inspected: h5py is not installed", "h5py"))  # fmt: skip
            return
        except (_Malformed, ValueError, OSError) as exc:
            yield _finding(
                target, fmt, ConfigHit(RULE_MALFORMED, Severity.HIGH, "$", str(exc), "malformed")
            )
            return
        for issue in issues[:10]:
            hit = ConfigHit(RULE_MALFORMED, Severity.HIGH, "$", f"zip issue {issue}", issue)
            yield _finding(target, fmt, hit)
        for source, doc in configs:
            for hit in config_hits(doc):
                yield _finding(target, fmt, hit, source)


def _finding(target: Target, fmt: str, hit: ConfigHit, source: str = "") -> Finding:
    where = f"{source}:{hit.path}" if source else hit.path
    detail = f"{hit.what} at {where}"
    return Finding(
        rule_id=hit.rule, category=Category.ARTIFACT, severity=hit.severity,
        message=f"Keras model config holds {hit.what} ({where[:200]})"
        if hit.rule != RULE_MALFORMED else f"Keras model could not be inspected: {hit.what}",
        location=Location(path=target.display), threats=THREATS, facts=(detail,),
        subject=f"{source}:{hit.subject}", properties={"format": fmt, "detail": detail},
        remediation="Do not load this model with safe_mode disabled or with custom objects; "
        "rebuild it from reviewed source code and save it without Lambda layers.",
    )  # fmt: skip
