"""The system model as a graph: which element feeds which, and through what.

Rules ask questions of this graph ("does any user-generated source reach a training
step?") rather than of raw YAML lists, so each question is answered once and fast even
for models of thousands of elements.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import Literal

from custodes.system.schema import (
    Element,
    Flow,
    Process,
    Store,
    SystemModel,
)

__all__ = ["ElementKind", "Node", "SystemGraph", "catalog_kind"]

ElementKind = Literal[
    "actor",
    "trust_boundary",
    "source",
    "process",
    "store",
    "model",
    "dependency",
    "notebook",
    "endpoint",
    "output",
    "feedback_loop",
    "tool",
]

_SECTION_KIND: dict[str, ElementKind] = {
    "actors": "actor",
    "trust_boundaries": "trust_boundary",
    "sources": "source",
    "processes": "process",
    "stores": "store",
    "models": "model",
    "dependencies": "dependency",
    "notebooks": "notebook",
    "endpoints": "endpoint",
    "outputs": "output",
    "feedback_loops": "feedback_loop",
    "tools": "tool",
}


def catalog_kind(kind: ElementKind, element: Element) -> str | None:
    """The OWASP-catalog element kind an element falls under, for threat lookups."""
    if kind == "process" and isinstance(element, Process):
        if element.kind in ("ingestion", "preprocessing", "feature_engineering"):
            return "preprocessing"
        if element.kind == "serving":
            return "inference_endpoint"
        return "training_pipeline"
    if kind == "store" and isinstance(element, Store):
        return "augmentation_store" if element.kind in ("vector_store", "prompt_store") else None
    return {
        "source": "data_source",
        "model": "model_artifact",
        "dependency": "supply_chain",
        "notebook": "dev_environment",
        "endpoint": "inference_endpoint",
        "output": "output_channel",
        "feedback_loop": "feedback_loop",
        "tool": "agent_tooling",
    }.get(kind)


@dataclass(frozen=True)
class Node:
    """An element with its kind and its place in the YAML (section, index)."""

    element: Element
    kind: ElementKind
    section: str
    index: int

    @property
    def id(self) -> str:
        """The element's id."""
        return self.element.id


class SystemGraph:
    """Elements by id, flows as edges, and the questions rules ask of them."""

    def __init__(self, model: SystemModel) -> None:
        self.model = model
        self.nodes: dict[str, Node] = {}
        for section, kind in _SECTION_KIND.items():
            for i, element in enumerate(getattr(model, section)):
                self.nodes[element.id] = Node(element, kind, section, i)
        self._out: dict[str, list[Flow]] = defaultdict(list)
        self._in: dict[str, list[Flow]] = defaultdict(list)
        for flow in model.flows:
            self._out[flow.from_].append(flow)
            self._in[flow.to].append(flow)
        # Feedback loops are edges too: output -> loop -> where it lands.
        self._loop_edges: dict[str, list[str]] = defaultdict(list)
        for loop in model.feedback_loops:
            self._loop_edges[loop.from_].append(loop.id)
            self._loop_edges[loop.id].append(loop.into)
        # Endpoints serve models: the model feeds the endpoint.
        for ep in model.endpoints:
            for m in ep.serves:
                self._loop_edges[m].append(ep.id)

    def of_kind(self, kind: ElementKind) -> Iterator[Node]:
        """Nodes of one kind, in file order."""
        return (n for n in self.nodes.values() if n.kind == kind)

    def flows_out(self, element_id: str) -> list[Flow]:
        """Flows leaving an element."""
        return self._out.get(element_id, [])

    def flows_in(self, element_id: str) -> list[Flow]:
        """Flows arriving at an element."""
        return self._in.get(element_id, [])

    def successors(self, element_id: str) -> Iterator[str]:
        """Ids directly fed by an element (flows, feedback loops, served models)."""
        for flow in self._out.get(element_id, []):
            yield flow.to
        yield from self._loop_edges.get(element_id, [])

    @cached_property
    def _predecessors(self) -> dict[str, list[str]]:
        pred: dict[str, list[str]] = defaultdict(list)
        for node_id in self.nodes:
            for succ in self.successors(node_id):
                pred[succ].append(node_id)
        return pred

    def downstream(self, element_id: str) -> set[str]:
        """Every element the data of ``element_id`` can reach, itself excluded."""
        return self._reach(element_id, self.successors)

    def upstream(self, element_id: str) -> set[str]:
        """Every element whose data can reach ``element_id``, itself excluded."""
        return self._reach(element_id, lambda n: iter(self._predecessors.get(n, [])))

    @staticmethod
    def _reach(start: str, step: Callable[[str], Iterable[str]]) -> set[str]:
        seen: set[str] = set()
        queue = deque([start])
        while queue:
            current = queue.popleft()
            for nxt in step(current):
                if nxt not in seen and nxt != start:
                    seen.add(nxt)
                    queue.append(nxt)
        return seen

    def reaches_kind(self, element_id: str, predicate: Callable[[Node], bool]) -> list[Node]:
        """Downstream nodes that satisfy ``predicate(node)``, in file order."""
        down = self.downstream(element_id)
        return [n for n in self.nodes.values() if n.id in down and predicate(n)]

    def boundary_of(self, element_id: str) -> str | None:
        """Trust boundary an element sits in, from either side of the declaration."""
        node = self.nodes.get(element_id)
        if node is not None and node.element.boundary:
            return node.element.boundary
        return self._boundary_members.get(element_id)

    @cached_property
    def _boundary_members(self) -> dict[str, str]:
        members: dict[str, str] = {}
        for tb in self.model.trust_boundaries:
            for ref in tb.contains:
                members.setdefault(ref, tb.id)
        return members

    def actors_with_access(self, element_id: str) -> list[Node]:
        """Actors whose declared access includes the element."""
        return [n for n in self.of_kind("actor") if element_id in getattr(n.element, "access", [])]
