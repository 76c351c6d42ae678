"""The whole gate through the CLI, with evidence custodes itself produced.

A dataset and a model go dev → staging → production. Every piece of evidence comes from a
real run: a scan of the real file, a data check of a Parquet batch against a baseline
built by ``custodes data baseline``, provenance from a signed ``custodes provenance
record`` manifest, and a threat model from a reviewed custodes.yaml.
"""

from __future__ import annotations

import json
from datetime import date

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from safetensors.numpy import save_file

from tests.governance.conftest import Project, public

SYSTEM = """\
version: 1
system:
  name: Risk model
  owner: ana
  consequence: low
  review:
    last_reviewed: {today}
    reviewer: carol
    fingerprint: {fingerprint}
sources:
  - {{id: warehouse, tier: first_party}}
processes:
  - {{id: train, kind: training}}
flows:
  - {{from: warehouse, to: train}}
"""


def _parquet(path: object, seed: int, n: int = 1000) -> None:
    rng = np.random.default_rng(seed)
    table = pa.table(
        {
            "id": np.arange(n),
            "age": rng.normal(40, 10, n),
            "bmi": rng.normal(25, 4, n),
            "label": rng.integers(0, 2, n),
        }
    )
    pq.write_table(table, str(path))


def _prepare(p: Project) -> None:
    """Files on disk: a dataset batch, a model, their signed manifests, a reviewed model."""
    (p.root / "data").mkdir()
    (p.root / "models").mkdir()
    _parquet(p.root / "reference.parquet", seed=1)
    _parquet(p.root / "data" / "patients.parquet", seed=2)
    save_file({"w": np.ones((4, 4), dtype=np.float32)}, str(p.root / "models" / "risk.safetensors"))
    r = p.cli(
        "data", "baseline", p.root / "reference.parquet", "-o", p.root / "baseline.json",
        "--label", "label", "--id-column", "id",
    )  # fmt: skip
    assert r.code == 0, r.err
    for rel in ("data/patients.parquet", "models/risk.safetensors"):
        r = p.cli(
            "provenance", "record", p.root / rel, "--source", "warehouse",
            "--tier", "first_party", "--key", p.keys["bob"],
        )  # fmt: skip
        assert r.code == 0, r.err
    p.write("custodes.yaml", SYSTEM.format(today=date.today().isoformat(), fingerprint="null"))
    r = p.cli("threat-model", p.root, "--fingerprint")
    assert r.code == 0, r.err
    fp = r.out.strip()
    p.write("custodes.yaml", SYSTEM.format(today=date.today().isoformat(), fingerprint=fp))


def _stage(p: Project, name: str) -> str:
    rows = json.loads(p.ok("registry", "list", "--format", "json", who="ivan").out)
    return str(next(r["stage"] for r in rows if r["artifact"] == name))


def test_dataset_and_model_go_dev_staging_production(project: Project) -> None:
    p = project
    _prepare(p)
    p.ok(
        "registry", "register", "dataset", "patients", p.root / "data/patients.parquet", who="dana"
    )
    p.ok("registry", "register", "model", "risk", p.root / "models/risk.safetensors", who="bob")
    assert _stage(p, "patients") == _stage(p, "risk") == "dev"

    # Before any evidence or sign-off: refused, every missing item named.
    r = p.ok("gate", "request", "patients", "--note", "weekly extract", who="dana")
    assert "dev → staging" in r.out
    r = p.fails(1, "gate", "promote", "patients", who="bob")
    assert "patients may not move dev → staging" in r.err
    missing = [line.strip() for line in r.err.splitlines() if line.strip().startswith("missing:")]
    assert len(missing) == 4, r.err
    assert any("a scan of sha256:" in m and "(none recorded)" in m for m in missing)
    assert any("checked with verdict ok" in m or "data check" in m for m in missing)
    assert any("provenance of sha256:" in m for m in missing)
    assert any("1 sign-off from security-reviewer (have none)" in m for m in missing)
    assert _stage(p, "patients") == "dev"
    refused = p.log("promotion.refused")
    assert refused[-1]["actor"] == "bob"
    assert len(refused[-1]["data"]["missing"]) == 4

    # Evidence produced by custodes on the exact bytes.
    r = p.ok(
        "gate", "evidence", "patients", "--scan", "--data-check", "--provenance",
        "--baseline", p.root / "baseline.json", "--public-key", public(p.keys["bob"]),
        "--format", "json", who="dana",
    )  # fmt: skip
    ev = {e["kind"]: e["summary"] for e in json.loads(r.out)}
    assert ev["scan"]["max_severity"] is None
    assert ev["scan"]["files"] == 1
    assert ev["data_check"]["verdict"] == "ok", ev["data_check"]
    assert ev["provenance"]["verified"] is True
    assert ev["provenance"]["signed"] is True
    # Still missing the security review.
    r = p.fails(1, "gate", "promote", "patients", who="bob")
    assert "missing: 1 sign-off from security-reviewer (have none)" in r.err
    assert r.err.count("missing:") == 1
    p.ok("gate", "approve", "patients", "--comment", "checked the batch", who="carol")
    p.ok("gate", "promote", "patients", who="bob")
    assert _stage(p, "patients") == "staging"

    # The model needs its training data checked, a current threat model, signed provenance.
    p.ok("gate", "request", "risk", who="bob")
    r = p.fails(1, "gate", "promote", "risk", who="bob")
    assert r.err.count("missing:") == 4, r.err  # scan, threat model, provenance, sign-off
    assert "threat model" in r.err
    r = p.ok(
        "gate", "evidence", "risk", "--scan", "--threat-model", "--provenance",
        "--public-key", public(p.keys["bob"]), "--format", "json", who="bob",
    )  # fmt: skip
    ev = {e["kind"]: e["summary"] for e in json.loads(r.out)}
    assert ev["threat_model"]["stale"] is False, ev["threat_model"]
    assert ev["provenance"]["signed"] is True
    p.ok("gate", "approve", "risk", who="carol")
    st = json.loads(p.ok("gate", "status", "risk", "--format", "json", who="ivan").out)
    assert st["allowed"] is True
    assert st["missing"] == []
    p.ok("gate", "promote", "risk", who="bob")
    assert _stage(p, "risk") == "staging"

    # Production: a security reviewer and two approvers, all different people.
    for name in ("patients", "risk"):
        p.ok("gate", "request", name, "--to", "production", who="bob")
        r = p.fails(1, "gate", "promote", name, who="bob")
        assert "missing: 1 sign-off from security-reviewer (have none)" in r.err
        assert "missing: 2 sign-offs from approver (have none)" in r.err
        p.ok("gate", "approve", name, who="carol")
        p.ok("gate", "approve", name, who="dave")
        r = p.fails(1, "gate", "promote", name, who="bob")
        assert "missing: 2 sign-offs from approver (have 1: dave)" in r.err
        p.ok("gate", "approve", name, who="erin")
        p.ok("gate", "promote", name, who="bob")
        assert _stage(p, name) == "production"

    done = p.log("promotion.completed")
    assert [(d["data"]["artifact"], d["data"]["to"]) for d in done] == [
        ("patients", "staging"),
        ("risk", "staging"),
        ("patients", "production"),
        ("risk", "production"),
    ]
    assert done[-1]["data"]["approvers"] == ["carol", "dave", "erin"]
    assert p.ok("audit", "verify").code == 0
