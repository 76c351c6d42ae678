"""The system model: what an AI system is made of and how its data flows.

This is the schema of ``custodes.yaml``. It only describes; it decides nothing. Which
threats apply, and whether they are mitigated, is the threat model's job
(:mod:`custodes.threatmodel`). The schema is strict (unknown keys are errors) because a
misspelt ``rate_limt`` silently ignored would make the report lie.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

__all__ = [
    "Actor",
    "Consequence",
    "Control",
    "ControlStatus",
    "DataCheck",
    "Dependency",
    "Element",
    "Endpoint",
    "FeedbackLoop",
    "Flow",
    "ModelArtifact",
    "Notebook",
    "Output",
    "Process",
    "Response",
    "Review",
    "Scale",
    "Source",
    "Store",
    "System",
    "SystemModel",
    "Tier",
    "Tool",
    "TrustBoundary",
]

ElementId = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$", min_length=1, max_length=128),
]
Tier = Literal["first_party", "broker", "user_generated"]
Consequence = Literal["low", "moderate", "high", "critical"]
ControlStatus = Literal["implemented", "planned", "not_applicable", "risk_accepted"]
Classification = Literal["public", "internal", "confidential", "restricted"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Scale(_Strict):
    """How many records, decisions and people: what turns an error rate into harm."""

    records: int | None = Field(default=None, ge=0)
    decisions_per_day: int | None = Field(default=None, ge=0)
    people_affected: int | None = Field(default=None, ge=0)
    accuracy: float | None = Field(default=None, ge=0.0, le=1.0)
    """Measured accuracy of the model; with people_affected it gives people harmed."""


class Review(_Strict):
    """When the threat model was last reviewed and what it looked like then."""

    last_reviewed: date | None = None
    interval_days: int = Field(default=90, ge=1, le=3650)
    reviewer: str | None = None
    fingerprint: str | None = None
    """`custodes threat-model --fingerprint` at review time; a change means re-review."""


class System(_Strict):
    """The system as a whole: who owns it, what it is for, how much rides on it."""

    name: str
    owner: str | None = None
    purpose: str | None = None
    description: str | None = None
    consequence: Consequence = "moderate"
    """Worst realistic harm of a wrong output to a person."""
    scale: Scale = Scale()
    review: Review = Review()


class Element(_Strict):
    """Fields every element of the system shares."""

    id: ElementId
    name: str | None = None
    description: str | None = None
    owner: str | None = None
    boundary: ElementId | None = None
    """Trust boundary the element sits in (may also be given by the boundary's list)."""

    @property
    def label(self) -> str:
        """The name a person reads, falling back to the id."""
        return self.name or self.id


class Actor(Element):
    """A person, team, service or the public, and what they can reach."""

    kind: Literal["human", "team", "service", "public", "partner"] = "team"
    access: list[ElementId] = []
    mfa: bool | None = None
    privileged: bool = False


class TrustBoundary(Element):
    """A zone whose inside trusts itself more than the outside (network, account, org)."""

    contains: list[ElementId] = []


class Source(Element):
    """Where data comes from, and who had custody of it before us."""

    tier: Tier
    custodian: str | None = None
    chain_of_custody: str | None = None
    """Reference to the custody documentation (file, link); absence is itself a finding."""
    license: str | None = None
    personal_data: bool = False
    health_data: bool = False
    biometric_data: bool = False
    records: int | None = Field(default=None, ge=0)
    path: str | None = None
    format: str | None = None
    manifest: str | None = None
    """Provenance manifest of the data, when one is kept in the repository."""


class Process(Element):
    """A step that reads and writes data: ingestion, preprocessing, training, serving."""

    kind: Literal[
        "ingestion",
        "preprocessing",
        "feature_engineering",
        "training",
        "fine_tuning",
        "evaluation",
        "serving",
    ]
    automated_validation: bool = False
    """Every batch passes an automated statistical check before it is used."""
    code: str | None = None
    schedule: str | None = None


class Store(Element):
    """Where data or embeddings rest."""

    kind: Literal[
        "object_storage",
        "database",
        "data_lake",
        "warehouse",
        "feature_store",
        "vector_store",
        "file_share",
        "cache",
        "prompt_store",
    ] = "object_storage"
    encrypted: bool | None = None
    access_control: bool | None = None
    public: bool = False
    personal_data: bool = False
    health_data: bool = False
    biometric_data: bool = False


class ModelArtifact(Element):
    """A trained model file and where it came from."""

    format: Literal[
        "pickle",
        "joblib",
        "pytorch",
        "safetensors",
        "onnx",
        "keras",
        "tensorflow",
        "gguf",
        "xgboost",
        "lightgbm",
        "api",
        "other",
    ] = "other"
    origin: Literal["in_house", "third_party", "foundation"] = "in_house"
    provider: str | None = None
    path: str | None = None
    signed: bool = False
    attestation: str | None = None
    """In-toto training attestation (DSSE) of this model, relative to custodes.yaml."""
    signature: str | None = None
    """OpenSSF model-signing bundle over the model's folder, relative to custodes.yaml."""
    public_keys: list[str] = Field(default_factory=list)
    """Public keys (PEM, relative to custodes.yaml) trusted to sign the attestation or
    signature; without one, custodes cannot tell a real signature from a forged one."""
    trained: date | None = None
    retrain_interval_days: int | None = Field(default=None, ge=1)
    """How long the model is trusted after training; older than this it is stale."""


class Dependency(Element):
    """Something outside the team's code that the system relies on."""

    kind: Literal["library", "service", "api", "dataset", "model_hub", "platform"] = "library"
    provider: str | None = None
    pinned: bool | None = None
    version: str | None = None


class Notebook(Element):
    """A notebook or development environment, the place model IP and data meet."""

    path: str | None = None
    environment: str | None = None
    production_data_access: bool = False
    users: list[ElementId] = []
    version_controlled: bool | None = None
    credentials: Literal["secret_manager", "environment", "hard_coded", "none", "unknown"] = (
        "unknown"
    )


class Endpoint(Element):
    """Where the model answers queries: who may call and what it tells them."""

    callers: Literal["public", "authenticated_users", "partners", "internal"] = "internal"
    authentication: bool | None = None
    rate_limit: str | None = None
    """e.g. ``100/minute`` per caller; none means unlimited queries."""
    returns: list[
        Literal[
            "label",
            "confidence",
            "probabilities",
            "score",
            "embedding",
            "text",
            "ranking",
            "explanation",
        ]
    ] = ["label"]
    serves: list[ElementId] = []
    """Models behind the endpoint."""
    logs_inputs: bool = False


class Output(Element):
    """Where decisions go: a UI, a report, another system."""

    kind: Literal["ui", "api", "report", "downstream_system", "notification", "file"] = "ui"
    audience: str | None = None
    human_review: bool = False
    """A person checks outputs before they act on someone."""


class FeedbackLoop(Element):
    """Outputs that come back as inputs; the path by which use becomes training."""

    from_: ElementId = Field(alias="from")
    into: ElementId
    used_for: Literal["training", "fine_tuning", "retrieval", "evaluation"] = "training"
    validated: bool = False


class Tool(Element):
    """A tool an agent or LLM may invoke, with the actions it can take."""

    actions: list[str] = []
    requires_approval: bool = False
    untrusted_input: bool = False


class Flow(_Strict):
    """Data moving from one element to another, with what it carries."""

    id: ElementId | None = None
    from_: ElementId = Field(alias="from")
    to: ElementId
    data: str | None = None
    classification: Classification = "internal"
    encrypted: bool | None = None
    authenticated: bool | None = None


class Response(_Strict):
    """What we do, and whom we call, when the threat materializes."""

    procedure: str
    escalation: str


class Control(_Strict):
    """A declared control against OWASP AI Exchange threats, and its evidence."""

    id: str
    """OWASP AI Exchange control id, e.g. RATELIMIT."""
    applies_to: list[ElementId] = []
    """Element ids; empty means the whole system."""
    status: ControlStatus
    evidence: str | None = None
    owner: str | None = None
    response: Response | None = None
    last_reviewed: date | None = None
    approver: str | None = None
    expires: date | None = None
    reason: str | None = None
    notes: str | None = None

    @model_validator(mode="after")
    def _acceptance_is_complete(self) -> Control:
        # An accepted risk nobody owns, nobody approved or that never ends is an
        # unmanaged risk; refuse it at load time rather than report it later.
        if self.status != "risk_accepted":
            return self
        missing = [k for k in ("owner", "approver", "expires") if getattr(self, k) is None]
        if missing:
            raise ValueError(f"a risk_accepted control needs {', '.join(missing)}")
        if self.owner == self.approver:
            raise ValueError("a risk acceptance needs an approver other than its owner")
        return self


class DataCheck(_Strict):
    """A batch to check against a baseline whenever the project is assessed.

    Paths are relative to custodes.yaml. ``tiers`` maps values of the baseline's source
    column to provenance tiers when they are not tier names already.
    """

    id: ElementId
    baseline: str
    batch: str
    source: ElementId | None = None
    """The declared source or store the batch arrives from, for the report."""
    tiers: dict[str, Tier] = {}


class SystemModel(_Strict):
    """The whole custodes.yaml."""

    version: Literal[1] = 1
    system: System
    actors: list[Actor] = []
    trust_boundaries: list[TrustBoundary] = []
    sources: list[Source] = []
    processes: list[Process] = []
    stores: list[Store] = []
    models: list[ModelArtifact] = []
    dependencies: list[Dependency] = []
    notebooks: list[Notebook] = []
    endpoints: list[Endpoint] = []
    outputs: list[Output] = []
    feedback_loops: list[FeedbackLoop] = []
    tools: list[Tool] = []
    flows: list[Flow] = []
    controls: list[Control] = []
    data_checks: list[DataCheck] = []
