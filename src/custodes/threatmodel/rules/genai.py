"""Rules for generative AI: prompts, retrieval corpora, agent tools and text outputs."""

from __future__ import annotations

from collections.abc import Iterator

from custodes.system.schema import Output, Source, Store, Tool
from custodes.threatmodel.rules.base import (
    Context,
    Hit,
    describe_sensitivity,
    likelihood,
    rule,
)

_CALLER_BASE = {"public": 4, "authenticated_users": 3, "partners": 2, "internal": 1}


@rule("TM-PROMPT-INJECTION", "Users can instruct the model")
def prompt_injection(ctx: Context) -> Iterator[Hit]:
    """Text in is instructions in: every caller of a text model can try to re-program it."""
    for _node, ep in ctx.endpoints():
        if "text" not in ep.returns:
            continue
        value, reasons = likelihood(
            _CALLER_BASE[ep.callers], f"{ep.callers.replace('_', ' ')} callers"
        )
        yield Hit(
            threat="DIRECTPROMPTINJECTION",
            element=ep.id,
            facts=(
                f"endpoint {ep.id!r} returns generated text",
                f"it answers {ep.callers.replace('_', ' ')} callers",
            ),
            controls=("PROMPTINJECTIONIOHANDLING", "MONITORUSE"),
            likelihood=value,
            likelihood_reasons=reasons,
            clears="filter inputs and outputs for injection patterns (PROMPTINJECTIONIOHANDLING) "
            "and log and review use (MONITORUSE)",
        )
        flags = ctx.sensitivity(ep.id, include_self=False)
        if flags:
            v2, r2 = likelihood(3, "the model can repeat what it was given or trained on")
            yield Hit(
                threat="DISCLOSUREINOUTPUT",
                element=ep.id,
                facts=(
                    f"endpoint {ep.id!r} returns generated text",
                    f"{describe_sensitivity(flags)} data flows into the model's context or training",
                ),
                controls=("SENSITIVEOUTPUTHANDLING",),
                likelihood=v2,
                likelihood_reasons=r2,
                clears="detect and block personal data in outputs (SENSITIVEOUTPUTHANDLING)",
                impact="confidentiality",
                sensitivity=flags,
                audiences=("developer", "leadership"),
            )
        if ep.callers in ("public", "authenticated_users"):
            v3, r3 = likelihood(
                3,
                "generation is expensive per request",
                (ep.rate_limit is None, 1, "no rate limit"),
            )
            yield Hit(
                threat="AIRESOURCEEXHAUSTION",
                element=ep.id,
                facts=(
                    f"endpoint {ep.id!r} generates text for {ep.callers.replace('_', ' ')} callers",
                    f"rate limit: {ep.rate_limit}" if ep.rate_limit else "it has no rate limit",
                ),
                controls=("RATELIMIT", "LIMITRESOURCES"),
                likelihood=v3,
                likelihood_reasons=r3,
                clears="rate-limit callers (RATELIMIT) and cap tokens and cost per request "
                "(LIMITRESOURCES)",
                impact="availability",
            )


