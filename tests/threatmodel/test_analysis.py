"""Status from controls, risk arithmetic, the diagnostic loop and staleness."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from custodes.findings import Severity
from custodes.system import load_system, parse_system
from custodes.threatmodel import ThreatModel, analyze

TODAY = date(2026, 11, 26)

POISON = """\
version: 1
system:
  name: Outcome model
  owner: ana
  consequence: critical
  scale: {people_affected: 7500000, accuracy: 0.9, decisions_per_day: 20000}
sources:
  - {id: app, tier: user_generated}
processes:
  - {id: train, kind: training}
flows:
  - {from: app, to: train}
"""


def run(text: str, today: date = TODAY) -> ThreatModel:
    return analyze(parse_system(text), today=today, root=None)


def poison(tm: ThreatModel):  # type: ignore[no-untyped-def]
    return next(t for t in tm.threats if t.threat_id == "DATAPOISON" and t.element_id == "app")


def controls(*entries: str) -> str:
    return "controls:\n" + "".join(f"  - {e}\n" for e in entries)


def test_no_controls_is_unmitigated_with_full_risk() -> None:
    t = poison(run(POISON))
    assert t.status == "unmitigated"
    assert (t.inherent.likelihood, t.inherent.impact) == (5, 5)
    assert t.residual.arithmetic == "likelihood 5 × impact 5 = 25 (critical)"
    assert t.inherent.impact_reasons == (
        "consequence critical: 4",
        "7,500,000 people at stake (≥ 100,000): +1",
    )
    assert {c.id: c.status for c in t.controls} == {
        "DATAQUALITYCONTROL": "missing",
        "CONTINUOUSVALIDATION": "missing",
    }


def test_one_of_two_controls_is_partial_and_lowers_residual() -> None:
    text = POISON + controls(
        "{id: DATAQUALITYCONTROL, applies_to: [app], status: implemented, owner: ana}"
    )
    t = poison(run(text))
    assert t.status == "partial"
    assert t.residual.likelihood == 4
    assert t.residual.score < t.inherent.score


def test_all_controls_mitigate_and_drop_the_finding() -> None:
    text = POISON + controls(
        "{id: DATAQUALITYCONTROL, status: implemented}",
        "{id: CONTINUOUSVALIDATION, status: implemented}",
    )
    tm = run(text)
    assert poison(tm).status == "mitigated"
    assert poison(tm).residual.likelihood == 1
    assert not [f for f in tm.findings if f.rule_id == "TM-POISON-USER"]


def test_planned_control_does_not_count() -> None:
    text = POISON + controls(
        "{id: DATAQUALITYCONTROL, status: planned}",
        "{id: CONTINUOUSVALIDATION, status: planned}",
    )
    assert poison(run(text)).status == "unmitigated"


def test_current_acceptance_accepts_and_lapsed_one_fails_ci() -> None:
    accept = (
        "{id: CONTINUOUSVALIDATION, status: risk_accepted, owner: ana, approver: ben, expires: %s}"
    )
    impl = "{id: DATAQUALITYCONTROL, status: implemented}"
    tm = run(POISON + controls(impl, accept % "2027-03-01"))
    assert poison(tm).status == "accepted"
    assert not [f for f in tm.findings if f.rule_id == "TM-ACCEPTANCE-LAPSED"]

    tm = run(POISON + controls(impl, accept % "2026-06-30"))
    assert poison(tm).status == "partial"
    lapsed = [f for f in tm.findings if f.rule_id == "TM-ACCEPTANCE-LAPSED"]
    assert len(lapsed) == 1
    assert lapsed[0].severity is Severity.HIGH
    assert lapsed[0].location is not None
    assert lapsed[0].location.line == 15
    assert "lapsed on 2026-06-30" in lapsed[0].message


def test_element_specific_declaration_overrides_system_wide() -> None:
    text = POISON + controls(
        "{id: DATAQUALITYCONTROL, status: implemented}",
        "{id: DATAQUALITYCONTROL, applies_to: [app], status: planned}",
    )
    ref = next(c for c in poison(run(text)).controls if c.id == "DATAQUALITYCONTROL")
    assert ref.status == "planned"


def test_rate_limit_attribute_counts_as_the_control() -> None:
    text = (
        POISON
        + "endpoints:\n  - {id: api, callers: public, returns: [label], rate_limit: 60/minute}\n"
    )
    tm = run(text)
    t = next(t for t in tm.threats if t.threat_id == "MODELEXFILTRATION")
    rate = next(c for c in t.controls if c.id == "RATELIMIT")
    assert rate.status == "implemented"
    assert rate.evidence == "endpoints[0].rate_limit: 60/minute"


def test_not_applicable_contradicting_a_rule_is_reported() -> None:
    tm = run(POISON + controls("{id: DATAQUALITYCONTROL, status: not_applicable}"))
    f = next(f for f in tm.findings if f.rule_id == "TM-CONTROL-CONTRADICTED")
    assert "DATAPOISON on app" in f.facts


def test_scale_arithmetic_in_people() -> None:
    tm = run(POISON)
    assert tm.scale.wrong == 750_000
    assert tm.scale.wrong_per_day == 2_000
    assert (
        tm.scale.sentence
        == "90% accuracy on 7,500,000 people is 750,000 people given a wrong result"
    )


def test_biometric_leak_impact_is_raised_even_at_low_consequence() -> None:
    text = "version: 1\nsystem: {name: b, consequence: low}\nstores:\n  - {id: s, biometric_data: true}\n"
    t = next(t for t in run(text).threats if t.threat_id == "DEVDATALEAK")
    assert t.inherent.impact == 5
    assert (
        t.inherent.impact_reasons[-1]
        == "biometric data cannot be reissued once it leaks: raised to 5"
    )


def test_diagnostic_loop_points_back_to_the_failing_layer() -> None:
    text = POISON + "notebooks:\n  - {id: nb, credentials: hard_coded}\n"
    loop = run(text).diagnostic
    q1, q2, q3 = loop.questions
    assert q1.answer == "no"
    assert any(g.check == "credential management" and g.elements == ("nb",) for g in q1.gaps)
    assert q2.back_to == 1
    assert q3.back_to == 1
    assert loop.first_failing is q1
    assert any("750,000 people given a wrong result" in g.detail for g in q3.gaps)


GOOD = """\
version: 1
system:
  name: Good
  owner: ana
  consequence: high
  scale: {people_affected: 1000, accuracy: 0.99}
