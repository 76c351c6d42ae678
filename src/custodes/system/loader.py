"""Load custodes.yaml into a :class:`SystemModel`, or say exactly what is wrong and where.

Errors name the file, line and column, and suggest the key or id the author most likely
meant; the first problem is reported (with a count of the rest) because a person fixes
one line at a time and a wall of pydantic output helps nobody.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from custodes.catalog import load_catalog
from custodes.errors import ConfigError
from custodes.system.schema import SystemModel
from custodes.system.validation_errors import first_error
from custodes.system.yamlsafe import Marks, PathKey, load_yaml

__all__ = ["LoadedSystem", "load_system", "parse_system"]

#: Sections of custodes.yaml whose items are elements with ids, in display order.
ELEMENT_SECTIONS = (
    "actors",
    "trust_boundaries",
    "sources",
    "processes",
    "stores",
    "models",
    "dependencies",
    "notebooks",
    "endpoints",
    "outputs",
    "feedback_loops",
    "tools",
)


@dataclass(frozen=True)
class LoadedSystem:
    """A validated system model, the file it came from and where each value sits."""

    model: SystemModel
    path: Path
    marks: Marks

    def line_of(self, path: PathKey) -> int | None:
        """Line of a value in the file, for findings that point back at the model."""
        pos = self.marks.value(path)
        return pos.line if pos else None


def load_system(path: Path) -> LoadedSystem:
    """Read and validate a custodes.yaml file."""
    data, marks = load_yaml(path)
    return _validate(data, marks, path)


def parse_system(text: str, path: Path = Path("custodes.yaml")) -> LoadedSystem:
    """Validate a system model given as text (the path is used in messages only)."""
    data, marks = load_yaml(path, text)
    return _validate(data, marks, path)


def _validate(data: Any, marks: Marks, path: Path) -> LoadedSystem:
    if not isinstance(data, dict):
        raise ConfigError(
            "expected a mapping at the top level (system:, sources:, flows: ...)",
            path=path,
            line=1,
        )
    try:
        model = SystemModel.model_validate(data)
    except ValidationError as exc:
        raise first_error(exc, marks, path, SystemModel, prose_key_hint=True) from None
    _check_references(model, marks, path)
    return LoadedSystem(model=model, path=path, marks=marks)


def _elements(model: SystemModel) -> Iterator[tuple[str, int, Any]]:
    for section in ELEMENT_SECTIONS:
        for i, element in enumerate(getattr(model, section)):
            yield section, i, element


def _check_references(model: SystemModel, marks: Marks, path: Path) -> None:
    """Every id unique, every reference pointing at an element of the right kind."""

    def fail(loc: PathKey, message: str, hint: str | None = None) -> None:
        pos = marks.value(loc)
        raise ConfigError(
            message,
            path=path,
            line=pos.line if pos else None,
            column=pos.column if pos else None,
            hint=hint,
        )

    kind_of: dict[str, str] = {}
    for section, i, element in _elements(model):
        if element.id in kind_of:
            fail(
                (section, i, "id"),
                f"id {element.id!r} is used twice (also in {kind_of[element.id]})",
            )
        kind_of[element.id] = section

    def must_exist(
        loc: PathKey, ref: str, what: str, sections: tuple[str, ...] | None = None
    ) -> None:
        if ref not in kind_of:
            guess = difflib.get_close_matches(ref, list(kind_of), n=1)
            fail(
                loc,
                f"{what} {ref!r}, which is not defined",
                f"did you mean {guess[0]!r}?" if guess else None,
            )
        elif sections is not None and kind_of[ref] not in sections:
            wanted = " or ".join(s.rstrip("s").replace("_", " ") for s in sections)
            fail(loc, f"{what} {ref!r}, which is one of {kind_of[ref]}, not a {wanted}")

    for section, i, element in _elements(model):
        if element.boundary is not None:
            must_exist(
                (section, i, "boundary"),
                element.boundary,
                f"{element.id!r} sits in boundary",
                ("trust_boundaries",),
            )
    for i, actor in enumerate(model.actors):
        for j, ref in enumerate(actor.access):
            must_exist(("actors", i, "access", j), ref, f"actor {actor.id!r} has access to")
    for i, tb in enumerate(model.trust_boundaries):
        for j, ref in enumerate(tb.contains):
            must_exist(("trust_boundaries", i, "contains", j), ref, f"boundary {tb.id!r} contains")
    for i, nb in enumerate(model.notebooks):
        for j, ref in enumerate(nb.users):
            must_exist(
                ("notebooks", i, "users", j), ref, f"notebook {nb.id!r} is used by", ("actors",)
            )
    for i, ep in enumerate(model.endpoints):
        for j, ref in enumerate(ep.serves):
            must_exist(
                ("endpoints", i, "serves", j), ref, f"endpoint {ep.id!r} serves", ("models",)
            )
    for i, loop in enumerate(model.feedback_loops):
        must_exist(
            ("feedback_loops", i, "from"), loop.from_, f"feedback loop {loop.id!r} starts at"
        )
        must_exist(("feedback_loops", i, "into"), loop.into, f"feedback loop {loop.id!r} feeds")
    seen_flows: dict[str, int] = {}
    for i, flow in enumerate(model.flows):
        name = flow.id or f"#{i + 1}"
        if flow.id is not None:
            if flow.id in seen_flows or flow.id in kind_of:
                fail(("flows", i, "id"), f"flow id {flow.id!r} is used twice")
            seen_flows[flow.id] = i
        must_exist(("flows", i, "from"), flow.from_, f"flow {name!r} comes from")
        must_exist(("flows", i, "to"), flow.to, f"flow {name!r} goes to")
    for i, dc in enumerate(model.data_checks):
        if dc.source is not None:
            must_exist(
                ("data_checks", i, "source"),
                dc.source,
                f"data check {dc.id!r} reads from",
                ("sources", "stores", "feedback_loops"),
            )
    catalog = load_catalog()
    for i, control in enumerate(model.controls):
        if not catalog.has_control(control.id):
            if catalog.is_retired_control(control.id):
                fail(
                    ("controls", i, "id"),
                    f"control {control.id!r} was retired from the OWASP AI Exchange",
                    "pick a current control: custodes catalog controls",
                )
            guess = catalog.suggest_control(control.id)
            fail(
                ("controls", i, "id"),
                f"unknown OWASP AI Exchange control {control.id!r}",
                f"did you mean {guess!r}?" if guess else "list them: custodes catalog controls",
            )
        for j, ref in enumerate(control.applies_to):
            must_exist(("controls", i, "applies_to", j), ref, f"control {control.id!r} applies to")
