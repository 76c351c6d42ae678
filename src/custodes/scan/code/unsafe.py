"""AST checks for Python that loads models or data in ways that run code.

A model file or a config from the internet becomes code the moment ``torch.load``,
``pickle.load`` or ``yaml.load`` reads it, and ``trust_remote_code=True`` runs a hub
repository's Python on purpose. These checks read the syntax tree only (the source is
never imported or run), resolve import aliases (``import torch as t``, ``from pickle
import load as l``), and use a simple, flow-insensitive taint inside each function to
raise the severity when the path comes from a download, a URL, a web request,
``input()`` or ``sys.argv``. Source that does not parse (Python 2, syntax errors,
notebook magics) yields nothing rather than an error.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from custodes.findings import RuleId, Severity

__all__ = ["CodeIssue", "check_source", "collect_imports"]

MODEL_THREATS = ("SUPPLYMODELPOISON", "RUNTIMEMODELPOISON")
CODE_THREATS = ("GENERICSECTHREATS",)


@dataclass(frozen=True)
class CodeIssue:
    """One unsafe call found in Python source; the scanner turns it into a Finding."""

    rule_id: RuleId
    severity: Severity
    line: int
    """1-based line in the source given to :func:`check_source`."""
    column: int
    """1-based column."""
    message: str
    remediation: str
    threats: tuple[str, ...]
    subject: str
    """The callable and its first argument, for the finding's fingerprint."""
    tainted: bool = False
    """Whether the data reaches the call from a download, URL, request or user input."""


# Conventional aliases a notebook cell often uses without importing in the same cell.
_CONVENTIONS = {"np": "numpy", "pd": "pandas"}

_PICKLE_LOADERS = frozenset(
    f"{mod}.{fn}"
    for mod in ("pickle", "cPickle", "_pickle", "dill", "cloudpickle")
    for fn in ("load", "loads", "Unpickler")
) | {"joblib.load", "pandas.read_pickle", "sklearn.externals.joblib.load"}
_YAML_UNSAFE = frozenset({"yaml.unsafe_load", "yaml.unsafe_load_all"})
_YAML_FULL = frozenset({"yaml.full_load", "yaml.full_load_all"})
_YAML_SAFE_LOADERS = frozenset({"SafeLoader", "CSafeLoader", "BaseLoader", "CBaseLoader"})
_SHELL_CALLS = frozenset(
    f"subprocess.{fn}"
    for fn in ("run", "call", "Popen", "check_output", "check_call", "getoutput", "getstatusoutput")
)
_TAINT_SOURCES = frozenset(
    {
        "input",
        "raw_input",
        "urllib.request.urlopen",
        "urllib.request.urlretrieve",
        "urllib.urlretrieve",
        "urllib.urlopen",
        "urllib2.urlopen",
        "socket.socket",
    }
)
_URL_PREFIXES = ("http://", "https://", "ftp://", "s3://", "gs://", "hf://")


