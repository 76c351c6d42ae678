"""The CLI contract: exit codes, JSON shapes, files written, messages on one line."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import jsonschema
import pytest
import yaml

from custodes import __version__
from custodes.system import load_system

from .conftest import EXAMPLES, REPO, Result

CLI = Callable[..., Result]

SYSTEM = """\
version: 1
system:
  name: Outcome model
  consequence: critical
  scale: {people_affected: 7500000, accuracy: 0.9}
sources:
  - {id: app, tier: user_generated}
processes:
  - {id: train, kind: training}
flows:
  - {from: app, to: train}
"""


def test_version(cli: CLI) -> None:
    r = cli("--version")
    assert r.code == 0
    assert r.out.strip() == f"custodes {__version__}"


def test_help_lists_every_command_group(cli: CLI) -> None:
    r = cli("--help")
    assert r.code == 0
    groups = ["threat-model", "scan", "assess", "demo", "init", "schema", "catalog", "data"]
    groups += ["provenance", "keys", "bom", "registry", "gate", "audit", "serve", "monitor"]
    for name in groups:
        assert name in r.out


def test_unknown_option_is_a_usage_error(cli: CLI) -> None:
    assert cli("threat-model", "--no-such-option").code == 2


def test_threat_model_json_contract(cli: CLI, write_system: Callable[[str], Path]) -> None:
    path = write_system(SYSTEM)
    r = cli("threat-model", path, "--format", "json", "--today", "2026-11-26")
    assert r.code == 1  # a critical unmitigated threat fails the default --fail-on high
    doc = json.loads(r.out)
    threat = next(t for t in doc["threats"] if t["element"] == "app")
    assert threat["id"] == "DATAPOISON"
    assert threat["status"] == "unmitigated"
    assert threat["risk"]["level"] == "critical"
    assert threat["risk"]["score"] == threat["risk"]["likelihood"] * threat["risk"]["impact"]
    assert "AML.T0020" in threat["atlas"]
    assert doc["scale"]["wrong"] == 750_000
    assert [q["answer"] for q in doc["diagnostic"]]
    finding = doc["findings"][0]
    assert {"rule_id", "category", "severity", "path", "line", "message", "threats"} <= set(finding)


def test_fail_on_threshold(cli: CLI, write_system: Callable[[str], Path]) -> None:
    path = write_system(SYSTEM.replace("critical", "low").replace("7500000", "100"))
    r = cli(
        "threat-model", path, "--format", "json", "--fail-on", "critical", "--today", "2026-11-26"
    )
    assert r.code == 0
    r = cli("threat-model", path, "--format", "json", "--fail-on", "low", "--today", "2026-11-26")
    assert r.code == 1
    r = cli("threat-model", path, "--fail-on", "severe")
    assert r.code == 2
    assert "unknown severity" in r.err


def test_threat_model_finds_file_in_directory_and_writes_output(
    cli: CLI, write_system: Callable[[str], Path], tmp_path: Path
) -> None:
    write_system(SYSTEM)
    out = tmp_path / "out" / "tm.md"
    r = cli("threat-model", tmp_path, "--format", "markdown", "-o", out, "--fail-on", "critical")
    assert out.exists()
    assert "```mermaid" in out.read_text()
    assert r.code == 1


def test_missing_project_file_is_exit_2(cli: CLI, tmp_path: Path) -> None:
    r = cli("threat-model", tmp_path)
    assert r.code == 2
    assert "no custodes.yaml here" in r.err
    assert "custodes init" in r.err


def test_fingerprint_is_printed(cli: CLI, write_system: Callable[[str], Path]) -> None:
    path = write_system(SYSTEM)
    r = cli("threat-model", path, "--fingerprint")
    assert r.code == 0
    assert r.out.strip().startswith("v1.")


def test_assess_writes_one_html_report(
    cli: CLI, write_system: Callable[[str], Path], tmp_path: Path
) -> None:
    write_system(SYSTEM)
    r = cli("assess", tmp_path, "--today", "2026-11-26")
    report = tmp_path / "custodes-report.html"
    assert report.exists()
    html = report.read_text()
    assert "750,000" in html
    assert "<script" not in html
    assert str(report) in " ".join(r.out.split())
    assert r.code == 1


def test_assess_json_names_the_analyzers(
    cli: CLI, write_system: Callable[[str], Path], tmp_path: Path
) -> None:
    write_system(SYSTEM)
    doc = json.loads(cli("assess", tmp_path, "--format", "json").out)
    assert doc["analyzers"] == ["threat-model", "scan"]
    assert doc["threat_model"]["system"]["name"] == "Outcome model"


def test_sarif_output_is_sarif(cli: CLI, write_system: Callable[[str], Path]) -> None:
    path = write_system(SYSTEM)
    doc = json.loads(cli("threat-model", path, "--format", "sarif").out)
    assert doc["version"] == "2.1.0"
    assert doc["runs"][0]["results"]


def test_demo_writes_every_example_and_its_report(cli: CLI, tmp_path: Path) -> None:
    r = cli("demo", tmp_path / "demo", "--today", "2026-11-26")
    assert r.code == 0
    names = sorted(p.name for p in EXAMPLES.iterdir() if p.is_dir())
    assert len(names) >= 3
    for name in names:
        assert (tmp_path / "demo" / name / "custodes.yaml").exists()
        assert (tmp_path / "demo" / name / "custodes-report.html").stat().st_size > 5000
    assert "health-outcomes" in r.out


def test_init_drafts_a_valid_model_from_a_project(cli: CLI, tmp_path: Path) -> None:
    project = tmp_path / "proj"
    (project / "notebooks").mkdir(parents=True)
    (project / "notebooks" / "Explore Data.ipynb").write_text('{"cells": []}')
    (project / "data" / "events" / "day=1").mkdir(parents=True)
    (project / "data" / "events" / "day=2").mkdir(parents=True)
    for d in ("day=1", "day=2"):
        for i in range(2):
            (project / "data" / "events" / d / f"part-{i}.parquet").write_bytes(b"PAR1")
    (project / "data" / "labels.csv").write_text("id,label\n1,0\n")
    (project / "models").mkdir()
    (project / "models" / "clf.joblib").write_bytes(b"\x80\x04")
    (project / "requirements.txt").write_text("scikit-learn==1.5.0\npandas>=2\nrequests\n")
    (project / "serve.py").write_text("from fastapi import FastAPI\napp = FastAPI()\n")
    r = cli("init", project)
    assert r.code == 0, r.err
    loaded = load_system(project / "custodes.yaml")
    model = loaded.model
    assert [n.path for n in model.notebooks] == ["notebooks/Explore Data.ipynb"]
    assert sorted(s.path or "" for s in model.sources) == ["data/events/", "data/labels.csv"]
    assert [(m.path, m.format) for m in model.models] == [("models/clf.joblib", "joblib")]
    assert {d.name: d.pinned for d in model.dependencies} == {"scikit-learn": True, "pandas": False}
    assert model.endpoints[0].serves == [model.models[0].id]
    assert "TODO" in (project / "custodes.yaml").read_text()
    again = cli("init", project)
    assert again.code == 2
    assert "already exists" in again.err


def test_schema_validates_the_examples(cli: CLI) -> None:
    schema = json.loads(cli("schema").out)
    validator = jsonschema.Draft202012Validator(schema)
    for path in sorted(EXAMPLES.glob("*/custodes.yaml")):
        # Editors see YAML dates as strings; so does the schema.
        data = json.loads(json.dumps(yaml.safe_load(path.read_text()), default=str))
        errors = list(validator.iter_errors(data))
        assert not errors, (path, errors[:1])
    bad = {"version": 1, "system": {"name": "x"}, "sources": [{"id": "a", "tier": "nope"}]}
    assert list(validator.iter_errors(bad))


def test_catalog_json_items_have_ids(cli: CLI) -> None:
    threats = json.loads(cli("catalog", "threats", "--format", "json").out)
    controls = json.loads(cli("catalog", "controls", "--format", "json").out)
    assert len(threats) == 34
    assert len(controls) == 55
    assert all(item["id"] for item in threats + controls)
    assert any(t["id"] == "DATAPOISON" and "AML.T0020" in t["atlas"] for t in threats)


@pytest.mark.parametrize("fmt", ["console", "json", "sarif", "markdown", "html"])
def test_every_format_renders(cli: CLI, write_system: Callable[[str], Path], fmt: str) -> None:
    path = write_system(SYSTEM)
    r = cli("threat-model", path, "--format", fmt, "--today", "2026-11-26")
    expected = '"version": "2.1.0"' if fmt == "sarif" else "Outcome model"
    assert r.code == 1, r.err
    assert expected in r.out
    r = cli("assess", path.parent, "--format", fmt, "--no-report", "--today", "2026-11-26")
    assert r.code == 1, r.err
    assert expected in r.out


def test_console_format_with_output_is_a_usage_error(
    cli: CLI, write_system: Callable[[str], Path], tmp_path: Path
) -> None:
    path = write_system(SYSTEM)
    r = cli("threat-model", path, "-o", tmp_path / "x.txt")
    assert r.code == 2
    assert "--output needs" in r.err


def test_scale_sentence_keeps_significant_decimals(write_system: Callable[[str], Path]) -> None:
    from custodes.threatmodel import analyze

    path = write_system(SYSTEM.replace("accuracy: 0.9", "accuracy: 0.995"))
    tm = analyze(load_system(path))
    assert (
        tm.scale.sentence
        == "99.5% accuracy on 7,500,000 people is 37,500 people given a wrong result"
    )


def test_pre_commit_hooks_run_the_real_command(cli: CLI, tmp_path: Path) -> None:
    hooks = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())
    assert {h["id"] for h in hooks} == {"custodes-secrets", "custodes-scan"}
    clean = tmp_path / "clean.py"
    clean.write_text("import os\nkey = os.environ['API_KEY']\n")
    for hook in hooks:
        words = hook["entry"].split()
        assert words[0] == "custodes"
        r = cli(*words[1:], clean)
        assert r.code == 0, (hook["id"], r.err)


RUN_WITH_ATEXIT = """\
import atexit, sys, threading
from custodes.cli.main import run
marker = sys.argv[1]
atexit.register(lambda: open(marker, "w").write("atexit ran"))
if sys.argv[2] == "thread":
    threading.Thread(target=lambda: (__import__("time").sleep(0.5),
        open(marker + ".thread", "w").write("thread finished"))).start()
