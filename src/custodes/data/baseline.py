"""Baseline: the statistical picture of reference data that every data check compares to.

A baseline is a JSON document (``format: custodes-data-baseline``, ``version: 1``) with:

* ``columns``: a :class:`ColumnProfile` per column over all rows;
* ``sources`` / ``labels``: the same per source value and per label class;
* ``label_bins`` (and per source, ``source_label_bins``): rows and rows per label class
  in each feature bin, from which :meth:`Baseline.label_model` builds P(label | features);
* ``signatures``: how row signatures are computed (columns, grid, hash) plus their
  distinct-count HLL, a bottom-k sample and the reference duplicate rates;
* ``constraints``: inferred types, ranges (with a margin), allowed categories and null
  rates, written for a person to review and edit;
* ``digest``: sha256 of the canonical JSON of everything else. It detects accidental or
  unreviewed change, not an attacker (who can re-digest); signing is provenance's job.

Its size depends on the number of columns, sources, classes and occupied grid bins, never
on the number of rows.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from custodes import __version__
from custodes.data.labels import FeatureBins, LabelModel, feature_bins
from custodes.data.partial import PartialBaseline, Roles, SignatureSample, row_signatures
from custodes.data.profile import GRID, ColumnProfile
from custodes.data.sketches import U64, HyperLogLog
from custodes.errors import InputError

__all__ = ["FORMAT", "VERSION", "Baseline", "canonical_digest", "refresh_digest"]

FORMAT = "custodes-data-baseline"
VERSION = 1
MAX_CLASSES = 50
MAX_SOURCES = 200
MAX_ALLOWED = 50
SIGNATURE_HASH = "custodes-sig-v1: splitmix64 over 1% log-grid keys and blake2b-64 strings"


def canonical_digest(doc: dict[str, Any]) -> str:
    """sha256 of the document without its ``digest``, keys sorted, no whitespace."""
    body = {k: v for k, v in doc.items() if k != "digest"}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def _merge_all(profiles: list[ColumnProfile]) -> ColumnProfile:
    out = profiles[0]
    for p in profiles[1:]:
        out = out.merge(p)
    return out


def _group(
    cells: dict[tuple[str, str], dict[str, ColumnProfile]], axis: int
) -> dict[str, dict[str, ColumnProfile]]:
    groups: dict[str, dict[str, list[ColumnProfile]]] = {}
    for cell, cols in cells.items():
        g = groups.setdefault(cell[axis], {})
        for name, p in cols.items():
            g.setdefault(name, []).append(p)
    return {k: {n: _merge_all(ps) for n, ps in g.items()} for k, g in sorted(groups.items())}


def _constraint(p: ColumnProfile) -> dict[str, Any]:
    c: dict[str, Any] = {"kind": p.kind, "arrow_type": p.arrow_type}
    rate = p.null_rate
    c["max_null_rate"] = round(min(1.0, rate * 1.5 + 0.01), 4) if rate < 1 else 1.0
    if p.min is not None and p.max is not None and p.kind in ("numeric", "datetime"):
        margin = 0.1 * (p.max - p.min) or 0.1 * abs(p.max) or 1.0
        c["min"], c["max"] = p.min - margin, p.max + margin
    if p.freq is not None and p.other == 0 and len(p.freq) <= MAX_ALLOWED:
        c["allowed"] = sorted(p.freq)
    return c


@dataclass
class Baseline:
    """The reference every check compares a batch to (see the module docstring)."""

    roles: Roles
    rows: int
    columns: dict[str, ColumnProfile]
    sources: dict[str, dict[str, ColumnProfile]]
    labels: dict[str, dict[str, ColumnProfile]]
    label_bins: dict[str, FeatureBins]
    source_label_bins: dict[str, dict[str, FeatureBins]]
    signatures: dict[str, Any]
    constraints: dict[str, dict[str, Any]]
    meta: dict[str, Any] = field(default_factory=dict)

    # ------------------------------------------------------------------- building

    @classmethod
    def from_partial(cls, part: PartialBaseline, meta: dict[str, Any] | None = None) -> Baseline:
        """Finalize merged partial state into a baseline."""
        if part.rows == 0:
            raise InputError("the reference data has no rows")
        roles = part.roles
        by_source = _group(part.cells, 0) if roles.source else {}
        by_label = _group(part.cells, 1) if roles.label else {}
        if len(by_label) > MAX_CLASSES:
            raise InputError(
                f"label column {roles.label!r} has {len(by_label)} distinct values; "
                f"--label expects a class column (at most {MAX_CLASSES} classes)"
            )
        if len(by_source) > MAX_SOURCES:
            raise InputError(
                f"source column {roles.source!r} has {len(by_source)} distinct values "
                f"(at most {MAX_SOURCES})"
            )
        merged: dict[str, list[ColumnProfile]] = {}
        for cols in part.cells.values():
            for name, p in cols.items():
                merged.setdefault(name, []).append(p)
        columns = {n: _merge_all(merged[n]) for n in part.columns if n in merged}
        classes = list(by_label)
        bins: dict[str, FeatureBins] = {}
        src_bins: dict[str, dict[str, FeatureBins]] = {}
        if roles.label:
            features = [n for n in columns if n not in roles.special()]
            for name in features:
                per_class: dict[str, list[ColumnProfile]] = {}
                per_src: dict[str, dict[str, list[ColumnProfile]]] = {}
                for (src, lab), cols in part.cells.items():
                    if name in cols:
                        per_class.setdefault(lab, []).append(cols[name])
                        per_src.setdefault(src, {}).setdefault(lab, []).append(cols[name])
                fb = feature_bins(name, columns[name], per_class, classes)
                if fb is None:
                    continue
                bins[name] = fb
                if roles.source:
                    for src, pc_ in per_src.items():
                        # bins come from the global profile, so sources compare bin for bin
                        sb = feature_bins(name, columns[name], pc_, classes)
                        if sb is not None:
                            src_bins.setdefault(src, {})[name] = sb
        sig_cols = part.signature_columns or []
        signatures = {
            "hash": SIGNATURE_HASH,
            "columns": sig_cols,
            "grid": GRID.to_dict(),
            "distinct_estimate": round(part.sig_hll.estimate(), 1),
            "duplicate_rate": round(max(0.0, 1.0 - part.sig_hll.estimate() / part.rows), 6),
            "sample_duplicate_rate": round(part.sample.duplicate_rate, 6),
            "within_batch_duplicate_rate": round(part.batch_duplicates / part.rows, 6),
            "rows_per_batch": round(part.rows / max(part.batches, 1), 1),
            "hll": part.sig_hll.to_text(),
            "sample": part.sample.to_dict(),
        }
        constraints = {n: _constraint(p) for n, p in columns.items()}
        info = {
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "custodes": __version__,
            **(meta or {}),
        }
        return cls(
            roles,
            part.rows,
            columns,
            by_source,
            by_label,
            bins,
            src_bins,
            signatures,
            constraints,
            info,
        )

    # ------------------------------------------------------------------ accessors

    @property
    def classes(self) -> list[str]:
        """Label classes, sorted (empty without ``--label``)."""
        return list(self.labels)

    def label_rate(self) -> dict[str, float]:
        """Share of rows per label class."""
        total = sum(next(iter(c.values())).rows for c in self.labels.values()) or 1
        return {k: next(iter(c.values())).rows / total for k, c in self.labels.items()}

    def bin_edges(self, column: str) -> list[float] | None:
        """The coarse edges of a numeric feature's label bins (-inf and +inf at the ends)."""
        fb = self.label_bins.get(column)
        return fb.edges if fb is not None else None

    def label_model(self, source: str | None = None) -> LabelModel:
        """Naive Bayes P(label | features) from the (global or one source's) bin counts."""
        if not self.roles.label:
            raise InputError("this baseline was built without --label; it has no label model")
        bins = self.label_bins if source is None else self.source_label_bins.get(source, {})
        if source is None:
            class_rows = [self.labels[c][self.roles.label].rows for c in self.classes]
        else:
            any_bins = next(iter(bins.values()), None)
            class_rows = (
                [sum(col) for col in zip(*any_bins.counts, strict=True)]
                if any_bins
                else [0] * len(self.classes)
            )
        return LabelModel(bins.values(), self.classes, class_rows)

    def row_signatures(self, table: pa.Table) -> U64:
        """Signatures of a batch's rows, computed exactly as for the reference."""
        return row_signatures(table, list(self.signatures["columns"]))

    def signature_sample(self) -> SignatureSample:
        """Bottom-k sample of reference signatures (hash <= ``threshold``) with counts."""
        return SignatureSample.from_dict(self.signatures["sample"])

    def signature_hll(self) -> HyperLogLog:
        return HyperLogLog.from_text(self.signatures["hll"])

    # -------------------------------------------------------------- serialization

    def to_dict(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "format": FORMAT,
            "version": VERSION,
            "meta": self.meta,
            "rows": self.rows,
            "roles": {"label": self.roles.label, "source": self.roles.source, "id": self.roles.id},
            "constraints": self.constraints,
            "columns": {n: p.to_dict() for n, p in self.columns.items()},
            "sources": {s: {n: p.to_dict() for n, p in c.items()} for s, c in self.sources.items()},
            "labels": {s: {n: p.to_dict() for n, p in c.items()} for s, c in self.labels.items()},
            "label_bins": {n: b.to_dict() for n, b in self.label_bins.items()},
            "source_label_bins": {
                s: {n: b.to_dict() for n, b in c.items()} for s, c in self.source_label_bins.items()
            },
            "signatures": self.signatures,
        }
        doc["digest"] = canonical_digest(doc)
        return doc

    def dumps(self) -> str:
        return json.dumps(self.to_dict(), indent=1, ensure_ascii=False, allow_nan=False)

    def save(self, path: str | Path) -> Path:
        p = Path(path)
        try:
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(self.dumps() + "\n", encoding="utf-8")
        except OSError as exc:
            raise InputError(f"cannot write baseline: {exc.strerror}", path=p) from None
        return p

    @classmethod
    def from_dict(cls, doc: dict[str, Any], *, path: str | Path | None = None) -> Baseline:
        _check_header(doc, path)
        try:
            r = doc["roles"]

            def profiles(d: dict[str, Any]) -> dict[str, ColumnProfile]:
                return {n: ColumnProfile.from_dict(p) for n, p in d.items()}

            return cls(
                Roles(r.get("label"), r.get("source"), r.get("id")),
                int(doc["rows"]),
                profiles(doc["columns"]),
                {s: profiles(c) for s, c in doc["sources"].items()},
                {s: profiles(c) for s, c in doc["labels"].items()},
                {n: FeatureBins.from_dict(b) for n, b in doc["label_bins"].items()},
                {
                    s: {n: FeatureBins.from_dict(b) for n, b in c.items()}
                    for s, c in doc["source_label_bins"].items()
                },
                dict(doc["signatures"]),
                {n: dict(c) for n, c in doc["constraints"].items()},
                dict(doc.get("meta", {})),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(
                f"baseline is malformed ({type(exc).__name__}: {exc})", path=path
            ) from None

    @classmethod
    def load(cls, path: str | Path) -> Baseline:
        """Read and verify a baseline file; InputError (exit 2) when it cannot be trusted."""
        doc = _read_json(path)
        if doc.get("digest") != canonical_digest(doc):
            raise InputError(
                "baseline digest does not match its content (the file changed after it was "
                "written)",
                path=path,
                hint="if you edited its constraints on purpose, run "
                "'custodes data baseline --refresh-digest FILE'",
            )
        return cls.from_dict(doc, path=path)


def _read_json(path: str | Path) -> dict[str, Any]:
    p = Path(path)
    if not p.is_file():
        raise InputError("baseline file not found", path=p)
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"baseline is not readable JSON ({exc})", path=p) from None
    if not isinstance(doc, dict):
        raise InputError("baseline is not a JSON object", path=p)
    _check_header(doc, p)
    return doc


