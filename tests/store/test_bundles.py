"""Offline evidence: one entry's inclusion bundle and the whole-log export bundle."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from custodes.errors import InputError
from custodes.governance.auditlog import (
    LogSigner,
    append,
    check_inclusion_bundle,
    export_bundle,
    inclusion_bundle,
    latest_head,
    verify_bundle,
)
from custodes.store import Store

N = 11


@pytest.fixture
def filled(store: Store, signer: LogSigner) -> Store:
    for i in range(N):
        with store.session.begin() as session:
            append(session, signer, "signoff.recorded", "bob", {"i": i, "decision": "approve"})
    return store


def _bundle(store: Store, seq: int) -> dict[str, Any]:
    with store.session() as session:
        bundle = inclusion_bundle(session, seq)
    return json.loads(json.dumps(bundle))  # it must survive a trip through a file


def _export(store: Store, signer: LogSigner) -> dict[str, Any]:
    with store.session() as session:
        bundle = export_bundle(session, signer.public_key_pem())
    return json.loads(json.dumps(bundle))


@pytest.mark.parametrize("seq", [0, 5, N - 1])
def test_inclusion_bundle_checks(filled: Store, signer: LogSigner, seq: int) -> None:
    bundle = _bundle(filled, seq)
    ok, reason = check_inclusion_bundle(bundle)
    assert ok, reason
    assert f"entry {seq} is included in the log of size {N}" in reason
    assert bundle["tree_head"]["key_id"] == signer.key_id
    assert bundle["public_key_pem"] == signer.public_key_pem()


def _payload_edit(b: dict[str, Any]) -> None:
    b["payload"] = b["payload"].replace("approve", "reject")


def _path_edit(b: dict[str, Any]) -> None:
    b["audit_path"][0] = "00" * 32


def _root_edit(b: dict[str, Any]) -> None:
    b["root_hash"] = "11" * 32
    b["tree_head"]["root_hash"] = "11" * 32


def _index_edit(b: dict[str, Any]) -> None:
    b["index"] = b["index"] + 1


def _key_edit(b: dict[str, Any]) -> None:
    other = LogSigner.from_private_key(Ed25519PrivateKey.generate())
    b["public_key_pem"] = other.public_key_pem()


def _missing_edit(b: dict[str, Any]) -> None:
    del b["audit_path"]


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (_payload_edit, "payload does not match the leaf hash"),
        (_path_edit, "audit path fails"),
        (_root_edit, "signature does not verify"),
        (_index_edit, "another position"),
        (_key_edit, "not by the log key"),
        (_missing_edit, "malformed inclusion bundle"),
    ],
)
def test_modified_inclusion_bundle_fails(filled: Store, edit: Any, expected: str) -> None:
    bundle = _bundle(filled, 5)
    edit(bundle)
    ok, reason = check_inclusion_bundle(bundle)
    assert not ok
    assert expected in reason


def test_inclusion_bundle_for_unknown_entry(filled: Store) -> None:
    with filled.session() as session, pytest.raises(InputError, match="entry 99"):
        inclusion_bundle(session, 99)


def test_export_bundle_verifies_offline(filled: Store, signer: LogSigner) -> None:
    bundle = _export(filled, signer)
    assert bundle["size"] == N
    assert len(bundle["entries"]) == N
    assert len(bundle["heads"]) == N
    result = verify_bundle(bundle)
    assert result.ok, result.reason
    assert result.size == N
    with filled.session() as session:
        assert result.head == latest_head(session)
    assert verify_bundle(bundle, trusted_head=bundle["heads"][3]).ok


def test_modified_export_bundle_names_the_bad_entry(filled: Store, signer: LogSigner) -> None:
    bundle = _export(filled, signer)
    altered = copy.deepcopy(bundle)
    altered["entries"][6]["payload"] = altered["entries"][6]["payload"].replace("approve", "reject")
    result = verify_bundle(altered)
    assert not result.ok
    assert result.first_bad == 6
    assert "entry 6 was altered" in result.reason

    dropped = copy.deepcopy(bundle)
    del dropped["entries"][2]
    result = verify_bundle(dropped)
    assert (result.ok, result.first_bad) == (False, 2)
    assert "entry 2 is missing" in result.reason

    truncated = copy.deepcopy(bundle)
    truncated["entries"].pop()
    truncated["heads"].pop()
    assert verify_bundle(truncated).ok
    result = verify_bundle(truncated, trusted_head=bundle["heads"][-1])
    assert (result.ok, result.first_bad) == (False, N - 1)


def test_malformed_export_bundle(filled: Store, signer: LogSigner) -> None:
    bundle = _export(filled, signer)
    del bundle["entries"]
    result = verify_bundle(bundle)
    assert not result.ok
    assert "malformed" in result.reason
