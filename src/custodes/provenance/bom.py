"""The AI-BOM: a CycloneDX 1.6 JSON ML-BOM of a system, built from its custodes.yaml.

Models become machine-learning-model components whose model card names the datasets
they learned from (the sources upstream of the model in the system graph), sources become
data components carrying their provenance (tier, custodian, licence, sensitive-data flags,
chain of custody, and the Merkle root of their manifest when one is kept), and
dependencies become library components (a PyPI purl when pinned), joined by the packages
the project's requirement and lock files declare (:mod:`custodes.provenance.bom_deps`),
which the models depend on in the dependency graph.

cyclonedx-python-lib builds everything it has a model for; it has none for a component's
``modelCard`` or ``data`` fields, so those are added to the serialized JSON here, and the
whole document is then validated against the 1.6 schema the library ships. The library
is imported inside :func:`build_bom` so that ``import custodes.provenance.bom`` stays cheap.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from custodes import __version__
from custodes.errors import InputError, InternalError
from custodes.provenance.bom_deps import PyDependency, normalize, read_dependencies
from custodes.provenance.hashing import hash_file
from custodes.provenance.manifest import load_manifest
from custodes.system.graph import SystemGraph
from custodes.system.schema import Dependency, ModelArtifact, Process, Source

if TYPE_CHECKING:
    from cyclonedx.model import Property
    from cyclonedx.model.component import Component

    from custodes.system.loader import LoadedSystem

__all__ = [
    "SPEC_VERSION",
    "build_bom",
    "dependency_ref",
    "model_ref",
    "python_ref",
    "source_ref",
    "trained_on",
    "validation_error",
]

SPEC_VERSION = "1.6"
_CLASSIFICATION_RANK = {"public": 0, "internal": 1, "confidential": 2, "restricted": 3}
_SERVICE_KINDS = frozenset({"service", "api"})
_HEX64 = re.compile(r"[0-9a-f]{64}")
_TRAINING_KINDS = frozenset({"training", "fine_tuning"})


def model_ref(element_id: str) -> str:
    """bom-ref of a model component (``source_ref`` and ``dependency_ref`` alike)."""
    return f"model:{element_id}"


def source_ref(element_id: str) -> str:
    return f"data:{element_id}"


def dependency_ref(element_id: str) -> str:
    return f"dependency:{element_id}"


def _flag(value: bool) -> str:
    return "true" if value else "false"


def _props(pairs: Iterable[tuple[str, str | None]]) -> list[Property]:
    from cyclonedx.model import Property

    return [Property(name=f"custodes:{k}", value=v) for k, v in pairs if v is not None]


def _file_sha256(root: Path, rel: str | None) -> str | None:
    """SHA-256 of ``root/rel`` when it is a regular file inside root (links are not followed)."""
    if not rel or "://" in rel:
        return None
    base = root.resolve()
    path = base / rel
    try:
        if path.is_symlink() or not path.is_file() or not path.resolve().is_relative_to(base):
            return None
        return hash_file(path)[1]
    except OSError:
        return None


def trained_on(graph: SystemGraph, model_id: str) -> list[Source]:
    """Sources the model learned from, in file order.

    When training or fine-tuning steps write the model, the sources upstream of those
    steps; otherwise, for an in-house model, every source upstream of it. A third-party
    or foundation model with no declared training step gets none: data that reaches it
    (prompts, retrieved passages) is input at inference, not training data.
    """
    steps = [
        f.from_
        for f in graph.flows_in(model_id)
        if (p := graph.nodes.get(f.from_)) is not None
        and isinstance(p.element, Process)
        and p.element.kind in _TRAINING_KINDS
    ]
    up: set[str] = set()
    if steps:
        for step in steps:
            up |= graph.upstream(step)
    elif getattr(graph.nodes[model_id].element, "origin", None) == "in_house":
        up = graph.upstream(model_id)
    return [s for s in graph.model.sources if s.id in up]


def _classification(graph: SystemGraph, source_id: str) -> str:
    """The most sensitive classification of the flows leaving a source."""
    levels = [f.classification for f in graph.flows_out(source_id)]
    return max(levels, key=_CLASSIFICATION_RANK.__getitem__) if levels else "internal"


def _model_component(m: ModelArtifact, root: Path) -> Component:
    from cyclonedx.model import HashAlgorithm, HashType
    from cyclonedx.model.component import Component, ComponentType
    from cyclonedx.model.contact import OrganizationalEntity

    digest = _file_sha256(root, m.path)
    artifact = "missing" if m.path and digest is None else None
    return Component(
        type=ComponentType.MACHINE_LEARNING_MODEL,
        name=m.label,
        bom_ref=model_ref(m.id),
        description=m.description,
        supplier=OrganizationalEntity(name=m.provider) if m.provider else None,
        hashes=[HashType(alg=HashAlgorithm.SHA_256, content=digest)] if digest else None,
        properties=_props(
            [
                ("id", m.id),
                ("origin", m.origin),
                ("format", m.format),
                ("signed", _flag(m.signed)),
                ("path", m.path),
                ("artifact", artifact),
                ("trained", m.trained.isoformat() if m.trained else None),
            ]
        ),
    )


def _source_component(s: Source, root: Path) -> Component:
    from cyclonedx.model import HashAlgorithm, HashType
    from cyclonedx.model.component import Component, ComponentType
    from cyclonedx.model.contact import OrganizationalEntity

    merkle: str | None = None
    if s.manifest and (root / s.manifest).is_file():
        merkle = load_manifest(root / s.manifest)["merkle_root"]
        if not _HEX64.fullmatch(merkle):
            raise InputError("manifest merkle_root is not 64 hex digits", path=root / s.manifest)
    return Component(
        type=ComponentType.DATA,
        name=s.label,
        bom_ref=source_ref(s.id),
        description=s.description,
        supplier=OrganizationalEntity(name=s.custodian) if s.custodian else None,
        hashes=[HashType(alg=HashAlgorithm.SHA_256, content=merkle)] if merkle else None,
        properties=_props(
            [
                ("id", s.id),
                ("tier", s.tier),
                ("custodian", s.custodian),
                ("license", s.license),
                ("personal_data", _flag(s.personal_data)),
                ("health_data", _flag(s.health_data)),
                ("biometric_data", _flag(s.biometric_data)),
                ("chain_of_custody", s.chain_of_custody or "missing"),
                ("manifest", s.manifest if merkle else "missing"),
                ("records", str(s.records) if s.records is not None else None),
                ("location", s.path),
                ("format", s.format),
            ]
        ),
    )


def _dependency_component(d: Dependency) -> Component:
    from cyclonedx.model.component import Component, ComponentType
    from cyclonedx.model.contact import OrganizationalEntity
    from packageurl import PackageURL

    kind = {
        "library": ComponentType.LIBRARY,
        "dataset": ComponentType.DATA,
        "platform": ComponentType.PLATFORM,
        "model_hub": ComponentType.PLATFORM,
    }[d.kind]
    purl = None
    on_pypi = d.provider is None or d.provider.strip().lower() == "pypi"
    if d.kind == "library" and d.pinned and d.version and on_pypi:
        purl = PackageURL(type="pypi", name=d.id.lower(), version=d.version)
    return Component(
        type=kind,
        name=d.label,
        version=d.version,
        bom_ref=dependency_ref(d.id),
        description=d.description,
        supplier=OrganizationalEntity(name=d.provider) if d.provider else None,
        purl=purl,
        properties=_props(
            [("kind", d.kind), ("pinned", None if d.pinned is None else _flag(d.pinned))]
        ),
    )


def python_ref(name: str) -> str:
    """bom-ref of a package read from the project's requirement or lock files."""
    return f"pypi:{name}"


