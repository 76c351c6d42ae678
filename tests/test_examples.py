"""The shipped example system models load, and still show what they were written to show.

Each example is a teaching case: health-outcomes (user data poisoning at scale, a lapsed
risk acceptance), biometric-identity (hard-coded keys next to unchangeable data, an
unpinned third-party model), llm-support-assistant (retrieval poisoning, tools that act).
These tests pin the structural facts each story depends on. An edit that silently "fixes"
or breaks the example should fail here rather than quietly change what the demo teaches.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

import custodes
from custodes.catalog import load_catalog
from custodes.system import LoadedSystem, SystemGraph, load_system
from custodes.system.loader import ELEMENT_SECTIONS
from custodes.system.schema import (
    Control,
    Element,
    Endpoint,
    FeedbackLoop,
    ModelArtifact,
    Notebook,
    Output,
    Process,
    Source,
    Store,
    SystemModel,
    Tool,
)

EXAMPLES = Path(custodes.__file__).parent / "demo" / "examples"
NAMES = ("biometric-identity", "health-outcomes", "llm-support-assistant")
#: The date the examples were written against; time-based facts are checked at this date.
TODAY = date(2026, 11, 26)
TRAINING_KINDS = ("training", "fine_tuning")
#: Sections whose elements carry data and must sit in a flow and a trust boundary.
DATA_SECTIONS = ("sources", "processes", "stores", "notebooks", "endpoints")


def _path(name: str) -> Path:
    return EXAMPLES / name / "custodes.yaml"


def _load(name: str) -> LoadedSystem:
    return load_system(_path(name))


def _elements(
    model: SystemModel, sections: tuple[str, ...] = ELEMENT_SECTIONS
) -> Iterator[Element]:
    for section in sections:
        yield from getattr(model, section)


def _by_id(model: SystemModel) -> dict[str, Element]:
    return {e.id: e for e in _elements(model)}


def _training_steps(model: SystemModel) -> set[str]:
    return {p.id for p in model.processes if p.kind in TRAINING_KINDS}


def _processes_reached(graph: SystemGraph, model: SystemModel, start: str) -> list[Process]:
    down = graph.downstream(start)
    return [p for p in model.processes if p.id in down]


def _flow_reach(model: SystemModel, start: str) -> set[str]:
    """Ids reachable from ``start`` along declared flows only (no loops, no serving edges)."""
    seen: set[str] = set()
    todo = [start]
    while todo:
        current = todo.pop()
        for flow in model.flows:
            if flow.from_ == current and flow.to not in seen:
                seen.add(flow.to)
                todo.append(flow.to)
    return seen


def _controls(model: SystemModel, control_id: str, status: str | None = None) -> list[Control]:
    return [
        c for c in model.controls if c.id == control_id and (status is None or c.status == status)
    ]


# --- every example --------------------------------------------------------------------


def test_the_example_set_is_the_documented_one() -> None:
    found = sorted(p.parent.name for p in EXAMPLES.glob("*/custodes.yaml"))
    assert found == sorted(NAMES)


@pytest.fixture(params=NAMES)
def example(request: pytest.FixtureRequest) -> LoadedSystem:
    return _load(request.param)


def test_loads_with_a_name_owner_and_purpose(example: LoadedSystem) -> None:
    system = example.model.system
    assert system.name
    assert system.owner
    assert system.purpose
    scale = system.scale
    assert scale.records
    assert scale.people_affected
    assert scale.decisions_per_day
    assert scale.accuracy is not None
    assert 0.5 < scale.accuracy < 1.0


def test_every_control_is_a_current_catalog_control(example: LoadedSystem) -> None:
    catalog = load_catalog()
    ids = {c.id for c in example.model.controls}
    assert ids, "an example without controls teaches nothing about mitigation"
    unknown = sorted(i for i in ids if not catalog.has_control(i))
    assert not unknown


def test_controls_are_a_realistic_mix(example: LoadedSystem) -> None:
    statuses = {c.status for c in example.model.controls}
    assert {"implemented", "planned", "risk_accepted"} <= statuses


def test_implemented_controls_are_fully_documented(example: LoadedSystem) -> None:
    for c in example.model.controls:
        if c.status != "implemented":
            continue
        assert c.evidence, f"{c.id} {c.applies_to} has no evidence"
        assert c.owner, f"{c.id} {c.applies_to} has no owner"
        assert c.response is not None, f"{c.id} {c.applies_to} has no response"
        assert c.response.procedure
        assert c.response.escalation
        assert c.last_reviewed is not None
        assert c.last_reviewed <= TODAY


def test_planned_controls_say_what_is_planned(example: LoadedSystem) -> None:
    for c in example.model.controls:
        if c.status == "planned":
            assert c.owner, f"planned {c.id} {c.applies_to} has no owner"
            assert c.notes, f"planned {c.id} {c.applies_to} does not say what is planned"


def test_risk_acceptances_are_complete(example: LoadedSystem) -> None:
    accepted = [c for c in example.model.controls if c.status == "risk_accepted"]
    assert accepted
    for c in accepted:
        assert c.owner
        assert c.approver
        assert c.owner != c.approver
        assert c.reason
        assert len(c.reason) > 60, f"{c.id}: the reason must be a real argument"
        assert c.expires is not None
        assert c.applies_to, f"{c.id}: an acceptance should name what it accepts the risk on"


def test_control_scopes_name_existing_elements(example: LoadedSystem) -> None:
    ids = set(_by_id(example.model))
    for c in example.model.controls:
        assert set(c.applies_to) <= ids


def test_dates_are_plausible_and_review_has_no_fingerprint(example: LoadedSystem) -> None:
    model = example.model
    review = model.system.review
    assert review.last_reviewed is not None
    assert review.last_reviewed <= TODAY
    assert review.reviewer
    assert review.fingerprint is None
    dates: list[date] = [review.last_reviewed]
    dates += [d for c in model.controls for d in (c.last_reviewed, c.expires) if d is not None]
    dates += [m.trained for m in model.models if m.trained is not None]
    for d in dates:
        assert date(2026, 1, 1) <= d <= date(2027, 12, 31), d
    for m in model.models:
        if m.trained is not None:
            assert m.trained <= TODAY


def test_every_data_element_is_described_owned_and_placed(example: LoadedSystem) -> None:
    model = example.model
    graph = SystemGraph(model)
    for element in _elements(model, ELEMENT_SECTIONS[:1] + ELEMENT_SECTIONS[2:]):
        assert element.description, f"{element.id} has no description"
    owned = (
        "sources",
        "processes",
        "stores",
        "models",
        "notebooks",
        "endpoints",
        "outputs",
        "feedback_loops",
        "tools",
    )
    for element in _elements(model, owned):
        assert element.owner, f"{element.id} has no owner"
    for element in _elements(model, (*DATA_SECTIONS, "models", "outputs", "tools", "actors")):
        assert graph.boundary_of(element.id), f"{element.id} sits in no trust boundary"


def test_no_element_is_an_island(example: LoadedSystem) -> None:
    model = example.model
    graph = SystemGraph(model)
    for element in _elements(model, (*DATA_SECTIONS, "models", "outputs", "tools")):
        assert graph.downstream(element.id) or graph.upstream(element.id), (
            f"{element.id} is connected to nothing"
        )
    for src in model.sources:
        assert _processes_reached(graph, model, src.id), f"source {src.id} feeds no process"


def test_sensitive_data_travels_as_restricted(example: LoadedSystem) -> None:
    by_id = _by_id(example.model)
    for flow in example.model.flows:
        origin = by_id[flow.from_]
        if isinstance(origin, Source | Store) and (origin.health_data or origin.biometric_data):
            assert flow.classification == "restricted", f"{flow.from_} -> {flow.to}"


def test_the_file_is_commented(example: LoadedSystem) -> None:
    lines = example.path.read_text(encoding="utf-8").splitlines()
    comments = [ln for ln in lines if ln.lstrip().startswith("#")]
    assert len(comments) >= 40


_SECRET_PATTERNS = (
    r"AKIA[0-9A-Z]{16}",  # AWS access key id
    r"(?i)aws_secret_access_key",
    r"-----BEGIN [A-Z ]*PRIVATE KEY-----",
    r"\bsk-[A-Za-z0-9]{20,}",  # common LLM API key shape
    r"\bgh[pousr]_[A-Za-z0-9]{30,}",  # GitHub tokens
    r"(?i)\b(password|passwd|secret|token)\s*[:=]\s*['\"][^'\"]{6,}",
    r"xox[baprs]-[A-Za-z0-9-]{10,}",  # Slack tokens
)


def test_no_secrets_in_examples(example: LoadedSystem) -> None:
    text = example.path.read_text(encoding="utf-8")
    for pattern in _SECRET_PATTERNS:
        assert not re.search(pattern, text), pattern
    for url in re.findall(r"https?://([^/\s]+)", text):
        assert url.endswith(".example"), f"links must use the reserved .example domain: {url}"


# --- health-outcomes: poisoning through users, at 7.5M-patient scale ---------------------


@pytest.fixture(scope="module")
def health() -> LoadedSystem:
    return _load("health-outcomes")


def test_health_scale_is_the_talks_arithmetic(health: LoadedSystem) -> None:
    system = health.model.system
    assert system.consequence == "critical"
    scale = system.scale
    assert scale.records == 7_500_000
    assert scale.people_affected == 7_500_000
    assert scale.accuracy == pytest.approx(0.90)
    assert scale.decisions_per_day == 20_000
    assert scale.people_affected is not None
    assert scale.accuracy is not None
    assert round(scale.people_affected * (1 - scale.accuracy)) == 750_000


def test_health_has_one_source_per_provenance_tier(health: LoadedSystem) -> None:
    tiers = sorted(s.tier for s in health.model.sources)
    assert tiers == ["broker", "first_party", "user_generated"]


def test_health_user_data_reaches_training_unvalidated(health: LoadedSystem) -> None:
    model = health.model
    graph = SystemGraph(model)
    (user,) = [s for s in model.sources if s.tier == "user_generated"]
    assert user.records == 1_200_000
    assert user.health_data
    assert user.personal_data
    reached = _processes_reached(graph, model, user.id)
    # Along the pipeline itself, not only through the clinician feedback loop.
    assert _training_steps(model) & _flow_reach(model, user.id)
    # The poisoning exposure: nothing on the app path checks the data automatically.
    assert not [p.id for p in reached if p.automated_validation]
    assert any(p.kind == "preprocessing" for p in reached)


def test_health_clinical_path_is_validated_for_contrast(health: LoadedSystem) -> None:
    model = health.model
    graph = SystemGraph(model)
    (ehr,) = [s for s in model.sources if s.tier == "first_party"]
    assert ehr.chain_of_custody
    assert any(p.automated_validation for p in _processes_reached(graph, model, ehr.id))


def test_health_broker_has_no_chain_of_custody(health: LoadedSystem) -> None:
    model = health.model
    (broker,) = [s for s in model.sources if s.tier == "broker"]
    assert broker.chain_of_custody is None
    assert broker.custodian
    assert _training_steps(model) & _flow_reach(model, broker.id)
    planned = _controls(model, "SUPPLYCHAINMANAGE", "planned")
    assert any(broker.id in c.applies_to for c in planned)


def test_health_model_is_a_stale_pickle(health: LoadedSystem) -> None:
    (m,) = health.model.models
    assert isinstance(m, ModelArtifact)
    assert m.format in ("joblib", "pickle")
    assert m.origin == "in_house"
    assert m.path == "models/outcome_model.joblib"
    assert not m.signed
    assert m.trained == date(2026, 3, 2)
    assert m.retrain_interval_days == 180
    assert (TODAY - m.trained).days > m.retrain_interval_days


def test_health_notebook_reaches_production_phi(health: LoadedSystem) -> None:
    model = health.model
    (nb,) = model.notebooks
    assert isinstance(nb, Notebook)
    assert nb.production_data_access
    assert nb.credentials == "environment"
    assert nb.version_controlled is False
    stores = {s.id: s for s in model.stores}
    upstream = SystemGraph(model).upstream(nb.id)
    assert any(stores[i].health_data for i in upstream if i in stores)


def test_health_endpoint_leaks_confidence_without_rate_limit(health: LoadedSystem) -> None:
    model = health.model
    (ep,) = model.endpoints
    assert isinstance(ep, Endpoint)
    assert ep.callers == "authenticated_users"
    assert ep.authentication is True
    assert ep.rate_limit is None
    assert {"label", "confidence"} <= set(ep.returns)
    assert ep.serves == [model.models[0].id]
    assert not _controls(model, "RATELIMIT", "implemented")


def test_health_corrections_loop_into_training_unreviewed(health: LoadedSystem) -> None:
    model = health.model
    (out,) = model.outputs
    assert isinstance(out, Output)
    assert out.human_review is False
    (loop,) = model.feedback_loops
    assert isinstance(loop, FeedbackLoop)
    assert loop.from_ == out.id
    assert loop.used_for == "training"
    assert loop.validated is False
    graph = SystemGraph(model)
    assert loop.into in _training_steps(model) or _training_steps(model) & graph.downstream(
        loop.into
    )


def test_health_user_poisoning_is_partly_mitigated_at_best(health: LoadedSystem) -> None:
    model = health.model
    graph = SystemGraph(model)
    (user,) = [s for s in model.sources if s.tier == "user_generated"]
    user_path = {user.id} | {p.id for p in _processes_reached(graph, model, user.id)}
    user_path -= _training_steps(model) | {"feature-engineering", "evaluation", "serving"}
    implemented = _controls(model, "DATAQUALITYCONTROL", "implemented")
    assert implemented, "the clinical path should show what good looks like"
    for c in implemented:
        assert c.applies_to, "a system-wide DATAQUALITYCONTROL would hide the gap"
        assert not set(c.applies_to) & user_path
    planned = _controls(model, "DATAQUALITYCONTROL", "planned")
    assert any(user.id in c.applies_to for c in planned)
    assert any(loop.id in c.applies_to for c in planned for loop in model.feedback_loops)


def test_health_has_a_lapsed_and_a_current_acceptance(health: LoadedSystem) -> None:
    accepted = [c for c in health.model.controls if c.status == "risk_accepted"]
    lapsed = [c for c in accepted if c.expires is not None and c.expires < TODAY]
    current = [c for c in accepted if c.expires is not None and c.expires >= TODAY]
    assert [(c.id, c.expires) for c in lapsed] == [("OBSCURECONFIDENCE", date(2026, 6, 30))]
    assert lapsed[0].applies_to == [health.model.endpoints[0].id]
    assert current


# --- biometric-identity: keys in code next to data nobody can change ----------------------


@pytest.fixture(scope="module")
def biometric() -> LoadedSystem:
    return _load("biometric-identity")


def test_biometric_stakes(biometric: LoadedSystem) -> None:
    system = biometric.model.system
    assert system.consequence == "critical"
    assert system.scale.people_affected == 4_000_000


def test_biometric_embeddings_sit_in_cloud_object_storage(biometric: LoadedSystem) -> None:
    stores = [s for s in biometric.model.stores if s.biometric_data]
    buckets = [s for s in stores if s.kind == "object_storage"]
    assert len(buckets) >= 2
    # Encryption and access control are declared everywhere; the lesson is that they do
    # not help once a valid key leaks.
    assert all(s.encrypted and s.access_control and not s.public for s in stores)


def test_biometric_notebook_has_hard_coded_keys_to_production(biometric: LoadedSystem) -> None:
    model = biometric.model
    (nb,) = model.notebooks
    assert isinstance(nb, Notebook)
    assert nb.credentials == "hard_coded"
    assert nb.production_data_access
    stores = {s.id: s for s in model.stores}
    graph = SystemGraph(model)
    upstream = graph.upstream(nb.id)
    assert "template-bucket" in upstream
    assert any(stores[i].biometric_data for i in upstream if i in stores)
    # Its output (the decision thresholds) reaches production decisions.
    serving = {p.id for p in model.processes if p.kind == "serving"}
    assert serving & graph.downstream(nb.id)
    assert not [c for c in _controls(model, "DEVSECURITY", "implemented") if nb.id in c.applies_to]
    users = {a.id: a for a in model.actors}
    assert any(users[u].privileged and users[u].mfa is False for u in nb.users)


def test_biometric_backbone_is_an_unpinned_third_party_pickle(biometric: LoadedSystem) -> None:
    model = biometric.model
    third = [m for m in model.models if m.origin == "third_party"]
    assert len(third) == 1
    backbone = third[0]
    assert backbone.format == "pytorch"
    assert not backbone.signed
    hubs = [d for d in model.dependencies if d.kind == "model_hub"]
    assert hubs
    assert all(d.pinned is False for d in hubs)
    graph = SystemGraph(model)
    assert any(backbone.id in graph.downstream(d.id) for d in hubs)


def test_biometric_public_api_returns_scores(biometric: LoadedSystem) -> None:
    model = biometric.model
    (ep,) = model.endpoints
    assert ep.callers == "public"
    assert "score" in ep.returns
    assert ep.rate_limit
    third = {m.id for m in model.models if m.origin == "third_party"}
    assert third <= set(ep.serves)
    accepted = _controls(model, "OBSCURECONFIDENCE", "risk_accepted")
    assert accepted
    assert accepted[0].expires is not None
    assert accepted[0].expires > TODAY


def test_biometric_enrolment_never_reaches_training(biometric: LoadedSystem) -> None:
    model = biometric.model
    graph = SystemGraph(model)
    (user,) = [s for s in model.sources if s.tier == "user_generated"]
    assert user.biometric_data
    assert not _training_steps(model) & graph.downstream(user.id)
    (broker,) = [s for s in model.sources if s.tier == "broker"]
    assert broker.chain_of_custody  # the contrast with the health example
    assert _training_steps(model) & _flow_reach(model, broker.id)


# --- llm-support-assistant: retrieval, fine-tuning loops and tools that act -------------


@pytest.fixture(scope="module")
def llm() -> LoadedSystem:
    return _load("llm-support-assistant")


def test_llm_models_are_hosted_foundation_models(llm: LoadedSystem) -> None:
    models = llm.model.models
    assert models
    assert all(m.origin == "foundation" and m.format == "api" and m.provider for m in models)


def test_llm_retrieval_mixes_trusted_and_user_text(llm: LoadedSystem) -> None:
    model = llm.model
    graph = SystemGraph(model)
    (vs,) = [s for s in model.stores if s.kind == "vector_store"]
    feeding = [s for s in model.sources if s.id in graph.upstream(vs.id)]
    tiers = {s.tier for s in feeding}
    assert {"first_party", "user_generated"} <= tiers
    tickets = [s for s in feeding if s.tier == "user_generated"]
    assert all(s.personal_data for s in tickets)
    # The retrieval corpus reaches the model through the serving process.
    serving = {p.id for p in model.processes if p.kind == "serving"}
    assert serving & graph.downstream(vs.id)


def test_llm_feedback_loops_feed_fine_tuning_and_retrieval(llm: LoadedSystem) -> None:
    model = llm.model
    graph = SystemGraph(model)
    by_id = _by_id(model)
    loops = {loop.used_for: loop for loop in model.feedback_loops}
    assert set(loops) == {"fine_tuning", "retrieval"}
    ft = loops["fine_tuning"]
    fine_tuning = {p.id for p in model.processes if p.kind == "fine_tuning"}
    assert fine_tuning & ({ft.into} | graph.downstream(ft.into))
    rag = loops["retrieval"]
    target = by_id[rag.into]
    assert isinstance(target, Store)
    assert target.kind == "vector_store"
    assert rag.validated is False
    open_loop = [
        c
        for c in _controls(model, "AUGMENTATIONDATAINTEGRITY")
        if rag.id in c.applies_to or target.id in c.applies_to
    ]
    assert open_loop
    assert all(c.status == "planned" for c in open_loop)


def test_llm_public_endpoint_returns_text(llm: LoadedSystem) -> None:
    model = llm.model
    (ep,) = model.endpoints
    assert ep.callers == "public"
    assert ep.returns == ["text"]
    assert ep.rate_limit
    assert set(ep.serves) <= {m.id for m in model.models}


def test_llm_tools_can_act_and_read_untrusted_text(llm: LoadedSystem) -> None:
    model = llm.model
    tools = {t.id: t for t in model.tools}
    refund = tools["issue-refund"]
    lookup = tools["ticket-lookup"]
    assert isinstance(refund, Tool)
    assert isinstance(lookup, Tool)
    assert refund.requires_approval is False
    assert any("refund" in a for a in refund.actions)
    assert lookup.untrusted_input is True
    serving = {p.id for p in model.processes if p.kind == "serving"}
    assert any(f.from_ == lookup.id and f.to in serving for f in model.flows)
    oversight = [c for c in _controls(model, "OVERSIGHT") if refund.id in c.applies_to]
    assert [c.status for c in oversight] == ["risk_accepted"]
    assert oversight[0].expires is not None
    assert oversight[0].expires > TODAY
    privilege = [c for c in _controls(model, "LEASTMODELPRIVILEGE") if refund.id in c.applies_to]
    assert [c.status for c in privilege] == ["planned"]


def test_llm_text_reaches_a_ui_and_a_downstream_system(llm: LoadedSystem) -> None:
    model = llm.model
    graph = SystemGraph(model)
    (ep,) = model.endpoints
    reached = graph.downstream(ep.id)
    kinds = {o.kind for o in model.outputs if o.id in reached}
    assert {"ui", "downstream_system"} <= kinds


def test_llm_notebook_is_the_well_governed_contrast(llm: LoadedSystem) -> None:
    (nb,) = llm.model.notebooks
    assert nb.credentials == "secret_manager"
    assert nb.production_data_access is False
    assert nb.version_controlled is True
