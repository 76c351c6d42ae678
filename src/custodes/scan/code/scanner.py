"""The ``code`` scanner: unsafe model, data and code loading in Python files."""

from __future__ import annotations

from collections.abc import Iterator

from custodes.findings import Category, Finding, Location
from custodes.scan.code.unsafe import CodeIssue, check_source
from custodes.scan.interface import ScanContext, Scanner, Target

__all__ = ["UnsafeCodeScanner", "issue_finding"]


def issue_finding(issue: CodeIssue, location: Location) -> Finding:
    """A :class:`CodeIssue` as a finding at ``location`` (category ``dependency``)."""
    return Finding(
        rule_id=issue.rule_id,
        category=Category.DEPENDENCY,
        severity=issue.severity,
        message=issue.message,
        location=location,
        threats=issue.threats,
        remediation=issue.remediation,
        properties={"call": issue.subject, "tainted": issue.tainted},
        subject=issue.subject,
    )


class UnsafeCodeScanner(Scanner):
    """AST checks of ``.py`` files; the source is parsed, never imported or run."""

    name = "code"

    def wants(self, target: Target) -> bool:
        """Python source files (``.py``, ``.pyw``)."""
        return target.suffix in (".py", ".pyw")

    def scan(self, target: Target, ctx: ScanContext) -> Iterator[Finding]:
        """Parse the file (read up to the text limit) and yield one finding per issue."""
        with target.path.open("rb") as fh:
            data = fh.read(ctx.limits.max_text_bytes)
        if len(data) >= ctx.limits.max_text_bytes:
            return  # a truncated file would not parse; too large to be hand-written code
        source = data.decode("utf-8", errors="replace")
        for issue in self.check_source(source):
            loc = Location(path=target.display, line=issue.line, column=issue.column)
            yield issue_finding(issue, loc)

    @staticmethod
    def check_source(source: str) -> list[CodeIssue]:
        """Issues in a piece of Python source (a file or a notebook cell)."""
        return check_source(source)
