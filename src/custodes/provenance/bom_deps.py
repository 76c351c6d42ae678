"""Python dependencies for the AI-BOM, read from a project's requirement and lock files.

A model is only as trustworthy as the code that trained and serves it, so the BOM lists
the packages the project declares: ``requirements*.txt`` (with ``-r`` includes inside the
project), ``pyproject.toml`` ``[project].dependencies``, and the ``poetry.lock``,
``uv.lock`` and ``Pipfile.lock`` lock files. Every file is *read*, never executed or
resolved: no pip, no build backend, no network. Requirement strings are parsed by
``packaging`` (the grammar pip uses), TOML by ``tomllib``, JSON by ``json``.

The same package named in several files is one component. A lock file's exact version
wins over a pin in a requirements file, which wins over a range: the lock is what was
installed, a range only what was allowed. A file that does not parse is bad input and
names its ``file:line``.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from custodes.errors import InputError
from custodes.scan.code.requirements import logical_lines

__all__ = ["PyDependency", "dependency_files", "normalize", "read_dependencies"]

_REQUIREMENTS = re.compile(r"^requirements[\w.-]*\.txt$", re.I)
_LOCKS = ("poetry.lock", "uv.lock", "Pipfile.lock")
_HASH = re.compile(r"^(sha256|sha384|sha512):([0-9a-fA-F]+)$")
_URL = re.compile(r"^[a-z][a-z0-9+.-]*://", re.I)
_VCS = ("git+", "hg+", "svn+", "bzr+")
_EGG = re.compile(r"[#&]egg=([A-Za-z0-9._-]+)")
#: Bytes read from one dependency file: lock files of large projects are a few MB.
MAX_BYTES = 32 * 1024 * 1024
#: How sure a declaration is of the installed version: a lock is what was installed.
RANK_LOCK, RANK_PIN, RANK_RANGE = 3, 2, 1


def normalize(name: str) -> str:
    """The PEP 503 normalized name: the same package however a file spells it."""
    return str(canonicalize_name(name))


@dataclass
class PyDependency:
    """One PyPI package as the project's files declare it."""

    name: str
    """PEP 503 normalized."""
    version: str | None = None
    """Exact version when pinned or locked; None for a range or a direct reference."""
    specifier: str | None = None
    url: str | None = None
    """A direct URL or VCS reference, credentials removed."""
    extras: tuple[str, ...] = ()
    marker: str | None = None
    hashes: set[tuple[str, str]] = field(default_factory=set)
    """(algorithm, hex digest) pairs, e.g. ("sha256", "ab12...")."""
    declared_in: list[str] = field(default_factory=list)
    rank: int = RANK_RANGE


def _safe_url(url: str) -> str:
    """The URL with any ``user:password@`` dropped: a BOM is shared, secrets are not."""
    return re.sub(r"(://)[^/@\s]+@", r"\1", url)


def _read(path: Path) -> str:
    try:
        with path.open("rb") as fh:
            data = fh.read(MAX_BYTES + 1)
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror}", path=path) from None
    if len(data) > MAX_BYTES:
        raise InputError(f"larger than {MAX_BYTES // (1024 * 1024)} MiB", path=path)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError("not UTF-8 text", path=path) from None


def _hashes(values: Iterable[Any], path: Path, line: int | None) -> set[tuple[str, str]]:
    out: set[tuple[str, str]] = set()
    for value in values:
        m = _HASH.match(str(value))
        if m is None:
            raise InputError(f"hash {str(value)[:40]!r} is not ALG:HEX", path=path, line=line)
        out.add((m.group(1), m.group(2).lower()))
    return out


def _from_requirement(req: Requirement, where: str) -> PyDependency:
    pins = [s for s in req.specifier if s.operator in ("==", "===") and "*" not in s.version]
    version = pins[0].version if len(pins) == 1 and len(req.specifier) == 1 else None
    return PyDependency(
        name=normalize(req.name),
        version=version,
        specifier=str(req.specifier) or None,
        url=_safe_url(req.url) if req.url else None,
        extras=tuple(sorted(req.extras)),
        marker=str(req.marker) if req.marker else None,
        declared_in=[where],
        rank=RANK_PIN if version else RANK_RANGE,
    )


def _bare_reference(ref: str, where: str) -> PyDependency | None:
    """``git+https://...#egg=name`` or a URL to an archive: a package with no version."""
    ref = ref.split(";", 1)[0].strip()
    if not (ref.lower().startswith(_VCS) or _URL.match(ref)):
        return None  # a local path: the project's own code, not a third-party package
    egg = _EGG.search(ref)
    if egg is not None:
        name = egg.group(1)
    else:
        last = ref.split("#", 1)[0].split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]
        name = re.split(r"-\d|\.(?:git|zip|tar)", last, maxsplit=1)[0] or last
    return PyDependency(normalize(name), url=_safe_url(ref), declared_in=[where])


