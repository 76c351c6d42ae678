"""The OWASP AI Exchange threat/control catalog that every other part of custodes cites.

The ids and mappings are facts from the Exchange and MITRE ATLAS, shipped as package
data (``data/catalog.yaml``) so custodes works offline and a given release always means
the same catalog. The file is hand-maintained, so :func:`load_catalog` checks it for
dangling references before anything can depend on it: a broken catalog should fail the
first test run, not surface later as a confusing "unknown control" in a user's report.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from importlib import resources
from typing import Any

import yaml

from custodes.catalog.model import (
    Catalog,
    CatalogIntegrityError,
    Category,
    Control,
    ControlGroup,
    RetiredControl,
    Threat,
    UnknownCatalogId,
    normalize_id,
)

__all__ = [
    "LEVELS",
    "Catalog",
    "CatalogIntegrityError",
    "Category",
    "Control",
    "ControlGroup",
    "RetiredControl",
    "Threat",
    "UnknownCatalogId",
    "load_catalog",
    "normalize_id",
]

LEVELS = ("category", "group", "threat")
_CIA = ("confidentiality", "integrity", "availability")
_SCHEMA_VERSION = 1


@functools.cache
def load_catalog() -> Catalog:
    """Load, check and cache the packaged catalog (it never changes within a process)."""
    text = (
        resources.files("custodes.catalog")
        .joinpath("data", "catalog.yaml")
        .read_text(encoding="utf-8")
    )
    return parse_catalog(yaml.safe_load(text))


def parse_catalog(doc: object) -> Catalog:
    """Build a :class:`Catalog` from the YAML document and verify it is self-consistent.

    Separate from :func:`load_catalog` so tests can feed deliberately broken documents.
    """
    root = _mapping(doc, "catalog")
    if root.get("schema_version") != _SCHEMA_VERSION:
        raise CatalogIntegrityError(
            f"catalog schema_version is {root.get('schema_version')!r}, "
            f"this custodes reads {_SCHEMA_VERSION}"
        )
    source = _mapping(root.get("source", {}), "source")
    catalog = Catalog(
        threats=[_threat(e) for e in _entries(root, "threats")],
        controls=[_control(e) for e in _entries(root, "controls")],
        categories=[
            Category(
                id=_str(e, "id"),
                name=_str(e, "name"),
                aliases=_strs(e, "aliases"),
                url=_str(e, "url"),
            )
            for e in _entries(root, "categories")
        ],
        control_groups=[
            ControlGroup(
                id=_str(e, "id"),
                name=_str(e, "name"),
                members=_strs(e, "members"),
                url=_str(e, "url"),
            )
            for e in _entries(root, "control_groups")
        ],
        retired_controls=[
            RetiredControl(
                id=_str(e, "id"),
                last_seen=str(e.get("last_seen", "")),
                replaced_by=_opt_str(e, "replaced_by"),
            )
            for e in _entries(root, "retired_controls")
        ],
        element_kinds=_strs(root, "element_kinds"),
        exchange_commit=str(
            _mapping(source.get("owasp_ai_exchange", {}), "source").get("commit", "")
        ),
        atlas_version=str(_mapping(source.get("atlas", {}), "source").get("release_tag", "")),
    )
    problems = check_consistency(catalog)
    if problems:
        listing = "\n  - ".join(problems)
        raise CatalogIntegrityError(f"packaged catalog is inconsistent:\n  - {listing}")
    return catalog


def check_consistency(catalog: Catalog) -> list[str]:
    """Every dangling or contradictory reference in ``catalog``, as readable lines.

    All problems are collected rather than stopping at the first, because whoever edits
    the YAML wants the full list in one run.
    """
    problems: list[str] = []
    threats, controls, groups = catalog.threats, catalog.controls, catalog.control_groups
    kinds = set(catalog.element_kinds)
    for t in threats.values():
        where = f"threat {t.id}"
        if t.category not in catalog.categories:
            problems.append(f"{where}: unknown category {t.category!r}")
        if t.level not in LEVELS:
            problems.append(f"{where}: level {t.level!r} is not one of {', '.join(LEVELS)}")
        if t.parent is not None:
            parent = threats.get(t.parent)
            if parent is None:
                problems.append(f"{where}: parent {t.parent} does not exist")
            elif parent.category != t.category:
                problems.append(f"{where}: parent {t.parent} is in another category")
        elif t.level != "category":
            problems.append(f"{where}: only category-level entries may lack a parent")
        problems += [
            f"{where}: references unknown control {c}"
            for c in dict.fromkeys((*t.controls, *t.controls_all))
            if c not in controls
        ]
        if not set(t.controls) <= set(t.controls_all):
            problems.append(f"{where}: controls is not a subset of controls_all")
        problems += [
            f"{where}: unknown element kind {k!r}" for k in t.element_kinds if k not in kinds
        ]
        problems += [f"{where}: impact {i!r} is not C, I or A" for i in t.impact if i not in _CIA]
        if not t.description.strip():
            problems.append(f"{where}: empty description")
    for c in controls.values():
        if c.group is not None:
            group = groups.get(c.group)
            if group is None:
                problems.append(f"control {c.id}: unknown group {c.group}")
            elif c.id not in group.members:
                problems.append(f"control {c.id}: not listed in members of group {c.group}")
        if not c.description.strip():
            problems.append(f"control {c.id}: empty description")
    for g in groups.values():
        problems += [
            f"control group {g.id}: unknown member {m}"
            for m in g.members
            if m not in controls and m not in groups
        ]
    problems += [
        f"retired control {r} is also a current control id"
        for r in catalog.retired_controls
        if catalog.has_control(r)
    ]
    problems += _alias_clashes(catalog)
    return problems


def _alias_clashes(catalog: Catalog) -> list[str]:
    """Aliases that would silently resolve to two different entries."""
    problems: list[str] = []
    for label, entries in (
        ("threat", [(t.id, t.aliases) for t in catalog.threats.values()]),
        ("control", [(c.id, c.aliases) for c in catalog.controls.values()]),
        ("category", [(c.id, (c.name, *c.aliases)) for c in catalog.categories.values()]),
    ):
        owner: dict[str, str] = {}
        for canonical, aliases in entries:
            for spelling in (canonical, *aliases):
                key = normalize_id(spelling)
                if owner.setdefault(key, canonical) != canonical:
                    problems.append(
                        f"{label} spelling {spelling!r} names both {owner[key]} and {canonical}"
                    )
    return problems


def _threat(e: Mapping[str, Any]) -> Threat:
    return Threat(
        id=_str(e, "id"),
        name=_str(e, "name"),
        category=_str(e, "category"),
        level=_str(e, "level"),
        parent=_opt_str(e, "parent"),
        description=_str(e, "description"),
        element_kinds=_strs(e, "element_kinds"),
        atlas=_strs(e, "atlas"),
        controls=_strs(e, "controls"),
        controls_all=_strs(e, "controls_all"),
        aliases=_strs(e, "aliases"),
        url=_str(e, "url"),
        impact=_strs(e, "impact"),
    )


def _control(e: Mapping[str, Any]) -> Control:
    return Control(
        id=_str(e, "id"),
        name=_str(e, "name"),
        group=_opt_str(e, "group"),
        description=_str(e, "description"),
        phase=_strs(e, "phase"),
        atlas_mitigations=_strs(e, "atlas_mitigations"),
        url=_str(e, "url"),
        aliases=_strs(e, "aliases"),
    )


# -- shape checks: the YAML is untyped, so each field is checked where it is read --------


def _mapping(value: object, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise CatalogIntegrityError(
            f"catalog {what}: expected a mapping, got {type(value).__name__}"
        )
    return value


def _entries(root: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    value = root.get(key, [])
    if not isinstance(value, list):
        raise CatalogIntegrityError(f"catalog {key}: expected a list")
    return [_mapping(v, f"{key} entry") for v in value]


def _str(e: Mapping[str, Any], key: str) -> str:
    value = e.get(key)
    if not isinstance(value, str):
        raise CatalogIntegrityError(f"catalog entry {e.get('id')!r}: {key} must be a string")
    return value


def _opt_str(e: Mapping[str, Any], key: str) -> str | None:
    return None if e.get(key) is None else _str(e, key)


def _strs(e: Mapping[str, Any], key: str) -> tuple[str, ...]:
    value = e.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise CatalogIntegrityError(
            f"catalog entry {e.get('id')!r}: {key} must be a list of strings"
        )
    return tuple(value)
