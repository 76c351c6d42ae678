"""assess: the threat model and the scanners together, scan evidence overriding claims."""

from __future__ import annotations

import secrets
import string
from datetime import date
from pathlib import Path

from custodes.assess import assess
from custodes.demo import write_examples
from custodes.findings import Category


def test_biometric_demo_key_in_output_cell_is_caught_and_fails_q1(tmp_path: Path) -> None:
    [project] = write_examples(tmp_path, ["biometric-identity"])
    a = assess(project, today=date(2026, 11, 26))
    assert a.analyzers == ("threat-model", "scan")
    leaks = [f for f in a.findings if f.category is Category.SECRET]
    assert {f.rule_id for f in leaks} >= {"SECRET-AWS-ACCESS-KEY"}
    key = next(f for f in leaks if f.rule_id == "SECRET-AWS-ACCESS-KEY")
    assert key.location is not None
    assert key.location.in_output is True
    assert key.location.cell == 1
    assert key.location.path.endswith("research/notebooks/threshold_tuning.ipynb")
    model = [f for f in a.findings if f.category is Category.ARTIFACT]
    assert any(f.rule_id == "ARTIFACT-PICKLE-CODE-EXECUTION" for f in model)
    assert a.threat_model is not None
    q1 = a.threat_model.diagnostic.questions[0]
    assert q1.answer == "no"
    proved = [
        g for g in q1.gaps if g.detail.startswith("custodes scan found 2 hard-coded credentials")
    ]
    assert proved
    assert proved[0].elements == ("research/notebooks/threshold_tuning.ipynb",)


def test_scan_evidence_overrides_a_clean_model(tmp_path: Path) -> None:
    (tmp_path / "custodes.yaml").write_text(
        "version: 1\nsystem: {name: s, owner: o}\n"
        "notebooks:\n  - {id: nb, credentials: secret_manager}\n"
        "dependencies:\n  - {id: d, pinned: true}\n"
        "stores:\n  - {id: st, access_control: true}\n"
    )
    clean = assess(tmp_path, today=date(2026, 11, 26))
    assert clean.threat_model is not None
    assert clean.threat_model.diagnostic.questions[0].answer == "yes"
    token = "hf_" + "".join(secrets.choice(string.ascii_letters) for _ in range(34))
    (tmp_path / "train.py").write_text(f"HF_TOKEN = '{token}'\n")
    leaky = assess(tmp_path, today=date(2026, 11, 26))
    assert leaky.threat_model is not None
    q1 = leaky.threat_model.diagnostic.questions[0]
    assert q1.answer == "no"
    assert not any(p.startswith("credential management") for p in q1.passed)
    q2 = leaky.threat_model.diagnostic.questions[1]
    assert q2.answer == "partial"  # no controls declared, so no documented responses
    assert q2.back_to == 1


def test_project_without_a_model_is_still_scanned(tmp_path: Path) -> None:
    (tmp_path / "x.py").write_text("import torch\nm = torch.load('model.pt')\n")
    a = assess(tmp_path, today=date(2026, 11, 26))
    assert a.threat_model is None
    assert a.analyzers == ("scan",)
    assert any("no custodes.yaml" in s for s in a.skipped)
    assert any(f.rule_id == "CODE-TORCH-LOAD" for f in a.findings)


def test_health_demo_poisoned_upload_is_caught_and_fails_q2(tmp_path: Path) -> None:
    [project] = write_examples(tmp_path, ["health-outcomes"])
    a = assess(project, today=date(2026, 11, 26))
    assert "data-check" in a.analyzers
    [outcome] = a.data_checks
    assert outcome.verdict == "suspected_poisoning"
    assert any("user_generated" in s for s in outcome.suspect_sources)
    assert outcome.flagged_rows > 0
    assert any(f.category is Category.DATA for f in a.findings)
    assert a.threat_model is not None
    q2 = a.threat_model.diagnostic.questions[1]
    assert q2.answer == "no"
    assert any("suspected poisoning" in g.detail for g in q2.gaps)


def test_a_data_check_that_cannot_run_is_a_finding_not_a_crash(tmp_path: Path) -> None:
    (tmp_path / "custodes.yaml").write_text(
        "version: 1\nsystem: {name: s}\n"
        "data_checks:\n  - {id: weekly, baseline: missing.json, batch: batch.parquet}\n"
    )
    a = assess(tmp_path, today=date(2026, 11, 26))
    [outcome] = a.data_checks
    assert outcome.verdict is None
    assert outcome.error is not None
    assert "missing.json" in outcome.error
    assert any(f.rule_id == "DATA-CHECK-NOT-RUN" for f in a.findings)


