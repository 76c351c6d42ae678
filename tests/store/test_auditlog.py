"""The audit log: appends, verification, and tampering by someone with raw SQL access.

Every tamper test edits the tables directly, as a DBA (or an attacker with the DB password)
would, bypassing the ORM; verification must name the first bad entry and say why.
"""

from __future__ import annotations

import json
import multiprocessing
import stat
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select, text

from custodes.governance import merkle
from custodes.governance.auditlog import (
    LogSigner,
    append,
    canonical_json,
    latest_head,
    load_or_create_log_key,
    verify,
)
from custodes.store import Store
from custodes.store.models import Artifact, LogEntry, LogState, TreeHead
from tests.store._workers import append_many

N = 8


def _fill(store: Store, signer: LogSigner, n: int = N) -> None:
    for i in range(n):
        with store.session.begin() as session:
            append(
                session, signer, "artifact.registered", f"user{i % 3}", {"i": i, "note": "hello"}
            )


def _verify(store: Store, signer: LogSigner, trusted: dict[str, Any] | None = None) -> Any:
    with store.session() as session:
        return verify(session, signer.public_key, trusted_head=trusted)


def _sql(store: Store, statement: str, **params: Any) -> None:
    with store.engine.begin() as conn:
        conn.execute(text(statement), params)


def _payload(store: Store, seq: int) -> str:
    with store.engine.connect() as conn:
        value = conn.execute(text("SELECT payload FROM audit_log WHERE seq = :s"), {"s": seq})
        return str(value.scalar_one())


def test_empty_log_verifies(store: Store, signer: LogSigner) -> None:
    result = _verify(store, signer)
    assert result.ok
    assert result.size == 0
    with store.session() as session:
        assert latest_head(session) is None


def test_append_then_verify(store: Store, signer: LogSigner) -> None:
    _fill(store, signer)
    result = _verify(store, signer)
    assert result.ok, result.reason
    assert result.size == N
    assert result.first_bad is None
    assert result.head is not None
    assert result.head["tree_size"] == N
    with store.session() as session:
        entries = session.execute(select(LogEntry).order_by(LogEntry.seq)).scalars().all()
        head = latest_head(session)
        state = session.get(LogState, 1)
    assert [e.seq for e in entries] == list(range(N))
    assert head == result.head
    assert state is not None
    assert state.size == N
    leaves = [bytes.fromhex(e.leaf_hash) for e in entries]
    assert head is not None
    assert head["root_hash"] == merkle.root(leaves).hex()
    doc = json.loads(entries[3].payload)
    assert doc["seq"] == 3
    assert doc["data"] == {"i": 3, "note": "hello"}
    assert doc["prev_root"] == merkle.root(leaves[:3]).hex()
    assert doc["at"].endswith("Z")
    assert canonical_json(doc).decode() == entries[3].payload
    assert entries[3].at.tzinfo is not None


def _failing_change(store: Store, signer: LogSigner) -> None:
    with store.session.begin() as session:
        session.add(Artifact(kind="model", name="m"))
        append(session, signer, "artifact.created", "alice", {"name": "m"})
        raise RuntimeError("the registry change failed")


def test_log_entry_rolls_back_with_the_domain_change(store: Store, signer: LogSigner) -> None:
    _fill(store, signer, 2)
    with pytest.raises(RuntimeError, match="registry change failed"):
        _failing_change(store, signer)
    with store.session() as session:
        assert session.execute(select(Artifact)).first() is None
        state = session.get(LogState, 1)
        assert state is not None
        assert state.size == 2
    _fill(store, signer, 1)
    assert _verify(store, signer).ok


def test_appends_in_one_session_see_fresh_state(store: Store, signer: LogSigner) -> None:
    with store.session() as session:
        session.get(LogState, 1)  # load (then let it go stale) before others append
        session.commit()
        _fill(store, signer, 2)
        with session.begin():
            entry = append(session, signer, "k", None, {})
        assert entry.seq == 2
    assert _verify(store, signer).ok


def test_wrong_public_key_fails(store: Store, signer: LogSigner) -> None:
    _fill(store, signer, 2)
    other = Ed25519PrivateKey.generate().public_key()
    with store.session() as session:
        result = verify(session, other)
    assert not result.ok
    assert result.first_bad == 0
    assert "not by the log key" in result.reason


def test_altered_payload_byte(store: Store, signer: LogSigner) -> None:
    _fill(store, signer)
    _sql(store, "UPDATE audit_log SET payload = replace(payload, 'hello', 'jello') WHERE seq = 3")
    result = _verify(store, signer)
    assert not result.ok
    assert result.first_bad == 3
    assert "entry 3 was altered" in result.reason
    assert "leaf hash" in result.reason