@rule("TM-RAG", "Retrieval corpus can be read or rewritten")
def rag(ctx: Context) -> Iterator[Hit]:
    """What the model retrieves, it believes: the corpus is both a secret and a lever.

    A vector or prompt store can leak what it holds, be edited to steer answers, and,
    when untrusted documents reach it, carry instructions into the prompt.
    """
    for node in ctx.graph.of_kind("store"):
        store = node.element
        assert isinstance(store, Store)
        if store.kind not in ("vector_store", "prompt_store"):
            continue
        flags = ctx.sensitivity(store.id)
        v1, r1 = likelihood(2, "needs access to the store", (store.public, 2, "publicly reachable"))
        yield Hit(
            threat="AUGMENTATIONDATALEAK",
            element=store.id,
            facts=(f"store {store.id!r} is a {store.kind.replace('_', ' ')} the model reads",)
            + ((f"it holds {describe_sensitivity(flags)} data",) if flags else ()),
            controls=("AUGMENTATIONDATACONFIDENTIALITY",),
            likelihood=v1,
            likelihood_reasons=r1,
            clears="encrypt and access-control the corpus (AUGMENTATIONDATACONFIDENTIALITY)",
            impact="confidentiality",
            sensitivity=flags,
        )
        untrusted = [
            n.id
            for n in (ctx.graph.nodes[i] for i in ctx.graph.upstream(store.id))
            if isinstance(n.element, Source) and n.element.tier != "first_party"
        ]
        v2, r2 = likelihood(
            2,
            "needs write access to the corpus",
            (bool(untrusted), 2, "untrusted sources write to it"),
        )
        yield Hit(
            threat="AUGMENTATIONDATAMANIPULATION",
            element=store.id,
            facts=(f"store {store.id!r} feeds retrieval",)
            + ((f"written from untrusted source(s) {', '.join(untrusted)}",) if untrusted else ()),
            controls=("AUGMENTATIONDATAINTEGRITY",),
            likelihood=v2,
            likelihood_reasons=r2,
            clears="protect the corpus from unreviewed writes (AUGMENTATIONDATAINTEGRITY)",
            audiences=("developer", "data-scientist"),
        )
        if untrusted:
            v3, r3 = likelihood(4, "untrusted text enters the prompt")
            yield Hit(
                threat="INDIRECTPROMPTINJECTION",
                element=store.id,
                facts=(
                    f"untrusted source(s) {', '.join(untrusted)} write to {store.id!r}",
                    "retrieved passages are placed in the model's prompt",
                ),
                controls=("INPUTSEGREGATION", "PROMPTINJECTIONIOHANDLING"),
                likelihood=v3,
                likelihood_reasons=r3,
                clears="mark retrieved text as data, not instructions (INPUTSEGREGATION), and "
                "filter it for injection (PROMPTINJECTIONIOHANDLING)",
            )


@rule("TM-AGENT-TOOL", "Model can act through tools")
def agent_tool(ctx: Context) -> Iterator[Hit]:
    """A tool turns a manipulated answer into a manipulated action.

    Fires for every tool; the likelihood rises when no person approves the action and
    when the tool reads untrusted content that can carry instructions.
    """
    for node in ctx.graph.of_kind("tool"):
        tool = node.element
        assert isinstance(tool, Tool)
        value, reasons = likelihood(
            2,
            "the model decides when to call it",
            (not tool.requires_approval, 1, "no human approval"),
            (tool.untrusted_input, 1, "reads untrusted content"),
        )
        facts = [f"tool {tool.id!r} can {', '.join(tool.actions) or 'act'}"]
        facts.append(
            "calls need human approval" if tool.requires_approval else "calls run without approval"
        )
        yield Hit(
            threat="AGENTESCAPE",
            element=tool.id,
            facts=tuple(facts),
            controls=("LEASTMODELPRIVILEGE", "OVERSIGHT"),
            likelihood=value,
            likelihood_reasons=reasons,
            clears="grant the tool only the actions it needs (LEASTMODELPRIVILEGE) and put a "
            "person in the loop for consequential ones (OVERSIGHT)",
        )
        if tool.untrusted_input:
            v2, r2 = likelihood(4, "tool output enters the prompt")
            yield Hit(
                threat="INDIRECTPROMPTINJECTION",
                element=tool.id,
                facts=(f"tool {tool.id!r} returns untrusted content to the model",),
                controls=("INPUTSEGREGATION", "PROMPTINJECTIONIOHANDLING"),
                likelihood=v2,
                likelihood_reasons=r2,
                clears="segregate tool output from instructions (INPUTSEGREGATION) and filter "
                "it (PROMPTINJECTIONIOHANDLING)",
            )


@rule("TM-OUTPUT-INJECTION", "Generated text reaches a page or a system")
def output_injection(ctx: Context) -> Iterator[Hit]:
    """Model text rendered in a browser or parsed by a system is untrusted input there."""
    text_endpoints = {ep.id for _n, ep in ctx.endpoints() if "text" in ep.returns}
    for node in ctx.graph.of_kind("output"):
        out = node.element
        assert isinstance(out, Output)
        if out.kind not in ("ui", "downstream_system", "api", "notification"):
            continue
        sources = sorted(text_endpoints & ctx.graph.upstream(out.id))
        if not sources:
            continue
        value, reasons = likelihood(3, "model text is attacker-influenced")
        yield Hit(
            threat="OUTPUTCONTAINSCONVENTIONALINJECTION",
            element=out.id,
            facts=(
                f"output {out.id!r} ({out.kind.replace('_', ' ')}) receives text from "
                f"{', '.join(sources)}",
            ),
            controls=("ENCODEMODELOUTPUT",),
            likelihood=value,
            likelihood_reasons=reasons,
            clears="encode or escape model text for where it lands (ENCODEMODELOUTPUT)",
        )