actors:
  - {id: ops, kind: team, privileged: true, mfa: true}
sources:
  - {id: app, tier: user_generated}
processes:
  - {id: check, kind: preprocessing, automated_validation: true}
  - {id: train, kind: training}
stores:
  - {id: lake, encrypted: true, access_control: true}
models:
  - {id: m, format: onnx}
dependencies:
  - {id: sk, kind: library, pinned: true}
endpoints:
  - {id: api, callers: authenticated_users, authentication: true, rate_limit: 10/minute, serves: [m]}
outputs:
  - {id: ui, human_review: true}
flows:
  - {from: app, to: check}
  - {from: check, to: train}
  - {from: train, to: m}
controls:
"""
RESPONSE = "owner: ana, evidence: ci.yml, response: {procedure: p, escalation: e}"


def test_a_well_run_system_answers_yes_three_times() -> None:
    text = GOOD + "".join(
        f"  - {{id: {c}, status: implemented, {RESPONSE}}}\n"
        for c in ("DATAQUALITYCONTROL", "CONTINUOUSVALIDATION", "MONITORUSE")
    )
    loop = run(text).diagnostic
    assert [q.answer for q in loop.questions] == ["yes", "yes", "yes"], [
        q.gaps for q in loop.questions
    ]
    assert loop.first_failing is None


def test_missing_monitoring_is_an_operational_gap_without_go_back() -> None:
    text = GOOD + f"  - {{id: DATAQUALITYCONTROL, status: implemented, {RESPONSE}}}\n"
    q1, q2, _ = run(text).diagnostic.questions
    assert q1.answer == "yes"
    assert q2.answer == "no"
    assert q2.back_to is None
    assert {g.check for g in q2.gaps} == {"output monitoring", "access monitoring"}


def _project(tmp_path: Path, review: str) -> Path:
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "notebooks" / "explore.ipynb").write_text(json.dumps({"cells": []}))
    path = tmp_path / "custodes.yaml"
    path.write_text(POISON.replace("  owner: ana\n", f"  owner: ana\n  review: {review}\n"))
    return path


def test_staleness_by_age(tmp_path: Path) -> None:
    path = _project(tmp_path, "{last_reviewed: 2026-06-01, interval_days: 90}")
    st = analyze(load_system(path), today=TODAY).staleness
    assert st.stale
    assert "review was due 2026-08-30 (88 days overdue)" in st.reasons[0]
    assert st.artifacts == 1


def test_staleness_by_fingerprint(tmp_path: Path) -> None:
    path = _project(tmp_path, "{last_reviewed: 2026-11-01}")
    fp = analyze(load_system(path), today=TODAY).staleness.fingerprint
    text = path.read_text().replace(
        "{last_reviewed: 2026-11-01}", f"{{last_reviewed: 2026-11-01, fingerprint: '{fp}'}}"
    )
    path.write_text(text)
    st = analyze(load_system(path), today=TODAY).staleness
    assert not st.stale, st.reasons
    assert st.fingerprint == fp  # recording the review does not change the fingerprint

    (tmp_path / "notebooks" / "explore.ipynb").write_text(json.dumps({"cells": [{"source": "x"}]}))
    st = analyze(load_system(path), today=TODAY).staleness
    assert st.stale
    assert st.reasons == ("notebooks, manifests or model files changed since the review",)

    path.write_text(text.replace("tier: user_generated", "tier: broker"))
    (tmp_path / "notebooks" / "explore.ipynb").write_text(json.dumps({"cells": []}))
    st = analyze(load_system(path), today=TODAY).staleness
    assert st.reasons == ("the system model changed since the review",)


def test_stale_ml_model_is_flagged() -> None:
    text = (
        POISON
        + "models:\n  - {id: m, format: onnx, trained: 2026-03-02, retrain_interval_days: 180}\n"
    )
    f = next(f for f in run(text).findings if f.rule_id == "TM-MODEL-STALE")
    assert "due for retraining or revalidation on 2026-08-29" in f.message
