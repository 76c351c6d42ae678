"""Fault test: kill -9 the server in the middle of concurrent load and restart it.

Every action the server acknowledged (2xx) must be in the audit log exactly once, the
sequence numbers must have no gap, and the log must verify, on SQLite and PostgreSQL.
(The 60 s version with figures is ``benchmarks/bench_server.py --kill``.)
"""

from __future__ import annotations

import importlib.util
import sys
import time
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[2]


def _serverload() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "serverload", REPO / "benchmarks" / "serverload.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("serverload", module)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_acknowledged_actions_survive_kill_9(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    sl = _serverload()
    db = request.getfixturevalue("pg_url") if backend == "postgresql" else None
    project = tmp_path / "p"
    tokens = sl.make_project(project, db)
    server = sl.Server(project, sl.free_port(), db)
    server.start()
    kills: list[float] = []

    def killer(res: object) -> None:
        time.sleep(3)
        server.kill9()
        kills.append(time.monotonic())
        server.start()

    try:
        res = sl.run_load([server.url], tokens, project, 8, 7, killer)
    finally:
        server.stop()
    assert kills, "the server was never killed"
    assert res.retried > 0, "no client noticed the crash: the kill did not land mid-load"
    before = len(res.acked)
    assert before > 30, res.unexpected
    check = sl.check_log(project, db, res.acked)
    assert check["missing"] == []
    assert check["duplicated"] == []
    assert check["contiguous"]
    assert check["verified"], check["verify"]
    assert check["entries"] >= before