def collect_imports(tree: ast.AST) -> dict[str, str]:
    """Map each local name an import binds to the dotted name it stands for."""
    names: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    names[alias.asname] = alias.name
                else:
                    top = alias.name.split(".")[0]
                    names[top] = top
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                if alias.name != "*":
                    names[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return names


class _Checker:
    """Walks one module: resolves call names, tracks taint per scope, records issues."""

    def __init__(self, imports: Mapping[str, str]) -> None:
        self.imports = imports
        self.issues: list[CodeIssue] = []

    def resolve(self, node: ast.expr) -> str | None:
        """Dotted name of a Name/Attribute chain, with import aliases applied."""
        parts: list[str] = []
        while isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        if not isinstance(node, ast.Name):
            return None
        base = self.imports.get(node.id) or _CONVENTIONS.get(node.id, node.id)
        return ".".join([base, *reversed(parts)])

    # -- taint -----------------------------------------------------------------------

    def is_source(self, call: ast.Call) -> bool:
        """Whether a call returns data from outside: a download, a request, user input."""
        name = self.resolve(call.func) or ""
        func = call.func
        attr = func.attr if isinstance(func, ast.Attribute) else name
        last = attr.rsplit(".", 1)[-1].lower()
        return (
            name in _TAINT_SOURCES
            or name.startswith(("requests.", "httpx.", "aiohttp.", "urllib3."))
            or "download" in last
            or last in ("urlopen", "urlretrieve", "parse_args", "parse_known_args")
        )

    def tainted_expr(self, expr: ast.AST, tainted: set[str]) -> bool:
        """Whether an expression carries outside data (flow-insensitive)."""
        for node in ast.walk(expr):
            if isinstance(node, ast.Name) and node.id in tainted:
                return True
            if isinstance(node, ast.Call) and self.is_source(node):
                return True
            if isinstance(node, ast.Constant) and str(node.value).startswith(_URL_PREFIXES):
                return True
            if isinstance(node, ast.Attribute | ast.Name):
                name = self.resolve(node) or ""
                if name == "sys.argv" or name.startswith(("flask.request.", "request.")):
                    return True
        return False

    def scope_taint(self, body: list[ast.stmt]) -> set[str]:
        """Names in one scope assigned (anywhere in it) from tainted expressions."""
        flows: list[tuple[list[str], ast.AST]] = []
        for node in _scope_nodes(body):
            if isinstance(node, ast.Assign):
                flows.append(([n for t in node.targets for n in _target_names(t)], node.value))
            elif isinstance(node, ast.AnnAssign | ast.AugAssign) and node.value is not None:
                flows.append((_target_names(node.target), node.value))
            elif isinstance(node, ast.NamedExpr):
                flows.append(([node.target.id], node.value))
            elif isinstance(node, ast.For | ast.AsyncFor):
                flows.append((_target_names(node.target), node.iter))
            elif isinstance(node, ast.withitem) and node.optional_vars is not None:
                flows.append((_target_names(node.optional_vars), node.context_expr))
        tainted: set[str] = set()
        changed = True
        while changed:  # a fixpoint: at most one round per flow
            changed = False
            for targets, value in flows:
                new = [t for t in targets if t not in tainted]
                if new and self.tainted_expr(value, tainted):
                    tainted.update(new)
                    changed = True
        return tainted

    # -- checks ----------------------------------------------------------------------

    def run(self, tree: ast.Module) -> None:
        """Check the module body and every function body, each with its own taint."""
        self.check_scope(tree.body)
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                self.check_scope(node.body)

    def check_scope(self, body: list[ast.stmt]) -> None:
        """Check every call that belongs to this scope (not to nested functions)."""
        tainted = self.scope_taint(body)
        for node in _scope_nodes(body):
            if isinstance(node, ast.Call):
                self.check_call(node, tainted)

    def add(
        self,
        call: ast.Call,
        rule: str,
        severity: Severity,
        message: str,
        remediation: str,
        threats: tuple[str, ...],
        name: str,
        tainted: bool = False,
    ) -> None:
        """Record one issue at the call."""
        arg = ast.unparse(call.args[0])[:80] if call.args else ""
        self.issues.append(
            CodeIssue(
                RuleId(rule),
                severity,
                call.lineno,
                call.col_offset + 1,
                message,
                remediation,
                threats,
                f"{name}({arg})",
                tainted,
            )
        )

    def check_call(self, call: ast.Call, tainted: set[str]) -> None:
        """Apply every rule to one call."""
        name = self.resolve(call.func)
        for kw in call.keywords:
            if kw.arg == "trust_remote_code" and _is_true(kw.value):
                self.add(
                    call,
                    "CODE-TRUST-REMOTE-CODE",
                    Severity.HIGH,
                    f"{name or 'A call'} passes trust_remote_code=True, which runs Python from the model repository.",
                    "Drop trust_remote_code, or pin a reviewed revision (revision=<commit sha>) and vendor the code.",
                    MODEL_THREATS,
                    name or "call",
                )
        if name is None:
            return
        data = _first_arg(call)
        is_tainted = data is not None and self.tainted_expr(data, tainted)
        origin = " from a download, URL or user input" if is_tainted else ""
        if name == "torch.load":
            weights_only = _keyword(call, "weights_only")
            if weights_only is None or not _is_true(weights_only):
                self.add(
                    call,
                    "CODE-TORCH-LOAD",
                    Severity.CRITICAL if is_tainted else Severity.HIGH,
                    f"torch.load without weights_only=True unpickles the checkpoint{origin}, which can run any code.",
                    "Pass weights_only=True, or store weights as safetensors.",
                    MODEL_THREATS,
                    name,
                    is_tainted,
                )
        elif name in _PICKLE_LOADERS or (name == "numpy.load" and _allows_pickle(call)):
            self.add(
                call,
                "CODE-PICKLE-LOAD",
                Severity.HIGH if is_tainted else Severity.MEDIUM,
                f"{name} deserialises a pickle{origin}, which can run any code.",
                "Load only files you produced and verified (hash or signature), or switch to safetensors, JSON or numpy without allow_pickle.",
                MODEL_THREATS,
                name,
                is_tainted,
            )
        elif name in ("yaml.load", "yaml.load_all") and not _safe_yaml_loader(call):
            self.add(
                call,
                "CODE-YAML-LOAD",
                Severity.HIGH,
                f"{name} without a SafeLoader can construct arbitrary Python objects.",
                "Use yaml.safe_load, or pass Loader=yaml.SafeLoader (or CSafeLoader).",
                MODEL_THREATS,
                name,
                is_tainted,
            )
        elif name in _YAML_UNSAFE or name in _YAML_FULL:
            self.add(
                call,
                "CODE-YAML-LOAD",
                Severity.HIGH if name in _YAML_UNSAFE else Severity.MEDIUM,
                f"{name} can construct Python objects from the document.",
                "Use yaml.safe_load.",
                MODEL_THREATS,
                name,
                is_tainted,
            )
        elif name in ("eval", "exec", "builtins.eval", "builtins.exec"):
            if data is not None and not _is_literal(data):
                self.add(
                    call,
                    "CODE-EVAL",
                    Severity.HIGH if is_tainted else Severity.MEDIUM,
                    f"{name.rsplit('.', 1)[-1]} runs a string built at run time{origin} as Python code.",
                    "Parse data with json or ast.literal_eval; never evaluate it.",
                    CODE_THREATS,
                    name,
                    is_tainted,
                )
        elif (
            (name in _SHELL_CALLS and _is_true(_keyword(call, "shell")))
            or name in ("os.system", "os.popen")
        ) and not (data is None or _is_literal(data)):
            self.add(
                call,
                "CODE-SHELL",
                Severity.HIGH if is_tainted else Severity.MEDIUM,
                f"{name} runs a command string built at run time{origin} through the shell.",
                "Pass an argument list without shell=True (subprocess.run([...]))",
                CODE_THREATS,
                name,
                is_tainted,
            )


def _scope_nodes(body: list[ast.stmt]) -> Iterator[ast.AST]:
    """Every node of a scope, without descending into nested functions or lambdas."""
    nested = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)
    stack: list[ast.AST] = [n for n in reversed(body) if not isinstance(n, nested)]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(
            child
            for child in reversed(list(ast.iter_child_nodes(node)))
            if not isinstance(child, nested)
        )


