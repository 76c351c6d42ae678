"""The ``requirements`` scanner: pip requirement files that let someone else choose the code.

An unpinned requirement installs whatever is newest on the day the model is trained; an
``--extra-index-url`` lets a public package with a private name win (dependency
confusion); a direct URL or a git branch installs code no one reviewed. Each is a way a
poisoned dependency reaches the training or serving environment. The file is read as
text; nothing is installed or resolved. Credentials in index URLs are another scanner's
business, and are stripped from every message here.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from urllib.parse import urlsplit, urlunsplit

from packaging.requirements import InvalidRequirement, Requirement

from custodes.findings import Category, Finding, Location, RuleId, Severity
from custodes.scan.interface import ScanContext, Scanner, Target

__all__ = ["RequirementsScanner", "logical_lines"]

THREATS = ("SUPPLYMODELPOISON", "GENERICSECTHREATS")
_PYPI_HOSTS = frozenset({"pypi.org", "pypi.python.org", "files.pythonhosted.org"})
_NAME = re.compile(r"^(?:requirements[\w.-]*\.(?:txt|in)|constraints[\w.-]*\.txt)$", re.I)
_COMMENT = re.compile(r"(^|\s)#.*$")
_SHA = re.compile(r"@[0-9a-f]{40}(?:[#&]|$)")
_VCS = ("git+", "hg+", "svn+", "bzr+")


_Add = Callable[[str, Severity, int, str, str, str], None]
"""Records one finding: rule, severity, line, message, remediation, subject."""


def logical_lines(text: str) -> list[tuple[int, str]]:
    """Join backslash continuations and drop comments: ``(first line, text)`` pairs."""
    out: list[tuple[int, str]] = []
    buf: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        if not buf:
            start = number
        stripped = _COMMENT.sub("", raw).rstrip()
        if stripped.endswith("\\"):
            buf.append(stripped[:-1])
            continue
        buf.append(stripped)
        joined = " ".join(b.strip() for b in buf).strip()
        buf = []
        if joined:
            out.append((start, joined))
    if buf and (joined := " ".join(b.strip() for b in buf).strip()):
        out.append((start, joined))
    return out


def _safe_url(url: str) -> str:
    """A URL without its user:password part, fit for a message."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparsable URL>"
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def _is_pypi(url: str) -> bool:
    """Whether an index URL points at the public PyPI."""
    try:
        return (urlsplit(url).hostname or "").lower() in _PYPI_HOSTS
    except ValueError:
        return False


