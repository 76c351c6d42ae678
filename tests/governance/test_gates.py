"""Separation of duties, identity, the policy in force, revocation and concurrent writers,
through the real CLI and service on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import multiprocessing
from pathlib import Path
from typing import Any

import pytest

from custodes.governance import auditlog
from custodes.governance.service import Governance
from tests.governance import _workers
from tests.governance.conftest import LIGHT_POLICY, Project, public


def _model(p: Project, name: str = "m", content: bytes = b"weights v1\n") -> Path:
    path = p.write(f"models/{name}.bin", content)
    p.ok("registry", "register", "model", name, path, who="bob")
    return path


def _add(p: Project, name: str, *roles: str) -> None:
    args = [a for r in roles for a in ("--role", r)]
    p.ok(
        "registry", "people", "add", name, "--public-key", public(p.keys[name]), *args, who="alice"
    )


def _stage(p: Project, name: str) -> str:
    doc = json.loads(p.ok("registry", "show", name, "--format", "json", who="ivan").out)
    return str(doc["versions"][0]["stage"])


def _to_staging(p: Project, name: str) -> None:
    p.ok("gate", "request", name, who="bob")
    p.ok("gate", "approve", name, who="carol")
    p.ok("gate", "promote", name, who="bob")


# ---------------------------------------------------------------- separation of duties


def test_requester_cannot_approve_own_request(light: Project) -> None:
    p = light
    _add(p, "frank", "ml-engineer", "approver")
    path = p.write("models/f.bin", b"frank's model\n")
    p.ok("registry", "register", "model", "f", path, who="frank")
    p.ok("gate", "request", "f", who="frank")
    r = p.fails(1, "gate", "approve", "f", who="frank")
    assert "frank requested this promotion and cannot sign it off" in r.err
    refused = p.log("signoff.refused")
    assert len(refused) == 1
    assert refused[0]["actor"] == "frank"
    assert refused[0]["data"]["reason"] == "own request"
    assert p.log("signoff.recorded") == []


def test_production_needs_two_people_and_one_person_counts_once(light: Project) -> None:
    p = light
    # Production needs one security reviewer and one approver; frank holds both roles.
    p.write_policy(
        LIGHT_POLICY.replace("- {role: approver, count: 2}", "- {role: security-reviewer}\n"
                             "        - {role: approver}")
    )  # fmt: skip
    p.ok("registry", "policy", who="alice")
    _add(p, "frank", "security-reviewer", "approver")
    _model(p)
    _to_staging(p, "m")
    p.ok("gate", "request", "m", who="bob")
    p.ok("gate", "approve", "m", who="frank")
    p.ok("gate", "approve", "m", who="frank")  # twice is still one person
    r = p.fails(1, "gate", "promote", "m", who="bob")
    assert "missing:" in r.err, r.err
    assert "different people" in r.err, r.err
    p.ok("gate", "approve", "m", who="dave")
    p.ok("gate", "promote", "m", who="bob")
    assert _stage(p, "m") == "production"


def test_two_approvals_by_the_same_approver_count_once(light: Project) -> None:
    p = light
    _model(p)
    _to_staging(p, "m")
    p.ok("gate", "request", "m", who="bob")
    p.ok("gate", "approve", "m", who="dave")
    p.ok("gate", "approve", "m", who="dave")
    r = p.fails(1, "gate", "promote", "m", who="bob")
    assert "missing: 2 sign-offs from approver (have 1: dave)" in r.err
    p.ok("gate", "approve", "m", who="erin")
    p.ok("gate", "promote", "m", who="bob")


def test_signoff_lapses_when_the_bytes_change(light: Project) -> None:
    p = light
    path = _model(p)
    with p.gov() as g, g.read() as s:
        from custodes.governance.gates import resolve

        old = resolve(s, "m")[1].digest
    p.ok("gate", "request", "m", who="bob")
    p.ok("gate", "approve", "m", who="carol")
    path.write_bytes(b"weights v1, quietly edited\n")
    r = p.fails(1, "gate", "promote", "m", who="bob")
    assert "changed since it was registered" in r.err
    assert old[:19] in r.err, r.err
    assert _stage(p, "m") == "dev"
    r = p.ok("registry", "register", "model", "m", path, who="bob")
    assert "registered: m sha256:" in r.out
    assert "in dev" in r.out
    doc = json.loads(p.ok("registry", "show", "m", "--format", "json", who="ivan").out)
    assert [v["stage"] for v in doc["versions"]] == ["dev", "dev"]
    assert doc["versions"][1]["digest"] == old
    assert doc["versions"][0]["digest"] != old
    # The new version has no request and no sign-off of its own.
    r = p.fails(2, "gate", "promote", "m", who="bob")
    assert "no open request" in r.err


# ---------------------------------------------------------------- identity


def test_unknown_key_is_refused_and_audited(light: Project) -> None:
    p = light
    r = p.fails(2, "registry", "list", who="mallory")
    assert "authentication failed" in r.err
    assert "no person" in r.err
    failed = p.log("auth.failed")
    assert len(failed) == 1
    assert failed[0]["actor"] is None
    assert failed[0]["data"]["key_id"] in r.err


def test_deactivated_person_cannot_act(light: Project) -> None:
    p = light
    _model(p)
    p.ok("gate", "request", "m", who="bob")
    p.ok("registry", "people", "deactivate", "carol", who="alice")
    r = p.fails(2, "gate", "approve", "m", who="carol")
    assert "carol has been deactivated" in r.err
    assert p.log("auth.failed")[-1]["data"]["reason"] == "carol has been deactivated"
    people = json.loads(p.ok("registry", "people", "list", "--format", "json", who="ivan").out)
    assert {x["id"]: x["active"] for x in people}["carol"] is False


def test_missing_key_is_a_usage_error(light: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CUSTODES_KEY", raising=False)
    r = light.fails(2, "registry", "list")
    assert "give --key PATH or set CUSTODES_KEY" in r.err
    assert "Traceback" not in r.err
    monkeypatch.setenv("CUSTODES_KEY", str(light.keys["ivan"]))
    light.ok("registry", "list")


def test_a_key_is_registered_once(light: Project) -> None:
    p = light
    r = p.fails(
        2, "registry", "people", "add", "frank", "--public-key", public(p.keys["dave"]),
        "--role", "approver", who="alice",
    )  # fmt: skip
    assert "is already registered to someone else" in r.err
    r = p.fails(
        2, "registry", "people", "add", "dave", "--public-key", public(p.keys["frank"]),
        "--role", "approver", who="alice",
    )  # fmt: skip
    assert "'dave' already exists" in r.err


def test_bootstrap_only_on_an_empty_store(light: Project) -> None:
    r = light.fails(
        2, "registry", "init", "--admin", "zed", "--public-key", public(light.keys["frank"])
    )
    assert "already has people" in r.err
    light.fails(2, "registry", "list", who="frank")


def test_init_then_admin_adds_people(empty_project: Project) -> None:
    p = empty_project
    r = p.ok("registry", "init", "--admin", "alice", "--public-key", public(p.keys["alice"]))
    assert "alice is admin" in r.out
    _add(p, "bob", "ml-engineer")
    added = p.log("principal.added")
    assert [(e["actor"], e["data"]["principal"]) for e in added] == [
        (None, "alice"),
        ("alice", "bob"),
    ]


# ---------------------------------------------------------------- the policy in force


def test_unrecorded_policy_edit_refuses_every_promotion(light: Project) -> None:
    p = light
    _model(p)
    p.ok("gate", "request", "m", who="bob")
    p.ok("gate", "approve", "m", who="carol")
    # Someone loosens the policy in the repository without an admin recording it.
    p.write_policy("version: 1\nstages: [dev, staging, production]\npromotions: []\n")
    r = p.fails(1, "gate", "promote", "m", who="bob")
    assert "custodes-policy.yaml changed since an admin recorded it" in r.err
    assert "custodes registry policy" in r.err
    # Put the original back: in force again without recording anything.
    p.write_policy(LIGHT_POLICY)
    p.ok("gate", "promote", "m", who="bob")


@pytest.mark.parametrize("content", ["", "promotions: [: nonsense\n", "version: 7\n"])
def test_empty_or_broken_policy_refuses(light: Project, content: str) -> None:
    p = light
    _model(p)
    p.ok("gate", "request", "m", who="bob")
    p.ok("gate", "approve", "m", who="carol")
    p.write("custodes-policy.yaml", content)
    r = p.fails(1, "gate", "promote", "m", who="bob")
    assert "none in force" in r.err, r.err
    r = p.fails(2, "registry", "policy", who="alice")
    assert "custodes-policy.yaml" in r.err
    assert "Traceback" not in r.err


def test_missing_policy_refuses(light: Project) -> None:
    p = light
    _model(p)
    p.ok("gate", "request", "m", who="bob")
    p.ok("gate", "approve", "m", who="carol")
    (p.root / "custodes-policy.yaml").unlink()
    r = p.fails(1, "gate", "promote", "m", who="bob")
    assert "none in force" in r.err


def test_recording_a_policy_is_audited_with_the_previous_digest(light: Project) -> None:
    p = light
    first = p.log("policy.changed")
    assert len(first) == 1
    assert first[0]["data"]["previous"] is None
    old = first[0]["data"]["digest"]
    r = p.ok("registry", "policy", who="alice")
    assert "policy unchanged" in r.out
    assert len(p.log("policy.changed")) == 1
    p.write_policy(LIGHT_POLICY + "# tightened later\n")
    r = p.ok("registry", "policy", who="alice")
    assert old in r.out
    changes = p.log("policy.changed")
    assert len(changes) == 2
    assert changes[1]["actor"] == "alice"
    assert changes[1]["data"]["previous"] == old
    assert changes[1]["data"]["digest"] != old
    assert "# tightened later" in changes[1]["data"]["content"]


# ---------------------------------------------------------------- revoke and withdraw


def _to_production(p: Project, name: str) -> None:
    _to_staging(p, name)
    p.ok("gate", "request", name, who="bob")
    p.ok("gate", "approve", name, who="dave")
    p.ok("gate", "approve", name, who="erin")
    p.ok("gate", "promote", name, who="bob")


def test_revoked_production_model(light: Project) -> None:
    p = light
    _model(p)
    _to_production(p, "m")
    assert _stage(p, "m") == "production"
    r = p.fails(2, "gate", "revoke", "m", "--reason", "   ", who="carol")
    assert "needs --reason" in r.err
    p.ok("gate", "revoke", "m", "--reason", "backdoor trigger found in eval", who="carol")
    assert _stage(p, "m") == "revoked"
    entry = p.log("artifact.revoked")[-1]
    assert entry["actor"] == "carol"
    assert entry["data"]["reason"] == "backdoor trigger found in eval"
    assert entry["data"]["from"] == "production"
    r = p.fails(1, "gate", "request", "m", who="bob")
    assert "revoked" in r.err
    assert "cannot be promoted" in r.err
    r = p.fails(2, "gate", "revoke", "m", "--reason", "again", who="alice")
    assert "already revoked" in r.err
    prod = json.loads(
        p.ok("registry", "list", "--stage", "production", "--format", "json", who="ivan").out
    )
    assert prod == []
    # Registering the same bytes again does not resurrect it.
    r = p.ok("registry", "register", "model", "m", p.root / "models/m.bin", who="bob")
    assert "already registered" in r.out
    assert "revoked" in r.out


def test_revoke_of_an_ambiguous_name_asks_which_version(light: Project) -> None:
    p = light
    _model(p)
    _to_production(p, "m")
    (p.root / "models" / "m.bin").write_bytes(b"retrained weights, not reviewed yet")
    p.ok("registry", "register", "model", "m", p.root / "models/m.bin", who="bob")
    r = p.fails(2, "gate", "revoke", "m", "--reason", "poisoned", who="carol")
    assert "2 live versions" in r.err
    assert "production" in r.err
    rows = json.loads(p.ok("registry", "list", "--format", "json", who="ivan").out)
    prod = next(v["digest"] for v in rows if v["stage"] == "production")
    dev = next(v["digest"] for v in rows if v["stage"] == "dev")
    p.ok("gate", "revoke", f"m@{prod[:19]}", "--reason", "poisoned", who="carol")
    rows = {
        v["digest"]: v["stage"]
        for v in json.loads(p.ok("registry", "list", "--format", "json", who="ivan").out)
    }
    assert rows == {prod: "revoked", dev: "dev"}
    # With one live version left, the bare name is unambiguous again.
    p.ok("gate", "revoke", "m", "--reason", "built from the same data", who="carol")
    assert p.log("artifact.revoked")[-1]["data"]["digest"] == dev


def test_revoke_closes_an_open_request(light: Project) -> None:
    p = light
    _model(p)
    p.ok("gate", "request", "m", who="bob")
    p.ok("gate", "revoke", "m", "--reason", "leaked training data", who="alice")
    doc = json.loads(p.ok("registry", "show", "m", "--format", "json", who="ivan").out)
    assert doc["versions"][0]["requests"][0]["state"] == "withdrawn"
    p.fails(2, "gate", "approve", "m", who="carol")


def test_withdraw_only_by_the_requester(light: Project) -> None:
    p = light
    _model(p)
    p.ok("gate", "request", "m", who="bob")
    r = p.fails(1, "gate", "withdraw", "m", who="dana")
    assert "only bob" in r.err
    p.fails(2, "gate", "withdraw", "m", who="carol")  # no withdraw role at all
    p.ok("gate", "withdraw", "m", who="bob")
    assert p.log("promotion.withdrawn")[-1]["actor"] == "bob"
    p.fails(2, "gate", "approve", "m", who="carol")  # nothing open any more
    p.ok("gate", "request", "m", who="bob")  # can ask again


def test_reject_moves_to_rejected_for_good(light: Project) -> None:
    p = light
    _model(p)
    p.ok("gate", "request", "m", who="bob")
    p.ok("gate", "reject", "m", "--comment", "no eval report", who="dave")
    assert _stage(p, "m") == "rejected"
    r = p.fails(1, "gate", "request", "m", who="bob")
    assert "cannot be promoted" in r.err


# ---------------------------------------------------------------- concurrency


@pytest.mark.slow
def test_four_processes_register_and_request_at_once(light: Project) -> None:
    p = light
    ctx = multiprocessing.get_context("spawn")
    _add(p, "frank", "ml-engineer")
    p.ok(
        "registry", "people", "add", "gina", "--public-key", public(p.keys["mallory"]),
        "--role", "data-scientist", who="alice",
    )  # fmt: skip
    with p.gov() as g, g.read() as s:
        before = auditlog.verify(s, g.signer.public_key).size
    per = 3
    who = {"bob": "bob", "dana": "dana", "frank": "frank", "gina": "mallory"}
    procs = [
        ctx.Process(
            target=_workers.register_and_request,
            args=(str(p.root), p.db, str(p.keys[key]), name, per),
        )
        for name, key in who.items()
    ]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(120)
        assert proc.exitcode == 0
    rows = json.loads(p.ok("registry", "list", "--format", "json", who="ivan").out)
    assert len(rows) == 4 * per
    entries = p.log()
    assert [e["seq"] for e in entries] == list(range(len(entries)))
    assert len(p.log("artifact.registered")) == 4 * per
    assert len(p.log("promotion.requested")) == 4 * per
    with Governance.open(p.root, p.db) as g, g.read() as s:
        result = auditlog.verify(s, g.signer.public_key, trusted_head=g.witness())
    assert result.ok, result.reason
    assert result.size > before
    assert p.ok("audit", "verify").code == 0


def test_the_last_admin_cannot_be_removed(light: Project) -> None:
    p = light
    r = p.fails(2, "registry", "people", "deactivate", "alice", who="alice")
    assert "without an active admin" in r.err
    r = p.fails(2, "registry", "people", "roles", "alice", "--role", "auditor", who="alice")
    assert "without an active admin" in r.err
    assert p.log("principal.deactivated") == []
    assert p.log("principal.roles") == []
    p.ok("registry", "people", "roles", "ivan", "--role", "auditor,admin", who="alice")
    p.ok("registry", "people", "deactivate", "alice", who="ivan")
    p.fails(2, "registry", "list", who="alice")


def test_unreadable_keys_are_usage_errors(light: Project, tmp_path: Path) -> None:
    p = light
    r = p.cli("registry", "list", *p.args(), "--key", tmp_path / "nope.pem")
    assert r.code == 2
    assert "nope.pem" in r.err
    assert "Traceback" not in r.err
    r = p.cli("registry", "list", *p.args(), "--key", public(p.keys["ivan"]))
    assert r.code == 2, r.err
    assert "Traceback" not in r.err, r.err


def test_refused_withdraw_and_evidence_on_changed_bytes(light: Project) -> None:
    p = light
    path = _model(p)
    path.write_bytes(b"swapped\n")
    r = p.fails(1, "gate", "evidence", "m", "--scan", who="bob")
    assert "changed since it was registered" in r.err
    assert p.log("evidence.attached") == []


DATASET_POLICY = """\
version: 1
stages: [dev, staging, production]
promotions:
  - to: staging
    kinds: [model]
    require:
      datasets_ok: [patients]
      signoffs:
        - {role: security-reviewer, count: 1}
  - to: staging
    kinds: [dataset]
    require:
      signoffs:
        - {role: security-reviewer, count: 1}
