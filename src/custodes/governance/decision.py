"""Decide one promotion against the policy in force: what is satisfied, what is missing.

Pure (no database, no clock): :func:`evaluate` takes the facts the store holds about one
version (evidence, sign-offs) and returns a :class:`Decision` in words an approver who is
not an engineer can act on. Evidence and sign-offs count only for the exact digest being
promoted, so changing one byte of a model makes its old scan stale and its old approvals
lapse. Separation of duties is enforced here, not left to policy authors: the requester
never approves their own request, one person counts once however many roles they hold, a
rejection blocks, and the last stage (production) always needs two different people.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from custodes.findings import Severity
from custodes.governance.policy import DenyAll, LoadedPolicy
from custodes.governance.policy_schema import (
    ARTIFACT_KINDS,
    TERMINAL_STAGES,
    PolicyFile,
    Promotion,
)
from custodes.governance.roles import Action, allowed

__all__ = [
    "Decision",
    "EvidenceFact",
    "Requirement",
    "SignOffFact",
    "evaluate",
    "short_digest",
]


@dataclass(frozen=True)
class EvidenceFact:
    """One piece of evidence attached to one version of an artifact.

    ``summary`` by kind: scan ``{"max_severity": "high" | None, "counts": {...}}``;
    data_check ``{"verdict": "ok" | "drift" | ...}``; threat_model ``{"stale": bool,
    "max_unmitigated": "critical" | None, "model_digest": ...}``; provenance
    ``{"verified": bool, "signed": bool, "key_id": ...}``.
    """

    kind: str
    digest: str
    summary: dict[str, Any]
    produced_by: str
    produced_at: datetime


@dataclass(frozen=True)
class SignOffFact:
    """One person's decision on one version, in one of the roles they hold."""

    principal: str
    roles: list[str]
    role: str
    decision: Literal["approve", "reject"]
    digest: str
    at: datetime


@dataclass(frozen=True)
class Requirement:
    """One thing a promotion needs; ``key`` is stable for machines, ``text`` for people."""

    key: str
    text: str


@dataclass(frozen=True)
class Decision:
    """May this version move? What is in place, and what is still missing."""

    allowed: bool
    missing: list[Requirement]
    satisfied: list[Requirement]


def short_digest(digest: str) -> str:
    """``sha256:ab12cd34ef56…``: enough to tell versions apart in a sentence."""
    algo, sep, hexpart = digest.partition(":")
    if not sep:
        return digest[:12] + ("…" if len(digest) > 12 else "")
    return f"{algo}:{hexpart[:12]}" + ("…" if len(hexpart) > 12 else "")


def evaluate(
    policy: LoadedPolicy | PolicyFile | DenyAll,
    *,
    kind: str,
    from_stage: str,
    to_stage: str,
    digest: str,
    requester: str,
    evidence: Sequence[EvidenceFact],
    signoffs: Sequence[SignOffFact],
    dataset_evidence: Mapping[str, Sequence[EvidenceFact]] | None = None,
    dataset_digests: Mapping[str, str] | None = None,
) -> Decision:
    """Decide whether version ``digest`` of a ``kind`` may move ``from_stage`` → ``to_stage``.

    ``dataset_evidence`` holds the evidence of each dataset named in ``datasets_ok``;
    ``dataset_digests`` (optional) the digest of each dataset's current version, so that a
    check of an older version of the training data does not count.
    """
    if isinstance(policy, DenyAll):
        return _deny(
            Requirement(
                "policy",
                f"a readable promotion policy (none in force: {policy.reason}); "
                "every promotion is refused until there is one",
            )
        )
    model = policy.model if isinstance(policy, LoadedPolicy) else policy
    stages = list(model.stages)
    problem = _stage_problem(stages, kind, from_stage, to_stage)
    if problem is not None:
        return _deny(problem)
    out = _Outcome()
    out.ok(Requirement("stage", f"{from_stage} → {to_stage} is the next stage"))
    rule = model.rule_for(to_stage, kind)
    if rule is None:
        out.no(
            Requirement(
                "policy",
                f"a rule in the policy for promoting a {kind} to {to_stage} "
                "(the policy has none, so the promotion is refused)",
            )
        )
    else:
        _evidence(out, rule, kind, digest, evidence, dataset_evidence or {}, dataset_digests or {})
    people = _People(digest, requester, signoffs)
    if rule is not None and rule.require.signoffs:
        _signoffs(out, rule, people)
    if to_stage == stages[-1]:
        _two_people(out, to_stage, people)
    _no_rejection(out, people)
    return Decision(allowed=not out.missing, missing=out.missing, satisfied=out.satisfied)


