"""Custody events: signed, hash-chained; a dropped, edited or reordered event is named by line."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from custodes.errors import UsageError
from custodes.provenance.events import Kind, append_event, make_details, verify_log
from custodes.provenance.keys import key_id, load_private_key, load_public_key
from tests.provenance.conftest import Cli, World


def _trusted(*paths: Path) -> dict[str, Ed25519PublicKey]:
    keys = [load_public_key(p) for p in paths]
    return {key_id(k): k for k in keys}


def _lines(log: Path) -> list[str]:
    return log.read_text().splitlines()


def test_events_are_chained_signed_and_complete(world: World) -> None:
    log = world.log(world.clinic)
    events = [json.loads(line) for line in _lines(log)]
    assert [e["kind"] for e in events] == ["acquired", "transformed", "validated"]
    assert [e["seq"] for e in events] == [0, 1, 2]
    assert events[0]["prev"] is None
    assert events[1]["prev"]
    assert events[2]["prev"]
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", e["ts"]) for e in events)
    assert events[1]["details"] == {"step": "dedupe", "commit": "abc1234", "parameters": {"k": "5"}}
    assert events[2]["details"]["verdict"] == "pass"
    root = json.loads(world.manifest(world.clinic).read_text())["merkle_root"]
    check = verify_log(log, _trusted(world.public), root)
    assert check.ok, check.problems
    assert check.events == 3


def test_dropped_event_is_named(world: World) -> None:
    log = world.log(world.clinic)
    lines = _lines(log)
    log.write_text("\n".join([lines[0], lines[2]]) + "\n")
    check = verify_log(log, _trusted(world.public))
    assert [n for n, _ in check.problems] == [2]
    assert "dropped" in check.problems[0][1]


def test_edited_event_is_named(world: World) -> None:
    log = world.log(world.clinic)
    lines = _lines(log)
    event = json.loads(lines[2])
    event["details"]["verdict"] = "fail-but-who-checks"
    lines[2] = json.dumps(event, sort_keys=True)
    log.write_text("\n".join(lines) + "\n")
    check = verify_log(log, _trusted(world.public))
    assert check.problems == [(3, "signature invalid: event edited after it was signed")]


def test_reordered_events_are_named(world: World) -> None:
    log = world.log(world.clinic)
    a, b, c = _lines(log)
    log.write_text("\n".join([a, c, b]) + "\n")
    check = verify_log(log, _trusted(world.public))
    assert check.problems
    assert check.problems[0][0] == 2


def test_untrusted_signer_and_garbled_line_are_named(world: World) -> None:
    log = world.log(world.clinic)
    check = verify_log(log, _trusted(world.other_public))
    assert check.problems[0][0] == 1
    assert "untrusted key" in check.problems[0][1]
    lines = _lines(log)
    log.write_text("\n".join([lines[0], lines[1][:-5], lines[2]]) + "\n")
    check = verify_log(log, _trusted(world.public))
    assert check.problems[0][0] == 2
    assert "not valid JSON" in check.problems[0][1]


def test_replayed_event_from_another_manifest_is_caught(world: World) -> None:
    forum_root = json.loads(world.manifest(world.forum).read_text())["merkle_root"]
    check = verify_log(world.log(world.clinic), _trusted(world.public), forum_root)
    assert check.problems[0][0] == 1
    assert "another artifact" in check.problems[0][1]


def test_kind_requires_its_details(world: World) -> None:
    with pytest.raises(UsageError, match="--run, --model-digest"):
        make_details(Kind.trained, {"run": None}, {})
    key = load_private_key(world.private)
    event = append_event(
        world.manifest(world.forum), Kind.trained, "ci",
        make_details(Kind.trained, {"run": "r1", "model_digest": "ab" * 32}, {}), key,
    )  # fmt: skip
    assert event["seq"] == 0
    assert event["details"]["run"] == "r1"


def test_event_cli_rejects_missing_details(world: World, cli: Cli) -> None:
    res = cli("provenance", "event", world.manifest(world.clinic), "--kind", "transformed",
              "--key", world.private)  # fmt: skip
    assert res.code == 2
    assert "--step" in res.err


def test_verify_still_clean_with_log_inside_the_tree(world: World, cli: Cli) -> None:
    res = cli("provenance", "verify", world.clinic, "--public-key", world.public)
    assert res.code == 0, res.out + res.err
