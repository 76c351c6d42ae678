"""custodes-policy.yaml: loader errors with file:line, fail-closed loading, and every gate rule.

Each evaluation test sets up the facts the store would hold about one version (evidence,
sign-offs) and checks both the verdict and that the sentence shown to the approver carries
the fact that decided it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import pytest

import custodes
from custodes.errors import ConfigError, CustodesError, InputError
from custodes.governance.decision import (
    Decision,
    EvidenceFact,
    SignOffFact,
    evaluate,
    short_digest,
)
from custodes.governance.policy import (
    DenyAll,
    LoadedPolicy,
    load_policy,
    load_policy_or_deny,
    parse_policy,
)
from custodes.governance.roles import Role

EXAMPLE = Path(custodes.__file__).parent / "demo" / "examples" / "health-outcomes"

POLICY = """\
version: 1
stages: [dev, staging, production]
promotions:
  - to: staging
    kinds: [dataset, model, notebook, pipeline]
    require:
      scan: {max_severity: high}
      data_check: {verdict: ok}
      threat_model: {current: true, max_unmitigated: critical}
      provenance: {verified: true, signed: true}
      datasets_ok: [patients-2026w47]
      signoffs:
        - {role: security-reviewer, count: 1}
  - to: production
    require:
      signoffs:
        - {role: approver, count: 2}