def _requirements(path: Path, root: Path, seen: set[Path]) -> Iterator[PyDependency]:
    """Entries of one requirements file and of the files it includes with ``-r``."""
    real = path.resolve()
    if real in seen:
        return
    seen.add(real)
    for line, entry in logical_lines(_read(path)):
        where = f"{path.relative_to(root) if path.is_relative_to(root) else path}:{line}"
        tokens = entry.split()
        head = tokens[0]
        option, eq, value = head.partition("=")
        if option in ("-r", "--requirement"):
            target = value if eq else (tokens[1] if len(tokens) > 1 else "")
            yield from _include(path, root, target, line, seen)
            continue
        if option in ("-e", "--editable"):
            target = value if eq else " ".join(tokens[1:])
            dep = _bare_reference(target, where)
            if dep is not None:
                yield dep
            continue
        if head.startswith("-"):
            continue  # -c, -i, --extra-index-url, --pre ...: options, not packages
        spec, _sep, opts = entry.partition(" --")
        spec = spec.strip()
        hashes = re.findall(r"--hash[=\s]+(\S+)", " --" + opts) if opts else []
        dep = _bare_reference(spec, where)
        if dep is None:
            try:
                dep = _from_requirement(Requirement(spec), where)
            except InvalidRequirement as exc:
                if "/" in spec or spec.startswith(".") or spec.endswith((".whl", ".zip")):
                    continue  # a local path or archive: the project's own code
                raise InputError(f"not a valid requirement: {exc}", path=path, line=line) from None
        dep.hashes = _hashes(hashes, path, line)
        yield dep


def _include(
    path: Path, root: Path, target: str, line: int, seen: set[Path]
) -> Iterator[PyDependency]:
    if not target:
        raise InputError("-r needs a file name", path=path, line=line)
    if _URL.match(target):
        raise InputError(
            "-r from a URL is not read (only files in the project)", path=path, line=line
        )
    included = (path.parent / target).resolve()
    if not included.is_relative_to(root.resolve()):
        raise InputError(f"-r {target} is outside the project", path=path, line=line)
    if not included.is_file():
        raise InputError(f"-r {target}: no such file", path=path, line=line)
    yield from _requirements(included, root.resolve(), seen)


def _toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(_read(path))
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"line (\d+)", str(exc))
        raise InputError(
            f"not valid TOML: {exc}", path=path, line=int(m.group(1)) if m else None
        ) from None


def _pyproject(path: Path) -> Iterator[PyDependency]:
    doc = _toml(path)
    project = doc.get("project")
    deps = project.get("dependencies", []) if isinstance(project, dict) else []
    if not isinstance(deps, list):
        raise InputError("[project].dependencies is not a list", path=path)
    text = path.read_text(encoding="utf-8", errors="replace").splitlines()
    for spec in deps:
        line = next((i for i, t in enumerate(text, 1) if str(spec) in t), None)
        try:
            yield _from_requirement(Requirement(str(spec)), f"{path.name}:{line or 0}")
        except InvalidRequirement as exc:
            raise InputError(f"not a valid requirement: {exc}", path=path, line=line) from None


def _package_line(text: list[str], name: str) -> int:
    pattern = re.compile(rf'^\s*name\s*=\s*"{re.escape(name)}"', re.I)
    return next((i for i, t in enumerate(text, 1) if pattern.match(t)), 0)


def _lock_entry(name: Any, version: Any, path: Path, text: list[str]) -> PyDependency:
    if not isinstance(name, str) or not isinstance(version, str) or not name:
        raise InputError("a [[package]] has no name or version", path=path)
    return PyDependency(
        normalize(name),
        version=version,
        declared_in=[f"{path.name}:{_package_line(text, name)}"],
        rank=RANK_LOCK,
    )


