"""Two ``custodes serve`` processes on one PostgreSQL database, as behind a load balancer:
requests alternate between them and run concurrently on both, and afterwards the audit
log verifies offline with contiguous entries and every acknowledged action in it."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text

from tests.server.conftest import CUSTODES, Project, Server, build_project

API = "/api/v1"


def _call(server: Server, who: str, method: str, route: str, body: object = None) -> httpx.Response:
    with server.client(who) as c:
        return c.request(method, f"{API}{route}", json=body)


def test_two_servers_share_one_postgresql(
    tmp_path: Path, pg_url: str, serve: Callable[[Project], Server]
) -> None:
    project = build_project(tmp_path / "proj", pg_url)
    one, two = serve(project), serve(project)
    servers = [one, two]

    # a whole flow, each step on the other server
    step = iter(range(100))

    def on_next(who: str, method: str, route: str, body: object = None) -> httpx.Response:
        return _call(servers[next(step) % 2], who, method, route, body)

    names = []
    for i in range(3):
        name = f"alt-{i}"
        path = project.new_file(f"{name}.bin")
        r = on_next("bob", "POST", "/artifacts", {"kind": "model", "name": name, "path": path})
        assert r.status_code == 201, r.text
        names.append(name)
        assert on_next("bob", "POST", f"/artifacts/{name}/requests", {}).status_code == 201
        assert on_next("sam", "POST", f"/artifacts/{name}/approve", {}).status_code == 200
        assert on_next("bob", "POST", f"/artifacts/{name}/promote").status_code == 200
        assert on_next("bob", "POST", f"/artifacts/{name}/requests", {}).status_code == 201
        assert on_next("pat", "POST", f"/artifacts/{name}/approve", {}).status_code == 200
        assert on_next("quinn", "POST", f"/artifacts/{name}/approve", {}).status_code == 200
        assert on_next("bob", "POST", f"/artifacts/{name}/promote").status_code == 200
    # each server sees what the other did
    for server in servers:
        stages = {
            a["artifact"]: a["stage"] for a in _call(server, "ivy", "GET", "/artifacts").json()
        }
        assert all(stages[n] == "production" for n in names), stages

    # concurrently: eight people registering and requesting on both servers at once
    def work(i: int) -> list[str]:
        server = servers[i % 2]
        who = "bob" if i % 3 else "rita"
        name = f"par-{i}"
        path = project.new_file(f"{name}.bin")
        done = []
        r = _call(server, who, "POST", "/artifacts", {"kind": "model", "name": name, "path": path})
        assert r.status_code == 201, r.text
        done.append(name)
        r = _call(servers[(i + 1) % 2], who, "POST", f"/artifacts/{name}/requests", {"note": "go"})
        assert r.status_code == 201, r.text
        r = _call(server, "sam", "POST", f"/artifacts/{name}/approve", {"comment": str(i)})
        assert r.status_code == 200, r.text
        r = _call(server, "ivy", "GET", "/audit/entries", None)
        assert r.status_code == 200
        return done

    with ThreadPoolExecutor(max_workers=8) as pool:
        registered = [n for names_ in pool.map(work, range(12)) for n in names_]
    assert len(registered) == 12
    # and the reads on both agree
    listings = [
        sorted(a["artifact"] for a in _call(s, "ivy", "GET", "/artifacts").json()) for s in servers
    ]
    assert listings[0] == listings[1]
    assert set(registered) <= set(listings[0])
    pending = {p["artifact"]: p for p in _call(two, "ivy", "GET", "/requests").json()}
    assert all(pending[n]["allowed"] for n in registered), pending

    # the log: contiguous, verified offline, every acknowledged action in it
    engine = create_engine(pg_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT seq, kind, payload FROM audit_log ORDER BY seq")).all()
    finally:
        engine.dispose()
    seqs = [r[0] for r in rows]
    assert seqs == list(range(len(seqs)))
    logged = [(r[1], json.loads(r[2]).get("data", {})) for r in rows]
    for name in names:
        changes = [d for k, d in logged if k == "promotion.completed" and d.get("artifact") == name]
        assert len(changes) == 2, (name, changes)
    for name in registered:
        mentions = [k for k, d in logged if d.get("artifact") == name]
        assert mentions.count("artifact.registered") == 1, (name, mentions)
        assert mentions.count("promotion.requested") == 1, (name, mentions)
        assert mentions.count("signoff.recorded") == 1, (name, mentions)
    for server in servers:
        assert _call(server, "ivy", "GET", "/audit/verify").json()["ok"] is True
    result = subprocess.run(
        [str(CUSTODES), "audit", "verify", "--db", pg_url, "--project", str(project.root)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    for server in servers:
        output = server.output()
        assert "Traceback" not in output, output
        for token in project.tokens.values():
            assert token.split("_", 2)[2] not in output
