"""Verification in chunks, in this process or over a process pool, names exactly the same
first bad entry (and reports the same size and newest good head) as one sequential pass."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from custodes.governance import auditlog, merkle
from custodes.governance.auditlog import (
    LogSigner,
    append_many,
    canonical_json,
    export_bundle,
    verify,
    verify_bundle,
)
from custodes.store import Store

N = 23

Tamper = Callable[[dict[str, Any]], None]


def _set_payload(doc: dict[str, Any], seq: int, payload: str, rehash: bool = False) -> None:
    doc["entries"][seq]["payload"] = payload
    if rehash:
        doc["entries"][seq]["leaf_hash"] = merkle.leaf_hash(payload.encode()).hex()


def _forge_head(doc: dict[str, Any], size: int) -> None:
    mallory = LogSigner.from_private_key(Ed25519PrivateKey.generate())
    head = doc["heads"][size - 1]
    head["key_id"] = mallory.key_id
    body = {k: head[k] for k in ("tree_size", "root_hash", "at", "key_id")}
    head["signature"] = mallory.sign(canonical_json(body))


def _swap(doc: dict[str, Any], a: int, b: int) -> None:
    ea, eb = doc["entries"][a], doc["entries"][b]
    ea["payload"], eb["payload"] = eb["payload"], ea["payload"]


TAMPERS: dict[str, Tamper] = {
    "untouched": lambda d: None,
    "altered payload": lambda d: _set_payload(
        d, 13, d["entries"][13]["payload"].replace('"i":13', '"i":99')
    ),
    "altered payload, rehashed": lambda d: _set_payload(
        d, 7, d["entries"][7]["payload"].replace('"i":7', '"i":99'), rehash=True
    ),
    "deleted entry": lambda d: d["entries"].pop(5),
    "duplicated entry": lambda d: d["entries"].insert(9, copy.deepcopy(d["entries"][8])),
    "swapped entries": lambda d: _swap(d, 2, 17),
    "bad leaf hash text": lambda d: d["entries"][4].update(leaf_hash="not hex"),
    "altered kind": lambda d: d["entries"][20].update(kind="benign"),
    "altered head root": lambda d: d["heads"][9].update(root_hash="ab" * 32),
    "forged head": lambda d: _forge_head(d, 6),
    "forged head before altered entry": lambda d: (
        _forge_head(d, 6),
        _set_payload(d, 8, d["entries"][8]["payload"].replace('"i":8', '"i":99')),
    ),
    "bad signature text": lambda d: d["heads"][11].update(signature="!!"),
    "other signature": lambda d: d["heads"][12].update(signature=d["heads"][13]["signature"]),
    "size-0 head": lambda d: d["heads"].insert(0, {**d["heads"][0], "tree_size": 0}),
    "head beyond the log": lambda d: d["heads"].append({**d["heads"][-1], "tree_size": N + 5}),
    "last head removed": lambda d: d["heads"].pop(),
    "middle heads removed": lambda d: d["heads"].__delitem__(slice(3, 12)),
    "truncated": lambda d: (
        d["entries"].__delitem__(slice(15, None)),
        d["heads"].__delitem__(slice(15, None)),
    ),
}


@pytest.fixture
def bundle(store: Store, signer: LogSigner) -> dict[str, Any]:
    with store.session.begin() as session:
        append_many(session, signer, [("k", f"u{i % 3}", {"i": i}) for i in range(N)])
    with store.session() as session:
        doc = export_bundle(session, signer.public_key_pem())
    return json.loads(json.dumps(doc))


def _small_chunks(monkeypatch: pytest.MonkeyPatch, chunk: int, parallel_after: int) -> None:
    monkeypatch.setattr(auditlog, "_CHUNK", chunk)
    monkeypatch.setattr(auditlog, "_PARALLEL_AFTER", parallel_after)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("chunk", [1, 3, 5])
def test_chunks_name_the_same_first_bad_entry(
    bundle: dict[str, Any], signer: LogSigner, monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    """Also when heads are checked by re-signing them with the log's private key."""
    witnessed = bundle["heads"][17]
    for name, tamper in TAMPERS.items():
        doc = copy.deepcopy(bundle)
        tamper(doc)
        for trusted in (None, witnessed):
            with monkeypatch.context() as m:
                _small_chunks(m, 10_000, 10_000)
                whole = verify_bundle(doc, trusted, workers=1)
            with monkeypatch.context() as m:
                _small_chunks(m, chunk, 10_000)
                chunked = verify_bundle(doc, trusted, workers=1)
            assert chunked == whole, (name, trusted is not None)
            with monkeypatch.context() as m:
                _small_chunks(m, chunk, 10_000)
                resigned = verify_bundle(doc, trusted, workers=1, signer=signer)
            assert resigned == whole, (name, trusted is not None)
            # Heads need not cover every size; only the newest must cover the whole log.
            fine = {"untouched", "middle heads removed"} | ({"truncated"} if not trusted else set())
            assert whole.ok == (name in fine), (name, whole.reason)


def test_process_pool_names_the_same_first_bad_entry(
    store: Store, signer: LogSigner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through the database and a real pool of worker processes, on both backends."""
    with store.session.begin() as session:
        append_many(session, signer, [("k", f"u{i % 3}", {"i": i}) for i in range(N)])
    _small_chunks(monkeypatch, 2, 4)
    with store.session() as session:
        result = verify(session, signer.public_key, workers=2)
        assert verify(session, signer.public_key, workers=2, signer=signer) == result
    assert result.ok, result.reason
    assert result.size == N
    assert result.head is not None
    assert result.head["tree_size"] == N
    with store.session() as session:
        doc = json.loads(json.dumps(export_bundle(session, signer.public_key_pem())))
    for name in ("forged head before altered entry", "altered head root", "truncated"):
        tampered = copy.deepcopy(doc)
        TAMPERS[name](tampered)
        pooled = verify_bundle(tampered, doc["heads"][-1], workers=2)
        monkeypatch.setattr(auditlog, "_CHUNK", 10_000)
        assert pooled == verify_bundle(tampered, doc["heads"][-1], workers=1), name
        assert not pooled.ok
        _small_chunks(monkeypatch, 2, 4)
