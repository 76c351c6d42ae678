"""assess verifies model signatures and training attestations, measures the user-generated
share against the policy limit, and lets only verification mark provenance controls done."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from custodes.assess import assess
from custodes.threatmodel.model import ControlRef
from tests.conftest import TODAY
from tests.provenance.conftest import Cli, World

SYSTEM = """\
version: 1
system: {{name: t, consequence: high}}
sources:
  - {{id: clinic, tier: broker, manifest: clinic/custodes-manifest.json}}
  - {{id: forum, tier: user_generated, manifest: forum/custodes-manifest.json}}
processes:
  - {{id: train, kind: training}}
models:
  - id: m
    format: other
    origin: third_party
    path: model.bin
{model_extra}
flows:
  - {{from: clinic, to: train}}
  - {{from: forum, to: train}}
  - {{from: train, to: m}}
controls:
  - {{id: SUPPLYCHAINMANAGE, status: implemented, applies_to: [clinic, m], evidence: we sign everything}}
"""

ATTESTED = "    attestation: att.json\n    public_keys: [keys/alice.pub.pem]"


def _write(world: World, model_extra: str = "") -> Path:
    path = world.root / "custodes.yaml"
    path.write_text(SYSTEM.format(model_extra=model_extra), encoding="utf-8")
    return path


def _rules(world: World, **kw: float) -> dict[str, list[str]]:
    a = assess(world.root, today=TODAY, scan=False, **kw)  # type: ignore[arg-type]
    out: dict[str, list[str]] = {}
    for f in a.findings:
        if f.rule_id.startswith("PROV-"):
            out.setdefault(f.rule_id, []).append(f.message)
    return out


def _control(world: World, element: str) -> ControlRef:
    a = assess(world.root, today=TODAY, scan=False)
    assert a.threat_model is not None
    for t in a.threat_model.threats:
        if t.element_id == element:
            for ref in t.controls:
                if ref.id == "SUPPLYCHAINMANAGE":
                    return ref
    raise AssertionError(f"no SUPPLYCHAINMANAGE on {element}")


def test_unsigned_model_is_a_finding(world: World) -> None:
    _write(world)
    rules = _rules(world)
    assert "PROV-MODEL-UNSIGNED" in rules
    assert "nothing proves" in rules["PROV-MODEL-UNSIGNED"][0]
    # the declaration alone does not make the control implemented
    ref = _control(world, "m")
    assert ref.status == "missing"
    assert ref.evidence is not None
    assert "not verified" in ref.evidence


def test_claiming_signed_without_a_signature_is_high(world: World) -> None:
    _write(world, "    signed: true")
    a = assess(world.root, today=TODAY, scan=False)
    f = next(f for f in a.findings if f.rule_id == "PROV-MODEL-UNSIGNED")
    assert f.severity.value == "high"
    assert "signed: true" in f.message


def test_verified_attestation_marks_the_control_implemented(world: World) -> None:
    _write(world, ATTESTED)
    assert "PROV-MODEL-UNSIGNED" not in _rules(world)
    assert not _rules(world)
    ref = _control(world, "m")
    assert ref.status == "implemented"
    assert ref.evidence is not None
    assert ref.evidence.startswith("verified by custodes")
    a = assess(world.root, today=TODAY, scan=False)
    (outcome,) = a.models
    assert outcome.status == "verified"
    assert outcome.user_generated_share == pytest.approx(10 / 40)
    assert "provenance" in a.analyzers


def test_tampered_model_breaks_the_chain_and_the_control(world: World) -> None:
    _write(world, ATTESTED)
    data = bytearray(world.model.read_bytes())
    data[100] ^= 1
    world.model.write_bytes(bytes(data))
    rules = _rules(world)
    (msg,) = rules["PROV-MODEL-BROKEN"]
    assert "model digest" in msg
    assert _control(world, "m").status == "missing"
    a = assess(world.root, today=TODAY, scan=False)
    assert a.threat_model is not None
    secure = a.threat_model.diagnostic.questions[0]
    assert any("fails attestation verification" in g.detail for g in secure.gaps)


def test_wrong_key_is_named(world: World) -> None:
    _write(world, "    attestation: att.json\n    public_keys: [keys/mallory.pub.pem]")
    (msg,) = _rules(world)["PROV-MODEL-BROKEN"]
    assert "attestation signature" in msg


def test_attestation_without_a_key_is_unverifiable(world: World) -> None:
    _write(world, "    attestation: att.json")
    (msg,) = _rules(world)["PROV-MODEL-UNVERIFIABLE"]
    assert "public_keys" in msg


def test_unreadable_key_is_unverifiable_not_a_crash(world: World) -> None:
    (world.root / "keys" / "junk.pem").write_text("not a key", encoding="utf-8")
    _write(world, "    attestation: att.json\n    public_keys: [keys/junk.pem]")
    (msg,) = _rules(world)["PROV-MODEL-UNVERIFIABLE"]
    assert "junk.pem" in msg


def test_user_generated_share_above_the_limit(world: World) -> None:
    _write(world, ATTESTED)
    assert "PROV-USER-SHARE" not in _rules(world, max_user_share=0.30)
    (msg,) = _rules(world, max_user_share=0.20)["PROV-USER-SHARE"]
    assert "25.0%" in msg
    assert "20.0%" in msg


def test_tampered_broker_data_unmarks_its_control(world: World) -> None:
    _write(world, ATTESTED)
    assert _control(world, "clinic").status == "implemented"
    part = world.clinic / "part-0.parquet"
    part.write_bytes(part.read_bytes() + b"x")
    ref = _control(world, "clinic")
    assert ref.status == "missing"
    assert ref.evidence is not None
    assert "differs" in ref.evidence


def _ec_keys(cli: Cli, where: Path) -> tuple[Path, Path]:
    assert cli("keys", "generate", "--ec", "-o", where, "--name", "signer").code == 0
    return where / "signer.pem", where / "signer.pub.pem"


def test_openssf_signature_verifies_and_tampering_is_named(world: World, cli: Cli) -> None:
    folder = world.root / "modeldir"
    folder.mkdir()
    shutil.move(world.model, folder / "model.bin")
    private, _public = _ec_keys(cli, world.root / "eckeys")
    res = cli("provenance", "sign-model", folder, "--key", private)
    assert res.code == 0, res.err
    text = SYSTEM.format(
        model_extra="    signature: modeldir/model.sig\n    public_keys: [eckeys/signer.pub.pem]"
    ).replace("path: model.bin", "path: modeldir")
    (world.root / "custodes.yaml").write_text(text, encoding="utf-8")
    assert not _rules(world)
    assert _control(world, "m").status == "implemented"
    (folder / "model.bin").write_bytes(b"swapped")
    (msg,) = _rules(world)["PROV-MODEL-BROKEN"]
    assert "changed: model.bin" in msg


def test_assess_cli_reports_a_broken_model(world: World, cli: Cli) -> None:
    _write(world, ATTESTED)
    world.model.write_bytes(b"swapped")
    res = cli("assess", world.root, "--no-report", "--format", "json")
    assert res.code == 1, res.err
    doc = json.loads(res.out)
    broken = [f for f in doc["findings"] if f["rule_id"] == "PROV-MODEL-BROKEN"]
    assert broken
    assert broken[0]["severity"] == "high"
    assert broken[0]["path"].endswith("custodes.yaml")


def test_limit_comes_from_the_projects_policy(world: World) -> None:
    _write(world, ATTESTED)
    policy = world.root / "custodes-policy.yaml"
    policy.write_text(
        "version: 1\nlimits:\n  max_user_generated_share: 0.2\npromotions: []\n", encoding="utf-8"
    )
    (msg,) = _rules(world)["PROV-USER-SHARE"]
    assert "20.0%" in msg
    policy.write_text("version: 1\nlimits:\n  max_user_generated_share: 2\n", encoding="utf-8")
    a = assess(world.root, today=TODAY, scan=False)
    bad = [f for f in a.findings if f.rule_id == "GOV-POLICY-INVALID"]
    assert len(bad) == 1
    assert bad[0].location is not None
    assert bad[0].location.line == 3
