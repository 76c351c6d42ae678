"""The ``secrets`` scanner: which files to read, and how matches become findings.

Notebooks are read through :func:`custodes.scan.notebooks.parse.notebook_segments`, so a
key in an output cell is reported with its cell, its line in the cell and the line of
the .ipynb file as stored; a notebook that is not valid JSON is scanned as raw text, as
any other file, so a broken notebook cannot hide a key.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Iterator, Sequence
from pathlib import PurePosixPath

from custodes.findings import Category, Finding, Location, RuleId
from custodes.scan.interface import ScanContext, Scanner, Target
from custodes.scan.redact import redact, secret_digest
from custodes.scan.secrets.detect import find_secrets
from custodes.scan.secrets.model import SecretMatch

__all__ = ["THREATS", "SecretsScanner", "secret_findings"]

THREATS = ("DEVCODELEAK", "DEVDATALEAK")
"""OWASP AI Exchange threats a leaked credential is evidence of."""

_TEXT_SUFFIXES = frozenset(
    {
        ".py",
        ".pyi",
        ".ipynb",
        ".yaml",
        ".yml",
        ".json",
        ".jsonl",
        ".toml",
        ".ini",
        ".cfg",
        ".conf",
        ".env",
        ".sh",
        ".bash",
        ".zsh",
        ".tf",
        ".tfvars",
        ".hcl",
        ".properties",
        ".r",
        ".rmd",
        ".scala",
        ".sc",
        ".sql",
        ".netrc",
        ".txt",
        ".md",
        ".rst",
        ".js",
        ".mjs",
        ".ts",
        ".java",
        ".kt",
        ".go",
        ".rb",
        ".php",
        ".cs",
        ".xml",
        ".html",
        ".htm",
        ".ps1",
        ".bat",
        ".cmd",
        ".gradle",
        ".sbt",
        ".envrc",
        ".config",
        ".jl",
        ".lua",
        ".pl",
        ".dockerfile",
        ".log",
        ".tpl",
        ".j2",
        ".jinja",
        ".service",
        ".key",
        ".pem",
        ".asc",
    }
)
_TEXT_NAMES = frozenset(
    {
        "dockerfile",
        "containerfile",
        ".netrc",
        "_netrc",
        ".envrc",
        "makefile",
        "jenkinsfile",
        "procfile",
        ".pypirc",
        ".npmrc",
        ".git-credentials",
        ".pgpass",
        "credentials",
        "config",
    }
)
_REMEDIATION = (
    "Revoke and rotate the credential, remove it from the file and its history, and load "
    "it at run time from a secret manager or an environment variable."
)


def _looks_text(head: bytes) -> bool:
    """A head with no NUL byte that decodes as UTF-8 (a cut multi-byte tail is fine)."""
    if b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start >= len(head) - 3
    return True


def _line_starts(text: str) -> list[int]:
    starts = [0]
    find = text.find
    pos = find("\n")
    while pos != -1:
        starts.append(pos + 1)
        pos = find("\n", pos + 1)
    return starts


def secret_findings(
    matches: Iterable[SecretMatch],
    text: str,
    *,
    display_path: str,
    line_offset_map: Sequence[int] | None = None,
    cell: int | None = None,
    in_output: bool | None = None,
) -> Iterator[Finding]:
    """Turn matches over ``text`` into findings with redacted messages.

    ``line_offset_map[i]`` is the 1-based line of the file where line ``i`` of ``text``
    starts (a notebook segment's ``line_map``); without it, lines of ``text`` are lines
    of the file and a 1-based column is given. With it, ``cell_line`` is the line inside
    ``text`` and ``cell``/``in_output`` say where in the notebook the text sits.
    """
    starts: list[int] | None = None
    for m in matches:
        if starts is None:
            starts = _line_starts(text)
        index = bisect.bisect_right(starts, m.start) - 1
        if line_offset_map:
            line = line_offset_map[min(index, len(line_offset_map) - 1)]
            location = Location(
                display_path, line=line, cell=cell, cell_line=index + 1, in_output=in_output
            )
        else:
            location = Location(display_path, line=index + 1, column=m.start - starts[index] + 1)
        where = "" if cell is None else f" in cell {cell}{' output' if in_output else ''}"
        yield Finding(
            rule_id=RuleId(m.rule_id),
            category=Category.SECRET,
            severity=m.severity,
            message=f"{m.description}{where}: {redact(m.secret)}",
            location=location,
            threats=THREATS,
            facts=(f"matched {m.rule_id} with confidence {m.confidence:.2f}",),
            remediation=_REMEDIATION,
            properties={"confidence": round(m.confidence, 2)},
            subject=secret_digest(m.secret),
        )


class SecretsScanner(Scanner):
    """Hard-coded credentials in code, configuration and notebooks (CWE-798)."""

    name = "secrets"

    def wants(self, target: Target) -> bool:
        """Text-like files by extension or name; extension-less files whose head is text."""
        p = PurePosixPath(target.path.as_posix())
        name = p.name.lower()
        if target.suffix in _TEXT_SUFFIXES or name in _TEXT_NAMES:
            return True
        if name.startswith((".env", "dockerfile")) or name.endswith((".env", ".lock")):
            return True
        return target.suffix == "" and _looks_text(target.head)

    def scan(self, target: Target, ctx: ScanContext) -> Iterator[Finding]:
        """Read at most ``max_text_bytes`` and yield one finding per credential."""
        limit = ctx.limits.max_text_bytes
        with target.path.open("rb") as handle:
            data = handle.read(limit)
        hint = target.path.name
        if target.suffix == ".ipynb":
            findings = self._notebook(data, target, limit)
            if findings is not None:
                yield from findings
                return
        text = data.decode("utf-8", errors="replace")
        yield from secret_findings(
            find_secrets(text, path_hint=hint), text, display_path=target.display
        )

    @staticmethod
    def _notebook(data: bytes, target: Target, limit: int) -> list[Finding] | None:
        """Findings per notebook segment, or None to fall back to the raw text."""
        try:
            from custodes.scan.notebooks.parse import NotebookError, notebook_segments
        except ImportError:  # pragma: no cover - the notebook parser ships with custodes
            return None
        try:
            segments = notebook_segments(data, max_bytes=limit)
        except NotebookError:
            return None
        out: list[Finding] = []
        for seg in segments:
            matches = find_secrets(
                seg.text, path_hint=target.path.name, literal_values=seg.in_output or None
            )
            if matches:
                out.extend(
                    secret_findings(
                        matches,
                        seg.text,
                        display_path=target.display,
                        line_offset_map=seg.line_map,
                        cell=seg.cell,
                        in_output=seg.in_output,
                    )
                )
        return out
