"""Typed view of the OWASP AI Exchange threat/control catalog.

Threat models, findings and reports all cite threats and controls by id, and users type
those ids by hand in custodes.yaml. The Exchange has renamed ids over time and people
mistype them, so every lookup goes through one :class:`Catalog` that accepts legacy
aliases and any spelling of an id ("model-exfiltration", "#RATE LIMIT"), and that
turns a miss into an error with a did-you-mean hint instead of a bare ``KeyError``.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from custodes.errors import CustodesError, InternalError

__all__ = [
    "Catalog",
    "CatalogIntegrityError",
    "Category",
    "Control",
    "ControlGroup",
    "RetiredControl",
    "Threat",
    "UnknownCatalogId",
    "normalize_id",
]

_NOT_ALNUM = re.compile(r"[^a-z0-9]")


def normalize_id(text: str) -> str:
    """Fold an id, alias or name to the key all lookups compare.

    The Exchange derives ids from headings by dropping case, spaces and punctuation
    ("#MONITOR USE" -> MONITORUSE), so comparing the same way lets users paste whatever
    form they found in the Exchange text or an old threat model.
    """
    return _NOT_ALNUM.sub("", text.lower())


class UnknownCatalogId(CustodesError, KeyError):
    """An id that names no threat, control or category in the catalog.

    It is a ``KeyError`` so mapping-style callers can catch it as usual, and a
    :class:`CustodesError` so a typo in a user's custodes.yaml reaches them as a one-line
    message with a hint rather than as a traceback.
    """

    def __init__(self, kind: str, ref: str, *, hint: str | None = None) -> None:
        super().__init__(f"unknown {kind} id {ref!r}", hint=hint)
        self.kind = kind
        self.ref = ref

    def __str__(self) -> str:
        # KeyError would repr() the message; users should see plain text.
        return self.message


class CatalogIntegrityError(InternalError):
    """The packaged catalog contradicts itself; a custodes bug, never the user's."""


@dataclass(frozen=True, slots=True)
class Category:
    """One of the Exchange's three threat categories, named by where the attack enters."""

    id: str
    name: str
    aliases: tuple[str, ...]
    url: str = ""


@dataclass(frozen=True, slots=True)
class Threat:
    """A catalog entry; ``level`` says whether it is a category, a group or a leaf threat.

    Only leaves (``level == "threat"``) are meant to be attached to system elements:
    the category and group entries exist so a threat model can cite a whole family.
    ``controls`` is what the Exchange names directly; ``controls_all`` adds what it
    reaches through groups and deferrals, which is what a coverage check should accept.
    """

    id: str
    name: str
    category: str
    level: str
    parent: str | None
    description: str
    element_kinds: tuple[str, ...]
    atlas: tuple[str, ...]
    controls: tuple[str, ...]
    controls_all: tuple[str, ...]
    aliases: tuple[str, ...]
    url: str
    impact: tuple[str, ...]

    @property
    def is_leaf(self) -> bool:
        """True for concrete threats, the only level that maps onto system elements."""
        return self.level == "threat"


@dataclass(frozen=True, slots=True)
class Control:
    """A countermeasure; ``group`` is None where the Exchange files it under no group."""

    id: str
    name: str
    group: str | None
    description: str
    phase: tuple[str, ...]
    atlas_mitigations: tuple[str, ...]
    url: str
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ControlGroup:
    """A named bundle the Exchange links instead of listing controls (may nest groups)."""

    id: str
    name: str
    members: tuple[str, ...]
    url: str = ""


@dataclass(frozen=True, slots=True)
class RetiredControl:
    """A control id the Exchange dropped; kept so old threat models get a clear message."""

    id: str
    last_seen: str
    replaced_by: str | None


def _index(entries: Iterable[tuple[str, Iterable[str]]]) -> dict[str, str]:
    """Map every normalised spelling (id and aliases) to the canonical id."""
    index: dict[str, str] = {}
    for canonical, spellings in entries:
        for spelling in (canonical, *spellings):
            index.setdefault(normalize_id(spelling), canonical)
    return index


def _closest(ref: str, index: Mapping[str, str]) -> str | None:
    """Canonical id of the spelling nearest to ``ref``, if any is reasonably close."""
    match = difflib.get_close_matches(normalize_id(ref), list(index), n=1, cutoff=0.75)
    return index[match[0]] if match else None


