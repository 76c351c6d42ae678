"""Server fixtures: a project built through the real CLI (people with keys, a policy, a
registered model, one token each) and ``custodes serve`` running as a real subprocess.

Failed authentications are throttled per client address and every request from a test
comes from 127.0.0.1, so a test that fails on purpose sends its own ``X-Forwarded-For``
(uvicorn trusts that header from 127.0.0.1, as it would from a local reverse proxy) and
does not lock the other tests out.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from custodes.cli.main import main
from tests.conftest import EXAMPLES, REPO
from tests.governance.policies import LIGHT_POLICY
from tests.pgserver import free_port

#: Everyone the server tests need. rita may both request and sign off, which is how a
#: self-approval is attempted; everyone else holds one role.
PEOPLE: dict[str, list[str]] = {
    "ann": ["admin"],
    "bob": ["ml-engineer"],
    "dan": ["data-scientist"],
    "sam": ["security-reviewer"],
    "pat": ["approver"],
    "quinn": ["approver"],
    "ivy": ["auditor"],
    "rita": ["ml-engineer", "security-reviewer"],
}


BIN = Path(sys.executable).parent
CUSTODES = BIN / "custodes"
SCREENSHOTS = REPO / "test-output" / "screenshots"


def run_cli(*args: object) -> tuple[int, str, str]:
    """``custodes ARGS`` in-process: (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in args])
    return code, out.getvalue(), err.getvalue()


@dataclass
class Project:
    """A project folder with its store, everyone's key and one API token each."""

    root: Path
    db: str | None
    keys: dict[str, Path] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    token_ids: dict[str, int] = field(default_factory=dict)

    def args(self) -> list[str]:
        return ["-C", str(self.root), *(["--db", self.db] if self.db else [])]

    def cli(self, *args: object, who: str | None = None) -> tuple[int, str, str]:
        key = ["--key", str(self.keys[who])] if who else []
        return run_cli(*args, *self.args(), *key)

    def ok(self, *args: object, who: str | None = None) -> str:
        code, out, err = self.cli(*args, who=who)
        assert code == 0, f"custodes {' '.join(map(str, args))} as {who}: {err}{out}"
        return out

    def new_file(self, name: str, content: bytes | None = None) -> str:
        """A new file inside the project; returns its path relative to the root."""
        path = self.root / "models" / name
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(content if content is not None else uuid.uuid4().bytes * 64)
        return f"models/{name}"

    @property
    def url(self) -> str:
        return self.db or f"sqlite:///{self.root / '.custodes' / 'custodes.db'}"


def build_project(root: Path, db: str | None) -> Project:
    """People, keys, policy, a threat model, one registered model and a token each."""
    root.mkdir(parents=True, exist_ok=True)
    project = Project(root, db)
    keys = root.parent / f"{root.name}-keys"
    for name in PEOPLE:
        code, out, err = run_cli("keys", "generate", "-o", keys, "--name", name)
        assert code == 0, err + out
        project.keys[name] = keys / f"{name}.pem"
    project.ok("registry", "init", "--admin", "ann", "--public-key", keys / "ann.pub.pem")
    for name, roles in PEOPLE.items():
        if name == "ann":
            continue
        role_args = [a for r in roles for a in ("--role", r)]
        project.ok(
            "registry", "people", "add", name, "--public-key", keys / f"{name}.pub.pem",
            *role_args, who="ann",
        )  # fmt: skip
    (root / "custodes-policy.yaml").write_text(LIGHT_POLICY, encoding="utf-8")
    project.ok("registry", "policy", who="ann")
    shutil.copy(EXAMPLES / "health-outcomes" / "custodes.yaml", root / "custodes.yaml")
    model = root / project.new_file("m.bin")
    project.ok("registry", "register", "model", "m", model, who="bob")
    for name in PEOPLE:
        token = project.ok("registry", "token", "create", "--name", "tests", who=name).strip()
        assert re.fullmatch(r"cst_\d+_[A-Za-z0-9_-]+", token), token
        project.tokens[name] = token
        project.token_ids[name] = int(token.split("_")[1])
    return project


@dataclass
class Server:
    """A running ``custodes serve``: its base URL and where its output goes."""

    url: str
    proc: subprocess.Popen[bytes]
    log: Path
    project: Project

    def client(self, who: str | None = None, client_ip: str | None = None) -> httpx.Client:
        """An HTTP client, with ``who``'s bearer token and its own client address."""
        headers = {"X-Forwarded-For": client_ip or fresh_ip()}
        if who:
            headers["Authorization"] = f"Bearer {self.project.tokens[who]}"
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


_ip_counter = iter(range(1, 1_000_000))


def fresh_ip() -> str:
    """A client address no other request of this test process has used."""
    n = next(_ip_counter) + (os.getpid() % 200) * 10_000
    return f"10.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}"


def start_server(project: Project, log: Path) -> Server:
    """``custodes serve`` on a free port; returns once /healthz answers."""
    port = free_port()
    cmd = [str(CUSTODES), "serve", "--port", str(port), *project.args()]
    out = log.open("wb")
    proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    out.close()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        if proc.poll() is not None:
            raise AssertionError(f"custodes serve exited {proc.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return Server(url, proc, log, project)
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            stop_server(proc)
            raise AssertionError(f"custodes serve did not answer:\n{log.read_text()}")
        time.sleep(0.05)


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[[Project], Server]]:
    """Start servers for a test; every one is stopped at teardown, pass or fail."""
    procs: list[subprocess.Popen[bytes]] = []

    def start(project: Project) -> Server:
        server = start_server(project, tmp_path / f"serve-{len(procs)}.log")
        procs.append(server.proc)
        return server

    yield start
    for proc in procs:
        stop_server(proc)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest) -> str | None:
    """None for the default SQLite file under .custodes, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return None
    url: str = request.getfixturevalue("pg_url")
    return url


@pytest.fixture
def project(tmp_path: Path, db_url: str | None) -> Project:
    return build_project(tmp_path / "proj", db_url)


@pytest.fixture
def server(project: Project, serve: Callable[[Project], Server]) -> Server:
    return serve(project)


@pytest.fixture(scope="module")
def shared_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One SQLite-backed server for a module's read-mostly tests."""
    folder = tmp_path_factory.mktemp("shared")
    project = build_project(folder / "proj", None)
    server = start_server(project, folder / "serve.log")
    try:
        yield server
    finally:
        stop_server(server.proc)