"""

V1 = "sha256:" + "a1" * 32
V2 = "sha256:" + "b2" * 32
DS = "sha256:" + "d5" * 32
DS_OLD = "sha256:" + "d0" * 32
T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def _error(text: str) -> CustodesError:
    with pytest.raises(CustodesError) as info:
        parse_policy(text, Path("custodes-policy.yaml"))
    return info.value


def ev(kind: str, digest: str = V1, minutes: int = 0, **summary: Any) -> EvidenceFact:
    return EvidenceFact(
        kind=kind,
        digest=digest,
        summary=dict(summary),
        produced_by="ci",
        produced_at=T0 + timedelta(minutes=minutes),
    )


def so(
    who: str,
    role: str,
    *,
    roles: Sequence[str] | None = None,
    decision: Literal["approve", "reject"] = "approve",
    digest: str = V1,
    minutes: int = 0,
) -> SignOffFact:
    return SignOffFact(
        principal=who,
        roles=list(roles if roles is not None else [role]),
        role=role,
        decision=decision,
        digest=digest,
        at=T0 + timedelta(hours=1, minutes=minutes),
    )


GOOD_EVIDENCE = [
    ev("scan", max_severity="medium", counts={"medium": 2}),
    ev("threat_model", stale=False, max_unmitigated="high", model_digest="sha256:tm"),
    ev("provenance", verified=True, signed=True, key_id="k-ml-01"),
]
GOOD_DATASETS = {"patients-2026w47": [ev("data_check", DS, verdict="ok")]}


def decide(
    *,
    policy: str | LoadedPolicy | DenyAll = POLICY,
    kind: str = "model",
    from_stage: str = "dev",
    to_stage: str = "staging",
    digest: str = V1,
    requester: str = "alice",
    evidence: Sequence[EvidenceFact] | None = None,
    signoffs: Sequence[SignOffFact] | None = None,
    dataset_evidence: dict[str, list[EvidenceFact]] | None = None,
    dataset_digests: dict[str, str] | None = None,
) -> Decision:
    loaded = parse_policy(policy) if isinstance(policy, str) else policy
    return evaluate(
        loaded,
        kind=kind,
        from_stage=from_stage,
        to_stage=to_stage,
        digest=digest,
        requester=requester,
        evidence=GOOD_EVIDENCE if evidence is None else evidence,
        signoffs=[so("sam", "security-reviewer")] if signoffs is None else signoffs,
        dataset_evidence=GOOD_DATASETS if dataset_evidence is None else dataset_evidence,
        dataset_digests=dataset_digests,
    )


def text_of(decision: Decision, key: str) -> str:
    found = [r.text for r in [*decision.missing, *decision.satisfied] if r.key == key]
    assert len(found) == 1, (key, decision)
    return found[0]


def missing_keys(decision: Decision) -> list[str]:
    return [r.key for r in decision.missing]


# ------------------------------------------------------------------------ loading


def test_policy_loads_with_digest_of_raw_bytes(tmp_path: Path) -> None:
    path = tmp_path / "custodes-policy.yaml"
    path.write_text(POLICY, encoding="utf-8")
    loaded = load_policy(path)
    assert loaded.digest == "sha256:" + hashlib.sha256(POLICY.encode()).hexdigest()
    assert loaded.path == path
    assert loaded.stages == ("dev", "staging", "production")
    staging = loaded.model.rule_for("staging", "model")
    assert staging is not None
    assert staging.require.scan is not None
    assert staging.require.scan.max_severity == "high"
    assert staging.require.signoffs[0].role is Role.SECURITY_REVIEWER
    production = loaded.model.rule_for("production", "dataset")
    assert production is not None  # kinds default to every kind
    assert production.require.signoffs[0].count == 2


def test_digest_changes_with_any_byte() -> None:
    assert parse_policy(POLICY).digest != parse_policy(POLICY + "# note\n").digest


def test_example_policy_loads() -> None:
    loaded = load_policy(EXAMPLE / "custodes-policy.yaml")
    assert loaded.stages == ("dev", "staging", "production")
    for kind in ("dataset", "model", "notebook", "pipeline"):
        for stage in ("staging", "production"):
            assert loaded.model.rule_for(stage, kind) is not None, (kind, stage)


def test_unknown_key_has_line_column_and_did_you_mean() -> None:
    err = _error(POLICY.replace("scan: {max_severity: high}", "scan: {max_severty: high}"))
    assert isinstance(err, ConfigError)
    assert (err.line, err.column) == (7, 14)
    assert "unknown key 'max_severty' in promotions[0].require.scan" in err.diagnostics()
    assert "did you mean 'max_severity'?" in err.diagnostics()
    assert err.diagnostics().startswith("custodes-policy.yaml:7:14: ")


def test_unknown_requirement_key_suggests_sibling() -> None:
    err = _error(
        POLICY.replace(
            "      signoffs:\n        - {role: approver",
            "      signofs:\n        - {role: approver",
        )
    )
    assert err.line == 16
    assert "unknown key 'signofs'" in err.diagnostics()
    assert "did you mean 'signoffs'?" in err.diagnostics()


def test_promotion_to_unknown_stage_names_line_and_suggests() -> None:
    err = _error(POLICY.replace("  - to: production", "  - to: prod"))
    assert isinstance(err, ConfigError)
    assert (err.line, err.column) == (14, 9)
    assert "promotion to 'prod', which is not one of the stages" in err.diagnostics()
    assert "did you mean 'production'?" in err.diagnostics()


def test_bad_severity_names_line_and_suggests() -> None:
    err = _error(POLICY.replace("max_severity: high", "max_severity: hgih"))
    assert err.line == 7
    assert "promotions[0].require.scan.max_severity" in err.diagnostics()
    assert "got 'hgih'" in err.diagnostics()
    assert "did you mean 'high'?" in err.diagnostics()


def test_bad_role_in_signoffs_suggests() -> None:
    err = _error(POLICY.replace("role: approver", "role: aprover"))
    assert err.line == 17
    assert "did you mean 'approver'?" in err.diagnostics()


def test_role_that_cannot_approve_is_refused() -> None:
    err = _error(POLICY.replace("role: approver", "role: auditor"))
    assert err.line == 17
    assert "role 'auditor' cannot approve" in err.diagnostics()
    assert "security-reviewer, approver" in err.diagnostics()


def test_duplicate_keys_are_refused_with_line() -> None:
    err = _error(POLICY.replace("version: 1\n", "version: 1\nversion: 1\n"))
    assert isinstance(err, InputError)
    assert err.line == 2
    assert "duplicate key 'version'" in err.diagnostics()


@pytest.mark.parametrize(
    ("text", "line", "needle"),
    [
        (POLICY.replace("version: 1", "version: 2"), 1, "version"),
        (POLICY.replace("version: 1\n", ""), None, "missing required key 'version'"),
        (POLICY.replace("[dev, staging, production]", "[dev, staging, dev]"), 2, "listed twice"),
        (
            POLICY.replace("[dev, staging, production]", "[dev, rejected, staging, production]"),
            2,
            "implicit",
        ),
        (POLICY.replace("[dev, staging, production]", "[dev]"), 2, "stages"),
        (POLICY.replace("  - to: production", "  - to: dev"), 14, "first stage"),
        (POLICY.replace("count: 2", "count: 0"), 17, "count"),
        (POLICY.replace("count: 2", "count: '2'"), 17, "count"),
        (POLICY.replace("kinds: [dataset,", "kinds: [dataset, dataset,"), 5, "listed twice"),
        (POLICY.replace("kinds: [dataset,", "kinds: [datset,"), 5, "did you mean 'dataset'?"),
        (
            POLICY.replace("kinds: [dataset, model,", "kinds: [model,"),
            8,
            "data_check applies to datasets",
        ),
        (POLICY.replace("[patients-2026w47]", "[a, a]"), 11, "listed twice"),
        (POLICY + "  - to: staging\n    kinds: [model]\n", 19, "already says what a model needs"),
        (
            POLICY.replace("count: 1}", "count: 1}\n        - {role: security-reviewer, count: 1}"),
            14,
            "required twice",
        ),
        ("- just\n- a list\n", 1, "expected a mapping"),
        ("version: 1\nstages: [dev, staging\n", None, "invalid YAML"),
    ],
)
def test_invalid_policies_are_config_errors_with_lines(
    text: str, line: int | None, needle: str
) -> None:
    err = _error(text)
    assert needle in err.diagnostics()
    if line is not None:
        assert err.line == line, err.diagnostics()


def test_missing_file_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="policy file not found"):
        load_policy(tmp_path / "nope.yaml")


# ------------------------------------------------------------------------ deny all


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (None, "not found"),
        (b"", "empty"),
        (b"   \n# only a comment\n", "empty"),
        (b"\x89PNG\r\n\x1a\n\x00\xff\xfe", "UTF-8"),
        (b"version: 1\nstages: [dev, staging\n", "invalid YAML"),
        (b"{{{{ : : :", "invalid YAML"),
        (b"version: 1\npromotions:\n  - to: prod\n", "not one of the stages"),
    ],
)
def test_missing_empty_or_garbage_policy_denies_everything(
    tmp_path: Path, content: bytes | None, needle: str
) -> None:
    path = tmp_path / "custodes-policy.yaml"
    if content is not None:
        path.write_bytes(content)
    policy = load_policy_or_deny(path)
    assert isinstance(policy, DenyAll)
    assert needle in policy.reason
    assert str(path) in policy.reason
    decision = decide(
        policy=policy, signoffs=[so("sam", "security-reviewer"), so("bob", "approver")]
    )
    assert not decision.allowed
    assert decision.satisfied == []
    assert missing_keys(decision) == ["policy"]
    assert needle in decision.missing[0].text
    assert "every promotion is refused" in decision.missing[0].text


def test_directory_instead_of_policy_denies(tmp_path: Path) -> None:
    policy = load_policy_or_deny(tmp_path)
    assert isinstance(policy, DenyAll)
    assert "directory" in policy.reason


def test_good_policy_file_is_returned_by_or_deny(tmp_path: Path) -> None:
    path = tmp_path / "custodes-policy.yaml"
    path.write_text(POLICY, encoding="utf-8")
    assert isinstance(load_policy_or_deny(path), LoadedPolicy)


# ------------------------------------------------------------------------ evaluation


def test_everything_in_place_allows_promotion() -> None:
    decision = decide()
    assert decision.allowed, decision.missing
    assert decision.missing == []
    keys = [r.key for r in decision.satisfied]
    assert keys == [
        "stage",
        "scan",
        "threat_model",
        "provenance",
        "dataset:patients-2026w47",
        "signoff:security-reviewer",
        "no-rejection",
    ]
    assert "(have 1: sam)" in text_of(decision, "signoff:security-reviewer")
    assert "signed with key k-ml-01" in text_of(decision, "provenance")


def test_dataset_needs_its_own_data_check_models_do_not() -> None:
    assert "data_check" not in [r.key for r in decide().satisfied]
    good = [*GOOD_EVIDENCE, ev("data_check", verdict="ok")]
    assert decide(kind="dataset", evidence=good).allowed
    decision = decide(kind="dataset")
    assert missing_keys(decision) == ["data_check"]
    assert text_of(decision, "data_check") == (
        "a data check of this version with verdict ok (none recorded)"
    )
    poisoned = [*GOOD_EVIDENCE, ev("data_check", verdict="suspected_poisoning")]
    text = text_of(decide(kind="dataset", evidence=poisoned), "data_check")
    assert "verdict was suspected poisoning" in text


def test_drift_verdict_accepts_ok_and_drift_only() -> None:
    policy = POLICY.replace("verdict: ok", "verdict: drift")
    drift = [*GOOD_EVIDENCE, ev("data_check", verdict="drift")]
    assert decide(policy=policy, kind="dataset", evidence=drift).allowed
    bad = [*GOOD_EVIDENCE, ev("data_check", verdict="schema_violation")]
    decision = decide(policy=policy, kind="dataset", evidence=bad)
    assert "verdict ok or drift" in text_of(decision, "data_check")
    assert not decision.allowed


def test_scan_with_a_finding_at_threshold_blocks_and_says_so() -> None:
    bad = [ev("scan", max_severity="critical", counts={"critical": 1}), *GOOD_EVIDENCE[1:]]
    decision = decide(evidence=bad)
    assert not decision.allowed
    assert text_of(decision, "scan") == (
        f"a scan of {short_digest(V1)} with no finding at or above high "
        "(latest scan found a critical finding)"
    )
    many = [ev("scan", max_severity="high", counts={"high": 3}), *GOOD_EVIDENCE[1:]]
    assert "found 3 high findings" in text_of(decide(evidence=many), "scan")


def test_clean_scan_and_unreadable_scan() -> None:
    clean = [ev("scan", max_severity=None, counts={}), *GOOD_EVIDENCE[1:]]
    decision = decide(evidence=clean)
    assert decision.allowed
    assert "latest scan found nothing" in text_of(decision, "scan")
    weird = [ev("scan", max_severity="apocalyptic"), *GOOD_EVIDENCE[1:]]
    decision = decide(evidence=weird)
    assert not decision.allowed
    assert "unreadable severity 'apocalyptic'" in text_of(decision, "scan")


def test_latest_evidence_of_each_kind_wins() -> None:
    first_bad_then_fixed = [
        ev("scan", minutes=0, max_severity="critical"),
        ev("scan", minutes=5, max_severity="low"),
        *GOOD_EVIDENCE[1:],
    ]
    assert decide(evidence=first_bad_then_fixed).allowed
    first_fine_then_bad = [
        ev("scan", minutes=5, max_severity="critical"),
        ev("scan", minutes=0, max_severity="low"),
        *GOOD_EVIDENCE[1:],
    ]
    assert missing_keys(decide(evidence=first_fine_then_bad)) == ["scan"]


def test_evidence_for_an_older_version_is_stale() -> None:
    stale = [
        ev("scan", V2, max_severity=None),
        ev("threat_model", V2, stale=False, max_unmitigated=None),
        ev("provenance", V2, verified=True, signed=True),
    ]
    decision = decide(evidence=stale, signoffs=[so("sam", "security-reviewer")])
    assert missing_keys(decision) == ["scan", "threat_model", "provenance"]
    scan = text_of(decision, "scan")
    assert scan.startswith(f"a scan of {short_digest(V1)} ")
    assert f"(latest scan was of an older version {short_digest(V2)})" in scan
    assert "older version" in text_of(decision, "threat_model")
    assert "older version" in text_of(decision, "provenance")


def test_stale_or_open_threat_model_blocks() -> None:
    stale_tm = [
        GOOD_EVIDENCE[0],
        ev("threat_model", stale=True, max_unmitigated=None),
        GOOD_EVIDENCE[2],
    ]
    text = text_of(decide(evidence=stale_tm), "threat_model")
    assert "out of date" in text
    open_tm = [
        GOOD_EVIDENCE[0],
        ev("threat_model", stale=False, max_unmitigated="critical"),
        GOOD_EVIDENCE[2],
    ]
    decision = decide(evidence=open_tm)
    assert not decision.allowed
    assert "leaves a critical threat unmitigated" in text_of(decision, "threat_model")
    unknown_staleness = [
        GOOD_EVIDENCE[0],
        ev("threat_model", max_unmitigated=None),
        GOOD_EVIDENCE[2],
    ]
    assert "threat_model" in missing_keys(decide(evidence=unknown_staleness))


def test_unsigned_or_unverified_provenance_blocks() -> None:
    unsigned = [*GOOD_EVIDENCE[:2], ev("provenance", verified=True, signed=False)]
    assert "(it is not signed)" in text_of(decide(evidence=unsigned), "provenance")
    broken = [*GOOD_EVIDENCE[:2], ev("provenance", verified=False, signed=True)]
    assert "did not verify" in text_of(decide(evidence=broken), "provenance")


def test_named_training_dataset_must_pass_its_check() -> None:
    decision = decide(dataset_evidence={})
    assert missing_keys(decision) == ["dataset:patients-2026w47"]
    assert text_of(decision, "dataset:patients-2026w47") == (
        "dataset patients-2026w47 checked with verdict ok (none recorded)"
    )
    drifted = {"patients-2026w47": [ev("data_check", DS, verdict="drift")]}
    assert "verdict was drift" in text_of(
        decide(dataset_evidence=drifted), "dataset:patients-2026w47"
    )


def test_dataset_check_of_an_older_dataset_version_is_stale() -> None:
    old_only = {"patients-2026w47": [ev("data_check", DS_OLD, verdict="ok")]}
    decision = decide(dataset_evidence=old_only, dataset_digests={"patients-2026w47": DS})
    assert not decision.allowed
    text = text_of(decision, "dataset:patients-2026w47")
    assert f"older version {short_digest(DS_OLD)}" in text
    assert decide(dataset_digests={"patients-2026w47": DS}).allowed


def test_signoff_lapses_when_the_digest_changes() -> None:
    decision = decide(signoffs=[so("sam", "security-reviewer", digest=V2)])
    assert not decision.allowed
    text = text_of(decision, "signoff:security-reviewer")
    assert "(have none;" in text
    assert f"sam's sign-off was for an older version {short_digest(V2)} and lapsed" in text


def test_requester_cannot_approve_their_own_request() -> None:
    signoffs = [so("alice", "security-reviewer", roles=["ml-engineer", "security-reviewer"])]
    decision = decide(requester="alice", signoffs=signoffs)
    assert not decision.allowed
    text = text_of(decision, "signoff:security-reviewer")
    assert "alice's own sign-off does not count" in text
    assert "alice requested this promotion" in text
    # Matching is case-insensitive: "Alice" is still the requester.
    assert not decide(requester="alice", signoffs=[so("Alice", "security-reviewer")]).allowed


def test_signing_in_a_role_not_held_does_not_count() -> None:
    decision = decide(signoffs=[so("mallory", "security-reviewer", roles=["data-scientist"])])
    assert not decision.allowed
    assert "mallory signed as security-reviewer without holding it" in text_of(
        decision, "signoff:security-reviewer"
    )


def test_one_person_with_two_roles_counts_once() -> None:
    policy = POLICY.replace(
        "        - {role: security-reviewer, count: 1}",
        "        - {role: security-reviewer, count: 1}\n        - {role: approver, count: 1}",
    )
    both = ["security-reviewer", "approver"]
    decision = decide(
        policy=policy,
        signoffs=[so("sam", "security-reviewer", roles=both), so("sam", "approver", roles=both)],
    )
    assert not decision.allowed
    assert len(decision.missing) == 1
    assert "sam already counts as" in decision.missing[0].text
    # A second person fills the other slot, whichever one sam is not needed for.
    decision = decide(
        policy=policy,
        signoffs=[
            so("sam", "security-reviewer", roles=both),
            so("sam", "approver", roles=both),
            so("rita", "security-reviewer"),
        ],
    )
    assert decision.allowed, decision.missing
    assert "(have 1: rita)" in text_of(decision, "signoff:security-reviewer")
    assert "(have 1: sam)" in text_of(decision, "signoff:approver")


def test_same_person_signing_twice_counts_once() -> None:
    decision = decide(
        from_stage="staging",
        to_stage="production",
        signoffs=[so("bob", "approver"), so("bob", "approver", minutes=5)],
    )
    assert not decision.allowed
    assert "2 sign-offs from approver (have 1: bob)" in text_of(decision, "signoff:approver")


def test_production_needs_two_approvers() -> None:
    decision = decide(
        from_stage="staging",
        to_stage="production",
        signoffs=[so("bob", "approver"), so("carol", "approver")],
    )
    assert decision.allowed, decision.missing
    assert "(have 2: bob, carol)" in text_of(decision, "two-person")


def test_production_needs_two_distinct_people_whatever_the_policy_says() -> None:
    lax = POLICY.replace("{role: approver, count: 2}", "{role: approver, count: 1}")
    decision = decide(
        policy=lax, from_stage="staging", to_stage="production", signoffs=[so("bob", "approver")]
    )
    assert not decision.allowed
    assert missing_keys(decision) == ["two-person"]
    assert text_of(decision, "two-person") == (
        "approval by at least 2 different people before production (have 1: bob)"
    )
    decision = decide(
        policy=lax,
        from_stage="staging",
        to_stage="production",
        signoffs=[so("bob", "approver"), so("sam", "security-reviewer")],
    )
    assert decision.allowed, decision.missing
    # No rule at all for production still needs the two people, and is refused anyway.
    none = POLICY.split("  - to: production")[0]
    decision = decide(policy=none, from_stage="staging", to_stage="production", signoffs=[])
    assert missing_keys(decision) == ["policy", "two-person"]
    assert "the policy has none" in text_of(decision, "policy")


def test_the_two_person_rule_ignores_the_requester() -> None:
    decision = decide(
        from_stage="staging",
        to_stage="production",
        requester="bob",
        signoffs=[so("bob", "approver"), so("carol", "approver")],
    )
    assert not decision.allowed
    assert "bob's own sign-off does not count" in text_of(decision, "two-person")
    assert "(have 1: carol; bob's own" in text_of(decision, "signoff:approver")


def test_any_rejection_of_the_current_version_blocks() -> None:
    signoffs = [
        so("sam", "security-reviewer"),
        so("rita", "security-reviewer", decision="reject", minutes=-30),
    ]
    decision = decide(signoffs=signoffs)
    assert not decision.allowed
    assert missing_keys(decision) == ["no-rejection"]
    text = text_of(decision, "no-rejection")
    assert "rejected by rita as security-reviewer on 2026-11-20" in text
    # A rejection of an older version does not block the fixed one.
    old_reject = [
        so("sam", "security-reviewer"),
        so("rita", "security-reviewer", decision="reject", digest=V2),
    ]
    assert decide(signoffs=old_reject).allowed


@pytest.mark.parametrize(
    ("from_stage", "to_stage", "needle"),
    [
        ("dev", "production", "skips staging"),
        ("staging", "dev", "goes backwards"),
        ("production", "staging", "goes backwards"),
        ("staging", "staging", "already in staging"),
        ("rejected", "staging", "this version was rejected"),
        ("revoked", "production", "this version was revoked"),
        ("qa", "staging", "'qa' is not one of dev, staging, production"),
        ("dev", "qa", "'qa' is not one of"),
        ("staging", "rejected", "not by promotion"),
    ],
)
def test_only_one_step_forward_from_a_live_stage(
    from_stage: str, to_stage: str, needle: str
) -> None:
    decision = decide(
        from_stage=from_stage,
        to_stage=to_stage,
        signoffs=[so("sam", "security-reviewer"), so("bob", "approver"), so("carol", "approver")],
    )
    assert not decision.allowed
    assert missing_keys(decision) == ["stage"]
    assert needle in decision.missing[0].text
    assert decision.satisfied == []


def test_unknown_kind_is_refused() -> None:
    decision = decide(kind="spreadsheet")
    assert missing_keys(decision) == ["kind"]
    assert "'spreadsheet'" in decision.missing[0].text


def test_kind_not_covered_by_any_rule_is_refused() -> None:
    models_only = POLICY.replace(
        "kinds: [dataset, model, notebook, pipeline]", "kinds: [model]"
    ).replace("      data_check: {verdict: ok}\n", "")
    decision = decide(policy=models_only, kind="notebook")
    assert not decision.allowed
    assert "a rule in the policy for promoting a notebook to staging" in text_of(decision, "policy")


def test_policy_model_can_be_evaluated_directly() -> None:
    loaded = parse_policy(POLICY)
    decision = evaluate(
        loaded.model,
        kind="model",
        from_stage="dev",
        to_stage="staging",
        digest=V1,
        requester="alice",
        evidence=GOOD_EVIDENCE,
        signoffs=[so("sam", "security-reviewer")],
        dataset_evidence=GOOD_DATASETS,
    )
    assert decision.allowed


def test_naive_and_aware_times_mix_without_crashing() -> None:
    naive = EvidenceFact("scan", V1, {"max_severity": "critical"}, "ci", datetime(2026, 11, 21))
    decision = decide(evidence=[*GOOD_EVIDENCE, naive])
    assert missing_keys(decision) == ["scan"]


def test_short_digest() -> None:
    assert short_digest(V1) == "sha256:a1a1a1a1a1a1…"
    assert short_digest("abc") == "abc"
    assert short_digest("sha256:abc") == "sha256:abc"


def test_a_role_that_cannot_approve_never_counts_toward_two_people() -> None:
    decision = decide(
        from_stage="staging",
        to_stage="production",
        signoffs=[so("bob", "approver"), so("carol", "approver"), so("ada", "auditor")],
    )
    assert decision.allowed
    decision = decide(
        from_stage="staging",
        to_stage="production",
        signoffs=[so("bob", "approver"), so("ada", "auditor")],
    )
    assert not decision.allowed
    assert "ada signed as auditor, which cannot approve" in text_of(decision, "two-person")
    assert "ada" not in text_of(decision, "signoff:approver")


def test_lapsed_note_only_under_the_role_it_was_given_in() -> None:
    policy = POLICY.replace(
        "{role: approver, count: 2}",
        "{role: approver, count: 2}\n        - {role: security-reviewer, count: 1}",
    )
    decision = decide(
        policy=policy,
        from_stage="staging",
        to_stage="production",
        signoffs=[so("bob", "approver"), so("sam", "security-reviewer", digest=V2)],
    )
    assert "sam" in text_of(decision, "signoff:security-reviewer")
    assert "sam" not in text_of(decision, "signoff:approver")