class RequirementsScanner(Scanner):
    """Pinning, hashing and install sources in ``requirements*.txt``/``.in``, ``constraints*.txt``."""

    name = "requirements"

    def wants(self, target: Target) -> bool:
        """Requirement and constraint files, by name."""
        return bool(_NAME.match(target.path.name))

    def scan(self, target: Target, ctx: ScanContext) -> Iterator[Finding]:
        """Read the file as text (bounded) and yield one finding per problem line."""
        with target.path.open("rb") as fh:
            data = fh.read(ctx.limits.max_text_bytes)
        text = data.decode("utf-8", errors="replace")
        yield from self.check_text(text, target.display, pin_required=target.suffix != ".in")

    def check_text(self, text: str, display: str, *, pin_required: bool = True) -> list[Finding]:
        """Findings for the text of one requirements file reported as ``display``.

        ``pin_required`` is False for pip-tools ``.in`` files, which name ranges on
        purpose and are compiled to a pinned file.
        """
        findings: list[Finding] = []
        reqs: list[tuple[int, str, bool]] = []  # line, spec, hashed

        def add(
            rule: str, severity: Severity, line: int, message: str, fix: str, subject: str
        ) -> None:
            findings.append(
                Finding(
                    rule_id=RuleId(rule),
                    category=Category.DEPENDENCY,
                    severity=severity,
                    message=message,
                    location=Location(path=display, line=line),
                    threats=THREATS,
                    remediation=fix,
                    subject=subject,
                )
            )

        for line, entry in logical_lines(text):
            tokens = entry.split()
            option = tokens[0].split("=", 1)[0]
            value = tokens[0].split("=", 1)[1] if "=" in tokens[0] else " ".join(tokens[1:2])
            if option in ("--extra-index-url",):
                url = _safe_url(value)
                add(
                    "REQ-EXTRA-INDEX",
                    Severity.HIGH,
                    line,
                    f"--extra-index-url {url} lets a package of the same name on either index win the install (dependency confusion).",
                    "Use a single --index-url that proxies PyPI and your private packages, and pin with --hash.",
                    f"extra-index:{url}",
                )
            elif option in ("--index-url", "-i", "--find-links", "-f"):
                url = _safe_url(value)
                if option in ("--find-links", "-f"):
                    add(
                        "REQ-DIRECT-URL",
                        Severity.MEDIUM,
                        line,
                        f"--find-links {url} installs packages from outside any index.",
                        "Publish the packages to your index and pin them with --hash.",
                        f"find-links:{url}",
                    )
                elif not _is_pypi(value):
                    insecure = value.lower().startswith("http://")
                    add(
                        "REQ-EXTRA-INDEX",
                        Severity.HIGH if insecure else Severity.MEDIUM,
                        line,
                        f"--index-url {url} installs every package from a non-PyPI index{' over plain HTTP' if insecure else ''}.",
                        "Check that this index is yours, served over HTTPS, and that requirements carry --hash.",
                        f"index-url:{url}",
                    )
            elif entry.startswith("-"):
                if option in ("-e", "--editable"):
                    self.direct(entry.split(None, 1)[-1], line, add)
                continue  # -r, -c, --hash-only lines, --pre ... are not installs themselves
            else:
                spec, _, _opts = entry.partition(" --")
                hashed = "--hash" in entry
                spec = spec.strip()
                if self.direct(spec, line, add):
                    continue
                reqs.append((line, spec, hashed))

        any_hashed = any(h for _, _, h in reqs)
        for line, spec, hashed in reqs:
            try:
                req = Requirement(spec)
            except InvalidRequirement:
                continue  # a local path or something pip would reject: not ours to judge
            pinned = [s for s in req.specifier if s.operator in ("==", "===")]
            exact = any(not s.version.endswith(".*") for s in pinned)
            if not exact and pin_required:
                shown = str(req.specifier) or "any version"
                add(
                    "REQ-UNPINNED",
                    Severity.MEDIUM,
                    line,
                    f"{req.name} is not pinned ({shown}): the next install may pull a different, unreviewed release.",
                    f"Pin an exact version ({req.name}==X.Y.Z) with --hash, e.g. with pip-compile --generate-hashes.",
                    f"unpinned:{req.name.lower()}",
                )
            elif exact and any_hashed and not hashed:
                add(
                    "REQ-UNHASHED",
                    Severity.MEDIUM,
                    line,
                    f"{req.name} is pinned without --hash while other requirements carry hashes.",
                    "Add --hash=sha256:... for every requirement (pip-compile --generate-hashes).",
                    f"unhashed:{req.name.lower()}",
                )
        return findings

    @staticmethod
    def direct(spec: str, line: int, add: _Add) -> bool:
        """Report a direct URL or VCS install; True when ``spec`` is one."""
        lower = spec.lower()
        url = ""
        if lower.startswith(_VCS) or re.match(r"^[a-z][a-z0-9+.-]*://", lower):
            url = spec
        elif " @ " in spec or re.match(r"^[\w.\-\[\], ]+@\s*\S+://", spec):
            url = spec.split("@", 1)[1].strip()
        if not url:
            return False
        url = url.split(";", 1)[0].strip()
        shown = _safe_url(url.split("+", 1)[-1] if url.lower().startswith(_VCS) else url)
        vcs = url.lower().startswith(_VCS)
        if vcs and not _SHA.search(url):
            severity, why = Severity.HIGH, "from a branch or tag that can move"
        elif url.lower().startswith(("http://", "git+http://")):
            severity, why = Severity.HIGH, "over plain HTTP"
        elif vcs or "#sha256=" in url.lower():
            severity, why = Severity.LOW, "pinned to a commit or hash, outside any index"
        else:
            severity, why = Severity.MEDIUM, "with no hash, outside any index"
        add(
            "REQ-DIRECT-URL",
            severity,
            line,
            f"A requirement installs straight from {shown} {why}.",
            "Publish the package to your index and pin it by version and --hash, or pin the URL to a commit sha and #sha256.",
            f"direct:{shown}",
        )
        return True
