"""The CLI against a team server (``--server URL`` with a token): the same commands, the
same output and the same exit codes as against the local store."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.server.conftest import Project, Server, run_cli


@pytest.fixture
def as_person(monkeypatch: pytest.MonkeyPatch, server: Server) -> Callable[[str], None]:
    """Switch the token the CLI sends (CUSTODES_TOKEN) to one person's."""

    def use(name: str) -> None:
        monkeypatch.setenv("CUSTODES_TOKEN", server.project.tokens[name])

    return use


def remote(server: Server, *args: object) -> tuple[int, str, str]:
    return run_cli(*args, "--server", server.url)


def _json(out: str) -> object:
    return json.loads(out)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_same_output_locally_and_through_the_server(
    server: Server, project: Project, as_person: Callable[[str], None]
) -> None:
    use = as_person
    use("bob")
    local = project.ok("registry", "list", "--format", "json", who="bob")
    code, out, err = remote(server, "registry", "list", "--format", "json")
    assert code == 0, err
    assert _json(out) == _json(local)

    code, out, err = remote(server, "gate", "request", "m", "--note", "from the CLI")
    assert code == 0, err
    assert "dev → staging" in out
    assert "1 sign-off from security-reviewer" in out

    local = project.ok("gate", "status", "m", "--format", "json", who="bob")
    code, out, _ = remote(server, "gate", "status", "m", "--format", "json")
    assert code == 0
    assert _json(out) == _json(local)

    # Separation of duties and roles hold through the server, with the CLI's exit codes.
    use("ivy")
    code, _, err = remote(server, "gate", "approve", "m")
    assert code == 2
    assert "may not approve" in err
    use("bob")
    code, _, err = remote(server, "gate", "promote", "m")
    assert code == 1
    assert "missing: 1 sign-off from security-reviewer" in err

    use("sam")
    code, out, err = remote(server, "gate", "approve", "m", "--comment", "reviewed")
    assert code == 0, err
    assert out.startswith("sam approved m")
    use("bob")
    code, out, err = remote(server, "gate", "promote", "m")
    assert code == 0, err
    assert project.ok("registry", "list", "--stage", "staging", who="bob").count("m") >= 1

    history = _json(project.ok("registry", "history", "m", "--format", "json", who="bob"))
    code, out, _ = remote(server, "registry", "history", "m", "--format", "json")
    assert _json(out) == history
    assert history[-1]["approvers"] == ["sam"]  # type: ignore[index]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_audit_is_verified_on_the_client(
    server: Server, as_person: Callable[[str], None], tmp_path: Path
) -> None:
    as_person("ivy")
    code, out, err = remote(server, "audit", "verify")
    assert code == 0, err
    assert "audit log verified" in out
    bundle = tmp_path / "log.json"
    code, _, err = remote(server, "audit", "export", "-o", bundle)
    assert code == 0, err
    code, _, err = run_cli("audit", "verify", "--bundle", bundle)
    assert code == 0, err
    proof = tmp_path / "proof.json"
    assert remote(server, "audit", "prove", "2", "-o", proof)[0] == 0
    assert run_cli("audit", "check-proof", proof)[0] == 0
    # Pinning a different log key fails even though the server's bundle is consistent.
    other = tmp_path / "keys"
    assert run_cli("keys", "generate", "-o", other, "--name", "mallory")[0] == 0
    code, out, _ = remote(server, "audit", "verify", "--log-key", other / "mallory.pub.pem")
    assert code == 1


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_token_from_the_credentials_file(
    server: Server, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("CUSTODES_TOKEN", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    code, _, err = remote(server, "registry", "list")
    assert code == 2
    assert "no token" in err
    creds = tmp_path / "custodes" / "credentials.toml"
    creds.parent.mkdir()
    token = server.project.tokens["bob"]
    creds.write_text(f'[servers."{server.url}"]\ntoken = "{token}"\n', encoding="utf-8")
    os.chmod(creds, 0o644)
    code, _, err = remote(server, "registry", "list")
    assert code == 2
    assert "readable by others" in err
    os.chmod(creds, stat.S_IRUSR | stat.S_IWUSR)
    code, out, err = remote(server, "registry", "list")
    assert code == 0, err
    assert "m" in out
    monkeypatch.setenv("CUSTODES_TOKEN", "cst_1_" + "x" * 43)
    code, _, err = remote(server, "registry", "list")
    assert code == 2
    assert "authentication failed" in err


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_admin_commands_through_the_server(
    server: Server, as_person: Callable[[str], None], tmp_path: Path
) -> None:
    keys = tmp_path / "keys"
    assert run_cli("keys", "generate", "-o", keys, "--name", "zoe")[0] == 0
    pub = keys / "zoe.pub.pem"
    as_person("bob")
    code, _, err = remote(
        server, "registry", "people", "add", "zoe", "--public-key", pub, "--role", "approver"
    )
    assert code == 2
    assert "may not manage_principals" in err or "may not" in err
    as_person("ann")
    code, out, err = remote(
        server, "registry", "people", "add", "zoe", "--public-key", pub, "--role", "approver"
    )
    assert code == 0, err
    assert "added zoe" in out
    code, _, err = remote(server, "registry", "people", "roles", "zoe", "--role", "auditor")
    assert code == 0, err
    code, out, _ = remote(server, "registry", "people", "list", "--format", "json")
    zoe = next(p for p in json.loads(out) if p["id"] == "zoe")
    assert zoe["roles"] == ["auditor"]
    # a token for zoe, made by the admin through the server, works and can be revoked
    code, out, err = remote(server, "registry", "token", "create", "--name", "ci", "--for", "zoe")
    assert code == 0, err
    token = out.strip().splitlines()[0]
    with server.client() as c:
        me = c.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.json()["principal"] == "zoe"
    rows = json.loads(remote(server, "registry", "token", "list", "--format", "json")[1])
    tid = next(t["id"] for t in rows if t["principal"] == "zoe")
    assert remote(server, "registry", "token", "revoke", str(tid))[0] == 0
    with server.client() as c:
        assert c.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    code, _, err = remote(server, "registry", "people", "deactivate", "zoe")
    assert code == 0, err
    # the policy in force is the server project's file, recorded by an admin
    policy = server.project.root / "custodes-policy.yaml"
    policy.write_text(policy.read_text(encoding="utf-8") + "# tightened\n", encoding="utf-8")
    code, out, err = remote(server, "registry", "policy")
    assert code == 0, err
    assert "policy in force" in out
    assert "was sha256:" in out


@pytest.mark.parametrize(
    "text",
    ["servers = [1, 2]\n", "[servers]\nx = 1\n", '[servers."http://x"]\ntoken = 5\n', "= broken"],
)
def test_malformed_credentials_file_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, text: str
) -> None:
    monkeypatch.delenv("CUSTODES_TOKEN", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    creds = tmp_path / "custodes" / "credentials.toml"
    creds.parent.mkdir()
    creds.write_text(text, encoding="utf-8")
    os.chmod(creds, stat.S_IRUSR | stat.S_IWUSR)
    code, _, err = run_cli("registry", "list", "--server", "http://127.0.0.1:9")
    assert code == 2, err
    assert "Traceback" not in err
    assert "credentials.toml" in err