def _project_with_manifest(root: Path) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from custodes.provenance import (
        Provenance,
        Tier,
        build_manifest,
        default_manifest_path,
        write_manifest,
    )

    data = root / "data" / "uploads.parquet"
    data.parent.mkdir()
    pq.write_table(pa.table({"x": list(range(100)), "y": ["a"] * 100}), data)
    manifest = default_manifest_path(data)
    write_manifest(
        build_manifest(data, Provenance(source="app", tier=Tier.user_generated)), manifest
    )
    (root / "custodes.yaml").write_text(
        "version: 1\nsystem: {name: s}\n"
        "sources:\n"
        "  - {id: uploads, tier: user_generated, path: data/uploads.parquet,\n"
        "     manifest: data/uploads.parquet.manifest.json}\n"
    )
    return data


def test_recorded_data_is_clean_until_a_byte_changes(tmp_path: Path) -> None:
    data = _project_with_manifest(tmp_path)
    clean = assess(tmp_path, today=date(2026, 11, 26), scan=False)
    assert "provenance" in clean.analyzers
    [outcome] = clean.manifests
    assert outcome.status == "ok"
    assert not [f for f in clean.findings if f.rule_id.startswith("PROV-")]
    raw = bytearray(data.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    data.write_bytes(bytes(raw))
    a = assess(tmp_path, today=date(2026, 11, 26), scan=False)
    [mismatch] = [f for f in a.findings if f.rule_id == "PROV-MANIFEST-MISMATCH"]
    assert mismatch.severity.value == "high"
    assert "uploads.parquet" in mismatch.message
    assert mismatch.threats == ("DATAPOISON",)
    assert a.threat_model is not None
    q1 = a.threat_model.diagnostic.questions[0]
    assert q1.answer != "yes"  # dependency map is a gap, not a blocker
    [gap] = [g for g in q1.gaps if "provenance manifest" in g.detail]
    assert gap.check == "dependency map"
    assert gap.elements == ("data/uploads.parquet",)


def test_broker_source_without_a_manifest_is_a_q2_gap(tmp_path: Path) -> None:
    (tmp_path / "custodes.yaml").write_text(
        "version: 1\nsystem: {name: s}\nsources:\n  - {id: acme, tier: broker}\n"
    )
    a = assess(tmp_path, today=date(2026, 11, 26), scan=False)
    assert "provenance" not in a.analyzers
    [missing] = [f for f in a.findings if f.rule_id == "PROV-MANIFEST-MISSING"]
    assert missing.element == "acme"
    assert missing.severity.value == "medium"
    assert a.threat_model is not None
    q2 = a.threat_model.diagnostic.questions[1]
    assert q2.answer == "no"
    assert any(g.check == "data monitoring" and "acme" in g.detail for g in q2.gaps)


def test_declared_manifest_that_does_not_exist_is_missing(tmp_path: Path) -> None:
    (tmp_path / "custodes.yaml").write_text(
        "version: 1\nsystem: {name: s}\n"
        "sources:\n  - {id: own, tier: first_party, manifest: nope.manifest.json}\n"
    )
    a = assess(tmp_path, today=date(2026, 11, 26), scan=False)
    [missing] = [f for f in a.findings if f.rule_id == "PROV-MANIFEST-MISSING"]
    assert "nope.manifest.json" in missing.message


def test_corrupt_manifest_is_a_finding_not_a_crash(tmp_path: Path) -> None:
    data = _project_with_manifest(tmp_path)
    data.with_name(data.name + ".manifest.json").write_text('{"format": "custodes-manifest",')
    a = assess(tmp_path, today=date(2026, 11, 26), scan=False)
    assert "provenance" in a.analyzers
    [bad] = [f for f in a.findings if f.rule_id == "PROV-MANIFEST-UNREADABLE"]
    assert bad.severity.value == "medium"
    assert "not valid JSON" in bad.message
    assert not any(f.rule_id == "PROV-MANIFEST-MISMATCH" for f in a.findings)


def test_health_demo_ships_a_verifiable_lineage(tmp_path: Path) -> None:
    from custodes.cli.main import main
    from custodes.provenance.lineage import build_lineage

    [project] = write_examples(tmp_path, ["health-outcomes"])
    model = project / "models" / "outcome_model.joblib"
    attestation = project / "provenance" / "training-attestation.json"
    lineage = build_lineage(model, attestation, project)
    assert {d.tier for d in lineage.datasets} == {"first_party", "broker", "user_generated"}
    assert lineage.user_generated_share is not None
    assert 0.05 < lineage.user_generated_share < 0.25
    code = main(
        [
            "provenance",
            "verify-chain",
            str(model),
            "--attestation",
            str(attestation),
            "--public-key",
            str(project / "provenance" / "demo-signer.pub.pem"),
            "--data-root",
            str(project),
        ]
    )
    assert code == 0
    a = assess(project, today=date(2026, 11, 26))
    assert "provenance" in a.analyzers
    assert not [
        f for f in a.findings if f.rule_id.startswith("PROV-") or f.category is Category.ARTIFACT
    ]
