"""How a rule is written: facts in, hits out, nothing evaluated from strings.

A rule is a plain function over the :class:`Context` that yields :class:`Hit` objects.
Each hit names the threat, the element, the facts that made it fire, the controls that
would mitigate it and the likelihood with its reasons. Rules are registered with an
explicit decorator into :data:`RULES`, so a test can enumerate them and demand a firing
and a non-firing fixture for each.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from functools import cached_property

from custodes.system.graph import Node, SystemGraph
from custodes.system.schema import Endpoint, Source, Store, SystemModel
from custodes.threatmodel.risk import ImpactKind

__all__ = ["RULES", "Context", "Hit", "RuleSpec", "likelihood", "rule"]

SENSITIVE_FLAGS = ("biometric", "health", "personal")
RICH_OUTPUTS = frozenset({"confidence", "probabilities", "score", "embedding", "explanation"})
TRAINING_KINDS = frozenset({"training", "fine_tuning"})


@dataclass(frozen=True)
class Hit:
    """A threat that applies to an element, and why."""

    threat: str
    element: str
    facts: tuple[str, ...]
    controls: tuple[str, ...]
    likelihood: int
    likelihood_reasons: tuple[str, ...]
    clears: str
    impact: ImpactKind = "integrity"
    sensitivity: frozenset[str] = frozenset()
    audiences: tuple[str, ...] = ("developer",)


@dataclass(frozen=True)
class RuleSpec:
    """A registered rule: id, one-line title, the function, and why it exists."""

    id: str
    title: str
    fn: Callable[[Context], Iterable[Hit]]

    @property
    def doc(self) -> str:
        """The rule's docstring: the reasoning a reviewer can check."""
        return (self.fn.__doc__ or "").strip()


RULES: list[RuleSpec] = []


def rule(rule_id: str, title: str) -> Callable[[Callable[[Context], Iterable[Hit]]], RuleSpec]:
    """Register a rule under a stable id."""

    def register(fn: Callable[[Context], Iterable[Hit]]) -> RuleSpec:
        if any(r.id == rule_id for r in RULES):
            raise ValueError(f"rule id {rule_id} registered twice")
        spec = RuleSpec(rule_id, title, fn)
        RULES.append(spec)
        return spec

    return register


def likelihood(
    base: int, base_reason: str, *bumps: tuple[bool, int, str]
) -> tuple[int, tuple[str, ...]]:
    """A likelihood 1–5 built from a base and conditional bumps, each with its reason."""
    value = base
    reasons = [f"{base_reason}: {base}"]
    for condition, delta, why in bumps:
        if condition:
            value += delta
            reasons.append(f"{why}: {delta:+d}")
    return max(1, min(5, value)), tuple(reasons)


class Context:
    """What rules read: the model, its graph, the date, and derived facts computed once."""

    def __init__(self, model: SystemModel, graph: SystemGraph, today: date) -> None:
        self.model = model
        self.graph = graph
        self.today = today

    @cached_property
    def training_steps(self) -> list[Node]:
        """Processes that train or fine-tune a model."""
        return [
            n
            for n in self.graph.of_kind("process")
            if getattr(n.element, "kind", None) in TRAINING_KINDS
        ]

    def training_reached_by(self, element_id: str) -> list[Node]:
        """Training steps that data from ``element_id`` reaches."""
        down = self.graph.downstream(element_id)
        return [n for n in self.training_steps if n.id in down]

    def validated_on_path(self, element_id: str) -> list[str]:
        """Processes with automated validation between an element and training."""
        down = self.graph.downstream(element_id)
        return [
            n.id
            for n in self.graph.of_kind("process")
            if n.id in down and getattr(n.element, "automated_validation", False)
        ]

    def sensitivity(self, element_id: str, include_self: bool = True) -> frozenset[str]:
        """Kinds of sensitive data (biometric, health, personal) at or upstream of an element."""
        ids = set(self.graph.upstream(element_id))
        if include_self:
            ids.add(element_id)
        found: set[str] = set()
        for i in ids:
            node = self.graph.nodes.get(i)
            if node is None or not isinstance(node.element, Source | Store):
                continue
            for flag in SENSITIVE_FLAGS:
                if getattr(node.element, f"{flag}_data", False):
                    found.add(flag)
        return frozenset(found)

    def endpoints(self) -> Iterator[tuple[Node, Endpoint]]:
        """Endpoints with their typed element."""
        for node in self.graph.of_kind("endpoint"):
            assert isinstance(node.element, Endpoint)
            yield node, node.element


def describe_sensitivity(flags: frozenset[str]) -> str:
    """``health and personal`` from a set of flags, worst first."""
    names = [f for f in SENSITIVE_FLAGS if f in flags]
    return " and ".join(names)
