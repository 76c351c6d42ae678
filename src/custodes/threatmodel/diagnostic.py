"""The diagnostic loop: Is it secure? Can we operationalize it? Does it scale?

The questions are layers. Monitoring a system nobody has secured watches an open door;
scaling a system nobody can operate multiplies unknown failures. So each answer is
given from the model's own facts, and a later question that fails because an earlier
one did says which layer to go back to.
"""

from __future__ import annotations

from collections.abc import Callable

from custodes.system.schema import (
    Endpoint,
    Notebook,
    Output,
    Source,
    Store,
)
from custodes.threatmodel.coverage import ControlIndex
from custodes.threatmodel.model import Answer, DiagnosticLoop, Gap, Question, ScaleImpact
from custodes.threatmodel.rules.base import Context

__all__ = ["diagnose", "with_evidence"]

Check = tuple[str, list[str], list[Gap]]


def _answer(gaps: list[Gap], blocking: set[str]) -> Answer:
    if not gaps:
        return "yes"
    if any(g.check in blocking for g in gaps):
        return "no"
    return "partial"


def _needs(ctx: Context, controls: ControlIndex, control: str, element: str) -> bool:
    return controls.lookup(control, element).status != "implemented"


def _secure(ctx: Context, controls: ControlIndex) -> Question:
    passed: list[str] = []
    gaps: list[Gap] = []
    model = ctx.model

    open_eps = [
        ep.id
        for _n, ep in ctx.endpoints()
        if ep.authentication is not True and _needs(ctx, controls, "MODELACCESSCONTROL", ep.id)
    ]
    open_stores = [
        s.id
        for s in model.stores
        if isinstance(s, Store) and (s.public or s.access_control is False)
    ]
    undeclared = [
        s.id
        for s in model.stores
        if isinstance(s, Store) and s.access_control is None and not s.public
    ]
    if open_eps or open_stores:
        gaps.append(
            Gap(
                "access control",
                "components reachable without authentication or access control",
                tuple(open_eps + open_stores),
            )
        )
    elif undeclared:
        gaps.append(
            Gap("access control", "stores whose access control is not declared", tuple(undeclared))
        )
    else:
        passed.append(
            f"access control: declared on all {len(model.endpoints)} endpoint(s) and "
            f"{len(model.stores)} store(s)"
        )
    weak_actors = [
        a.id for a in model.actors if a.privileged and a.mfa is not True and a.kind != "service"
    ]
    if weak_actors:
        gaps.append(Gap("access control", "privileged actors without MFA", tuple(weak_actors)))

    hard = [
        n.id for n in model.notebooks if isinstance(n, Notebook) and n.credentials == "hard_coded"
    ]
    unknown = [
        n.id for n in model.notebooks if isinstance(n, Notebook) and n.credentials == "unknown"
    ]
    if hard:
        gaps.append(
            Gap("credential management", "credentials hard-coded in notebooks", tuple(hard))
        )
    elif unknown:
        gaps.append(
            Gap(
                "credential management",
                "notebooks with undeclared credential handling",
                tuple(unknown),
            )
        )
    else:
        passed.append(
            "credential management: credentials come from a secret manager or the environment in every notebook"
        )

    if not model.dependencies:
        gaps.append(Gap("dependency map", "no external dependencies declared: the map is missing"))
    else:
        unpinned = [
            d.id
            for d in model.dependencies
            if d.pinned is not True and d.kind not in ("service", "platform")
        ]
        third = [
            m.id
            for m in model.models
            if m.origin != "in_house" and _needs(ctx, controls, "SUPPLYCHAINMANAGE", m.id)
        ]
        if unpinned or third:
            gaps.append(
                Gap(
                    "dependency map",
                    "unpinned dependencies or third-party models without supply-chain management",
                    tuple(unpinned + third),
                )
            )
        else:
            passed.append(
                f"dependency map: {len(model.dependencies)} dependencies declared and pinned"
            )

    exposed = [
        n.id
        for n in model.notebooks
        if isinstance(n, Notebook)
        and n.production_data_access
        and _needs(ctx, controls, "DEVSECURITY", n.id)
    ]
    if exposed:
        gaps.append(
            Gap(
                "development environment",
                "notebooks reach production data without development-environment security",
                tuple(exposed),
            )
        )
    else:
        passed.append("development environment: secured where they reach production data")
    return Question(
        1,
        "Is it secure?",
        _answer(gaps, _BLOCKING[1]),
        tuple(passed),
        tuple(gaps),
    )