def _target_names(target: ast.AST) -> list[str]:
    """Names bound by an assignment target (tuples unpacked, attributes by their base)."""
    if isinstance(target, ast.Name):
        return [target.id]
    if isinstance(target, ast.Tuple | ast.List):
        return [n for elt in target.elts for n in _target_names(elt)]
    if isinstance(target, ast.Starred):
        return _target_names(target.value)
    return []


def _keyword(call: ast.Call, name: str) -> ast.expr | None:
    """The value passed for a keyword argument, if any."""
    for kw in call.keywords:
        if kw.arg == name:
            return kw.value
    return None


def _first_arg(call: ast.Call) -> ast.expr | None:
    """The first positional argument (the path, stream or string the call reads)."""
    if call.args and not isinstance(call.args[0], ast.Starred):
        return call.args[0]
    for kw in call.keywords:
        if kw.arg in ("f", "file", "filename", "path", "stream", "source", "filepath_or_buffer"):
            return kw.value
    return None


def _is_true(node: ast.expr | None) -> bool:
    """Whether an argument is the literal True."""
    return isinstance(node, ast.Constant) and node.value is True


def _is_literal(node: ast.expr) -> bool:
    """Whether an argument is a constant written in the source (not data)."""
    return isinstance(node, ast.Constant) and isinstance(node.value, str | bytes)


def _allows_pickle(call: ast.Call) -> bool:
    """numpy.load(..., allow_pickle=<anything but False>)."""
    value = _keyword(call, "allow_pickle")
    return value is not None and not (isinstance(value, ast.Constant) and not value.value)


def _safe_yaml_loader(call: ast.Call) -> bool:
    """Whether yaml.load gets a loader that builds only plain data."""
    loader = _keyword(call, "Loader")
    if loader is None and len(call.args) > 1:
        loader = call.args[1]
    if isinstance(loader, ast.Attribute):
        return loader.attr in _YAML_SAFE_LOADERS
    if isinstance(loader, ast.Name):
        return loader.id in _YAML_SAFE_LOADERS
    return False


def check_source(source: str, *, imports: Mapping[str, str] | None = None) -> list[CodeIssue]:
    """Unsafe loads, evals and shell calls in Python source, ordered by position.

    ``imports`` adds aliases bound elsewhere (a notebook's earlier cells); the source's
    own imports take precedence. Source that does not parse returns an empty list.
    """
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return []
    names = dict(imports or {})
    try:
        names.update(collect_imports(tree))
        checker = _Checker(names)
        checker.run(tree)
    except RecursionError:  # pathologically nested expressions
        return []
    return sorted(checker.issues, key=lambda i: (i.line, i.column, i.rule_id))
