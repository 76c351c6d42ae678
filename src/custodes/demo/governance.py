"""The health demo's governance history: a week of gate decisions, made through the core.

Every step goes through :mod:`custodes.governance` exactly as the CLI would take it, so
the audit log records each one and ``custodes audit verify`` checks the result:

- Monday: the platform admin creates the store, registers the team and records the
  policy; the ML engineer registers the retrained outcome model and asks for staging;
  promotion is refused, because no evidence is on record yet.
- Monday and Tuesday: custodes' own analyzers produce the evidence (a scan, the threat
  model, the model's signed provenance, the data check of the training extract); the
  security reviewer approves and the model moves to staging.
- Wednesday and Thursday: the security reviewer and the clinical owner approve the move
  to production, two different people, and the model is promoted.
- Friday: the weekly extract with the Bloom app's entries arrives; its data check says
  suspected poisoning and the security reviewer rejects it, naming the check.

People act with keys generated in memory: no private key of a person is ever written
(the credential scanner would rightly flag it). The store's own audit-log key is written
to ``.custodes/log-key.pem`` because the store needs it; that folder is ignored by git
(``.custodes/.gitignore``) and skipped by ``custodes scan``.

The audit log stamps each entry with the real time it was appended and signs it, so those
times are left alone; the registry rows (requests, evidence, sign-offs, stage changes) are
dated to the week the story tells, so ``custodes registry history`` reads like one.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

__all__ = [
    "DATASET",
    "MODEL",
    "MODEL_MANIFEST",
    "PEOPLE",
    "POISONED",
    "STORE_FILES",
    "reset_store",
    "write_governance_history",
    "write_model_manifest",
]

MODEL = "outcome-model"
DATASET = "patients-2026w46"
"""The extract the model was trained on (the reference data); its check passes."""
POISONED = "patients-2026w47"
"""This week's extract with the Bloom app upload; its check says suspected poisoning."""
MODEL_MANIFEST = "provenance/outcome_model.manifest.json"
DATA_CHECK_ID = "bloom-weekly-upload"

#: handle -> (roles, who they are)
PEOPLE: dict[str, tuple[tuple[str, ...], str]] = {
    "rosa": (("admin",), "ML platform admin"),
    "kwame": (("ml-engineer",), "ML engineer who trained the model"),
    "priya": (("data-scientist",), "data scientist who owns the weekly extract"),
    "noor": (("security-reviewer",), "ML security reviewer"),
    "dr-okafor": (("approver",), "clinical owner"),
}

#: Files of a previous demo's store, removed before the history is written again.
STORE_FILES = (
    "custodes.db",
    "custodes.db-wal",
    "custodes.db-shm",
    "log-key.pem",
    "log-key.pub.pem",
    "witness.json",
)


def _at(day: int, hour: int, minute: int = 0) -> datetime:
    """A time in the demo week, Monday 16 to Friday 20 November 2026 (UTC)."""
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC)


@dataclass
class _Week:
    """Dates the registry rows each step created to the step's time in the story."""

    gov: Any
    seen: dict[str, int]
    people: set[str]
    closed: set[int]

    @classmethod
    def start(cls, gov: Any) -> _Week:
        week = cls(gov, {}, set(), set())
        week.seen = week._max_ids()
        return week

    def _tables(self) -> list[tuple[Any, str]]:
        from custodes.store.models import (
            Artifact,
            ArtifactVersion,
            Evidence,
            PolicyRecord,
            PromotionRequest,
            SignOff,
            StageChange,
        )

        return [
            (Artifact, "created_at"),
            (ArtifactVersion, "registered_at"),
            (PromotionRequest, "requested_at"),
            (Evidence, "produced_at"),
            (SignOff, "at"),
            (StageChange, "at"),
            (PolicyRecord, "recorded_at"),
        ]

    def _max_ids(self) -> dict[str, int]:
        from sqlalchemy import func, select

        with self.gov.read() as session:
            return {
                model.__name__: session.execute(select(func.max(model.id))).scalar() or 0
                for model, _ in self._tables()
            }

    def at(self, when: datetime) -> None:
        from sqlalchemy import select, update

        from custodes.store.models import Principal, PromotionRequest

        with self.gov.store.session.begin() as session:
            for model, column in self._tables():
                session.execute(
                    update(model).where(model.id > self.seen[model.__name__]).values({column: when})
                )
            closed = set(
                session.execute(
                    select(PromotionRequest.id).where(PromotionRequest.closed_at.is_not(None))
                ).scalars()
            )
            if closed - self.closed:
                session.execute(
                    update(PromotionRequest)
                    .where(PromotionRequest.id.in_(closed - self.closed))
                    .values(closed_at=when)
                )
                self.closed |= closed
            people = set(session.execute(select(Principal.id)).scalars())
            if people - self.people:
                session.execute(
                    update(Principal)
                    .where(Principal.id.in_(people - self.people))
                    .values(created_at=when)
                )
                self.people |= people
        self.seen = self._max_ids()


def write_model_manifest(root: Path, model: Path, key: Ed25519PrivateKey) -> Path:
    """A provenance manifest of the trained model, signed with the demo's signing key.

    It sits in provenance/ rather than beside the model: the gate reads it through the
    registry (``custodes registry register --manifest``).
    """
    from custodes.provenance.keys import sign_document
    from custodes.provenance.manifest import Provenance, Tier, build_manifest, write_manifest

    prov = Provenance(
        source="outcome-model-training",
        tier=Tier.first_party,
        custodian="Calder Health clinical data science",
        health_data=True,
        chain_of_custody="provenance/training-attestation.json",
    )
    path = root / MODEL_MANIFEST
    path.parent.mkdir(parents=True, exist_ok=True)
    write_manifest(sign_document(build_manifest(model, prov), key), path)
    return path


