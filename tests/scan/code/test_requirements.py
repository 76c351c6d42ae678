"""Requirement files: pinning, hashing, direct URLs and extra indexes."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from custodes.findings import Category, Severity
from custodes.scan.code.requirements import RequirementsScanner, logical_lines
from custodes.scan.interface import ScanContext, Target

HASH = "--hash=sha256:" + "a" * 64


def check(text: str, *, pin_required: bool = True) -> list[tuple[str, Severity, int]]:
    findings = RequirementsScanner().check_text(
        textwrap.dedent(text), "requirements.txt", pin_required=pin_required
    )
    return [(f.rule_id, f.severity, f.location.line if f.location else 0) for f in findings]


def test_unpinned_true_positive_and_negative() -> None:
    text = """
    numpy
    pandas>=2.0
    torch==2.*
    scikit-learn==1.5.2
    requests===2.32.3  # exact
    """
    assert check(text) == [
        ("REQ-UNPINNED", Severity.MEDIUM, 2),
        ("REQ-UNPINNED", Severity.MEDIUM, 3),
        ("REQ-UNPINNED", Severity.MEDIUM, 4),
    ]


def test_in_files_may_name_ranges() -> None:
    assert check("numpy>=1.26\n", pin_required=False) == []


def test_unhashed_only_when_others_are_hashed() -> None:
    text = f"""
    numpy==2.1.0 \\
        {HASH}
    pandas==2.2.3
    """
    assert check(text) == [("REQ-UNHASHED", Severity.MEDIUM, 4)]
    assert check("numpy==2.1.0\npandas==2.2.3\n") == []
    assert check(f"numpy==2.1.0 {HASH}\npandas==2.2.3 {HASH}\n") == []


@pytest.mark.parametrize(
    ("line", "severity"),
    [
        ("git+https://github.com/org/lib.git@main#egg=lib", Severity.HIGH),
        ("lib @ git+https://github.com/org/lib.git", Severity.HIGH),
        ("-e git+https://github.com/org/lib.git#egg=lib", Severity.HIGH),
        ("lib @ http://example.com/lib-1.0.tar.gz", Severity.HIGH),
        ("https://example.com/lib-1.0-py3-none-any.whl", Severity.MEDIUM),
        (f"git+https://github.com/org/lib.git@{'a1' * 20}#egg=lib", Severity.LOW),
        ("lib @ https://example.com/lib-1.0.tar.gz#sha256=" + "b" * 64, Severity.LOW),
    ],
)
def test_direct_url(line: str, severity: Severity) -> None:
    assert check(line + "\n") == [("REQ-DIRECT-URL", severity, 1)]


def test_local_editable_is_not_a_direct_url() -> None:
    assert check("-e .\n-r base.txt\n-c constraints.txt\n") == []


def test_extra_index_and_index_url() -> None:
    text = """
    --extra-index-url https://deploy:s3cr3tT0ken@pkgs.corp.example/simple
    --index-url https://pypi.org/simple
    -i http://mirror.corp.example/simple
    --find-links https://example.com/wheels
    """
    findings = RequirementsScanner().check_text(textwrap.dedent(text), "requirements.txt")
    got = [(f.rule_id, f.severity, f.location.line if f.location else 0) for f in findings]
    assert got == [
        ("REQ-EXTRA-INDEX", Severity.HIGH, 2),
        ("REQ-EXTRA-INDEX", Severity.HIGH, 4),
        ("REQ-DIRECT-URL", Severity.MEDIUM, 5),
    ]
    for f in findings:
        assert "s3cr3t" not in f.message
        assert "s3cr3t" not in (f.subject or "")
        assert f.category is Category.DEPENDENCY
    assert check("--index-url https://pypi.org/simple\n") == []


def test_logical_lines_join_continuations_and_drop_comments() -> None:
    assert logical_lines("# c\na==1 \\\n  --hash=x  # h\n\nb\n") == [(2, "a==1 --hash=x"), (5, "b")]


def test_garbage_does_not_crash() -> None:
    assert check("!!!\n@@@ @ \n==\n\x00\n[]\n") == []


def test_scanner_wants_requirement_files(tmp_path: Path) -> None:
    scanner = RequirementsScanner()
    for name, wanted in [
        ("requirements.txt", True),
        ("requirements-dev.txt", True),
        ("requirements.in", True),
        ("constraints.txt", True),
        ("setup.py", False),
        ("notes.txt", False),
    ]:
        assert scanner.wants(Target(tmp_path / name, name, 0, b"")) is wanted
    path = tmp_path / "requirements.in"
    path.write_text("numpy>=1\ngit+https://github.com/o/r\n", encoding="utf-8")
    findings = list(scanner.scan(Target(path, "p/requirements.in", 10, b""), ScanContext()))
    assert [f.rule_id for f in findings] == ["REQ-DIRECT-URL"]
