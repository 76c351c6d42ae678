"""The schema of custodes-policy.yaml: which evidence and sign-offs each promotion needs.

Strict like custodes.yaml (unknown keys are errors): a misspelt ``max_severty`` silently
ignored would wave through exactly the artifact the policy was written to stop. Checks that
need the whole document (stage names, overlapping rules) live in the loader, where they can
point at a line.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from custodes.governance.roles import Role

__all__ = [
    "ARTIFACT_KINDS",
    "DEFAULT_STAGES",
    "TERMINAL_STAGES",
    "ArtifactKind",
    "DataCheckRule",
    "DataVerdict",
    "Limits",
    "PolicyFile",
    "Promotion",
    "ProvenanceRule",
    "Requirements",
    "ScanRule",
    "SeverityName",
    "SignoffRule",
    "ThreatModelRule",
]

ArtifactKind = Literal["dataset", "notebook", "model", "pipeline"]
ARTIFACT_KINDS: tuple[ArtifactKind, ...] = ("dataset", "notebook", "model", "pipeline")
SeverityName = Literal["info", "low", "medium", "high", "critical"]
DataVerdict = Literal["ok", "drift"]
StageName = Annotated[
    str, StringConstraints(pattern=r"^[a-z][a-z0-9_\-]*$", min_length=1, max_length=64)
]
DatasetName = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$", min_length=1, max_length=128),
]

DEFAULT_STAGES: tuple[str, ...] = ("dev", "staging", "production")
#: Stages an artifact reaches by a decision (reject, revoke), never by promotion.
TERMINAL_STAGES: tuple[str, ...] = ("rejected", "revoked")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class ScanRule(_Strict):
    """A scan of this exact version with no finding at or above ``max_severity``."""

    max_severity: SeverityName = "high"


class DataCheckRule(_Strict):
    """A data check of this exact dataset version; ``drift`` also accepts benign drift."""

    verdict: DataVerdict = "ok"


class ThreatModelRule(_Strict):
    """A threat model attached to this version, not stale, nothing serious left open."""

    current: bool = True
    max_unmitigated: SeverityName | None = None
    """No unmitigated threat at or above this risk; None ignores open threats."""


class ProvenanceRule(_Strict):
    """Provenance of this version that verifies (and, if asked, carries a signature)."""

    verified: bool = True
    signed: bool = False


class SignoffRule(_Strict):
    """``count`` different people, each approving in ``role``."""

    role: Annotated[Role, Field(strict=False)]
    count: int = Field(default=1, ge=1, le=20)


class Requirements(_Strict):
    """Everything a promotion needs; an absent key means that evidence is not required."""

    scan: ScanRule | None = None
    data_check: DataCheckRule | None = None
    """Applies to datasets only: other kinds have no rows to check."""
    threat_model: ThreatModelRule | None = None
    provenance: ProvenanceRule | None = None
    datasets_ok: list[DatasetName] = Field(default_factory=list)
    """Named dataset artifacts (e.g. a model's training data) that must each pass a check."""
    signoffs: list[SignoffRule] = Field(default_factory=list)


class Promotion(_Strict):
    """What moving into stage ``to`` (from the stage before it) requires."""

    to: StageName
    kinds: list[ArtifactKind] = Field(default_factory=lambda: list(ARTIFACT_KINDS), min_length=1)
    require: Requirements = Field(default_factory=Requirements)


class Limits(_Strict):
    """Limits that hold whatever the stage: checked by ``custodes assess``."""

    max_user_generated_share: float | None = Field(default=None, ge=0.0, le=1.0)
    """Largest share of a model's training rows that may come from user-generated
    sources: rows anyone could have written are rows an attacker could have written."""


class PolicyFile(_Strict):
    """A whole custodes-policy.yaml."""

    version: Literal[1]
    stages: list[StageName] = Field(default_factory=lambda: list(DEFAULT_STAGES), min_length=2)
    limits: Limits = Field(default_factory=Limits)
    promotions: list[Promotion] = Field(default_factory=list)

    def rule_for(self, to_stage: str, kind: str) -> Promotion | None:
        """The promotion rule into ``to_stage`` that covers ``kind``, if any."""
        return next((p for p in self.promotions if p.to == to_stage and kind in p.kinds), None)