def reset_store(root: Path) -> None:
    """A demo written again over an old one starts a fresh history."""
    from custodes.governance.service import STORE_DIR

    for name in STORE_FILES:
        with contextlib.suppress(FileNotFoundError):
            (root / STORE_DIR / name).unlink()


def _poisoning_comment(summary: dict[str, Any]) -> str:
    reasons = summary.get("reasons") or []
    sources = summary.get("suspect_sources") or []
    parts = [
        f"data check {DATA_CHECK_ID} ({POISONED} against data/baseline.json): "
        f"verdict {summary.get('verdict')}"
    ]
    if sources:
        parts.append(f"suspect source {', '.join(sources)}")
    if reasons:
        parts.append(str(reasons[0]))
    parts.append(
        "not for training; flagged rows go to the Bloom app trust-and-safety queue "
        "(custodes data check --flagged-rows)"
    )
    return "; ".join(parts)


def write_governance_history(root: Path) -> dict[str, Any]:
    """Write the week's governance history into ROOT/.custodes; a summary of what happened."""
    from custodes.governance import gates
    from custodes.governance.identity import Credential, public_pem
    from custodes.governance.service import Governance, Refused, ignore_store

    root = root.resolve()
    keys = {name: Ed25519PrivateKey.generate() for name in PEOPLE}
    who = {name: Credential(key, f"(in memory: {name})") for name, key in keys.items()}
    pub = {name: public_pem(key.public_key()) for name, key in keys.items()}
    summary: dict[str, Any] = {}
    with Governance.open(root) as gov:
        ignore_store(root)
        week = _Week.start(gov)

        # Monday: the store, the team, the policy; the model asks for staging.
        gov.bootstrap("rosa", pub["rosa"])
        for name, (roles, _) in PEOPLE.items():
            if name != "rosa":
                gov.add_person(who["rosa"], name, pub[name], roles)
        gov.record_policy(who["rosa"])
        week.at(_at(16, 9, 5))
        gov.register(
            who["kwame"],
            "model",
            MODEL,
            root / "models" / "outcome_model.joblib",
            root / MODEL_MANIFEST,
        )
        gov.register(who["priya"], "dataset", DATASET, root / "data" / "reference.parquet", None)
        week.at(_at(16, 10, 30))
        gates.request(
            gov,
            who["kwame"],
            MODEL,
            "staging",
            "v3 retrained on patients-2026w46 (sha in attestation)",
        )
        week.at(_at(16, 10, 40))
        try:
            gates.promote(gov, who["kwame"], MODEL)
        except Refused as exc:
            summary["refused"] = list(exc.missing)
        week.at(_at(16, 10, 45))
        baseline = Path("data/baseline.json")
        with contextlib.chdir(root):
            gates.attach_evidence(gov, who["priya"], DATASET, ["data_check"], baseline=baseline)
        week.at(_at(16, 14, 20))

        # Tuesday: the model's own evidence, the security review, staging.
        gates.attach_evidence(
            gov,
            who["kwame"],
            MODEL,
            ["scan", "threat_model", "provenance"],
            public_keys=[root / "provenance" / "demo-signer.pub.pem"],
        )
        week.at(_at(17, 9, 30))
        gates.sign_off(
            gov,
            who["noor"],
            MODEL,
            "approve",
            "scan clean; manifest signed by the training key; training extract "
            f"{DATASET} checked ok",
        )
        week.at(_at(17, 15, 0))
        gates.promote(gov, who["kwame"], MODEL)
        week.at(_at(17, 15, 20))

        # Wednesday and Thursday: two people sign the move to production.
        gates.request(
            gov, who["kwame"], MODEL, "production", "24 h of shadow traffic in staging, no alerts"
        )
        week.at(_at(18, 10, 0))
        gates.sign_off(
            gov, who["noor"], MODEL, "approve", "staging monitors green; rate limits in place"
        )
        week.at(_at(18, 16, 0))
        gates.sign_off(
            gov,
            who["dr-okafor"],
            MODEL,
            "approve",
            "clinical validation on the 2026-Q3 cohort reviewed; approved for care teams",
        )
        week.at(_at(19, 11, 0))
        gates.promote(gov, who["kwame"], MODEL)
        week.at(_at(19, 11, 30))

        # Friday: this week's extract, with the Bloom app upload, is checked and rejected.
        gov.register(
            who["priya"],
            "dataset",
            POISONED,
            root / "data" / "batches" / "2026-11-bloom-upload.parquet",
            None,
        )
        week.at(_at(20, 8, 30))
        gates.request(
            gov, who["priya"], POISONED, "staging", "weekly extract incl. Bloom app entries"
        )
        week.at(_at(20, 8, 35))
        with contextlib.chdir(root):
            results = gates.attach_evidence(
                gov, who["priya"], POISONED, ["scan", "data_check"], baseline=baseline
            )
        week.at(_at(20, 9, 10))
        check = next(r["summary"] for r in results if r["kind"] == "data_check")
        comment = _poisoning_comment(check)
        gates.sign_off(gov, who["noor"], POISONED, "reject", comment)
        week.at(_at(20, 10, 0))
        summary.update(
            people=sorted(PEOPLE),
            model=MODEL,
            model_stage="production",
            dataset=POISONED,
            dataset_verdict=check.get("verdict"),
            rejection=comment,
        )
    return summary
