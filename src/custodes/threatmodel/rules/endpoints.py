"""Rules about the inference loop: who can query the model and what it tells them."""

from __future__ import annotations

from collections.abc import Iterator

from custodes.system.schema import Endpoint
from custodes.threatmodel.rules.base import (
    RICH_OUTPUTS,
    Context,
    Hit,
    describe_sensitivity,
    likelihood,
    rule,
)

_CALLER_BASE = {"public": 4, "authenticated_users": 3, "partners": 2, "internal": 1}


def _callers(ep: Endpoint) -> str:
    return ep.callers.replace("_", " ")


def _rich(ep: Endpoint) -> list[str]:
    return [r for r in ep.returns if r in RICH_OUTPUTS]


@rule("TM-EXTRACTION", "Model can be copied through its endpoint")
def extraction(ctx: Context) -> Iterator[Hit]:
    """Enough input/output pairs are a copy of the model.

    Confidence scores make each answer worth far more to an extractor, and without a
    rate limit the number of answers is bounded only by the attacker's patience.
    """
    for _node, ep in ctx.endpoints():
        rich = _rich(ep)
        if ep.callers == "internal" and not rich:
            continue
        value, reasons = likelihood(
            _CALLER_BASE[ep.callers],
            f"{_callers(ep)} callers",
            (bool(rich), 1, f"returns {', '.join(rich)}"),
            (ep.rate_limit is None, 1, "no rate limit"),
        )
        facts = [f"endpoint {ep.id!r} answers {_callers(ep)} callers"]
        facts.append(f"it returns {', '.join(ep.returns)}")
        facts.append(f"rate limit: {ep.rate_limit}" if ep.rate_limit else "it has no rate limit")
        controls = ["RATELIMIT", "UNWANTEDINPUTSERIESHANDLING"]
        if rich:
            controls.append("OBSCURECONFIDENCE")
        yield Hit(
            threat="MODELEXFILTRATION",
            element=ep.id,
            facts=tuple(facts),
            controls=tuple(controls),
            likelihood=value,
            likelihood_reasons=reasons,
            clears="rate-limit each caller (RATELIMIT), watch for query series that sweep "
            "the input space (UNWANTEDINPUTSERIESHANDLING)"
            + (" and stop returning raw confidence (OBSCURECONFIDENCE)" if rich else ""),
            impact="confidentiality",
        )


@rule("TM-INVERSION", "Training records can be inferred from answers")
def inversion(ctx: Context) -> Iterator[Hit]:
    """Confidence scores leak whether a person was in the training data, and what it held.

    Membership inference needs only a score per query; on health or biometric data the
    answer itself is the disclosure.
    """
    for _node, ep in ctx.endpoints():
        rich = _rich(ep)
        flags = ctx.sensitivity(ep.id, include_self=False)
        if not rich or not flags:
            continue
        value, reasons = likelihood(
            _CALLER_BASE[ep.callers] - 1,
            f"{_callers(ep)} callers, attack needs many queries",
            (ep.rate_limit is None, 1, "no rate limit"),
        )
        yield Hit(
            threat="MODELINVERSIONANDMEMBERSHIP",
            element=ep.id,
            facts=(
                f"endpoint {ep.id!r} returns {', '.join(rich)}",
                f"the model behind it learnt from {describe_sensitivity(flags)} data",
                f"rate limit: {ep.rate_limit}" if ep.rate_limit else "it has no rate limit",
            ),
            controls=("OBSCURECONFIDENCE", "RATELIMIT"),
            likelihood=value,
            likelihood_reasons=reasons,
            clears="round or drop confidence scores (OBSCURECONFIDENCE) and rate-limit "
            "callers (RATELIMIT); consider differential privacy in training",
            impact="confidentiality",
            sensitivity=flags,
            audiences=("developer", "data-scientist"),
        )


