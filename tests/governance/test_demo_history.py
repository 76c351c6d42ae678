"""`custodes demo` leaves a governance store with a realistic, verifiable week of decisions,
and `custodes assess` reports where each artifact stands at the gates."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest
from rich.console import Console

from custodes.assess import Assessment, assess
from custodes.demo import write_examples
from custodes.governance import auditlog, queries
from custodes.governance.identity import Actor
from custodes.governance.service import Governance
from custodes.report.console import print_assessment
from custodes.report.html import render_assessment_html
from custodes.report.jsonfmt import assessment_document
from custodes.scan import run_scan

from ..conftest import Result
from .conftest import public

TODAY = date(2026, 11, 26)
AUDITOR = Actor("test-auditor", ("auditor",), "-")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def health(tmp_path_factory: pytest.TempPathFactory) -> Path:
    [project] = write_examples(tmp_path_factory.mktemp("demo"), ["health-outcomes"])
    return project


@pytest.fixture(scope="module")
def assessed(health: Path) -> Assessment:
    return assess(health, today=TODAY)


def _log(gov: Governance) -> list[dict[str, object]]:
    from sqlalchemy import select

    from custodes.store.models import LogEntry

    with gov.read() as session:
        rows = session.execute(select(LogEntry.payload).order_by(LogEntry.seq)).scalars().all()
    return [json.loads(r) for r in rows]


def test_history_reads_back_through_the_core(health: Path) -> None:
    with Governance.open(health) as gov:
        model = queries.history(gov, AUDITOR, "outcome-model")
        dataset = queries.history(gov, AUDITOR, "patients-2026w47")
        entries = _log(gov)
        with gov.read() as session:
            check = auditlog.verify(session, gov.signer.public_key, trusted_head=gov.witness())
    assert check.ok, check.reason
    assert [(c["from"], c["to"]) for c in model] == [("dev", "staging"), ("staging", "production")]
    assert model[0]["approvers"] == ["noor"]
    assert model[1]["approvers"] == ["dr-okafor", "noor"]  # two different people
    assert model[0]["at"].startswith("2026-11-17")
    assert model[1]["at"].startswith("2026-11-19")
    assert [(c["from"], c["to"], c["by"]) for c in dataset] == [("dev", "rejected", "noor")]

    kinds = [e["kind"] for e in entries]
    refused = next(e for e in entries if e["kind"] == "promotion.refused")
    assert refused["data"]["artifact"] == "outcome-model"  # type: ignore[index]
    missing = set(refused["data"]["missing"])  # type: ignore[index]
    assert {"scan", "threat_model", "provenance", "dataset:patients-2026w46"} <= missing
    # refused, then evidence, then the approvals, then production
    first = kinds.index("promotion.refused")
    assert kinds.index("evidence.attached") > first
    completed = [e for e in entries if e["kind"] == "promotion.completed"]
    assert [e["data"]["to"] for e in completed] == ["staging", "production"]  # type: ignore[index]
    assert completed[-1]["data"]["approvers"] == ["dr-okafor", "noor"]  # type: ignore[index]
    evidence = {
        e["data"]["kind"]  # type: ignore[index]
        for e in entries
        if e["kind"] == "evidence.attached" and e["data"]["artifact"] == "outcome-model"  # type: ignore[index]
    }
    assert evidence == {"scan", "threat_model", "provenance"}
    [reject] = [
        e
        for e in entries
        if e["kind"] == "signoff.recorded" and e["data"]["decision"] == "reject"  # type: ignore[index]
    ]
    assert reject["actor"] == "noor"
    assert reject["data"]["artifact"] == "patients-2026w47"
    assert "bloom-weekly-upload" in reject["data"]["comment"]  # type: ignore[index]
    assert "suspected_poisoning" in reject["data"]["comment"]  # type: ignore[index]
    assert "promotion.rejected" in kinds


def test_audit_verify_cli_exits_0(health: Path, cli: Callable[..., Result]) -> None:
    r = cli("audit", "verify", "-C", health)
    assert r.code == 0, r.err + r.out
    assert "audit log verified" in r.out


def test_no_personal_key_is_written_and_the_store_is_ignored(health: Path) -> None:
    for path in health.rglob("*"):
        if path.is_file() and ".custodes" not in path.parts:
            assert b"PRIVATE KEY" not in path.read_bytes(), path
    assert (health / ".custodes" / ".gitignore").read_text().splitlines()[-1] == "*"
    assert (health / ".custodes" / "log-key.pem").is_file()  # the store's own log key
    result = run_scan([health])
    assert not [f for f in result.findings if f.location and ".custodes" in f.location.path]


def test_assess_json_carries_gate_status(assessed: Assessment) -> None:
    assert "governance" in assessed.analyzers
    doc = assessment_document(assessed)["governance"]
    assert doc["audit_log"]["verified"] is True
    by_name = {a["artifact"]: a for a in doc["artifacts"]}
    model = by_name["outcome-model"]
    assert model["stage"] == "production"
    assert model["basis"] == "in force"
    assert model["allowed"] is True
    assert model["missing"] == []
    assert [p["to"] for p in model["passed"]] == ["staging", "production"]
    assert any("sign-off from approver" in s for s in model["satisfied"])
    poisoned = by_name["patients-2026w47"]
    assert poisoned["stage"] == "rejected"
    assert poisoned["decision"]["by"] == "noor"
    assert any("suspected poisoning" in m for m in poisoned["missing"])
    training = by_name["patients-2026w46"]
    assert training["basis"] == "next stage"
    assert training["target"] == "staging"
    assert any("data check" in s for s in training["satisfied"])


def test_assess_gap_names_the_rejected_poisoned_dataset(assessed: Assessment) -> None:
    assert assessed.threat_model is not None
    q2 = assessed.threat_model.diagnostic.questions[1]
    gates = [g for g in q2.gaps if g.check == "promotion gates"]
    assert any("patients-2026w47" in g.detail and "poisoning" in g.detail for g in gates)
    assert not any(f.rule_id.startswith("GOV-") for f in assessed.findings)


def test_assess_console_and_html_carry_gate_status(assessed: Assessment) -> None:
    console = Console(record=True, width=200)
    print_assessment(console, assessed)
    text = console.export_text()
    assert "Promotion gates: audit log verified" in text
    assert "still meets the production rule" in text
    assert "patients-2026w47" in text
    assert "rejected" in text
    html = render_assessment_html(assessed)
    assert 'id="gates"' in html
    assert "Audit log verified" in html
    assert "patients-2026w47" in html
    assert "lacks" in html
    leadership = render_assessment_html(assessed, audience="leadership")
    assert "Who approved what reaches patients" in leadership


def test_tampered_log_is_a_finding_and_a_q2_gap(health: Path, tmp_path: Path) -> None:
    from sqlalchemy import create_engine, text

    copy = tmp_path / "health"
    shutil.copytree(health, copy)
    engine = create_engine(f"sqlite:///{copy / '.custodes' / 'custodes.db'}")
    with engine.begin() as conn:
        seq, payload = conn.execute(
            text("SELECT seq, payload FROM audit_log WHERE kind = 'promotion.completed'")
        ).first()
        assert '"kwame"' in payload
        conn.execute(
            text("UPDATE audit_log SET payload = :p WHERE seq = :s"),
            {"p": payload.replace('"kwame"', '"mallory"'), "s": seq},
        )
    engine.dispose()
    a = assess(copy, today=TODAY, scan=False)
    assert a.governance is not None
    assert not a.governance.log_ok
    assert any(f.rule_id == "GOV-AUDIT-LOG-FAILED" for f in a.findings)
    assert a.threat_model is not None
    q2 = a.threat_model.diagnostic.questions[1]
    assert any(g.check == "audit trail" for g in q2.gaps)


def test_registry_init_writes_gitignore(
    tmp_path: Path, keys: dict[str, Path], cli: Callable[..., Result]
) -> None:
    r = cli(
        "registry",
        "init",
        "-C",
        tmp_path,
        "--admin",
        "alice",
        "--public-key",
        public(keys["alice"]),
    )
    assert r.code == 0, r.err
    ignore = tmp_path / ".custodes" / ".gitignore"
    assert "*" in ignore.read_text().splitlines()


def test_project_without_store_has_no_governance(tmp_path: Path) -> None:
    (tmp_path / "x.py").write_text("print(1)\n")
    a = assess(tmp_path, today=TODAY)
    assert a.governance is None
    assert not (tmp_path / ".custodes").exists()
