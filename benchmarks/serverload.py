"""Load and fault harness for ``custodes serve``: concurrent clients register, request and
approve over HTTP; afterwards every acknowledged action must be in the audit log exactly
once and the log must verify.

Used by ``benchmarks/bench_server.py`` (60 s runs, SQLite and PostgreSQL) and by the
kill -9 test in ``tests/serverfault/``.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

BIN = Path(sys.executable).parent

POLICY = """\
version: 1
stages: [dev, staging, production]
promotions:
  - to: staging
    require:
      signoffs:
        - {role: security-reviewer, count: 1}
  - to: production
    require:
      signoffs:
        - {role: approver, count: 2}
"""


def custodes(*args: str, cwd: Path, db: str | None = None) -> str:
    env = {**os.environ, "CUSTODES_DB": db} if db else dict(os.environ)
    run = subprocess.run(
        [str(BIN / "custodes"), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if run.returncode != 0:
        raise RuntimeError(f"custodes {' '.join(args)} failed: {run.stderr}")
    return run.stdout


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_project(root: Path, db: str | None = None) -> dict[str, str]:
    """A store with an admin, a requester and a reviewer; returns their tokens."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "custodes-policy.yaml").write_text(POLICY, encoding="utf-8")
    for person in ("ann", "bob", "carol"):
        custodes("keys", "generate", "-o", "keys", "--name", person, cwd=root)
    custodes(
        "registry", "init", "--admin", "ann", "--public-key", "keys/ann.pub.pem", cwd=root, db=db
    )
    for person, role in (("bob", "ml-engineer"), ("carol", "security-reviewer")):
        custodes(
            "registry", "people", "add", person, "--public-key", f"keys/{person}.pub.pem",
            "--role", role, "--key", "keys/ann.pem", cwd=root, db=db,
        )  # fmt: skip
    custodes("registry", "policy", "--key", "keys/ann.pem", cwd=root, db=db)
    tokens = {}
    for person in ("bob", "carol"):
        out = custodes(
            "registry", "token", "create", "--name", "load", "--key", f"keys/{person}.pem",
            cwd=root, db=db,
        )  # fmt: skip
        tokens[person] = out.splitlines()[0].strip()
    (root / "load").mkdir(exist_ok=True)
    return tokens


@dataclass
class Server:
    """A ``custodes serve`` subprocess that can be killed and restarted on its port."""

    project: Path
    port: int
    db: str | None = None
    proc: subprocess.Popen[bytes] | None = None
    log: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> None:
        args = [
            str(BIN / "custodes"),
            "serve",
            "--project",
            str(self.project),
            "--port",
            str(self.port),
        ]
        if self.db:
            args += ["--db", self.db]
        self.log = self.project / f"server-{self.port}.log"
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError(f"server did not start: {self.log.read_text(errors='replace')}")

    def kill9(self) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill9()


