"""Secrets in git history: a key removed from HEAD is still leaked.

Walks every commit's added lines (``git log -p --all --reverse``, streamed, so a long
history never sits in memory) and runs the credential detectors on each hunk. A secret
is reported once, at the commit that introduced it, saying whether it is still in the
working tree or only in history (where a ``git rm`` does not reach it: rotate it).
"""

from __future__ import annotations

import re
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from custodes.errors import InputError
from custodes.findings import Category, Finding, Location, RuleId
from custodes.scan.redact import redact, secret_digest
from custodes.scan.secrets import SecretMatch

__all__ = ["Hunk", "history_findings", "iter_added_hunks"]

_COMMIT = "\x1ecustodes-commit\x1f"
_HUNK = re.compile(r"^@@ -\d+(?:,\d+)? \+(\d+)(?:,\d+)? @@")
MAX_LINE = 1 << 20


@dataclass(frozen=True)
class Hunk:
    """Consecutive added lines of one file in one commit."""

    commit: str
    author: str
    date: str
    path: str
    first_line: int
    text: str


def iter_added_hunks(root: Path, timeout: float = 3600) -> Iterator[Hunk]:
    """Added-line hunks of every commit reachable from any ref, oldest first."""
    cmd = [
        "git",
        "-C",
        str(root),
        "log",
        "-p",
        "--all",
        "--reverse",
        "--no-color",
        "--no-ext-diff",
        "--no-textconv",
        "--unified=0",
        "--diff-filter=AM",
        f"--format={_COMMIT}%H%x1f%an%x1f%aI",
    ]
    # stderr goes to a file: a pipe nobody reads can fill and stall git.
    errors = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the generator
    try:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=errors)  # noqa: S603 - fixed git argv
    except OSError as exc:
        errors.close()
        raise InputError(f"cannot run git: {exc.strerror}", path=root) from None
    assert proc.stdout is not None
    commit = author = date = ""
    path: str | None = None
    start = line_no = 0
    lines: list[str] = []

    def flush() -> Iterator[Hunk]:
        if lines and path is not None:
            yield Hunk(commit, author, date, path, start, "\n".join(lines))

    try:
        for raw in proc.stdout:
            text = raw[:MAX_LINE].decode("utf-8", "replace").rstrip("\n")
            if text.startswith(_COMMIT):
                yield from flush()
                lines = []
                commit, author, date = [*text[len(_COMMIT) :].split("\x1f"), "", ""][:3]
                path = None
            elif text.startswith("diff --git "):
                yield from flush()
                lines, path = [], None
            elif text.startswith("+++ "):
                target = text[4:]
                path = target[2:] if target.startswith("b/") else None
            elif text.startswith("@@"):
                yield from flush()
                lines = []
                m = _HUNK.match(text)
                start = line_no = int(m.group(1)) if m else 0
            elif text.startswith("+") and path is not None:
                lines.append(text[1:])
                line_no += 1
        yield from flush()
    finally:
        proc.stdout.close()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
    errors.seek(0)
    err = errors.read(4096).decode("utf-8", "replace").strip()
    errors.close()
    if proc.returncode not in (0, None):
        raise InputError(f"git log failed: {err[:200]}", path=root)


def history_findings(
    root: Path,
    display_root: str,
    present: frozenset[str],
    find: Callable[..., list[SecretMatch]],
) -> Iterator[Finding]:
    """One finding per secret per file, at the commit that first added it.

    ``present`` holds subjects (secret digests) the working-tree scan found, to say
    whether the secret is still there or lives on only in history.
    """
    seen: set[tuple[str, str, str]] = set()
    for hunk in iter_added_hunks(root):
        for match in find(hunk.text, path_hint=hunk.path):
            secret = match.secret
            rule_id = match.rule_id
            digest = secret_digest(secret)
            key = (rule_id, hunk.path, digest)
            if key in seen:
                continue
            seen.add(key)
            line = hunk.first_line + hunk.text.count("\n", 0, match.start)
            still = digest in present
            where = (
                "still in the working tree"
                if still
                else "removed from HEAD but still in git history"
            )
            display = (
                f"{display_root.rstrip('/')}/{hunk.path}"
                if display_root not in ("", ".")
                else hunk.path
            )
            yield Finding(
                rule_id=RuleId(rule_id),
                category=Category.SECRET,
                severity=match.severity,
                message=f"{match.description} {redact(secret)} added in commit {hunk.commit[:12]} "
                f"({hunk.date[:10]}, {hunk.author}); {where}",
                location=Location(path=display, line=line),
                threats=("DEVDATALEAK", "DEVMODELLEAK"),
                remediation="rotate the credential now (history cannot be un-leaked), then purge it "
                "with git filter-repo and move it to a secret manager",
                properties={"cwe": "CWE-798", "commit": hunk.commit, "in_history_only": not still},
                subject=digest,
            )