def test_altered_payload_with_recomputed_leaf_hash(store: Store, signer: LogSigner) -> None:
    _fill(store, signer)
    forged = _payload(store, 3).replace("hello", "jello")
    _sql(
        store,
        "UPDATE audit_log SET payload = :p, leaf_hash = :h WHERE seq = 3",
        p=forged,
        h=merkle.leaf_hash(forged.encode()).hex(),
    )
    result = _verify(store, signer)
    assert not result.ok
    assert result.first_bad == 3
    assert "entry 3" in result.reason
    assert "signed root does not match" in result.reason


def test_deleted_middle_row(store: Store, signer: LogSigner) -> None:
    _fill(store, signer)
    _sql(store, "DELETE FROM audit_log WHERE seq = 4")
    result = _verify(store, signer)
    assert not result.ok
    assert result.first_bad == 4
    assert result.reason.startswith("entry 4 is missing")


def test_deleted_last_row_and_head_is_caught_by_a_witness(store: Store, signer: LogSigner) -> None:
    _fill(store, signer)
    with store.session() as session:
        witnessed = latest_head(session)
    assert witnessed is not None
    _sql(store, "DELETE FROM audit_log WHERE seq = :s", s=N - 1)
    _sql(store, "DELETE FROM tree_heads WHERE tree_size = :s", s=N)
    _sql(store, "UPDATE log_state SET size = size - 1")
    # Without a witness the shortened log is self-consistent ...
    assert _verify(store, signer).ok
    # ... but not against the head seen before.
    result = _verify(store, signer, witnessed)
    assert not result.ok
    assert result.first_bad == N - 1
    assert f"entry {N - 1} is missing" in result.reason
    assert "truncated" in result.reason


def test_deleted_last_row_only(store: Store, signer: LogSigner) -> None:
    _fill(store, signer)
    _sql(store, "DELETE FROM audit_log WHERE seq = :s", s=N - 1)
    result = _verify(store, signer)
    assert not result.ok
    assert result.first_bad == N - 1
    assert f"entry {N - 1} is missing" in result.reason


def test_witness_catches_rewritten_history(store: Store, signer: LogSigner) -> None:
    _fill(store, signer, 4)
    with store.session() as session:
        witnessed = latest_head(session)
    # Rewrite everything, re-signed with the real key: only the witness can tell.
    _sql(store, "DELETE FROM tree_heads")
    _sql(store, "DELETE FROM audit_log")
    _sql(store, "UPDATE log_state SET size = 0, frontier = '[]'")
    for i in range(6):
        with store.session.begin() as session:
            append(session, signer, "rewritten", "mallory", {"i": i})
    assert _verify(store, signer).ok
    result = _verify(store, signer, witnessed)
    assert not result.ok
    assert result.first_bad == 3
    assert "does not extend the trusted tree head of size 4" in result.reason
    # A genuine extension of the witnessed head passes.
    with store.session() as session:
        witnessed = latest_head(session)
    _fill(store, signer, 2)
    assert _verify(store, signer, witnessed).ok


def test_swapped_payloads(store: Store, signer: LogSigner) -> None:
    _fill(store, signer)
    p2, p5 = _payload(store, 2), _payload(store, 5)
    _sql(store, "UPDATE audit_log SET payload = :p WHERE seq = 2", p=p5)
    _sql(store, "UPDATE audit_log SET payload = :p WHERE seq = 5", p=p2)
    result = _verify(store, signer)
    assert not result.ok
    assert result.first_bad == 2
    assert "reordered" in result.reason


def _forge_next(store: Store) -> tuple[str, str]:
    """A well-formed entry N: right seq, prev_root and leaf hash, but no signed head."""
    with store.engine.connect() as conn:
        leaves = [
            bytes.fromhex(h)
            for h in conn.execute(text("SELECT leaf_hash FROM audit_log ORDER BY seq")).scalars()
        ]
    doc = {
        "seq": N,
        "at": "2026-11-26T12:00:00.000000Z",
        "kind": "stage.changed",
        "actor": "mallory",
        "data": {"to": "production"},
        "prev_root": merkle.root(leaves).hex(),
    }
    body = canonical_json(doc).decode()
    leaf = merkle.leaf_hash(body.encode())
    _sql(
        store,
        "INSERT INTO audit_log (seq, at, kind, actor, payload, leaf_hash) "
        "VALUES (:s, :at, 'stage.changed', 'mallory', :p, :h)",
        s=N,
        at="2026-11-26 12:00:00",
        p=body,
        h=leaf.hex(),
    )
    return merkle.root([*leaves, leaf]).hex(), body