def _operational(ctx: Context, controls: ControlIndex) -> Question:
    passed: list[str] = []
    gaps: list[Gap] = []
    model = ctx.model

    risky = [
        s.id
        for s in model.sources
        if isinstance(s, Source) and s.tier != "first_party" and ctx.training_reached_by(s.id)
    ]
    unwatched = [s for s in risky if _needs(ctx, controls, "DATAQUALITYCONTROL", s)]
    if unwatched:
        gaps.append(
            Gap(
                "data monitoring",
                "untrusted sources feed training without data quality control",
                tuple(unwatched),
            )
        )
    else:
        passed.append(
            f"data monitoring: data quality control covers all {len(risky)} untrusted training source(s)"
        )

    served = sorted({m for ep in model.endpoints for m in ep.serves})
    blind = [m for m in served if _needs(ctx, controls, "CONTINUOUSVALIDATION", m)]
    if blind:
        gaps.append(
            Gap("output monitoring", "served models without continuous validation", tuple(blind))
        )
    else:
        passed.append(
            f"output monitoring: continuous validation covers {len(served)} served model(s)"
        )

    unlogged = [ep.id for _n, ep in ctx.endpoints() if _needs(ctx, controls, "MONITORUSE", ep.id)]
    if unlogged:
        gaps.append(
            Gap("access monitoring", "endpoints whose use is not monitored", tuple(unlogged))
        )
    else:
        passed.append("access monitoring: use of every endpoint is monitored")

    ownerless = [c.id for c in model.controls if not c.owner]
    if not model.system.owner:
        ownerless.insert(0, "system")
    if ownerless:
        gaps.append(Gap("owners", "no owner recorded", tuple(ownerless)))
    else:
        passed.append("owners: the system and every control have an owner")

    no_response = [c.id for c in model.controls if c.status == "implemented" and c.response is None]
    if no_response or not model.controls:
        gaps.append(
            Gap(
                "documented responses",
                "implemented controls without a response procedure and escalation path"
                if model.controls
                else "no controls declared, so no response is documented",
                tuple(no_response),
            )
        )
    else:
        passed.append(
            "documented responses: every implemented control says what we do and whom we escalate to"
        )
    return Question(
        2,
        "Can we operationalize it?",
        _answer(gaps, _BLOCKING[2]),
        tuple(passed),
        tuple(gaps),
    )


def _scales(ctx: Context, controls: ControlIndex, scale: ScaleImpact) -> Question:
    passed: list[str] = []
    gaps: list[Gap] = []
    model = ctx.model

    manual = [
        s.id
        for s in model.sources
        if isinstance(s, Source)
        and s.tier != "first_party"
        and ctx.training_reached_by(s.id)
        and not ctx.validated_on_path(s.id)
    ]
    if manual:
        gaps.append(
            Gap(
                "automated validation",
                "untrusted data reaches training with no automated validation step on its path",
                tuple(manual),
            )
        )
    else:
        passed.append(
            "automated validation: every untrusted source passes an automated validation step"
        )

    unlimited = [
        ep.id
        for _n, ep in ctx.endpoints()
        if isinstance(ep, Endpoint)
        and ep.callers != "internal"
        and ep.rate_limit is None
        and _needs(ctx, controls, "RATELIMIT", ep.id)
    ]
    if unlimited:
        gaps.append(
            Gap(
                "rate limits",
                "endpoints open to outside callers with no rate limit",
                tuple(unlimited),
            )
        )
    else:
        passed.append("rate limits: every outside-facing endpoint is rate-limited")

    if scale.wrong is not None and scale.consequence in ("high", "critical"):
        unreviewed = [o.id for o in model.outputs if isinstance(o, Output) and not o.human_review]
        sentence = scale.sentence or ""
        if (unreviewed or not model.outputs) and scale.wrong >= 1000:
            gaps.append(
                Gap(
                    "error impact at scale",
                    f"{sentence}, with {scale.consequence} consequences and no human review",
                    tuple(unreviewed),
                )
            )
        else:
            passed.append(f"error impact at scale: {sentence}; outputs are reviewed by a person")
    elif scale.wrong is None:
        gaps.append(
            Gap(
                "error impact at scale",
                "accuracy or scale not declared (system.scale), so the harm of errors is unknown",
            )
        )
    else:
        passed.append(f"error impact at scale: {scale.sentence} at {scale.consequence} consequence")
    return Question(
        3,
        "Does it scale?",
        _answer(gaps, _BLOCKING[3]),
        tuple(passed),
        tuple(gaps),
    )


_BLOCKING = {
    1: {"access control", "credential management"},
    2: {"data monitoring", "output monitoring"},
    3: {"error impact at scale", "automated validation"},
}


def _with_back_links(questions: list[Question]) -> DiagnosticLoop:
    answered: list[Question] = []
    for q in questions:
        back = next((p.number for p in answered if p.answer == "no"), None)
        answered.append(
            Question(
                q.number,
                q.title,
                q.answer,
                q.passed,
                q.gaps,
                back_to=back if q.answer != "yes" else None,
            )
        )
    return DiagnosticLoop(tuple(answered))


def with_evidence(loop: DiagnosticLoop, extra: dict[int, list[Gap]]) -> DiagnosticLoop:
    """The loop with gaps other analyzers proved (a leaked key is a credential-management gap
    whatever custodes.yaml claims), answers and go-back links recomputed."""
    questions = []
    for q in loop.questions:
        gaps = list(q.gaps) + extra.get(q.number, [])
        checks = {g.check for g in extra.get(q.number, [])}
        passed = tuple(p for p in q.passed if p.split(":", 1)[0] not in checks)
        questions.append(
            Question(q.number, q.title, _answer(gaps, _BLOCKING[q.number]), passed, tuple(gaps))
        )
    return _with_back_links(questions)


def diagnose(ctx: Context, controls: ControlIndex, scale: ScaleImpact) -> DiagnosticLoop:
    """Answer the three questions, and point later ones back to a failing layer."""
    steps: list[Callable[[], Question]] = [
        lambda: _secure(ctx, controls),
        lambda: _operational(ctx, controls),
        lambda: _scales(ctx, controls, scale),
    ]
    return _with_back_links([step() for step in steps])