def _uv_lock(path: Path) -> Iterator[PyDependency]:
    doc = _toml(path)
    text = _read(path).splitlines()
    for pkg in doc.get("package", []):
        if not isinstance(pkg, dict):
            raise InputError("package is not a table", path=path)
        source = pkg.get("source", {})
        if isinstance(source, dict) and (
            {"editable", "virtual", "directory", "path"} & set(source)
        ):
            continue  # the project itself, or local code: not a third-party package
        version = pkg.get("version")
        if version is None and isinstance(source, dict) and ("git" in source or "url" in source):
            ref = str(source.get("git") or source.get("url"))
            dep = PyDependency(normalize(str(pkg.get("name"))), url=_safe_url(ref))
            dep.declared_in = [f"{path.name}:{_package_line(text, str(pkg.get('name')))}"]
            dep.rank = RANK_LOCK
            yield dep
            continue
        dep = _lock_entry(pkg.get("name"), version, path, text)
        if isinstance(source, dict) and "git" in source:
            dep.url = _safe_url(str(source["git"]))
        sdist = pkg.get("sdist")
        files: list[dict[str, Any]] = [sdist] if isinstance(sdist, dict) else []
        files += [w for w in pkg.get("wheels", []) if isinstance(w, dict)]
        dep.hashes = _hashes([f["hash"] for f in files if "hash" in f], path, None)
        yield dep


def _poetry_lock(path: Path) -> Iterator[PyDependency]:
    doc = _toml(path)
    text = _read(path).splitlines()
    legacy = doc.get("metadata", {}).get("files", {})  # poetry < 1.2 kept hashes here
    for pkg in doc.get("package", []):
        if not isinstance(pkg, dict):
            raise InputError("package is not a table", path=path)
        source = pkg.get("source", {})
        kind = source.get("type") if isinstance(source, dict) else None
        if kind in ("directory", "file"):
            continue
        dep = _lock_entry(pkg.get("name"), pkg.get("version"), path, text)
        if kind in ("git", "url") and isinstance(source.get("url"), str):
            dep.url = _safe_url(source["url"])
        files = pkg.get("files") or legacy.get(pkg["name"], []) or []
        dep.hashes = _hashes([f["hash"] for f in files if "hash" in f], path, None)
        yield dep


def _pipfile_lock(path: Path) -> Iterator[PyDependency]:
    try:
        doc = json.loads(_read(path))
    except json.JSONDecodeError as exc:
        raise InputError(f"not valid JSON: {exc.msg}", path=path, line=exc.lineno) from None
    if not isinstance(doc, dict):
        raise InputError("not a Pipfile.lock object", path=path)
    text = _read(path).splitlines()
    for section in ("default", "develop"):
        for name, info in (doc.get(section) or {}).items():
            line = next((i for i, t in enumerate(text, 1) if f'"{name}":' in t), 0)
            if not isinstance(info, dict):
                raise InputError(f"{section}.{name} is not an object", path=path, line=line)
            where = f"{path.name}:{line}"
            ref = info.get("git") or info.get("file")
            if isinstance(ref, str):
                dep = PyDependency(normalize(name), url=_safe_url(ref), declared_in=[where])
                dep.rank = RANK_LOCK
                yield dep
                continue
            version = str(info.get("version", ""))
            if not version.startswith("=="):
                raise InputError(f"{name} has no ==version", path=path, line=line)
            dep = PyDependency(
                normalize(name),
                version=version[2:],
                marker=info.get("markers"),
                declared_in=[where],
                rank=RANK_LOCK,
            )
            dep.hashes = _hashes(info.get("hashes", []), path, line)
            yield dep


def dependency_files(root: Path) -> list[Path]:
    """The dependency files at the top of a project, in a stable order."""
    if not root.is_dir():
        return []
    found = sorted(p for p in root.iterdir() if _REQUIREMENTS.match(p.name) and p.is_file())
    for name in ("pyproject.toml", *_LOCKS):
        if (root / name).is_file():
            found.append(root / name)
    return found


def _merge(into: PyDependency, other: PyDependency) -> None:
    """Fold a second declaration of the same package into the first."""
    into.declared_in.extend(w for w in other.declared_in if w not in into.declared_in)
    if other.rank > into.rank:
        into.version, into.specifier, into.rank = other.version, other.specifier, other.rank
        into.hashes = set(other.hashes)
        into.url = other.url
        into.marker = other.marker or into.marker
    elif other.version == into.version:
        into.hashes |= other.hashes
    into.extras = tuple(sorted(set(into.extras) | set(other.extras)))


def read_dependencies(root: Path) -> list[PyDependency]:
    """Every package the project's files declare, one per name, sorted by name."""
    readers = {
        "pyproject.toml": _pyproject,
        "poetry.lock": _poetry_lock,
        "uv.lock": _uv_lock,
        "Pipfile.lock": _pipfile_lock,
    }
    seen: set[Path] = set()
    out: dict[str, PyDependency] = {}
    for path in dependency_files(root):
        reader = readers.get(path.name)
        entries = reader(path) if reader else _requirements(path, root, seen)
        for dep in entries:
            if dep.name in out:
                _merge(out[dep.name], dep)
            else:
                out[dep.name] = dep
    return [out[k] for k in sorted(out)]
