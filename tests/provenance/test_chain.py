"""verify-chain: model → attestation → datasets → sources; each broken link named, exit 1."""

from __future__ import annotations

import base64
import json
from typing import Any

from custodes.provenance.attest import PAYLOAD_TYPE, STATEMENT_TYPE, pae
from tests.provenance.conftest import Cli, World


def _verify(cli: Cli, world: World, *extra: object) -> tuple[int, dict[str, Any]]:
    res = cli("provenance", "verify-chain", world.model, "--attestation", world.attestation,
              "--public-key", world.public, "--format", "json", *extra)  # fmt: skip
    assert res.code in (0, 1), res.err
    return res.code, json.loads(res.out)


def test_attestation_is_an_in_toto_statement_in_dsse(world: World) -> None:
    env = json.loads(world.attestation.read_text())
    assert env["payloadType"] == PAYLOAD_TYPE == "application/vnd.in-toto+json"
    statement = json.loads(base64.b64decode(env["payload"]))
    assert statement["_type"] == STATEMENT_TYPE
    assert statement["subject"][0]["name"] == "model.bin"
    assert len(statement["subject"][0]["digest"]["sha256"]) == 64
    deps = statement["predicate"]["buildDefinition"]["resolvedDependencies"]
    assert deps[0]["digest"]["gitCommit"].startswith("0123456789")
    assert deps[1]["annotations"]["events"] == 3
    params = statement["predicate"]["buildDefinition"]["externalParameters"]["parameters"]
    assert params == {"lr": "0.01"}
    assert pae("a", b"xyz") == b"DSSEv1 1 a 3 xyz"  # the DSSE spec's encoding


def test_happy_path_holds(world: World, cli: Cli) -> None:
    code, report = _verify(cli, world)
    assert code == 0, report
    assert report["verdict"] == "ok"
    assert report["broken"] is None
    names = [link["link"] for link in report["links"]]
    assert "dataset clinic: custody events" in names
    assert "dataset forum: source" in names
    res = cli("provenance", "verify-chain", world.model, "--attestation", world.attestation,
              "--public-key", world.public)  # fmt: skip
    assert res.code == 0
    assert "chain of custody holds" in res.out


def test_tampered_model_byte(world: World, cli: Cli) -> None:
    data = bytearray(world.model.read_bytes())
    data[100] ^= 1
    world.model.write_bytes(bytes(data))
    code, report = _verify(cli, world)
    assert code == 1
    assert report["broken"]["link"] == "model digest"


def test_tampered_dataset_file(world: World, cli: Cli) -> None:
    part = world.forum / "part-0.parquet"
    data = bytearray(part.read_bytes())
    data[10] ^= 1
    part.write_bytes(bytes(data))
    code, report = _verify(cli, world)
    assert code == 1
    assert report["broken"]["link"] == "dataset forum: files"
    assert "changed part-0.parquet" in report["broken"]["detail"]


def test_forged_attestation_payload(world: World, cli: Cli) -> None:
    env = json.loads(world.attestation.read_text())
    statement = json.loads(base64.b64decode(env["payload"]))
    statement["predicate"]["buildDefinition"]["resolvedDependencies"].pop()  # hide the forum
    env["payload"] = base64.b64encode(json.dumps(statement).encode()).decode()
    world.attestation.write_text(json.dumps(env))
    code, report = _verify(cli, world)
    assert code == 1
    assert report["broken"]["link"] == "attestation signature"
    assert "does not match" in report["broken"]["detail"]


def test_wrong_key(world: World, cli: Cli) -> None:
    res = cli("provenance", "verify-chain", world.model, "--attestation", world.attestation,
              "--public-key", world.other_public, "--format", "json")  # fmt: skip
    report = json.loads(res.out)
    assert res.code == 1
    assert report["broken"]["link"] == "attestation signature"
    assert "not by a trusted key" in report["broken"]["detail"]


def test_dropped_event_breaks_the_chain(world: World, cli: Cli) -> None:
    log = world.log(world.clinic)
    lines = log.read_text().splitlines()
    log.write_text("\n".join([lines[0], lines[2]]) + "\n")
    code, report = _verify(cli, world)
    assert code == 1
    assert report["broken"]["link"] == "dataset clinic: custody events"
    assert "events.jsonl:2: " in report["broken"]["detail"]  # named by line
    assert "dropped" in report["broken"]["detail"]


def test_truncated_log_tail_is_caught_by_the_pin(world: World, cli: Cli) -> None:
    log = world.log(world.clinic)
    log.write_text("\n".join(log.read_text().splitlines()[:2]) + "\n")
    code, report = _verify(cli, world)
    assert code == 1
    assert "attestation saw 3" in report["broken"]["detail"]


def test_edited_manifest_is_caught(world: World, cli: Cli) -> None:
    manifest = world.manifest(world.forum)
    doc = json.loads(manifest.read_text())
    doc["provenance"]["tier"] = "first_party"  # launder the tier
    manifest.write_text(json.dumps(doc))
    code, report = _verify(cli, world)
    assert code == 1
    assert report["broken"]["link"] == "dataset forum: manifest signature"


def test_bad_input_exits_2(world: World, cli: Cli) -> None:
    world.attestation.write_text("{not json")
    res = cli("provenance", "verify-chain", world.model, "--attestation", world.attestation,
              "--public-key", world.public)  # fmt: skip
    assert res.code == 2
    assert "not JSON" in res.err
    res = cli("provenance", "verify-chain", world.root / "nope.bin", "--attestation",
              world.attestation, "--public-key", world.public)  # fmt: skip
    assert res.code == 2
