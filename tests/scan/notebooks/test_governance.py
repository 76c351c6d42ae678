"""Notebook governance checks on real notebooks (nbformat) in real git repos (git CLI)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from custodes.findings import Category, Finding, Severity
from custodes.scan.interface import HEAD_BYTES, ScanContext, Target
from custodes.scan.notebooks import NotebookGovernanceScanner
from custodes.scan.notebooks.pii import find_pii

CARD = "4539 1488 0343 6467"  # passes Luhn; a test number shape, not a real card


def save(path: Path, nb: nbformat.NotebookNode) -> Target:
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))
    data = path.read_bytes()
    return Target(path=path, display=path.name, size=len(data), head=data[:HEAD_BYTES])


def scan(target: Target, ctx: ScanContext | None = None) -> list[Finding]:
    return list(NotebookGovernanceScanner().scan(target, ctx or ScanContext()))


def by_rule(findings: list[Finding], rule: str) -> list[Finding]:
    return [f for f in findings if f.rule_id == rule]


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True
    ).stdout


def tracked(repo: Path) -> frozenset[str]:
    return frozenset(git(repo, "ls-files", "-z").split("\0")) - {""}


def test_wants_notebooks(tmp_path: Path) -> None:
    scanner = NotebookGovernanceScanner()
    assert scanner.name == "notebooks"
    assert scanner.wants(Target(tmp_path / "a.ipynb", "a.ipynb", 0, b""))
    assert not scanner.wants(Target(tmp_path / "a.py", "a.py", 0, b""))


def test_untracked_notebook_in_a_git_repo(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    git(repo, "config", "user.email", "t@t")
    git(repo, "config", "user.name", "t")
    kept = save(repo / "nb" / "kept.ipynb", new_notebook(cells=[new_code_cell("x = 1")]))
    git(repo, "add", "nb/kept.ipynb")
    git(repo, "commit", "-q", "-m", "add")
    loose = save(repo / "nb" / "loose.ipynb", new_notebook(cells=[new_code_cell("x = 1")]))
    ctx = ScanContext(repo_root=repo, git_tracked=tracked(repo))
    (finding,) = by_rule(scan(loose, ctx), "NOTEBOOK-UNTRACKED")
    assert finding.category is Category.NOTEBOOK
    assert "nb/loose.ipynb" in finding.message
    assert by_rule(scan(kept, ctx), "NOTEBOOK-UNTRACKED") == []
    assert by_rule(scan(loose, ScanContext()), "NOTEBOOK-UNTRACKED") == []  # not a repo


def test_pii_in_output_counts_types_never_values(tmp_path: Path) -> None:
    rows = "\n".join(
        [
            "name   email               ssn",
            "Ann    ann.lee@corp.io     123-45-6789",
            "Bob    bob.ray@mail.co.uk  234-56-7890",
            f"card {CARD}  iban GB82 WEST 1234 5698 7654 32  ni AB 12 34 56 C",
        ]
    )
    out = new_output("execute_result", data={"text/plain": rows}, execution_count=1)
    nb = new_notebook(cells=[new_markdown_cell("# x"), new_code_cell("df", outputs=[out])])
    target = save(tmp_path / "p.ipynb", nb)
    (finding,) = by_rule(scan(target), "NOTEBOOK-PII-IN-OUTPUT")
    assert finding.severity is Severity.HIGH
    assert finding.location is not None
    assert finding.location.cell == 1
    assert finding.location.in_output is True
    assert finding.properties["pii_counts"] == {
        "email": 2,
        "us_ssn": 2,
        "payment_card": 1,
        "iban": 1,
        "uk_nino": 1,
    }
    text = finding.message + repr(finding.properties) + (finding.subject or "")
    for value in ("ann.lee", "123-45-6789", "4539", "WEST", "AB 12"):
        assert value not in text


@pytest.mark.parametrize(
    "text",
    [
        "contact: me@example.com",  # documentation domain
        "author jane@corp.io",  # one address is not a dump of people
        "000-12-3456 666-12-3456 900-12-3456 123-00-4567",  # invalid SSNs
        "GB82 WEST 1234 5698 7654 33",  # IBAN failing mod-97
        "4539 1488 0343 6468",  # fails Luhn
        "BG 12 34 56 C",  # NI prefix never issued
        "2024-01-15 10:30:00 loss=0.123 step 1234 5678 9012",
        "plot@2x.png icon@3x.svg",
    ],
)
def test_pii_true_negatives(text: str) -> None:
    assert find_pii(text) is None


def test_contacts_need_two_distinct_values() -> None:
    hits = find_pii("ann@corp.io, +44 20 7946 0958")
    assert hits is not None
    assert not hits.has_identifiers


def test_data_dump_html_table(tmp_path: Path) -> None:
    body = "".join(f"<tr><td>{i}</td><td>{i * 2}</td></tr>" for i in range(60))
    html = f"<table><thead><tr><th>a</th><th>b</th></tr></thead><tbody>{body}</tbody></table>"
    frame = "\n".join(f"{i}  {i}  {i * 2}" for i in range(60))
    out = new_output(
        "execute_result", data={"text/html": html, "text/plain": frame}, execution_count=1
    )
    small = new_output("execute_result", data={"text/html": "<table><tr><td>1</td></tr></table>"})
    nb = new_notebook(
        cells=[new_code_cell("df", outputs=[out]), new_code_cell("h", outputs=[small])]
    )
    (finding,) = by_rule(scan(save(tmp_path / "d.ipynb", nb)), "NOTEBOOK-DATA-DUMP")
    assert finding.location is not None
    assert finding.location.cell == 0
    assert "60 rows" in finding.message


def test_data_dump_large_text_and_plain_frame(tmp_path: Path) -> None:
    big = new_output("stream", name="stdout", text="x" * 200_000)
    frame = (
        "\n".join(f"{i:>4}  {i * 1.5:>8}  cat{i % 3}" for i in range(40))
        + "\n\n[40 rows x 2 columns]"
    )
    plain = new_output("execute_result", data={"text/plain": frame}, execution_count=2)
    log = new_output("stream", name="stdout", text="epoch 1 done\n" * 40)
    nb = new_notebook(
        cells=[
            new_code_cell("print(blob)", outputs=[big]),
            new_code_cell("df", outputs=[plain]),
            new_code_cell("train()", outputs=[log]),
        ]
    )
    findings = by_rule(scan(save(tmp_path / "t.ipynb", nb)), "NOTEBOOK-DATA-DUMP")
    assert sorted(f.location.cell for f in findings if f.location) == [0, 1]


def test_prod_data_reads(tmp_path: Path) -> None:
    src = [
        "import pandas as pd\ndf = pd.read_parquet('s3://acme-prod-patients/2026/')",
        "from sqlalchemy import create_engine\neng = create_engine('postgresql://etl@db.prod.acme.internal/claims')",
        "import snowflake.connector\nconn = snowflake.connector.connect(user=u, account=a)",
        "import boto3\ns3 = boto3.client('s3')\nobj = s3.get_object(Bucket=b, Key=k)",
        "%%bash\naws s3 cp gs://shared-features/x.csv .",
        "x = pd.read_csv('data/local.csv')\neng = create_engine('sqlite:///dev.db')",
        "url = 'https://example.com/data.csv'",
    ]
    nb = new_notebook(cells=[new_code_cell(s) for s in src])
    target = save(tmp_path / "prod.ipynb", nb)
    findings = by_rule(scan(target), "NOTEBOOK-PROD-DATA")
    got = {(f.location.cell, f.location.cell_line, f.severity) for f in findings if f.location}
    assert got == {
        (0, 2, Severity.HIGH),
        (1, 2, Severity.HIGH),
        (2, 2, Severity.MEDIUM),
        (3, 3, Severity.MEDIUM),
        (4, 2, Severity.MEDIUM),
    }
    text = target.path.read_text().split("\n")
    for f in findings:
        assert f.location is not None
        assert f.location.line is not None
        line = text[f.location.line - 1]
        assert any(
            word in line for word in ("s3:", "gs:", "create_engine", "connect", "get_object")
        )
        assert "etl@" not in f.message


def test_unsafe_code_in_cells_uses_imports_from_other_cells(tmp_path: Path) -> None:
    nb = new_notebook(
        cells=[
            new_code_cell("%matplotlib inline\nimport torch as th"),
            new_code_cell("x = 1\nmodel = th.load('model.pt')"),
            new_code_cell("model = th.load('model.pt', weights_only=True)"),
        ]
    )
    target = save(tmp_path / "u.ipynb", nb)
    (finding,) = by_rule(scan(target), "CODE-TORCH-LOAD")
    assert finding.category is Category.DEPENDENCY
    assert finding.location is not None
    assert (finding.location.cell, finding.location.cell_line) == (1, 2)
    assert finding.location.in_output is False
    line = target.path.read_text().split("\n")[(finding.location.line or 0) - 1]
    assert "th.load" in line


def test_malformed_notebook_is_a_finding(tmp_path: Path) -> None:
    path = tmp_path / "bad.ipynb"
    path.write_bytes(b'{"cells": [')
    (finding,) = scan(Target(path, "bad.ipynb", 11, b'{"cells": ['))
    assert finding.rule_id == "NOTEBOOK-UNREADABLE"


def test_clean_notebook_has_no_findings(tmp_path: Path) -> None:
    out = new_output("stream", name="stdout", text="accuracy 0.93\n")
    nb = new_notebook(cells=[new_code_cell("print('accuracy', acc)", outputs=[out])])
    assert scan(save(tmp_path / "c.ipynb", nb)) == []