@dataclass
class _Outcome:
    missing: list[Requirement] = field(default_factory=list)
    satisfied: list[Requirement] = field(default_factory=list)

    def ok(self, req: Requirement) -> None:
        self.satisfied.append(req)

    def no(self, req: Requirement) -> None:
        self.missing.append(req)

    def add(self, passed: bool, req: Requirement) -> None:
        (self.satisfied if passed else self.missing).append(req)


def _deny(req: Requirement) -> Decision:
    return Decision(allowed=False, missing=[req], satisfied=[])


def _stage_problem(
    stages: list[str], kind: str, from_stage: str, to_stage: str
) -> Requirement | None:
    """Why this move is not a single step forward, or None when it is."""
    order = ", ".join(stages)
    if kind not in ARTIFACT_KINDS:
        return Requirement(
            "kind", f"a known kind of artifact ({kind!r} is not one of {', '.join(ARTIFACT_KINDS)})"
        )
    if from_stage in TERMINAL_STAGES:
        return Requirement(
            "stage",
            f"a live version to promote (this version was {from_stage}, which is final: "
            "register a new version instead)",
        )
    if from_stage not in stages:
        return Requirement("stage", f"a known current stage ({from_stage!r} is not one of {order})")
    if to_stage in TERMINAL_STAGES:
        return Requirement(
            "stage",
            f"a stage to promote into ({to_stage} is reached by a reject or revoke decision, "
            "not by promotion)",
        )
    if to_stage not in stages:
        return Requirement("stage", f"a known target stage ({to_stage!r} is not one of {order})")
    src, dst = stages.index(from_stage), stages.index(to_stage)
    if dst == src:
        return Requirement("stage", f"a move to another stage (it is already in {to_stage})")
    if dst < src:
        return Requirement(
            "stage",
            f"a move forward ({from_stage} → {to_stage} goes backwards; stages only move "
            f"forward: {' → '.join(stages)})",
        )
    if dst > src + 1:
        skipped = ", ".join(stages[src + 1 : dst])
        return Requirement(
            "stage",
            f"one stage at a time ({from_stage} → {to_stage} skips {skipped}; "
            f"promote to {stages[src + 1]} first)",
        )
    return None


def _when(at: datetime) -> float:
    """Sort key for times; naive times are taken as UTC so mixed inputs never crash."""
    return (at if at.tzinfo is not None else at.replace(tzinfo=UTC)).timestamp()


def _latest(
    facts: Sequence[EvidenceFact], kind: str, digest: str | None
) -> tuple[EvidenceFact | None, EvidenceFact | None]:
    """Latest ``kind`` evidence of this digest, and latest of any other digest."""
    of_kind = sorted((f for f in facts if f.kind == kind), key=lambda f: _when(f.produced_at))
    current = [f for f in of_kind if digest is None or f.digest == digest]
    other = [f for f in of_kind if digest is not None and f.digest != digest]
    return (current[-1] if current else None), (other[-1] if other else None)


def _absent(label: str, stale: EvidenceFact | None) -> str:
    if stale is not None:
        return f"latest {label} was of an older version {short_digest(stale.digest)}"
    return "none recorded"


def _severity(value: object) -> Severity | None:
    """A severity name from a summary; raises ValueError for anything unreadable."""
    if value is None:
        return None
    return Severity.parse(str(value))


def _a(word: str) -> str:
    return f"an {word}" if word[:1] in "aeiou" else f"a {word}"


def _evidence(
    out: _Outcome,
    rule: Promotion,
    kind: str,
    digest: str,
    evidence: Sequence[EvidenceFact],
    dataset_evidence: Mapping[str, Sequence[EvidenceFact]],
    dataset_digests: Mapping[str, str],
) -> None:
    req = rule.require
    if req.scan is not None:
        _scan(out, req.scan.max_severity, digest, evidence)
    if req.data_check is not None and kind == "dataset":
        accepted = ("ok",) if req.data_check.verdict == "ok" else ("ok", "drift")
        text = "a data check of this version with verdict " + " or ".join(accepted)
        passed, detail = _data_check(evidence, digest, accepted)
        out.add(passed, Requirement("data_check", f"{text} ({detail})"))
    if req.threat_model is not None:
        _threat_model(
            out, req.threat_model.current, req.threat_model.max_unmitigated, digest, evidence
        )
    if req.provenance is not None:
        _provenance(out, req.provenance.verified, req.provenance.signed, digest, evidence)
    for name in req.datasets_ok:
        passed, detail = _data_check(
            dataset_evidence.get(name, ()), dataset_digests.get(name), ("ok",)
        )
        out.add(
            passed,
            Requirement(f"dataset:{name}", f"dataset {name} checked with verdict ok ({detail})"),
        )