def test_inserted_forged_row(store: Store, signer: LogSigner) -> None:
    _fill(store, signer)
    _forge_next(store)
    result = _verify(store, signer)
    assert not result.ok
    assert result.first_bad == N
    assert result.reason == f"entry {N} is not covered by a signed tree head"


def test_inserted_forged_row_with_head_signed_by_another_key(
    store: Store, signer: LogSigner
) -> None:
    _fill(store, signer)
    root_hex, _ = _forge_next(store)
    mallory = LogSigner.from_private_key(Ed25519PrivateKey.generate())
    at = "2026-11-26T12:00:00.000000Z"
    doc = {"tree_size": N + 1, "root_hash": root_hex, "at": at, "key_id": mallory.key_id}
    _sql(
        store,
        "INSERT INTO tree_heads (tree_size, root_hash, at, key_id, signature) "
        "VALUES (:n, :r, :at, :k, :sig)",
        n=N + 1,
        r=root_hex,
        at="2026-11-26 12:00:00",
        k=mallory.key_id,
        sig=mallory.sign(canonical_json(doc)),
    )
    result = _verify(store, signer)
    assert not result.ok
    assert result.first_bad == N
    assert "forged" in result.reason


def test_inserted_row_in_the_middle_breaks_the_chain(store: Store, signer: LogSigner) -> None:
    _fill(store, signer)
    # Shift entries 4.. up by one and put a forged entry at 4 (as far as SQL allows).
    _sql(store, "DELETE FROM tree_heads WHERE tree_size > 4")
    _sql(store, "UPDATE audit_log SET seq = seq + 100 WHERE seq >= 4")
    _sql(store, "UPDATE audit_log SET seq = seq - 99 WHERE seq >= 100")
    first = _payload(store, 5)
    forged = json.loads(first)
    forged["seq"] = 4
    forged["data"] = {"forged": True}
    body = canonical_json(forged).decode()
    _sql(
        store,
        "INSERT INTO audit_log (seq, at, kind, actor, payload, leaf_hash) "
        "VALUES (4, :at, :k, :a, :p, :h)",
        at="2026-11-26 12:00:00",
        k=forged["kind"],
        a=forged["actor"],
        p=body,
        h=merkle.leaf_hash(body.encode()).hex(),
    )
    result = _verify(store, signer)
    assert not result.ok
    assert result.first_bad == 5
    assert "reordered" in result.reason


def test_altered_tree_head_root(store: Store, signer: LogSigner) -> None:
    _fill(store, signer)
    _sql(store, "UPDATE tree_heads SET root_hash = :r WHERE tree_size = 5", r="ab" * 32)
    result = _verify(store, signer)
    assert not result.ok
    assert result.first_bad == 4
    assert "tree head for size 5" in result.reason


def test_altered_kind_column(store: Store, signer: LogSigner) -> None:
    _fill(store, signer)
    _sql(store, "UPDATE audit_log SET kind = 'benign' WHERE seq = 6")
    result = _verify(store, signer)
    assert not result.ok
    assert result.first_bad == 6
    assert "kind column" in result.reason


def test_log_key_is_created_once_with_private_permissions(tmp_path: Path) -> None:
    first = load_or_create_log_key(tmp_path)
    second = load_or_create_log_key(tmp_path)
    assert first.key_id == second.key_id
    private = tmp_path / "log-key.pem"
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert (tmp_path / "log-key.pub.pem").read_text() == first.public_key_pem()


def test_concurrent_appends_from_four_processes(db_url: str, tmp_path: Path) -> None:
    load_or_create_log_key(tmp_path)
    ctx = multiprocessing.get_context("spawn")
    actors = [f"proc{i}" for i in range(4)]
    procs = [
        ctx.Process(target=append_many, args=(db_url, str(tmp_path), actor, 50)) for actor in actors
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
    assert [p.exitcode for p in procs] == [0, 0, 0, 0]
    from custodes.store import open_store

    with open_store(db_url, tmp_path) as store:
        with store.session() as session:
            seqs = session.execute(select(LogEntry.seq).order_by(LogEntry.seq)).scalars().all()
            actor_counts = Counter(session.execute(select(LogEntry.actor)).scalars())
            heads = session.execute(select(TreeHead.tree_size)).scalars().all()
            per_actor: dict[str, set[int]] = {a: set() for a in actors}
            for payload in session.execute(select(LogEntry.payload)).scalars():
                data = json.loads(payload)["data"]
                per_actor[data["actor"]].add(data["i"])
        assert seqs == list(range(200))
        assert sorted(heads) == list(range(1, 201))
        assert actor_counts == dict.fromkeys(actors, 50)
        assert all(v == set(range(50)) for v in per_actor.values())
        signer = load_or_create_log_key(tmp_path)
        result = _verify(store, signer)
        assert result.ok, result.reason
        assert result.size == 200