class Catalog:
    """Immutable, queryable catalog; build it with :func:`custodes.catalog.load_catalog`."""

    __slots__ = (
        "_category_index",
        "_control_index",
        "_threat_index",
        "atlas_version",
        "categories",
        "control_groups",
        "controls",
        "element_kinds",
        "exchange_commit",
        "retired_controls",
        "threats",
    )

    def __init__(
        self,
        *,
        threats: Iterable[Threat],
        controls: Iterable[Control],
        categories: Iterable[Category],
        control_groups: Iterable[ControlGroup],
        retired_controls: Iterable[RetiredControl] = (),
        element_kinds: Iterable[str] = (),
        exchange_commit: str = "",
        atlas_version: str = "",
    ) -> None:
        self.threats: Mapping[str, Threat] = MappingProxyType({t.id: t for t in threats})
        self.controls: Mapping[str, Control] = MappingProxyType({c.id: c for c in controls})
        self.categories: Mapping[str, Category] = MappingProxyType({c.id: c for c in categories})
        self.control_groups: Mapping[str, ControlGroup] = MappingProxyType(
            {g.id: g for g in control_groups}
        )
        self.retired_controls: Mapping[str, RetiredControl] = MappingProxyType(
            {r.id: r for r in retired_controls}
        )
        self.element_kinds: tuple[str, ...] = tuple(element_kinds)
        self.exchange_commit = exchange_commit
        self.atlas_version = atlas_version
        self._threat_index = _index((t.id, t.aliases) for t in self.threats.values())
        self._control_index = _index((c.id, c.aliases) for c in self.controls.values())
        self._category_index = _index(
            (c.id, (c.name, *c.aliases)) for c in self.categories.values()
        )

    # -- threats ---------------------------------------------------------------------

    def resolve_threat_id(self, ref: str) -> str | None:
        """Canonical threat id for an id or legacy alias in any case, or None."""
        return self._threat_index.get(normalize_id(ref))

    def threat(self, id_or_alias: str) -> Threat:
        """The threat for an id or legacy alias; raises :class:`UnknownCatalogId`."""
        canonical = self.resolve_threat_id(id_or_alias)
        if canonical is None:
            raise UnknownCatalogId(
                "threat", id_or_alias, hint=_did_you_mean(self.suggest_threat(id_or_alias))
            )
        return self.threats[canonical]

    def suggest_threat(self, ref: str) -> str | None:
        """Closest known threat id, for did-you-mean messages."""
        return _closest(ref, self._threat_index)

    def threats_for_kind(self, kind: str) -> tuple[Threat, ...]:
        """Leaf threats that apply to a system-element kind, in catalog order.

        Category and group entries are left out because attaching them to an element
        would make a threat model claim coverage of a whole family at once.
        """
        if kind not in self.element_kinds:
            close = difflib.get_close_matches(kind, self.element_kinds, n=1)
            raise UnknownCatalogId(
                "element kind", kind, hint=_did_you_mean(close[0] if close else None)
            )
        return tuple(t for t in self.threats.values() if t.is_leaf and kind in t.element_kinds)

    # -- controls --------------------------------------------------------------------

    def resolve_control_id(self, ref: str) -> str | None:
        """Canonical control id for an id or legacy alias in any spelling, or None."""
        return self._control_index.get(normalize_id(ref))

    def has_control(self, ref: str) -> bool:
        """True if ``ref`` names a current control (legacy aliases count, retired ids do not)."""
        return self.resolve_control_id(ref) is not None

    def control(self, ref: str) -> Control:
        """The control for an id or legacy alias; raises :class:`UnknownCatalogId`.

        A retired id gets its own hint, so a user with an old threat model learns the
        control is gone rather than suspecting a typo.
        """
        canonical = self.resolve_control_id(ref)
        if canonical is not None:
            return self.controls[canonical]
        retired = self._retired(ref)
        if retired is not None:
            hint = f"retired by the OWASP AI Exchange, last seen {retired.last_seen}"
            if retired.replaced_by:
                hint += f"; use {retired.replaced_by}"
            raise UnknownCatalogId("control", ref, hint=hint)
        raise UnknownCatalogId("control", ref, hint=_did_you_mean(self.suggest_control(ref)))

    def suggest_control(self, ref: str) -> str | None:
        """Closest known control id, for did-you-mean messages."""
        return _closest(ref, self._control_index)

    def is_retired_control(self, ref: str) -> bool:
        """True for ids the Exchange once had and dropped, so callers can explain them."""
        return self._retired(ref) is not None

    def _retired(self, ref: str) -> RetiredControl | None:
        key = normalize_id(ref)
        return next((r for r in self.retired_controls.values() if normalize_id(r.id) == key), None)

    # -- categories ------------------------------------------------------------------

    def category(self, id_or_alias: str) -> Category:
        """The category for its id, name or an old name; raises :class:`UnknownCatalogId`."""
        canonical = self._category_index.get(normalize_id(id_or_alias))
        if canonical is None:
            close = _closest(id_or_alias, self._category_index)
            raise UnknownCatalogId("category", id_or_alias, hint=_did_you_mean(close))
        return self.categories[canonical]


def _did_you_mean(suggestion: str | None) -> str | None:
    return f"did you mean {suggestion}?" if suggestion else None