sys.argv = ["custodes", *sys.argv[3:]]
run()
"""


@pytest.mark.parametrize("thread", ["none", "thread"])
def test_console_entry_point_flushes_output_and_runs_atexit_handlers(
    tmp_path: Path, thread: str
) -> None:
    """``run()`` ends the process without the interpreter's teardown: what a command
    printed, its exit code and the atexit handlers
    must survive that, and a non-daemon thread must still be waited for."""
    import subprocess
    import sys

    marker = tmp_path / "marker"
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            RUN_WITH_ATEXIT,
            str(marker),
            thread,
            "catalog",
            "threats",
            "-f",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
    )
    assert proc.returncode == 0, proc.stderr
    assert len(proc.stdout) > 20_000
    assert json.loads(proc.stdout)
    assert marker.read_text() == "atexit ran"
    if thread == "thread":
        assert Path(f"{marker}.thread").read_text() == "thread finished"
    bad = subprocess.run(
        [sys.executable, "-c", RUN_WITH_ATEXIT, str(marker), thread, "threat-model", "nope.yaml"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert bad.returncode == 2
    assert "nope.yaml" in bad.stderr


def _after_cli_import(variable: str, user: str | None, probe: str) -> str:
    """What ``probe`` prints in a fresh interpreter that imported the CLI first, with the
    environment variable unset or set to the user's value."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != variable}
    if user is not None:
        env[variable] = user
    out = subprocess.run(
        [sys.executable, "-c", "import custodes.cli.main\n" + probe],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


@pytest.mark.parametrize(("user", "expected"), [(None, "False"), ("1", "True")])
def test_command_turns_numpy_huge_pages_off_unless_the_user_chose(
    user: str | None, expected: str
) -> None:
    probe = (
        "try:\n"
        "    from numpy._core.multiarray import _get_madvise_hugepage\n"
        "except ImportError:  # numpy 1.x\n"
        "    from numpy.core.multiarray import _get_madvise_hugepage\n"
        "print(_get_madvise_hugepage())\n"
    )
    assert _after_cli_import("NUMPY_MADVISE_HUGEPAGE", user, probe) == expected


@pytest.mark.parametrize(("user", "expected"), [(None, 1), ("2", 2)])
def test_command_keeps_openblas_to_one_thread_unless_the_user_chose(
    user: str | None, expected: int
) -> None:
    import os

    if expected > (os.cpu_count() or 1):
        pytest.skip("OpenBLAS caps its threads at the cores this machine has")
    pytest.importorskip("threadpoolctl")
    probe = (
        "import numpy, threadpoolctl\n"
        "print([p['num_threads'] for p in threadpoolctl.threadpool_info()\n"
        "       if p['internal_api'] == 'openblas'])\n"
    )
    assert _after_cli_import("OPENBLAS_NUM_THREADS", user, probe) == f"[{expected}]"
