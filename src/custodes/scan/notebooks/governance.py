"""The ``notebooks`` scanner: ungoverned notebooks and the data they leak.

Notebooks are where models are born and where data escapes: a notebook outside version
control is intellectual property nobody governs; an output cell that printed a
dataframe ships the data to every clone; a cell that reads the production bucket copies
live data to a laptop. This scanner reads the .ipynb through the bounded, non-executing
reader in :mod:`custodes.scan.notebooks.parse` and also runs the unsafe-code checks
of :mod:`custodes.scan.code` over code cells, with lines mapped to the .ipynb file.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

from custodes.findings import Category, Finding, Location, RuleId, Severity
from custodes.scan.code.scanner import issue_finding
from custodes.scan.code.unsafe import check_source, collect_imports
from custodes.scan.interface import ScanContext, Scanner, Target
from custodes.scan.notebooks.parse import NotebookError, Segment, notebook_segments
from custodes.scan.notebooks.pii import find_pii
from custodes.scan.notebooks.prod_data import blank_magics, find_data_access

__all__ = ["DUMP_BYTES", "DUMP_ROWS", "NotebookGovernanceScanner"]

DUMP_ROWS = 25
"""Rows of a table shown in one output beyond which it counts as a data dump."""
DUMP_BYTES = 100 * 1024
"""Text in one output beyond which it counts as a data dump, table or not."""

LEAK_THREATS = ("DEVDATALEAK",)
IP_THREATS = ("DEVCODELEAK", "DEVMODELLEAK")

_HTML_ROW = re.compile(r"<tr[\s>]", re.I)
_TEXT_ROW = re.compile(r"^\s*\S+(?:\s{2,}\S+){2,}\s*$")
_SHAPE = re.compile(r"\[(\d[\d,]*) rows x (\d+) columns\]")


class NotebookGovernanceScanner(Scanner):
    """Untracked notebooks, personal data and data dumps in outputs, production reads."""

    name = "notebooks"

    def wants(self, target: Target) -> bool:
        """Jupyter notebooks (``.ipynb``)."""
        return target.suffix == ".ipynb"

    def scan(self, target: Target, ctx: ScanContext) -> Iterator[Finding]:
        """Read the notebook (bounded) and yield governance and unsafe-code findings."""
        yield from self.untracked(target, ctx)
        limit = ctx.limits.max_text_bytes
        with target.path.open("rb") as fh:
            data = fh.read(limit + 1)
        try:
            segments = notebook_segments(data, max_bytes=limit)
        except NotebookError as exc:
            yield Finding(
                rule_id=RuleId("NOTEBOOK-UNREADABLE"),
                category=Category.NOTEBOOK,
                severity=Severity.LOW,
                message=f"The notebook could not be read as nbformat 4 JSON ({exc.message}), so it was not checked.",
                location=Location(path=target.display, line=exc.line),
                remediation="Open and re-save the notebook in Jupyter, or remove it if it is not meant to be a notebook.",
                subject="unreadable",
            )
            return
        yield from self.check_segments(segments, target.display)

    def check_segments(self, segments: list[Segment], display: str) -> Iterator[Finding]:
        """Findings for an already-parsed notebook reported as ``display``."""
        code = [s for s in segments if s.kind == "source" and s.cell_type in ("code", None)]
        imports: dict[str, str] = {}
        for seg in code:
            try:
                imports.update(collect_imports(ast.parse(blank_magics(seg.text))))
            except (SyntaxError, ValueError, RecursionError, MemoryError):
                continue
        for seg in code:
            yield from self.code_cell(seg, display, imports)
        seen: set[tuple[str, int | None]] = set()
        for seg in segments:
            if seg.in_output:
                for finding in self.output(seg, display):
                    # One output shown as text/plain and text/html is one leak, not two.
                    key = (finding.rule_id, seg.cell)
                    if key not in seen:
                        seen.add(key)
                        yield finding

    @staticmethod
    def untracked(target: Target, ctx: ScanContext) -> Iterator[Finding]:
        """NOTEBOOK-UNTRACKED when the project is a git repository that does not track it."""
        if ctx.git_tracked is None or ctx.repo_root is None:
            return
        try:
            rel = target.path.resolve().relative_to(Path(ctx.repo_root).resolve()).as_posix()
        except (ValueError, OSError):
            return  # outside the repository: nothing to say about its tracking
        if rel in ctx.git_tracked:
            return
        yield Finding(
            rule_id=RuleId("NOTEBOOK-UNTRACKED"),
            category=Category.NOTEBOOK,
            severity=Severity.MEDIUM,
            message=f"Notebook {rel} is not tracked by git, so its code, outputs and data access escape review and history.",
            location=Location(path=target.display),
            threats=IP_THREATS,
            remediation="Commit the notebook (with outputs cleared, e.g. nbstripout) or move it out of the project.",
            subject=f"untracked:{rel}",
        )

    @staticmethod
    def code_cell(seg: Segment, display: str, imports: dict[str, str]) -> Iterator[Finding]:
        """Unsafe-code issues and production reads in one code cell."""
        assert seg.cell is not None

        def where(line: int) -> Location:
            file_line = seg.line_map[min(line, len(seg.line_map)) - 1]
            return Location(
                path=display, line=file_line, cell=seg.cell, cell_line=line, in_output=False
            )

        for issue in check_source(blank_magics(seg.text), imports=imports):
            yield issue_finding(issue, where(issue.line))
        for access in find_data_access(seg.text, imports=imports):
            yield Finding(
                rule_id=RuleId("NOTEBOOK-PROD-DATA"),
                category=Category.NOTEBOOK,
                severity=access.severity,
                message=f"Cell {seg.cell} reads {access.what} directly, copying live data outside the pipeline's controls.",
                location=where(access.line),
                threats=LEAK_THREATS,
                remediation="Read a governed, minimised extract (a registered dataset or a dev copy) instead of production storage.",
                subject=f"prod:{access.what}",
            )

    @staticmethod
    def output(seg: Segment, display: str) -> Iterator[Finding]:
        """Personal data and data dumps in one output."""
        assert seg.cell is not None

        def where(offset: int) -> Location:
            line, cell_line = seg.file_position(offset)
            return Location(
                path=display, line=line, cell=seg.cell, cell_line=cell_line, in_output=True
            )

        what = f"output of cell {seg.cell}" + (f" ({seg.mime})" if seg.mime else "")
        hits = find_pii(seg.text)
        if hits is not None:
            yield Finding(
                rule_id=RuleId("NOTEBOOK-PII-IN-OUTPUT"),
                category=Category.NOTEBOOK,
                severity=Severity.HIGH if hits.has_identifiers else Severity.MEDIUM,
                message=f"The {what} holds personal data: {hits.describe()}.",
                location=where(hits.first_offset),
                threats=LEAK_THREATS,
                remediation="Clear the outputs before committing (nbstripout), and work on pseudonymised or synthetic data.",
                properties={"pii_counts": dict(hits.counts)},
                subject=f"pii:{seg.kind}:{seg.mime}:{','.join(sorted(hits.counts))}",
            )
        rows, why = _dump_size(seg)
        if why:
            yield Finding(
                rule_id=RuleId("NOTEBOOK-DATA-DUMP"),
                category=Category.NOTEBOOK,
                severity=Severity.MEDIUM,
                message=f"The {what} {why}, so the data travels with every copy of the notebook.",
                location=where(0),
                threats=LEAK_THREATS,
                remediation="Show df.head() or aggregates instead of whole tables, and clear outputs before committing.",
                properties={"rows": rows, "bytes": len(seg.text.encode("utf-8", "replace"))},
                subject=f"dump:{seg.kind}:{seg.mime}",
            )


def _dump_size(seg: Segment) -> tuple[int, str]:
    """Rows shown and why the output counts as a dump ("" when it does not)."""
    text = seg.text
    size = len(text.encode("utf-8", "replace"))
    rows = 0
    if seg.mime == "text/html" or "<table" in text[:2000].lower():
        rows = max(len(_HTML_ROW.findall(text)) - 1, 0)  # minus the header row
    else:
        rows = sum(1 for line in text.split("\n") if _TEXT_ROW.match(line))
        if rows > DUMP_ROWS and not _SHAPE.search(text) and rows < text.count("\n") // 2:
            rows = 0  # mostly prose or a log, not a table
    if rows > DUMP_ROWS:
        return rows, f"prints a table of {rows} rows"
    if size > DUMP_BYTES:
        return rows, f"holds {size // 1024} KiB of text"
    return rows, ""
