"""``custodes audit`` after a real flow: verify, tamper as a DBA, witness, bundles, proofs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import text

from tests.governance.conftest import Project


def _flow(p: Project) -> None:
    path = p.write("models/m.bin", b"weights\n")
    p.ok("registry", "register", "model", "m", path, who="bob")
    p.ok("gate", "request", "m", who="bob")
    p.ok("gate", "approve", "m", who="carol")
    p.ok("gate", "promote", "m", who="bob")


@pytest.fixture
def flowed(light: Project) -> Project:
    _flow(light)
    return light


def _forge(payload: str) -> str:
    forged = payload.replace('"data":{', '"data":{"forged":true,', 1)
    assert forged != payload
    return forged


def _size(p: Project) -> int:
    return len(p.log())


def test_verify_after_a_flow(flowed: Project) -> None:
    r = flowed.ok("audit", "verify")
    assert "audit log verified" in r.out
    assert "extends the witness head" in r.out
    doc = json.loads(flowed.ok("audit", "verify", "--format", "json").out)
    assert doc["ok"] is True
    assert doc["size"] == _size(flowed)


def test_updated_payload_is_named(flowed: Project) -> None:
    p = flowed
    n = _size(p) - 3
    with p.sql() as c:
        payload = c.execute(text("SELECT payload FROM audit_log WHERE seq = :n"), {"n": n}).scalar()
        c.execute(
            text("UPDATE audit_log SET payload = :p WHERE seq = :n"),
            {"p": payload.replace('"bob"', '"eve"').replace('"carol"', '"eve"'), "n": n},
        )
    r = p.fails(1, "audit", "verify")
    assert f"entry {n}:" in r.out, r.out


def test_deleted_row_is_named(flowed: Project) -> None:
    p = flowed
    with p.sql() as c:
        c.execute(text("DELETE FROM audit_log WHERE seq = 4"))
    r = p.fails(1, "audit", "verify")
    assert "entry 4:" in r.out, r.out


def test_reordered_payloads_are_named(flowed: Project) -> None:
    p = flowed
    a, b = 5, 7
    with p.sql() as c:
        rows = dict(
            c.execute(
                text("SELECT seq, payload FROM audit_log WHERE seq IN (:a, :b)"), {"a": a, "b": b}
            ).all()
        )
        for seq, other in ((a, b), (b, a)):
            c.execute(
                text("UPDATE audit_log SET payload = :p WHERE seq = :n"),
                {"p": rows[other], "n": seq},
            )
    r = p.fails(1, "audit", "verify")
    assert f"entry {a}:" in r.out, r.out


def test_inserted_row_is_named(flowed: Project) -> None:
    """A well-formed forged entry appended by SQL: right seq, chained prev_root, correct
    leaf hash, but no signed tree head covers it (only the log key could sign one)."""
    from custodes.governance import merkle
    from custodes.governance.auditlog import canonical_json

    p = flowed
    size = _size(p)
    with p.sql() as c:
        leaves = [
            bytes.fromhex(h)
            for h in c.execute(text("SELECT leaf_hash FROM audit_log ORDER BY seq")).scalars()
        ]
        doc = {
            "seq": size,
            "at": "2026-11-26T12:00:00.000000Z",
            "kind": "stage.changed",
            "actor": "mallory",
            "data": {"artifact": "m", "to": "production"},
            "prev_root": merkle.root(leaves).hex(),
        }
        body = canonical_json(doc).decode()
        c.execute(
            text(
                "INSERT INTO audit_log (seq, at, kind, actor, payload, leaf_hash) "
                "VALUES (:s, :at, 'stage.changed', 'mallory', :p, :h)"
            ),
            {
                "s": size,
                "at": "2026-11-26 12:00:00",
                "p": body,
                "h": merkle.leaf_hash(body.encode()).hex(),
            },
        )
    r = p.fails(1, "audit", "verify")
    assert f"entry {size}:" in r.out, r.out
    assert "not covered by a signed tree head" in r.out, r.out


def test_rewritten_tree_head_is_named(flowed: Project) -> None:
    p = flowed
    k = 4
    with p.sql() as c:
        c.execute(
            text("UPDATE tree_heads SET root_hash = :r WHERE tree_size = :k"),
            {"r": "ab" * 32, "k": k},
        )
    r = p.fails(1, "audit", "verify")
    assert f"entry {k - 1}:" in r.out, r.out
    assert f"tree head for size {k}" in r.out, r.out


def test_re_signed_tree_head_is_named(flowed: Project, tmp_path: Path) -> None:
    """A head rewritten and signed again, with a key that is not the log key."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from custodes.governance.auditlog import LogSigner, canonical_json

    p = flowed
    k = 3
    mallory = LogSigner.from_private_key(Ed25519PrivateKey.generate())
    with p.sql() as c:
        root = c.execute(
            text("SELECT root_hash FROM tree_heads WHERE tree_size = :k"), {"k": k}
        ).scalar_one()
        at = "2026-11-26T12:00:00.000000Z"
        doc = {"tree_size": k, "root_hash": root, "at": at, "key_id": mallory.key_id}
        c.execute(
            text(
                "UPDATE tree_heads SET at = :at, key_id = :kid, signature = :sig "
                "WHERE tree_size = :k"
            ),
            {
                "at": "2026-11-26 12:00:00",
                "kid": mallory.key_id,
                "sig": mallory.sign(canonical_json(doc)),
                "k": k,
            },
        )
    r = p.fails(1, "audit", "verify")
    assert f"entry {k - 1}:" in r.out, r.out
    assert "forged" in r.out, r.out