def _scan(out: _Outcome, threshold: str, digest: str, evidence: Sequence[EvidenceFact]) -> None:
    text = f"a scan of {short_digest(digest)} with no finding at or above {threshold}"
    latest, stale = _latest(evidence, "scan", digest)
    if latest is None:
        out.no(Requirement("scan", f"{text} ({_absent('scan', stale)})"))
        return
    try:
        worst = _severity(latest.summary.get("max_severity"))
    except ValueError:
        bad = latest.summary.get("max_severity")
        out.no(Requirement("scan", f"{text} (latest scan reported an unreadable severity {bad!r})"))
        return
    if worst is None:
        out.ok(Requirement("scan", f"{text} (latest scan found nothing)"))
    elif worst.at_least(Severity.parse(threshold)):
        counts = latest.summary.get("counts")
        n = counts.get(worst.value) if isinstance(counts, dict) else None
        found = (
            f"{n} {worst.value} findings"
            if isinstance(n, int) and n > 1
            else f"{_a(worst.value)} finding"
        )
        out.no(Requirement("scan", f"{text} (latest scan found {found})"))
    else:
        out.ok(Requirement("scan", f"{text} (worst finding in latest scan: {worst.value})"))


def _data_check(
    facts: Sequence[EvidenceFact], digest: str | None, accepted: tuple[str, ...]
) -> tuple[bool, str]:
    latest, stale = _latest(facts, "data_check", digest)
    if latest is None:
        return False, _absent("data check", stale)
    verdict = str(latest.summary.get("verdict", "unknown"))
    said = verdict.replace("_", " ")
    if verdict in accepted:
        return True, f"latest check: {said}"
    return False, f"latest check's verdict was {said}"


def _threat_model(
    out: _Outcome,
    current: bool,
    threshold: str | None,
    digest: str,
    evidence: Sequence[EvidenceFact],
) -> None:
    text = "an up-to-date threat model" if current else "a threat model"
    if threshold is not None:
        text += f" with no unmitigated threat at or above {threshold}"
    latest, stale = _latest(evidence, "threat_model", digest)
    if latest is None:
        out.no(Requirement("threat_model", f"{text} ({_absent('threat model', stale)})"))
        return
    problems: list[str] = []
    if current and latest.summary.get("stale", True) is not False:
        problems.append("the threat model is out of date and needs a new review")
    if threshold is not None:
        try:
            worst = _severity(latest.summary.get("max_unmitigated"))
        except ValueError:
            problems.append("it reports an unreadable risk level")
        else:
            if worst is not None and worst.at_least(Severity.parse(threshold)):
                problems.append(f"it leaves {_a(worst.value)} threat unmitigated")
    if problems:
        out.no(Requirement("threat_model", f"{text} ({'; '.join(problems)})"))
    else:
        said = "latest threat model is current" if current else "latest threat model on record"
        out.ok(Requirement("threat_model", f"{text} ({said})"))


def _provenance(
    out: _Outcome, verified: bool, signed: bool, digest: str, evidence: Sequence[EvidenceFact]
) -> None:
    wants = [w for w, on in (("verified", verified), ("signed", signed)) if on]
    text = f"provenance of {short_digest(digest)}"
    if wants:
        text += " that is " + " and ".join(wants)
    latest, stale = _latest(evidence, "provenance", digest)
    if latest is None:
        out.no(Requirement("provenance", f"{text} ({_absent('provenance record', stale)})"))
        return
    problems: list[str] = []
    if verified and latest.summary.get("verified") is not True:
        problems.append("it did not verify")
    if signed and latest.summary.get("signed") is not True:
        problems.append("it is not signed")
    if problems:
        out.no(Requirement("provenance", f"{text} ({'; '.join(problems)})"))
        return
    key_id = latest.summary.get("key_id")
    detail = f"signed with key {key_id}" if signed and key_id else "in place"
    out.ok(Requirement("provenance", f"{text} ({detail})"))