def _check_header(doc: dict[str, Any], path: str | Path | None) -> None:
    if doc.get("format") != FORMAT:
        raise InputError(
            f"not a custodes data baseline (format is {doc.get('format')!r})", path=path
        )
    if doc.get("version") != VERSION:
        raise InputError(
            f"baseline version {doc.get('version')!r} is not supported (expected {VERSION})",
            path=path,
        )


_CONSTRAINT_KEYS: dict[str, type | tuple[type, ...]] = {
    "kind": str,
    "arrow_type": str,
    "max_null_rate": (int, float),
    "min": (int, float),
    "max": (int, float),
    "allowed": list,
}


def refresh_digest(path: str | Path) -> str:
    """Re-digest a hand-edited baseline after checking its constraints still make sense.

    Only a well-formed file is re-digested: the header, every section loading, and each
    constraint having known keys of the right types. Returns the new digest.
    """
    doc = _read_json(path)
    cons = doc.get("constraints")
    if not isinstance(cons, dict):
        raise InputError("baseline has no constraints section", path=path)
    for col, c in cons.items():
        if col not in doc.get("columns", {}):
            raise InputError(f"constraint for unknown column {col!r}", path=path)
        if not isinstance(c, dict):
            raise InputError(f"constraint of {col!r} is not an object", path=path)
        for key, value in c.items():
            want = _CONSTRAINT_KEYS.get(key)
            if want is None:
                raise InputError(f"constraint of {col!r} has unknown key {key!r}", path=path)
            if not isinstance(value, want) or isinstance(value, bool):
                raise InputError(f"constraint {col}.{key} has the wrong type", path=path)
        if "min" in c and "max" in c and c["min"] > c["max"]:
            raise InputError(f"constraint of {col!r} has min > max", path=path)
    Baseline.from_dict(doc, path=path)
    doc["digest"] = canonical_digest(doc)
    Path(path).write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return str(doc["digest"])