@rule("TM-EVASION", "Crafted inputs push decisions across the boundary")
def evasion(ctx: Context) -> Iterator[Hit]:
    """A model that decides about people will be probed for the input that flips it.

    Fires for endpoints outside the team that return decisions rather than text; scores
    make the search for an adversarial input quicker.
    """
    for _node, ep in ctx.endpoints():
        if ep.callers == "internal" or "text" in ep.returns:
            continue
        rich = _rich(ep)
        value, reasons = likelihood(
            _CALLER_BASE[ep.callers] - 1,
            f"{_callers(ep)} callers can search for evasive inputs",
            (bool(rich), 1, "scores guide the search"),
        )
        yield Hit(
            threat="EVASION",
            element=ep.id,
            facts=(
                f"endpoint {ep.id!r} answers {_callers(ep)} callers",
                f"it returns {', '.join(ep.returns)}",
            ),
            controls=("ANOMALOUSINPUTHANDLING", "MONITORUSE"),
            likelihood=value,
            likelihood_reasons=reasons,
            clears="flag out-of-distribution inputs (ANOMALOUSINPUTHANDLING) and log and "
            "review use (MONITORUSE)",
            audiences=("developer", "data-scientist"),
        )


@rule("TM-ENDPOINT-ACCESS", "Endpoint without authentication")
def endpoint_access(ctx: Context) -> Iterator[Hit]:
    """Every endpoint needs to know who is calling, or no other control can hold.

    Rate limits, abuse monitoring and audit trails are all per caller; an anonymous
    endpoint defeats them. Public endpoints that declare no authentication fire here.
    """
    for _node, ep in ctx.endpoints():
        if ep.authentication is True:
            continue
        value, reasons = likelihood(
            _CALLER_BASE[ep.callers],
            f"{_callers(ep)} callers",
            (ep.authentication is False, 1, "authentication explicitly off"),
        )
        yield Hit(
            threat="GENERICSECTHREATS",
            element=ep.id,
            facts=(
                f"endpoint {ep.id!r} answers {_callers(ep)} callers",
                "authentication is " + ("off" if ep.authentication is False else "not declared"),
            ),
            controls=("MODELACCESSCONTROL",),
            likelihood=value,
            likelihood_reasons=reasons,
            clears="authenticate every caller and authorize by role (MODELACCESSCONTROL)",
        )


@rule("TM-INPUT-LEAK", "Model inputs are kept or sent elsewhere")
def input_leak(ctx: Context) -> Iterator[Hit]:
    """Inputs logged for monitoring, or sent to a hosted model, are a second copy of user data.

    Fires for endpoints that log inputs and for models served by an outside provider's API.
    """
    for _node, ep in ctx.endpoints():
        if not ep.logs_inputs:
            continue
        value, reasons = likelihood(2, "inputs are written to logs")
        yield Hit(
            threat="INPUTDATALEAK",
            element=ep.id,
            facts=(f"endpoint {ep.id!r} logs its inputs",),
            controls=("MODELINPUTCONFIDENTIALITY",),
            likelihood=value,
            likelihood_reasons=reasons,
            clears="encrypt, minimise and expire logged inputs (MODELINPUTCONFIDENTIALITY)",
            impact="confidentiality",
            sensitivity=ctx.sensitivity(ep.id, include_self=False),
        )
    for node in ctx.graph.of_kind("model"):
        model = node.element
        if getattr(model, "format", None) != "api":
            continue
        value, reasons = likelihood(3, "every prompt leaves for a hosted provider")
        provider = getattr(model, "provider", None) or "a hosted provider"
        yield Hit(
            threat="INPUTDATALEAK",
            element=model.id,
            facts=(f"model {model.id!r} runs at {provider}; every input is sent there",),
            controls=("MODELINPUTCONFIDENTIALITY",),
            likelihood=value,
            likelihood_reasons=reasons,
            clears="contract zero retention with the provider and strip personal data from "
            "prompts (MODELINPUTCONFIDENTIALITY)",
            impact="confidentiality",
            sensitivity=ctx.sensitivity(model.id, include_self=False),
            audiences=("developer", "leadership"),
        )