def test_witness_catches_a_truncated_tail(flowed: Project) -> None:
    p = flowed
    size = _size(p)
    keep = size - 2
    with p.sql() as c:
        c.execute(text("DELETE FROM audit_log WHERE seq >= :k"), {"k": keep})
        c.execute(text("DELETE FROM tree_heads WHERE tree_size > :k"), {"k": keep})
    r = p.fails(1, "audit", "verify")
    assert f"entry {keep}:" in r.out, r.out
    assert "truncated" in r.out, r.out
    # Without the witness the shortened log is self-consistent: the witness is what caught it.
    witness = p.root / ".custodes" / "witness.json"
    saved = witness.read_text()
    witness.unlink()
    p.ok("audit", "verify")
    witness.write_text(saved)
    p.fails(1, "audit", "verify")


def test_export_then_verify_bundle(flowed: Project, tmp_path: Path) -> None:
    p = flowed
    bundle = tmp_path / "bundle.json"
    p.ok("audit", "export", "-o", bundle)
    r = p.cli("audit", "verify", "--bundle", bundle)
    assert r.code == 0, r.out + r.err
    doc = json.loads(bundle.read_text())
    assert len(doc["entries"]) == _size(p)
    doc["entries"][3]["payload"] = _forge(doc["entries"][3]["payload"])
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(doc, indent=1))
    r = p.cli("audit", "verify", "--bundle", bad)
    assert r.code == 1, r.out
    assert "entry 3:" in r.out, r.out
    # A bundle checked against the project's witness head.
    r = p.cli("audit", "verify", "--bundle", bundle, "--witness", p.root / ".custodes/witness.json")
    assert r.code == 0, r.out + r.err


def test_prove_then_check_proof(flowed: Project, tmp_path: Path) -> None:
    p = flowed
    proof = tmp_path / "proof.json"
    p.ok("audit", "prove", "2", "-o", proof)
    r = p.cli("audit", "check-proof", proof)
    assert r.code == 0, r.out
    assert "entry 2 is included" in r.out, r.out
    doc = json.loads(proof.read_text())
    doc["payload"] = _forge(doc["payload"])
    bad = tmp_path / "bad-proof.json"
    bad.write_text(json.dumps(doc))
    r = p.cli("audit", "check-proof", bad)
    assert r.code == 1, r.out
    assert "FAILED" in r.out, r.out
    doc = json.loads(proof.read_text())
    doc["audit_path"] = list(reversed(doc["audit_path"])) or ["00" * 32]
    doc["audit_path"][0] = "ff" * 32
    bad.write_text(json.dumps(doc))
    assert p.cli("audit", "check-proof", bad).code == 1
    r = p.fails(2, "audit", "prove", "999")
    assert "999" in r.err