_HASH_ALGS = {"sha256": "SHA_256", "sha384": "SHA_384", "sha512": "SHA_512"}


def _hash_types(dep: PyDependency) -> list[Any]:
    from cyclonedx.model import HashAlgorithm, HashType

    return [
        HashType(alg=getattr(HashAlgorithm, _HASH_ALGS[alg]), content=digest)
        for alg, digest in sorted(dep.hashes)
    ]


def _purl(dep: PyDependency) -> Any:
    from packageurl import PackageURL

    if dep.url is not None:
        return None  # a direct or VCS reference is not a PyPI release: no purl to claim
    return PackageURL(type="pypi", name=dep.name, version=dep.version)


def _python_component(dep: PyDependency) -> Component:
    """A library component for one package: purl, exact version if known, file hashes."""
    from cyclonedx.model.component import Component, ComponentType

    return Component(
        type=ComponentType.LIBRARY,
        name=dep.name,
        version=dep.version,
        bom_ref=python_ref(dep.name),
        purl=_purl(dep),
        hashes=_hash_types(dep) or None,
        properties=_props(
            [
                ("specifier", None if dep.version else dep.specifier),
                ("url", dep.url),
                ("extras", ",".join(dep.extras) or None),
                ("marker", dep.marker),
                ("declared_in", ", ".join(dep.declared_in)),
                ("pinned", _flag(dep.version is not None)),
            ]
        ),
    )