class _People:
    """Sign-offs sorted into those that count and the reasons the others do not."""

    def __init__(self, digest: str, requester: str, signoffs: Sequence[SignOffFact]) -> None:
        self.requester = requester
        #: person key -> (display name, roles they validly approved in)
        self.valid: dict[str, tuple[str, set[str]]] = {}
        self.self_roles: set[str] = set()
        self.lapsed: dict[str, tuple[str, str, str]] = {}  # person -> (name, role, old digest)
        self.unheld: list[tuple[str, str]] = []  # (role, why it does not count)
        self.rejections: list[SignOffFact] = []
        me = requester.casefold()
        for s in sorted(signoffs, key=lambda s: _when(s.at)):
            who = s.principal.casefold()
            if s.digest != digest:
                if s.decision == "approve" and who not in self.valid:
                    self.lapsed[who] = (s.principal, s.role, s.digest)
                continue
            if s.decision == "reject":
                self.rejections.append(s)
                continue
            if who == me:
                self.self_roles.add(s.role)
            elif s.role not in s.roles:
                self.unheld.append((s.role, f"{s.principal} signed as {s.role} without holding it"))
            elif not allowed([s.role], Action.APPROVE):
                self.unheld.append(
                    (s.role, f"{s.principal} signed as {s.role}, which cannot approve")
                )
            else:
                _, roles = self.valid.setdefault(who, (s.principal, set()))
                roles.add(s.role)
                self.lapsed.pop(who, None)

    def names(self, keys: Sequence[str]) -> str:
        return ", ".join(self.valid[k][0] for k in keys)

    def notes(self, role: str | None) -> list[str]:
        """Why other sign-offs (in ``role``, or any role) do not count."""
        out: list[str] = []
        if self.self_roles and (role is None or role in self.self_roles):
            out.append(
                f"{self.requester}'s own sign-off does not count: "
                f"{self.requester} requested this promotion"
            )
        out.extend(
            f"{name}'s sign-off was for an older version {short_digest(old)} and lapsed "
            "when it changed"
            for name, r, old in self.lapsed.values()
            if role is None or r == role
        )
        out.extend(why for r, why in self.unheld if role is None or r == role)
        return out


def _match(rule: Promotion, people: _People) -> dict[int, list[str]]:
    """Assign people to sign-off slots so each person fills at most one slot.

    A maximum bipartite matching (augmenting paths): a person holding two roles is placed
    where they are needed, and never counted twice.
    """
    slots = [j for j, r in enumerate(rule.require.signoffs) for _ in range(r.count)]
    holder: dict[int, str] = {}  # slot -> person

    def place(person: str, seen: set[int]) -> bool:
        roles = people.valid[person][1]
        for s, j in enumerate(slots):
            if s in seen or rule.require.signoffs[j].role.value not in roles:
                continue
            seen.add(s)
            if s not in holder or place(holder[s], seen):
                holder[s] = person
                return True
        return False

    for person in people.valid:
        place(person, set())
    by_rule: dict[int, list[str]] = {j: [] for j in range(len(rule.require.signoffs))}
    for s in sorted(holder):
        by_rule[slots[s]].append(holder[s])
    return by_rule


def _signoffs(out: _Outcome, rule: Promotion, people: _People) -> None:
    assigned = _match(rule, people)
    placed = {p: j for j, ps in assigned.items() for p in ps}
    for j, r in enumerate(rule.require.signoffs):
        role = r.role.value
        have = assigned[j]
        text = f"{r.count} sign-off{'s' if r.count > 1 else ''} from {role}"
        details = [f"have {len(have)}: {people.names(have)}" if have else "have none"]
        if len(have) < r.count:
            details.extend(
                f"{people.valid[p][0]} already counts as "
                f"{rule.require.signoffs[placed[p]].role.value}"
                for p, (_, roles) in people.valid.items()
                if role in roles and p in placed and placed[p] != j
            )
            details.extend(people.notes(role))
        out.add(
            len(have) >= r.count, Requirement(f"signoff:{role}", f"{text} ({'; '.join(details)})")
        )


def _two_people(out: _Outcome, stage: str, people: _People) -> None:
    """The last stage always needs two different people, whatever the policy says."""
    who = list(people.valid)
    have = f"have {len(who)}: {people.names(who)}" if who else "have none"
    details = [have] if len(who) >= 2 else [have, *people.notes(None)]
    out.add(
        len(who) >= 2,
        Requirement(
            "two-person",
            f"approval by at least 2 different people before {stage} ({'; '.join(details)})",
        ),
    )


def _no_rejection(out: _Outcome, people: _People) -> None:
    if not people.rejections:
        out.ok(Requirement("no-rejection", "no rejection of this version"))
        return
    who = "; ".join(
        f"rejected by {s.principal} as {s.role} on {s.at.date().isoformat()}"
        for s in people.rejections
    )
    out.no(
        Requirement(
            "no-rejection",
            f"no rejection of this version ({who}; a rejected version is not promoted, "
            "submit a fixed version)",
        )
    )