@dataclass
class Results:
    duration: float = 0.0
    latencies: dict[str, list[float]] = field(default_factory=dict)
    acked: list[tuple[str, str]] = field(default_factory=list)
    """(audit kind, artifact) of every action the server acknowledged with 2xx."""
    retried: int = 0
    unexpected: Counter[str] = field(default_factory=Counter)

    def p95(self, op: str) -> float:
        xs = sorted(self.latencies.get(op, []))
        return xs[int(0.95 * (len(xs) - 1))] if xs else float("nan")

    def p50(self, op: str) -> float:
        xs = sorted(self.latencies.get(op, []))
        return xs[len(xs) // 2] if xs else float("nan")


_STEPS = (
    ("register", "artifact.registered"),
    ("request", "promotion.requested"),
    ("approve", "signoff.recorded"),
)


def _call(step: str, name: str, tokens: dict[str, str]) -> tuple[str, dict[str, str], str]:
    """(route, JSON body, token) of one step of one artifact's flow."""
    if step == "register":
        body = {"kind": "model", "name": name, "path": f"load/{name}.bin"}
        return "/api/v1/artifacts", body, tokens["bob"]
    if step == "request":
        return f"/api/v1/artifacts/{name}/requests", {}, tokens["bob"]
    return f"/api/v1/artifacts/{name}/approve", {"comment": "load"}, tokens["carol"]


def _worker(
    i: int,
    urls: list[str],
    tokens: dict[str, str],
    project: Path,
    end: float,
    res: Results,
    lock: threading.Lock,
) -> None:
    n = 0
    clients = [httpx.Client(base_url=u, timeout=30) for u in urls]
    try:
        while time.monotonic() < end:
            name = f"c{i}-a{n}"
            path = project / "load" / f"{name}.bin"
            path.write_bytes(f"{name}:{time.time_ns()}".encode())
            for step, kind in _STEPS:
                client = clients[(i + n) % len(clients)]
                route, body, token = _call(step, name, tokens)
                done = False
                while not done and time.monotonic() < end + 30:
                    t0 = time.perf_counter()
                    try:
                        r = client.post(
                            route, json=body, headers={"Authorization": f"Bearer {token}"}
                        )
                    except httpx.TransportError:
                        with lock:
                            res.retried += 1
                        time.sleep(0.2)
                        continue
                    dt = time.perf_counter() - t0
                    with lock:
                        if 200 <= r.status_code < 300:
                            res.latencies.setdefault(step, []).append(dt)
                            res.acked.append((kind, name))
                        else:
                            # A retry after a crash can meet an action that committed
                            # before the connection died: done, but never acknowledged.
                            res.unexpected[f"{step} {r.status_code}"] += 1
                    done = True
            n += 1
    finally:
        for c in clients:
            c.close()


def run_load(
    urls: list[str],
    tokens: dict[str, str],
    project: Path,
    clients: int,
    seconds: float,
    during: Any = None,
) -> Results:
    """``clients`` threads for ``seconds``; ``during(results)`` runs in the main thread."""
    res = Results()
    lock = threading.Lock()
    start = time.monotonic()
    end = start + seconds
    threads = [
        threading.Thread(
            target=_worker, args=(i, urls, tokens, project, end, res, lock), daemon=True
        )
        for i in range(clients)
    ]
    for t in threads:
        t.start()
    if during is not None:
        during(res)
    for t in threads:
        t.join()
    res.duration = time.monotonic() - start
    return res


def check_log(project: Path, db: str | None, acked: list[tuple[str, str]]) -> dict[str, Any]:
    """Every acknowledged action exactly once in the log, and the log verifies."""
    bundle = project / "audit-bundle.json"
    custodes("audit", "export", "-o", str(bundle), cwd=project, db=db)
    doc = json.loads(bundle.read_text(encoding="utf-8"))
    entries = [
        json.loads(e["payload"]) if isinstance(e.get("payload"), str) else e for e in doc["entries"]
    ]
    seen = Counter((e["kind"], e["data"].get("artifact")) for e in entries)
    missing = [a for a in acked if seen[a] == 0]
    duplicated = [a for a in set(acked) if seen[a] > 1]
    verify = subprocess.run(
        [str(BIN / "custodes"), "audit", "verify", "--format", "json"],
        cwd=project, capture_output=True, text=True, check=False,
        env={**os.environ, "CUSTODES_DB": db} if db else dict(os.environ),
    )  # fmt: skip
    seqs = [e["seq"] for e in entries]
    return {
        "entries": len(entries),
        "contiguous": seqs == list(range(len(seqs))),
        "missing": missing,
        "duplicated": duplicated,
        "verified": verify.returncode == 0,
        "verify": verify.stdout.strip(),
    }


def start_postgres(fsync: bool = True) -> tuple[str, Any]:
    """A throwaway PostgreSQL on 127.0.0.1 (as the postgres user when root); (url, stop).

    ``fsync=False`` starts it with ``-F``, as the test servers run.
    """
    import glob
    import shutil
    import tempfile

    bins = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name))
    if not bins:
        raise RuntimeError("PostgreSQL is not installed (make sysdeps)")
    bin_dir = Path(bins[-1])
    data = Path(tempfile.mkdtemp(prefix="custodes-bench-pg-"))
    runas: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(data, "postgres", "postgres")
        runas = ["runuser", "-u", "postgres", "--"]
    port = free_port()
    subprocess.run(
        [*runas, str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust"],
        check=True, capture_output=True,
    )  # fmt: skip
    subprocess.run(
        [*runas, str(bin_dir / "pg_ctl"), "-D", str(data), "-w", "-l", f"{data}/log",
         "-o", f"-h 127.0.0.1 -p {port} -k {data} -c max_connections=200{'' if fsync else ' -F'}",
         "start"],
        check=True, capture_output=True,
    )  # fmt: skip

    def stop() -> None:
        subprocess.run(
            [*runas, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"],
            check=False, capture_output=True,
        )  # fmt: skip
        shutil.rmtree(data, ignore_errors=True)

    return f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres", stop