def test_malformed_bundle_and_proof_name_file_and_line(flowed: Project, tmp_path: Path) -> None:
    p = flowed
    broken = tmp_path / "broken.json"
    broken.write_text('{\n  "entries": [\n    {"seq": 0,,}\n  ]\n}\n')
    r = p.cli("audit", "verify", "--bundle", broken)
    assert r.code == 2, r.err
    assert f"{broken}:3:" in r.err, r.err
    r = p.cli("audit", "check-proof", broken)
    assert r.code == 2, r.err
    assert f"{broken}:3:" in r.err, r.err
    assert "Traceback" not in r.err
    # Valid JSON of the wrong shape is bad input too, not a failed check.
    shape = tmp_path / "shape.json"
    shape.write_text('{\n  "entries": 5\n}\n')
    r = p.cli("audit", "verify", "--bundle", shape)
    assert r.code == 2, r.out + r.err
    assert str(shape) in r.err, r.out + r.err
    r = p.cli("audit", "check-proof", shape)
    assert r.code == 2, r.out + r.err
    assert str(shape) in r.err, r.out + r.err
    missing = tmp_path / "nope.json"
    assert p.cli("audit", "check-proof", missing).code == 2


def test_a_write_after_a_clean_truncation_keeps_the_witness(flowed: Project) -> None:
    """A DBA who cuts the tail and repairs the log state so new entries chain on: the
    next legitimate write must not replace the witness with the shortened log's head."""
    from custodes.governance import merkle

    p = flowed
    keep = _size(p) - 3
    with p.sql() as c:
        leaves = (
            c.execute(
                text("SELECT leaf_hash FROM audit_log WHERE seq < :k ORDER BY seq"), {"k": keep}
            )
            .scalars()
            .all()
        )
        frontier = merkle.Frontier()
        for leaf in leaves:
            frontier.append(bytes.fromhex(leaf))
        c.execute(text("DELETE FROM audit_log WHERE seq >= :k"), {"k": keep})
        c.execute(text("DELETE FROM tree_heads WHERE tree_size > :k"), {"k": keep})
        c.execute(
            text("UPDATE log_state SET size = :s, frontier = :f WHERE id = 1"),
            {"s": keep, "f": frontier.to_json()},
        )
    p.ok("registry", "register", "model", "n", p.write("models/n.bin", b"n\n"), who="bob")
    r = p.fails(1, "audit", "verify")
    assert "FAILED" in r.out, r.out


def test_forged_files_fail_against_the_trusted_log_key(
    flowed: Project, tmp_path: Path, keys: dict[str, Path]
) -> None:
    """A forger exports their own log (their own key) and passes it off as ours."""
    p = flowed
    log_key = p.root / ".custodes" / "log-key.pub.pem"
    bundle, proof = tmp_path / "bundle.json", tmp_path / "proof.json"
    p.ok("audit", "export", "-o", bundle)
    p.ok("audit", "prove", "1", "-o", proof)
    assert p.cli("audit", "verify", "--bundle", bundle, "--log-key", log_key).code == 0
    assert p.cli("audit", "check-proof", proof, "--log-key", log_key).code == 0
    # The forger's store: same flow, different project folder, so a different log key.
    forger = Project(tmp_path / "forger", None, keys, p.cli)
    forger.root.mkdir()
    from tests.governance.conftest import LIGHT_POLICY, populate

    populate(forger, LIGHT_POLICY)
    _flow(forger)
    fake_bundle, fake_proof = tmp_path / "fake-bundle.json", tmp_path / "fake-proof.json"
    forger.ok("audit", "export", "-o", fake_bundle)
    forger.ok("audit", "prove", "1", "-o", fake_proof)
    # On their own they check: the file vouches for itself.
    assert p.cli("audit", "verify", "--bundle", fake_bundle).code == 0
    assert p.cli("audit", "check-proof", fake_proof).code == 0
    r = p.cli("audit", "verify", "--bundle", fake_bundle, "--log-key", log_key)
    assert r.code == 1, r.out
    assert "not the trusted log key" in r.out
    r = p.cli("audit", "check-proof", fake_proof, "--log-key", log_key)
    assert r.code == 1, r.out
    assert "not the trusted log key" in r.out


