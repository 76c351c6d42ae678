"""Schemathesis against the live server's own /openapi.json: no generated request gets a
5xx, responses match the documented schemas and status codes, and no operation answers
without a token (the ignored_auth check strips the token and expects 401/403)."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from tests.conftest import REPO
from tests.server.conftest import BIN, Server

#: ST203 ("missing required header") is not in the list: a header given with -H is sent
#: even when schemathesis means to leave Authorization out, so it reports a 200 that came
#: with the token. ignored_auth is the check that really strips the token.
CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_schema_conformance",
        "ignored_auth",
    ]
)


def test_schemathesis_finds_no_server_error(shared_server: Server, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "SCHEMATHESIS_HOOKS": "tests.server.schemathesis_hooks",
    }
    for who in ("ann", "bob"):
        result = subprocess.run(
            [
                str(BIN / "schemathesis"),
                "run",
                f"{shared_server.url}/openapi.json",
                "-H",
                f"Authorization: Bearer {shared_server.project.tokens[who]}",
                "--checks",
                CHECKS,
                "--max-examples",
                "8",
                "--seed",
                "1",
                "--no-color",
            ],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
            check=False,
            cwd=tmp_path,
        )
        report = result.stdout[-6000:] + result.stderr[-2000:]
        assert result.returncode == 0, report
        assert re.search(r"[1-9]\d* passed", result.stdout), report
    output = shared_server.output()
    assert "Traceback" not in output, output[-4000:]
    for token in shared_server.project.tokens.values():
        assert token.split("_", 2)[2] not in output
