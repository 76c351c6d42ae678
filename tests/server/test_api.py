"""The JSON API against a live ``custodes serve``: tokens, throttling, roles, the gate's
refusals, a whole dev -> staging -> production flow, and what the store keeps."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, inspect, select, table, text
from sqlalchemy.sql import column

from tests.server.conftest import Project, Server, fresh_ip

API = "/api/v1"
#: A well-formed token whose id exists but whose secret is wrong.
WRONG = "cst_1_" + "A" * 43


def register(server: Server, who: str = "bob", name: str | None = None) -> str:
    """Register a new model file through the API; returns its name."""
    name = name or f"m-{uuid.uuid4().hex[:8]}"
    path = server.project.new_file(f"{name}.bin")
    with server.client(who) as c:
        r = c.post(f"{API}/artifacts", json={"kind": "model", "name": name, "path": path})
    assert r.status_code == 201, r.text
    return name


def post(
    server: Server, who: str, route: str, body: dict[str, Any] | None = None
) -> httpx.Response:
    with server.client(who) as c:
        return c.post(f"{API}{route}", json=body if body is not None else {})


def _fill(path: str) -> str:
    """A concrete URL for an OpenAPI path template."""
    return re.sub(r"\{(\w+)\}", lambda m: {"seq": "0", "stage": "dev"}.get(m.group(1), "m"), path)


def test_every_api_route_refuses_a_missing_or_wrong_token(shared_server: Server) -> None:
    spec = httpx.get(f"{shared_server.url}/openapi.json").json()
    operations = [
        (method, path)
        for path, item in spec["paths"].items()
        if path.startswith(API)
        for method in item
        if method in {"get", "post", "put", "patch", "delete"}
    ]
    assert len(operations) >= 15, operations
    assert "HTTPBearer" in spec["components"]["securitySchemes"]
    for method, path in operations:
        url = _fill(path)
        for token in (None, WRONG, "not-a-token", "cst_999999_" + "B" * 43):
            headers = {"X-Forwarded-For": fresh_ip()}
            if token:
                headers["Authorization"] = f"Bearer {token}"
            r = httpx.request(method, shared_server.url + url, headers=headers)
            assert r.status_code == 401, (method, url, token, r.status_code, r.text)
            assert r.headers["www-authenticate"] == "Bearer", (method, url)
            assert "error" in r.json()
    # the spec documents the refusals each route can give
    assert {"401", "403", "429"} <= set(spec["paths"][f"{API}/artifacts"]["get"]["responses"])


def test_sixth_failure_from_a_client_is_throttled_even_with_a_good_token(
    shared_server: Server,
) -> None:
    ip = fresh_ip()
    with shared_server.client(client_ip=ip) as c:
        for _ in range(5):
            r = c.get(f"{API}/me", headers={"Authorization": f"Bearer {WRONG}"})
            assert r.status_code == 401
        good = {"Authorization": f"Bearer {shared_server.project.tokens['bob']}"}
        r = c.get(f"{API}/me", headers=good)
        assert r.status_code == 429, r.text
        assert r.headers["retry-after"] == "900"
        assert "too many" in r.json()["error"]
        # the dashboard login counts the same failures for the same client
        login = c.post("/login", data={"token": shared_server.project.tokens["bob"]})
        assert login.status_code == 429
    # another client is not affected
    with shared_server.client("bob") as other:
        assert other.get(f"{API}/me").json()["principal"] == "bob"


def test_failed_dashboard_logins_are_throttled_too(shared_server: Server) -> None:
    with shared_server.client(client_ip=fresh_ip()) as c:
        for _ in range(5):
            r = c.post("/login", data={"token": WRONG}, follow_redirects=False)
            assert r.status_code == 401
            assert WRONG not in r.text
        r = c.post(
            "/login", data={"token": shared_server.project.tokens["bob"]}, follow_redirects=False
        )
        assert r.status_code == 429
        assert "custodes_session" not in r.headers.get("set-cookie", "")


def test_roles_are_checked_on_every_action(shared_server: Server) -> None:
    name = register(shared_server)
    assert post(shared_server, "bob", f"/artifacts/{name}/requests").status_code == 201
    # the auditor reads everything...
    with shared_server.client("ivy") as c:
        assert c.get(f"{API}/artifacts").status_code == 200
        assert c.get(f"{API}/artifacts/{name}").status_code == 200
        assert c.get(f"{API}/requests").status_code == 200
        assert c.get(f"{API}/audit/verify").json()["ok"] is True
        assert c.get(f"{API}/people").status_code == 200
    # ...but signs nothing off, registers nothing, promotes nothing
    for who, route in [
        ("ivy", "approve"),
        ("ivy", "promote"),
        ("dan", "approve"),
        ("ann", "approve"),
        ("pat", "promote"),
    ]:
        r = post(shared_server, who, f"/artifacts/{name}/{route}")
        assert r.status_code == 403, (who, route, r.text)
        assert "may not" in r.json()["error"]
    r = post(shared_server, "ivy", f"/artifacts/{name}/reject", {"comment": "no"})
    assert r.status_code == 403
    with shared_server.client("ivy") as c:
        path = shared_server.project.new_file("ivy.bin")
        r = c.post(f"{API}/artifacts", json={"kind": "model", "name": "ivys", "path": path})
        assert r.status_code == 403
    # a data scientist may register and request, not approve
    mine = register(shared_server, "dan")
    assert post(shared_server, "dan", f"/artifacts/{mine}/requests").status_code == 201
    assert post(shared_server, "dan", f"/artifacts/{mine}/approve").status_code == 403


def test_self_approval_is_refused_with_a_reason(shared_server: Server) -> None:
    name = register(shared_server, "rita")
    assert post(shared_server, "rita", f"/artifacts/{name}/requests").status_code == 201
    r = post(shared_server, "rita", f"/artifacts/{name}/approve", {"comment": "lgtm"})
    assert r.status_code == 409, r.text
    assert "cannot sign it off" in r.json()["error"]
    assert "separation of duties" in r.json()["error"]


def test_refused_promotion_lists_what_is_missing(shared_server: Server) -> None:
    name = register(shared_server)
    opened = post(shared_server, "bob", f"/artifacts/{name}/requests", {"note": "ready"})
    assert opened.json()["allowed"] is False
    r = post(shared_server, "bob", f"/artifacts/{name}/promote")
    assert r.status_code == 409
    body = r.json()
    assert body["missing"] == ["1 sign-off from security-reviewer (have none)"]
    assert "may not move dev → staging" in body["error"]


def test_unknown_artifact_is_404_and_bad_input_400_or_422(shared_server: Server) -> None:
    with shared_server.client("ivy") as c:
        assert c.get(f"{API}/artifacts/nope/status").status_code == 404
        assert c.get(f"{API}/audit/proof/999999").status_code in (400, 404)
        assert c.get(f"{API}/audit/entries", params={"limit": 0}).status_code == 422
    r = post(shared_server, "bob", "/artifacts", {"kind": "model", "name": "x"})
    assert r.status_code == 422
    r = post(shared_server, "bob", "/artifacts", {"kind": "virus", "name": "x", "path": "a"})
    assert r.status_code == 422


@pytest.mark.parametrize(
    "path",
    ["../../etc/passwd", "/etc/passwd", "models/../../outside.bin", "link/passwd", "x" * 300],
)
def test_paths_outside_the_project_are_refused(shared_server: Server, path: str) -> None:
    link = shared_server.project.root / "link"
    if not link.exists():
        link.symlink_to("/etc")
    r = post(shared_server, "bob", "/artifacts", {"kind": "model", "name": "evil", "path": path})
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert "outside the project" in error or "File name too long" in error
    assert len(error) < 200
    inside = shared_server.project.new_file("fine.bin")
    r = post(
        shared_server,
        "bob",
        "/artifacts",
        {"kind": "model", "name": "evil2", "path": inside, "manifest": path},
    )
    assert r.status_code == 400
    with shared_server.client("ivy") as c:
        names = [a["artifact"] for a in c.get(f"{API}/artifacts").json()]
    assert not {"evil", "evil2"} & set(names)


def test_security_headers_on_api_and_html(shared_server: Server) -> None:
    with shared_server.client("bob") as c:
        responses = [
            c.get(f"{API}/me"),
            c.get(f"{API}/artifacts/nope"),
            c.get("/login"),
            c.get("/openapi.json"),
            c.get("/static/dashboard.css"),
            c.get("/healthz"),
        ]
    responses.append(
        httpx.get(f"{shared_server.url}{API}/me", headers={"X-Forwarded-For": fresh_ip()})
    )
    for r in responses:
        csp = r.headers["content-security-policy"]
        assert "unsafe-inline" not in csp, r.url
        assert "unsafe-eval" not in csp, r.url
        assert "frame-ancestors 'none'" in csp
        assert "default-src 'none'" in csp
        assert r.headers["x-frame-options"] == "DENY"
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["referrer-policy"] == "same-origin"
    assert responses[2].headers["cache-control"] == "no-store"


def test_full_flow_dev_staging_production(server: Server) -> None:
    project = server.project
    name = register(server)
    r = post(server, "bob", f"/artifacts/{name}/requests", {"note": "ready for review"})
    assert r.status_code == 201
    assert r.json()["to"] == "staging"
    assert (
        post(server, "sam", f"/artifacts/{name}/approve", {"comment": "scanned"}).status_code == 200
    )
    r = post(server, "bob", f"/artifacts/{name}/promote")
    assert r.status_code == 200, r.text
    r = post(server, "bob", f"/artifacts/{name}/requests")
    assert r.json()["missing"] == [
        "2 sign-offs from approver (have none)",
        "approval by at least 2 different people before production (have none)",
    ]
    assert post(server, "pat", f"/artifacts/{name}/approve").status_code == 200
    # one approver signing twice does not count twice
    assert post(server, "bob", f"/artifacts/{name}/promote").status_code == 409
    assert post(server, "quinn", f"/artifacts/{name}/approve").status_code == 200
    assert post(server, "bob", f"/artifacts/{name}/promote").status_code == 200
    with server.client("ivy") as c:
        stages = {a["artifact"]: a["stage"] for a in c.get(f"{API}/artifacts").json()}
        assert stages[name] == "production"
        assert [a["artifact"] for a in c.get(f"{API}/stages/production").json()] == [name]
        history = c.get(f"{API}/artifacts/{name}/history").json()
        assert [(h["from"], h["to"], sorted(h["approvers"])) for h in history] == [
            ("dev", "staging", ["sam"]),
            ("staging", "production", ["pat", "quinn"]),
        ]
        assert c.get(f"{API}/requests").json() == []
        verified = c.get(f"{API}/audit/verify").json()
        assert verified["ok"] is True, verified
        kinds = [e["kind"] for e in c.get(f"{API}/audit/entries", params={"limit": 500}).json()]
        size = verified["size"]
        proof = c.get(f"{API}/audit/proof/{size - 1}").json()
        assert proof
    assert kinds.count("auth.failed") == 0
    for secret in project.tokens.values():
        assert secret not in server.output()


def _all_values(url: str) -> list[tuple[str, str, str]]:
    """(table, column, text) of every value in the store."""
    engine = create_engine(url)
    try:
        out = []
        with engine.connect() as conn:
            for name in inspect(conn).get_table_names():
                cols = [c["name"] for c in inspect(conn).get_columns(name)]
                rows = conn.execute(select(*[column(c) for c in cols]).select_from(table(name)))
                for row in rows:
                    out += [(name, c, str(v)) for c, v in zip(cols, row, strict=True)]
        return out
    finally:
        engine.dispose()


def test_store_holds_no_token_secret(project: Project) -> None:
    values = _all_values(project.url)
    token_rows = [v for v in values if v[0] == "api_tokens"]
    assert len({(t, c) for t, c, _ in token_rows}) >= 5, "api_tokens columns were not read"
    for token in project.tokens.values():
        secret = token.split("_", 2)[2]
        for table_name, col, value in values:
            assert secret not in value, f"token secret found in {table_name}.{col}"
    if project.db is None:
        raw = (project.root / ".custodes" / "custodes.db").read_bytes()
        for token in project.tokens.values():
            assert token.split("_", 2)[2].encode() not in raw
    code, out, _ = project.cli("registry", "token", "list", "--format", "json", who="ann")
    assert code == 0
    for token in project.tokens.values():
        assert token.split("_", 2)[2] not in out


def test_revoked_token_fails(server: Server) -> None:
    project = server.project
    with server.client("pat") as c:
        assert c.get(f"{API}/me").status_code == 200
    project.ok("registry", "token", "revoke", project.token_ids["pat"], who="ann")
    with server.client("pat") as c:
        r = c.get(f"{API}/me")
        assert r.status_code == 401
        assert "revoked" in r.json()["error"]
    # people may revoke their own token, not someone else's
    code, _, err = project.cli("registry", "token", "revoke", project.token_ids["quinn"], who="bob")
    assert code == 2
    assert "not yours" in err
    project.ok("registry", "token", "revoke", project.token_ids["bob"], who="bob")
    with server.client("bob") as c:
        assert c.get(f"{API}/me").status_code == 401
    with server.client("quinn") as c:
        assert c.get(f"{API}/me").status_code == 200
    engine = create_engine(project.url)
    try:
        with engine.connect() as conn:
            kinds = conn.execute(text("SELECT kind FROM audit_log")).scalars().all()
    finally:
        engine.dispose()
    assert kinds.count("token.revoked") == 2