"""


def test_a_revoked_training_dataset_blocks_its_model(light: Project) -> None:
    from custodes.governance.gates import resolve
    from custodes.store.models import Evidence

    p = light
    p.write_policy(DATASET_POLICY)
    p.ok("registry", "policy", who="alice")
    data = p.write("data/patients.csv", "id,age\n1,40\n2,41\n")
    p.ok("registry", "register", "dataset", "patients", data, who="dana")
    # A passing check of the dataset (as gate evidence --data-check records it).
    with p.gov() as g, g.write() as s:
        _, version = resolve(s, "patients")
        s.add(
            Evidence(
                version_id=version.id,
                digest=version.digest,
                kind="data_check",
                summary=json.dumps({"verdict": "ok"}),
                produced_by="dana",
            )
        )
    _model(p)
    p.ok("gate", "request", "m", who="bob")
    p.ok("gate", "approve", "m", who="carol")
    st = json.loads(p.ok("gate", "status", "m", "--format", "json", who="ivan").out)
    assert st["allowed"] is True, st["missing"]
    # The dataset turns out to be poisoned and is revoked: its old check no longer counts.
    p.ok("gate", "revoke", "patients", "--reason", "poisoned rows from the app", who="carol")
    r = p.fails(1, "gate", "promote", "m", who="bob")
    assert "missing: dataset patients checked with verdict ok" in r.err, r.err
    assert "was revoked" in r.err, r.err
    assert _stage(p, "m") == "dev"


def test_a_second_checkout_with_its_own_log_key_cannot_fork_the_log(
    light: Project, tmp_path: Path
) -> None:
    p = light
    other = tmp_path / "other-checkout"
    other.mkdir()
    (other / "custodes-policy.yaml").write_text(LIGHT_POLICY)
    db = ["--db", p.url]
    before = len(p.log())
    path = p.write("models/m.bin", b"x\n")
    r = p.cli(
        "registry", "register", "model", "m", path, "-C", other, *db, "--key", p.keys["bob"]
    )  # fmt: skip
    assert r.code == 2, r.out + r.err
    assert "every writer must hold the same log key" in r.err
    assert len(p.log()) == before
    p.ok("audit", "verify")
    # With the store's log key copied in, the second checkout writes to the same log.
    key = (p.root / ".custodes" / "log-key.pem").read_bytes()
    (other / ".custodes" / "log-key.pem").write_bytes(key)
    r = p.cli(
        "registry", "register", "model", "m", path, "-C", other, *db, "--key", p.keys["bob"]
    )  # fmt: skip
    assert r.code == 0, r.err
    p.ok("audit", "verify")


def test_commands_outside_a_store_leave_nothing_behind(tmp_path: Path, cli: Any) -> None:
    """Only `registry init` creates a store: a mistyped -C must not leave a store and a
    fresh log key behind (the next init there would sign with a key nobody backed up)."""
    keys = tmp_path / "keys"
    assert cli("keys", "generate", "-o", keys, "--name", "bob").code == 0
    empty = tmp_path / "empty"
    empty.mkdir()
    for args in (
        ("registry", "list"),
        ("gate", "status", "m"),
        ("registry", "token", "create", "--name", "x"),
    ):
        r = cli(*args, "-C", empty, "--key", keys / "bob.pem")
        assert r.code == 2, (args, r.err)
        assert "no governance store here" in r.err
    r = cli("audit", "verify", "-C", empty)
    assert r.code == 2
    assert list(empty.iterdir()) == []


def test_denials_cannot_flood_the_audit_log(light: Project) -> None:
    """An auditor's token hammering approve gets denied every time; the log records the
    first DENIALS_LOGGED denials, one throttled marker, and nothing more."""
    from custodes.governance.gates import sign_off
    from custodes.governance.roles import PermissionDenied
    from custodes.governance.service import DENIALS_LOGGED

    p = light
    _model(p)
    p.ok("gate", "request", "m", who="bob")
    with p.gov() as gov:
        actor = gov.authenticate(p.cred("ivan"))
        for _ in range(DENIALS_LOGGED + 15):
            with pytest.raises(PermissionDenied):
                sign_off(gov, actor, "m", "approve", None)
    denied = [e for e in p.log("auth.denied") if e["actor"] == "ivan"]
    assert len(denied) == DENIALS_LOGGED
    throttled = p.log("auth.denied.throttled")
    assert len(throttled) == 1
    assert throttled[0]["actor"] == "ivan"
    assert p.ok("audit", "verify").code == 0