def test_consistency_proof_from_a_kept_head(flowed: Project, tmp_path: Path) -> None:
    """A witness keeps a signed head; later, a consistency proof shows the log grew from
    it without rewriting anything; after a DBA rewrites an early entry, it cannot."""
    p = flowed
    kept = tmp_path / "kept-head.json"
    kept.write_text((p.root / ".custodes" / "witness.json").read_text(), encoding="utf-8")
    old_size = json.loads(kept.read_text())["tree_size"]
    more = p.write("models/m2.bin", b"other weights\n")
    p.ok("registry", "register", "model", "m2", more, who="bob")
    p.ok("gate", "request", "m2", who="bob")
    proof = tmp_path / "consistency.json"
    p.ok("audit", "prove-consistency", str(old_size), "-o", proof)
    doc = json.loads(proof.read_text())
    assert doc["old_head"]["tree_size"] == old_size
    assert doc["new_head"]["tree_size"] == _size(p)
    r = p.cli("audit", "check-proof", str(proof), "--witness", str(kept))
    assert r.code == 0, r.out + r.err
    assert f"extends the log of size {old_size}" in r.out
    # a proof tampered with, or one that starts from another head, fails
    bad = dict(doc, proof=[h[::-1] for h in doc["proof"]])
    (tmp_path / "bad.json").write_text(json.dumps(bad), encoding="utf-8")
    assert p.cli("audit", "check-proof", str(tmp_path / "bad.json")).code == 1
    other = json.loads(kept.read_text())
    other["root_hash"] = "00" * 32
    (tmp_path / "other-head.json").write_text(json.dumps(other), encoding="utf-8")
    r = p.cli("audit", "check-proof", str(proof), "--witness", str(tmp_path / "other-head.json"))
    assert r.code == 1
    # A DBA rewrites entry 1 and recomputes everything after it except the signatures:
    # the proof from the kept head can no longer be made to verify.
    with p.sql() as c:
        payload = c.execute(text("SELECT payload FROM audit_log WHERE seq = 1")).scalar()
        forged = _forge(payload)
        from custodes.governance import merkle

        c.execute(
            text("UPDATE audit_log SET payload = :p, leaf_hash = :h WHERE seq = 1"),
            {"p": forged, "h": merkle.leaf_hash(forged.encode()).hex()},
        )
    again = tmp_path / "after-rewrite.json"
    p.ok("audit", "prove-consistency", str(old_size), "-o", again)
    r = p.cli("audit", "check-proof", str(again), "--witness", str(kept))
    assert r.code == 1
    assert "does not extend" in r.out


@pytest.mark.parametrize("head", ["{}", '{"tree_size": "x"}', "[1, 2]"])
def test_witness_file_of_the_wrong_shape_is_exit_2(
    flowed: Project, tmp_path: Path, head: str
) -> None:
    witness = tmp_path / "head.json"
    witness.write_text(head, encoding="utf-8")
    r = flowed.fails(2, "audit", "verify", "--witness", witness)
    assert str(witness) in r.err


@pytest.mark.parametrize("head", ["{}", '{"key_id": "x"}'])
def test_project_witness_of_the_wrong_shape_fails_verification_cleanly(
    flowed: Project, head: str
) -> None:
    """The project's own witness head, rewritten into something that is not a signed
    head, makes the log unverifiable (exit 1, named), never an internal error."""
    (flowed.root / ".custodes" / "witness.json").write_text(head, encoding="utf-8")
    r = flowed.fails(1, "audit", "verify")
    assert "trusted tree head is not valid" in r.out + r.err
    assert "internal error" not in r.out + r.err


def test_check_proof_blames_the_witness_file_and_refuses_it_for_inclusion(
    flowed: Project, tmp_path: Path
) -> None:
    p = flowed
    old_size = json.loads((p.root / ".custodes" / "witness.json").read_text())["tree_size"]
    more = p.write("models/m3.bin", b"more weights\n")
    p.ok("registry", "register", "model", "m3", more, who="bob")
    consistency, inclusion = tmp_path / "consistency.json", tmp_path / "inclusion.json"
    p.ok("audit", "prove-consistency", str(old_size), "-o", consistency)
    p.ok("audit", "prove", "1", "-o", inclusion)
    shapeless = tmp_path / "kept.json"
    shapeless.write_text("{}", encoding="utf-8")
    r = p.cli("audit", "check-proof", consistency, "--witness", shapeless)
    assert r.code == 2
    assert str(shapeless) in r.err
    assert str(consistency) not in r.err
    r = p.cli("audit", "check-proof", inclusion, "--witness", shapeless)
    assert r.code == 2
    assert "consistency proofs only" in r.err
