"""The scan engine: file selection, pragmas, baselines, crash isolation, parallel runs."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from custodes.errors import InputError
from custodes.scan import registry, run_scan
from custodes.scan.baseline import write_baseline
from custodes.scan.pragma import silenced
from custodes.scan.targets import collect_targets

from ..conftest import Result

FAKE = (("fake", "tests.scan.fake:FakeScanner"),)


@pytest.fixture(autouse=True)
def only_fake(monkeypatch: pytest.MonkeyPatch) -> None:
    # The CLI reads the module-level registry; run_scan calls below pass it explicitly,
    # which is what reaches spawned worker processes.
    monkeypatch.setattr(registry, "SCANNERS", FAKE)


def test_pragma_forms() -> None:
    assert silenced('key = "x"  # custodes: ignore', "SECRET-AWS")
    assert silenced("x  # custodes:ignore[SECRET-AWS, CODE-EVAL]", "SECRET-AWS")
    assert not silenced("x  # custodes: ignore[CODE-EVAL]", "SECRET-AWS")
    assert silenced("x  # pragma: allowlist secret", "SECRET-AWS")
    assert not silenced("x  # pragma: allowlist secret", "CODE-EVAL")
    assert not silenced("x = 1", "SECRET-AWS")


def test_findings_pragmas_and_display_paths(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("ok\nLEAK-one\nLEAK-two  # custodes: ignore\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.py").write_text("LEAK-three\n")
    result = run_scan([tmp_path], jobs=1)
    got = [(f.location.path, f.location.line) for f in result.findings if f.location]
    assert got == [(f"{tmp_path}/a.txt", 2), (f"{tmp_path}/sub/b.py", 1)]
    assert result.silenced == 1
    assert result.files == 2


def test_symlinks_are_not_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("LEAK-outside\n")
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "link.txt").symlink_to(outside / "secret.txt")
    (tree / "dirlink").symlink_to(outside)
    assert list(collect_targets([tree])) == []


def test_missing_path_is_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        run_scan([tmp_path / "nope"])


def test_a_crashing_scanner_costs_one_file_not_the_scan(tmp_path: Path) -> None:
    (tmp_path / "bad.txt").write_text("CRASH\n")
    (tmp_path / "good.txt").write_text("LEAK-x\n")
    result = run_scan([tmp_path], jobs=1)
    rules = sorted(f.rule_id for f in result.findings)
    assert rules == ["SCAN-INTERNAL-ERROR", "SECRET-FAKE"]
    err = next(f for f in result.findings if f.rule_id == "SCAN-INTERNAL-ERROR")
    assert "RuntimeError: boom" in err.message


def test_parallel_and_serial_runs_agree(tmp_path: Path) -> None:
    for i in range(150):
        (tmp_path / f"f{i:03}.txt").write_text(f"LEAK-k{i}\n" if i % 7 == 0 else "clean\n")
    serial = run_scan([tmp_path], jobs=1, registry=FAKE)
    parallel = run_scan([tmp_path], jobs=2, registry=FAKE)
    assert serial.findings == parallel.findings
    assert len(serial.findings) == 22


def test_baseline_keeps_only_new_findings_even_when_lines_move(tmp_path: Path) -> None:
    src = tmp_path / "a.txt"
    src.write_text("LEAK-old\n")
    base = tmp_path / ".custodes-baseline.json"
    write_baseline(base, run_scan([tmp_path], jobs=1).findings)
    doc = json.loads(base.read_text())
    assert doc["format"] == "custodes-baseline"
    assert len(doc["findings"]) == 1
    src.write_text("header\n\nLEAK-old\nLEAK-new\n")
    os.chdir(tmp_path)  # a different working directory must not change identities
    result = run_scan([Path(".")], baseline=base, jobs=1)
    assert [f.subject for f in result.findings] == ["new"]
    assert result.baselined == 1


def test_bad_baseline_is_exit_2(cli: Callable[..., Result], tmp_path: Path) -> None:
    bad = tmp_path / "b.json"
    bad.write_text("{not json")
    r = cli("scan", tmp_path, "--baseline", bad)
    assert r.code == 2
    assert "not a readable baseline" in r.err
    r = cli("scan", tmp_path, "--update-baseline")
    assert r.code == 2
    assert "--update-baseline needs --baseline" in r.err


def test_cli_update_baseline_then_clean(cli: Callable[..., Result], tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("LEAK-one\n")
    base = tmp_path / "base.json"
    assert cli("scan", tmp_path, "--format", "json").code == 1
    assert cli("scan", tmp_path, "--baseline", base, "--update-baseline").code == 0
    r = cli("scan", tmp_path, "--baseline", base, "--format", "json")
    assert r.code == 0
    assert json.loads(r.out)["summary"]["baselined"] == 1


def test_unknown_scanner_name_is_usage_error(cli: Callable[..., Result], tmp_path: Path) -> None:
    r = cli("scan", tmp_path, "--only", "secretz")
    assert r.code == 2
    assert "unknown scanner 'secretz'" in r.err


def test_json_contract(cli: Callable[..., Result], tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("LEAK-one\n")
    doc = json.loads(cli("scan", tmp_path, "--format", "json").out)
    f = doc["findings"][0]
    assert {k: f[k] for k in ("rule_id", "category", "severity", "line")} == {
        "rule_id": "SECRET-FAKE",
        "category": "secret",
        "severity": "high",
        "line": 1,
    }
    assert f["path"] == f"{tmp_path}/a.txt"
    assert doc["summary"]["files"] == 1


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-C", str(cwd), "-c", "user.name=T", "-c", "user.email=t@example.org", *args],
        check=True,
        capture_output=True,
    )


def test_history_hunks_are_walked_oldest_first(tmp_path: Path) -> None:
    from custodes.scan.history import iter_added_hunks

    _git(tmp_path, "init", "-q")
    (tmp_path / "a.py").write_text("x = 1\nkey = 'first'\n")
    _git(tmp_path, "add", ".")
    _git(tmp_path, "commit", "-qm", "one")
    (tmp_path / "a.py").write_text("x = 1\ny = 2\nkey = 'second'\n")
    _git(tmp_path, "commit", "-qam", "two")
    hunks = list(iter_added_hunks(tmp_path))
    assert [(h.path, h.first_line, h.text) for h in hunks] == [
        ("a.py", 1, "x = 1\nkey = 'first'"),
        ("a.py", 2, "y = 2\nkey = 'second'"),
    ]
    assert hunks[0].author == "T"


def test_a_worker_that_dies_costs_one_file(tmp_path: Path) -> None:
    killer = (("killer", "tests.scan.fake:KillerScanner"),)
    for i in range(100):
        (tmp_path / f"f{i:03}.txt").write_text("LEAK-x\n" if i % 10 == 0 else "clean\n")
    (tmp_path / "f050.txt").write_text("SEGV\n")
    result = run_scan([tmp_path], jobs=2, registry=killer)
    crashed = [f for f in result.findings if f.rule_id == "SCAN-CRASHED"]
    assert [f.location.path for f in crashed if f.location] == [f"{tmp_path}/f050.txt"]
    assert sum(f.rule_id == "SECRET-FAKE" for f in result.findings) == 9