def _enrich(component: Component, dep: PyDependency) -> None:
    """A library custodes.yaml declares and a file pins: one component, the file's facts."""
    if component.version is None and dep.version is not None:
        component.version = dep.version
    if component.purl is None and component.version == dep.version:
        component.purl = _purl(dep)
    if component.version == dep.version:
        for h in _hash_types(dep):
            component.hashes.add(h)
    component.properties.add(_props([("declared_in", ", ".join(dep.declared_in))])[0])


def _library_bom(loaded: LoadedSystem, graph: SystemGraph, root: Path) -> Any:
    """The part of the BOM cyclonedx-python-lib has models for."""
    from cyclonedx.model.bom import Bom
    from cyclonedx.model.component import Component, ComponentType
    from cyclonedx.model.contact import OrganizationalEntity
    from cyclonedx.model.service import Service

    system = loaded.model.system
    bom = Bom()
    bom.metadata.tools.components.add(
        Component(type=ComponentType.APPLICATION, name="custodes", version=__version__)
    )
    app = Component(
        type=ComponentType.APPLICATION,
        name=system.name,
        bom_ref="system",
        description=system.purpose or system.description,
        supplier=OrganizationalEntity(name=system.owner) if system.owner else None,
        properties=_props([("consequence", system.consequence)]),
    )
    bom.metadata.component = app
    sources = {s.id: _source_component(s, root) for s in loaded.model.sources}
    models = {m.id: _model_component(m, root) for m in loaded.model.models}
    libraries: list[Component] = []
    others: list[Any] = []
    for d in loaded.model.dependencies:
        if d.kind in _SERVICE_KINDS:
            service = Service(
                name=d.label,
                bom_ref=dependency_ref(d.id),
                provider=OrganizationalEntity(name=d.provider) if d.provider else None,
                version=d.version,
                description=d.description,
                properties=_props([("kind", d.kind)]),
            )
            others.append(service)
            bom.services.add(service)
            continue
        component = _dependency_component(d)
        (libraries if d.kind == "library" else others).append(component)
        bom.components.add(component)
    declared = {normalize(c.name): c for c in libraries}
    for dep in read_dependencies(root):
        if dep.name in declared:
            _enrich(declared[dep.name], dep)
            continue
        component = _python_component(dep)
        libraries.append(component)
        bom.components.add(component)
    for c in [*models.values(), *sources.values()]:
        bom.components.add(c)
    for model_id, component in models.items():
        datasets = [sources[s.id] for s in trained_on(graph, model_id)]
        bom.register_dependency(component, [*datasets, *libraries])
    for c in [*sources.values(), *libraries, *others]:
        bom.register_dependency(c, [])
    bom.register_dependency(app, [*models.values(), *sources.values(), *libraries, *others])
    return bom


def _add_hand_fields(doc: dict[str, Any], loaded: LoadedSystem, graph: SystemGraph) -> None:
    """modelCard and data: CycloneDX 1.6 fields the library has no model for."""
    by_ref = {c["bom-ref"]: c for c in doc.get("components", [])}
    for m in loaded.model.models:
        card: dict[str, Any] = {
            "datasets": [{"ref": source_ref(s.id)} for s in trained_on(graph, m.id)]
        }
        by_ref[model_ref(m.id)]["modelCard"] = {"modelParameters": card}
    for s in loaded.model.sources:
        entry: dict[str, Any] = {
            "type": "dataset",
            "name": s.label,
            "classification": _classification(graph, s.id),
        }
        if s.description:
            entry["description"] = s.description
        by_ref[source_ref(s.id)]["data"] = [entry]


def validation_error(doc: dict[str, Any]) -> str | None:
    """Why ``doc`` is not valid CycloneDX 1.6 JSON (strict), or None when it is."""
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    error = JsonStrictValidator(SchemaVersion.V1_6).validate_str(json.dumps(doc))
    return None if error is None else str(error)


def build_bom(loaded_system: LoadedSystem, root: Path) -> dict[str, Any]:
    """The CycloneDX 1.6 ML-BOM of a loaded system; file paths are relative to ``root``.

    Raises :class:`InternalError` when the document does not validate (a bug in custodes),
    and :class:`InputError` when a declared manifest exists but is malformed.
    """
    from cyclonedx.output import make_outputter
    from cyclonedx.schema import OutputFormat, SchemaVersion

    graph = SystemGraph(loaded_system.model)
    bom = _library_bom(loaded_system, graph, root)
    text = make_outputter(bom, OutputFormat.JSON, SchemaVersion.V1_6).output_as_string()
    doc: dict[str, Any] = json.loads(text)
    _add_hand_fields(doc, loaded_system, graph)
    error = validation_error(doc)
    if error is not None:
        raise InternalError(f"the AI-BOM is not valid CycloneDX {SPEC_VERSION}: {error}")
    return doc
