"""Simulated traffic written once per session: a reference and a week with an attacker."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from custodes.monitor.simulate import (
    START,
    TrafficSpec,
    reference_table,
    traffic_table,
    write_jsonl,
)

NOW = "2026-11-10T00:00:00Z"
"""After the simulated week (2026-11-02 .. 09), so no simulated record is clock skew."""


@pytest.fixture(scope="session")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_jsonl(reference_table(5000, seed=1), tmp_path_factory.mktemp("ref") / "ref.jsonl")


@pytest.fixture(scope="session")
def week(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """300 clinics, a nightly batch job and one extraction client (probe-7)."""
    spec = TrafficSpec(seed=7, ordinary_clients=320, extraction=True, inference=True)
    return write_jsonl(traffic_table(spec), tmp_path_factory.mktemp("week") / "week.jsonl")


# ------------------------------------------------------------------ live-service helpers


CUSTODES = str(Path(sys.executable).parent / "custodes")


@pytest.fixture(scope="session")
def small_reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_jsonl(reference_table(1500, seed=1), tmp_path_factory.mktemp("sref") / "ref.jsonl")


def live_records(
    n: int, seed: int, client: str, *, ts: float | None = None
) -> list[dict[str, Any]]:
    """``n`` ordinary records stamped around ``ts`` (default: now), for HTTP ingest."""
    rows = reference_table(n, seed=seed, labels=False).to_pylist()
    base = time.time() if ts is None else ts
    for i, r in enumerate(rows):
        r["ts"] = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(base - 60 + i * 0.01)) + "Z"
        r["client_id"] = client
    return rows


def body(rows: list[dict[str, Any]]) -> bytes:
    return b"".join(json.dumps(r).encode() + b"\n" for r in rows)


class Receiver:
    """A webhook receiver on 127.0.0.1: every JSON body POSTed to it, in order."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        received = self.received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                data = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                received.append(json.loads(data))
                self.send_response(204)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def wait_for(self, kind: str, timeout: float = 10.0) -> dict[str, Any]:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            for r in self.received:
                if r.get("kind") == kind:
                    return r
            time.sleep(0.05)
        raise AssertionError(f"no {kind} alert received; got {self.received}")

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    try:
        yield r
    finally:
        r.close()


class Service:
    """``custodes monitor run`` as a child process; ``url`` once it listens."""

    def __init__(self, *args: str, cwd: Path) -> None:
        env = dict(os.environ, COLUMNS="200")
        self.proc = subprocess.Popen(
            [CUSTODES, "monitor", "run", "--port", "0", *args],
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        assert self.proc.stdout is not None
        self.banner = self.proc.stdout.readline()
        if "listening on" not in self.banner:
            self.proc.kill()
            _out, err = self.proc.communicate(timeout=10)
            raise AssertionError(f"monitor run did not start: {self.banner!r} {err}")
        self.url = self.banner.split("listening on ", 1)[1].split()[0]

    def rss_kb(self) -> int:
        with open(f"/proc/{self.proc.pid}/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def stop(self, kill: bool = False) -> tuple[str, str]:
        if self.proc.poll() is None:
            if kill:
                self.proc.kill()
            else:
                self.proc.terminate()
        out, err = self.proc.communicate(timeout=30)
        return out, err


__all__ = ["NOW", "START", "Receiver", "Service", "body", "live_records"]
