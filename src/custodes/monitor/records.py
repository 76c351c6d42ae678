"""Prediction records read from JSONL or Parquet in columnar blocks, bad input counted.

A prediction record is one JSON object a line::

    {"ts": "2026-11-02T08:00:00Z", "client_id": "clinic-17", "features": {...},
     "prediction": "high_risk", "confidence": 0.83, "id": "q-1", "label": "high_risk"}

``confidence`` is the probability of the predicted class; ``probabilities`` (an object of
class -> probability, or a list) may come instead or as well. ``id`` and ``label`` are
optional; labels usually arrive later and are joined by id (:mod:`custodes.monitor.labels`).

Why the reader looks the way it does: the monitor must keep up with production traffic
(the bar is 50,000 records a second a core), so a block of a few megabytes is parsed by
Arrow's JSON reader against an explicit schema in one call, never record by record. Bad
input must not stop a monitor either: only when Arrow refuses a block is that block
re-read line by line in Python, to name each bad line (``file:line``) and keep the good
ones. Records that parse but cannot be used (a missing field, a confidence outside [0, 1],
a timestamp in the future) are dropped in bulk with numpy masks and counted the same way.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC as _UTC
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj
import pyarrow.parquet as pq

from custodes.data.sketches import F64, I64
from custodes.errors import InputError

__all__ = [
    "RESERVED",
    "InputIssues",
    "RecordBlock",
    "RecordSchema",
    "count_out_of_order",
    "infer_schema",
    "parse_records",
    "read_records",
]

RESERVED = (
    "ts",
    "client_id",
    "features",
    "prediction",
    "confidence",
    "probabilities",
    "id",
    "label",
)
"""Top-level fields of a record; in flat Parquet every other column is a feature."""
BLOCK_BYTES = 8 << 20
"""JSONL is parsed in blocks of about this size: big enough for Arrow, small for memory."""
PARQUET_ROWS = 131_072
SAMPLES = 5
"""``file:line`` examples kept for each kind of bad input."""
CLOCK_SKEW = 300.0
"""Seconds a timestamp may lie ahead of ``now`` before it counts as clock skew."""
SCHEMA_LINES = 2000


@dataclass
class InputIssues:
    """Bad input, counted by kind, with a few ``file:line: what`` samples of each.

    Kinds: ``malformed_json``, ``not_an_object``, ``missing_field``, ``wrong_type``,
    ``bad_timestamp``, ``out_of_range``, ``future_timestamp`` (clock skew; dropped) and
    ``out_of_order`` (kept, windows go by the timestamp).
    """

    counts: dict[str, int] = field(default_factory=dict)
    samples: dict[str, list[str]] = field(default_factory=dict)

    def add(self, kind: str, where: str, message: str, count: int = 1) -> None:
        self.counts[kind] = self.counts.get(kind, 0) + count
        kept = self.samples.setdefault(kind, [])
        if len(kept) < SAMPLES:
            kept.append(f"{where}: {message}")

    def add_rows(self, kind: str, path: str, lines: I64, message: Callable[[int], str]) -> None:
        """Count ``lines.size`` rows of one kind; sample the first few (vectorized callers)."""
        if lines.size == 0:
            return
        self.counts[kind] = self.counts.get(kind, 0) + int(lines.size)
        kept = self.samples.setdefault(kind, [])
        for i in range(min(SAMPLES - len(kept), int(lines.size))):
            kept.append(f"{path}:{int(lines[i])}: {message(i)}")

    @property
    def rejected(self) -> int:
        """Records dropped (everything but ``out_of_order``, which is only counted)."""
        return sum(v for k, v in self.counts.items() if k != "out_of_order")

    def merge(self, other: InputIssues) -> None:
        for k, v in other.counts.items():
            self.counts[k] = self.counts.get(k, 0) + v
        for k, s in other.samples.items():
            kept = self.samples.setdefault(k, [])
            kept.extend(s[: SAMPLES - len(kept)])

    def to_dict(self) -> dict[str, Any]:
        return {
            "rejected": self.rejected,
            "counts": dict(sorted(self.counts.items())),
            "samples": {k: v for k, v in sorted(self.samples.items()) if v},
        }


@dataclass(frozen=True)
class RecordSchema:
    """Types of a prediction record's fields, fixed once (from the reference) for every file.

    Numbers are read as float64 whatever their JSON spelling, so an integer feature that
    sometimes comes as ``3.0`` is not a type change.
    """

    features: tuple[tuple[str, pa.DataType], ...]
    prediction: pa.DataType
    probabilities: pa.DataType | None = None
    id_type: pa.DataType | None = None
    label: bool = False

    @property
    def feature_names(self) -> list[str]:
        return [n for n, _ in self.features]

    def arrow(self) -> pa.Schema:
        """The explicit schema handed to Arrow's JSON reader."""
        fields = [
            pa.field("ts", pa.timestamp("us", tz="UTC")),
            pa.field("client_id", pa.string()),
            pa.field("features", pa.struct([pa.field(n, t) for n, t in self.features])),
            pa.field("prediction", self.prediction),
            pa.field("confidence", pa.float64()),
        ]
        if self.probabilities is not None:
            fields.append(pa.field("probabilities", self.probabilities))
        if self.id_type is not None:
            fields.append(pa.field("id", self.id_type))
        if self.label:
            fields.append(pa.field("label", self.prediction))
        return pa.schema(fields)

    @property
    def classes(self) -> list[str]:
        """Class names, when probabilities come as an object keyed by class."""
        t = self.probabilities
        return [f.name for f in t] if t is not None and pa.types.is_struct(t) else []


@dataclass
class RecordBlock:
    """A block of good records, column by column (what windows and abuse signals eat)."""

    ts: F64
    """Seconds since the epoch (UTC)."""
    client: pa.Array
    features: pa.Table
    prediction: pa.Array
    confidence: F64
    """Probability of the predicted class."""
    margin: F64
    """Top probability minus the runner-up: small near the decision boundary."""
    ids: pa.Array | None
    labels: pa.Array | None
    lines: I64
    """1-based line (JSONL) or row (Parquet) of each record, for ``file:line`` evidence."""

    def __len__(self) -> int:
        return int(self.ts.size)

    def take(self, idx: I64) -> RecordBlock:
        """The records at positions ``idx``, in that order."""
        ia = pa.array(idx)
        return RecordBlock(
            ts=self.ts[idx],
            client=self.client.take(ia),
            features=self.features.take(ia),
            prediction=self.prediction.take(ia),
            confidence=self.confidence[idx],
            margin=self.margin[idx],
            ids=None if self.ids is None else self.ids.take(ia),
            labels=None if self.labels is None else self.labels.take(ia),
            lines=self.lines[idx],
        )


# ---------------------------------------------------------------------------- schema


def _json_type(value: Any) -> pa.DataType | None:
    if isinstance(value, bool):
        return pa.bool_()
    if isinstance(value, int | float):
        return pa.float64()
    if isinstance(value, str):
        return pa.string()
    return None


def infer_schema(path: str | Path) -> RecordSchema:
    """The record schema of a file, from its first good records (JSONL) or its columns."""
    p = _existing(path)
    if _is_parquet(p):
        try:
            arrow_schema = pq.ParquetFile(p).schema_arrow
        except (pa.ArrowInvalid, OSError) as exc:
            raise InputError(f"not a readable Parquet file ({exc})", path=p) from None
        return _parquet_schema(p, arrow_schema)
    features: dict[str, pa.DataType] = {}
    prediction: pa.DataType | None = None
    probabilities: pa.DataType | None = None
    id_type: pa.DataType | None = None
    label = False
    seen = 0
    with p.open("rb") as fh:
        for raw in fh:
            if seen >= SCHEMA_LINES:
                break
            try:
                rec = json.loads(raw)
            except ValueError:
                continue
            if not isinstance(rec, dict) or not isinstance(rec.get("features"), dict):
                continue
            if "prediction" not in rec or _json_type(rec["prediction"]) is None:
                continue
            seen += 1
            for k, v in rec["features"].items():
                t = _json_type(v)
                if t is not None and k not in features:
                    features[k] = t
            if prediction is None:
                t = _json_type(rec["prediction"])
                prediction = pa.string() if t == pa.float64() and _is_int(rec) else t
            probs = rec.get("probabilities")
            if probabilities is None and isinstance(probs, dict) and probs:
                probabilities = pa.struct([pa.field(str(k), pa.float64()) for k in probs])
            elif probabilities is None and isinstance(probs, list) and probs:
                probabilities = pa.list_(pa.float64())
            if id_type is None and "id" in rec:
                id_type = pa.float64() if _json_type(rec["id"]) == pa.float64() else pa.string()
            label = label or "label" in rec
    if prediction is None:
        raise InputError(
            "not a predictions file: no line is a JSON record with 'features' and 'prediction'",
            path=p,
            hint="one JSON object a line: ts, client_id, features, prediction, confidence",
        )
    if prediction == pa.string() and _numeric_predictions(p):
        prediction = pa.float64()
    return RecordSchema(tuple(features.items()), prediction, probabilities, id_type, label)


def _is_int(rec: dict[str, Any]) -> bool:
    v = rec["prediction"]
    return isinstance(v, int) or (isinstance(v, float) and v.is_integer())


def _numeric_predictions(p: Path) -> bool:
    """Integer class labels (0/1) stay categorical; real-valued outputs are a regression."""
    with p.open("rb") as fh:
        for i, raw in enumerate(fh):
            if i >= SCHEMA_LINES:
                break
            try:
                rec = json.loads(raw)
            except ValueError:
                continue
            pred = rec.get("prediction") if isinstance(rec, dict) else None
            if isinstance(pred, float) and not pred.is_integer():
                return True
    return False


def _parquet_schema(p: Path, schema: pa.Schema) -> RecordSchema:
    names = set(schema.names)
    missing = [n for n in ("ts", "client_id", "prediction") if n not in names]
    if missing:
        raise InputError(f"Parquet file lacks the column(s) {', '.join(missing)}", path=p)
    if "features" in names and pa.types.is_struct(schema.field("features").type):
        cols = [(f.name, f.type) for f in schema.field("features").type]
    else:
        cols = [(f.name, f.type) for f in schema if f.name not in RESERVED]
    feats = tuple((n, _normal(t)) for n, t in cols if _normal(t) is not None)
    pred = _normal(schema.field("prediction").type) or pa.string()
    probs = schema.field("probabilities").type if "probabilities" in names else None
    ids = schema.field("id").type if "id" in names else None
    return RecordSchema(feats, pred, probs, ids, "label" in names)


def _normal(t: pa.DataType) -> pa.DataType | None:
    if pa.types.is_dictionary(t):
        t = t.value_type
    if pa.types.is_boolean(t):
        return pa.bool_()
    if pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t):
        return pa.float64()
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return pa.string()
    return None


# ---------------------------------------------------------------------------- reading


def _existing(path: str | Path) -> Path:
    p = Path(path)
    if not p.exists():
        raise InputError("no such file", path=p)
    if p.is_dir():
        raise InputError("is a folder; give a JSONL or Parquet file", path=p)
    if p.stat().st_size == 0:
        raise InputError("empty file: no prediction records", path=p)
    return p


def _is_parquet(p: Path) -> bool:
    if p.suffix.lower() in (".parquet", ".pq"):
        return True
    with p.open("rb") as fh:
        return fh.read(4) == b"PAR1"


def read_records(
    path: str | Path,
    schema: RecordSchema,
    issues: InputIssues,
    *,
    now: float | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Iterator[RecordBlock]:
    """Good records of a JSONL or Parquet file in blocks; bad ones counted in ``issues``.

    ``now`` (seconds since the epoch): records stamped later than this plus
    :data:`CLOCK_SKEW` are dropped as clock skew; None skips that check (a reference file).
    Raises :class:`InputError` for a missing or empty file and for one in which not a single
    line is a prediction record ("not JSONL at all").
    """
    p = _existing(path)
    blocks = (
        _parquet_blocks(p, schema, issues)
        if _is_parquet(p)
        else _jsonl_blocks(p, schema, issues, progress)
    )
    good = 0
    last = -math.inf
    for table, lines in blocks:
        block = _to_block(table, lines, schema, issues, str(p), now)
        if block is None:
            continue
        last = count_out_of_order(block, last, issues, str(p))
        good += len(block)
        yield block
    if good == 0:
        if issues.counts and set(issues.counts) <= {"malformed_json", "not_an_object"}:
            first = next((s[0] for s in issues.samples.values() if s), "")
            raise InputError(
                f"not JSONL: no line is a JSON record (first: {first.split(': ', 1)[-1]})",
                path=p,
                hint="expected one JSON object a line, or a Parquet file",
            )
        kinds = ", ".join(f"{k} {v}" for k, v in sorted(issues.counts.items()))
        first = next((s[0] for s in issues.samples.values() if s), "")
        raise InputError(
            f"no usable prediction record ({kinds or 'no records'})"
            + (f"; first: {first}" if first else ""),
            path=p,
            hint="expected JSONL (one JSON object a line) or Parquet",
        )


def _late(ts: F64, running: F64, late: I64) -> Callable[[int], str]:
    def message(i: int) -> str:
        return (
            f"timestamp {_iso(ts[late[i]])} is earlier than {_iso(running[late[i]])} seen before it"
        )

    return message


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=_UTC).isoformat().replace("+00:00", "Z")


def _parquet_blocks(
    p: Path, schema: RecordSchema, issues: InputIssues
) -> Iterator[tuple[pa.Table, I64]]:
    try:
        pf = pq.ParquetFile(p)
    except (pa.ArrowInvalid, OSError) as exc:
        raise InputError(f"not a readable Parquet file ({exc})", path=p) from None
    target = schema.arrow()
    start = 1
    for batch in pf.iter_batches(batch_size=PARQUET_ROWS):
        t = pa.Table.from_batches([batch])
        lines = np.arange(start, start + t.num_rows, dtype=np.int64)
        start += t.num_rows
        cols: dict[str, pa.Array | pa.ChunkedArray] = {}
        if "features" in t.column_names and pa.types.is_struct(t.schema.field("features").type):
            feats = t.column("features").combine_chunks()
            sub = {f.name: feats.field(f.name) for f in feats.type}
        else:
            sub = {n: t.column(n) for n in t.column_names if n not in RESERVED}
        names = [n for n, _ in schema.features]
        arrays = [
            _cast_or_null(sub[n], ft) if n in sub else pa.nulls(t.num_rows, ft)
            for n, ft in schema.features
        ]
        cols["features"] = (
            pa.StructArray.from_arrays(arrays, names=names)
            if names
            else (pa.array([{}] * t.num_rows, pa.struct([])))
        )
        for f in target:
            if f.name == "features":
                continue
            if f.name not in t.column_names:
                cols[f.name] = pa.nulls(t.num_rows, f.type)
            elif f.name == "ts":
                cols["ts"] = _parquet_ts(t.column("ts"), lines, issues, str(p))
            else:
                cols[f.name] = _cast_or_null(t.column(f.name), f.type)
        yield pa.table([cols[f.name] for f in target], schema=target), lines


def _cast_or_null(arr: pa.Array | pa.ChunkedArray, t: pa.DataType) -> pa.Array | pa.ChunkedArray:
    try:
        return arr.cast(t)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return pa.nulls(len(arr), t)


def _parquet_ts(
    col: pa.ChunkedArray, lines: I64, issues: InputIssues, path: str
) -> pa.Array | pa.ChunkedArray:
    target = pa.timestamp("us", tz="UTC")
    if pa.types.is_timestamp(col.type):
        return (
            col.cast(pa.timestamp("us", tz="UTC"))
            if col.type.tz
            else col.cast(pa.timestamp("us")).cast(target)
        )
    try:
        return col.cast(target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        out: list[datetime | None] = []
        for i, v in enumerate(col.to_pylist()):
            parsed = _parse_ts(v)
            if parsed is None and v is not None:
                issues.add("bad_timestamp", f"{path}:{int(lines[i])}", f"ts {v!r} is not RFC 3339")
            out.append(parsed)
        return pa.array(out, target)


def _parse_ts(v: Any) -> datetime | None:
    if not isinstance(v, str):
        return None
    try:
        d = datetime.fromisoformat(v)
    except ValueError:
        return None
    return d if d.tzinfo is not None else d.replace(tzinfo=_UTC)


def _jsonl_blocks(
    p: Path,
    schema: RecordSchema,
    issues: InputIssues,
    progress: Callable[[int, int], None] | None,
) -> Iterator[tuple[pa.Table, I64]]:
    opts = pj.ParseOptions(explicit_schema=schema.arrow(), unexpected_field_behavior="ignore")
    size = p.stat().st_size
    done = 0
    line0 = 1
    carry = b""
    with p.open("rb") as fh:
        while True:
            chunk = fh.read(BLOCK_BYTES)
            data = carry + chunk
            if not chunk:
                if not data:
                    break
                carry = b""
            else:
                cut = data.rfind(b"\n")
                if cut < 0:
                    carry = data
                    continue
                data, carry = data[: cut + 1], data[cut + 1 :]
            lines = _record_lines(data, line0)
            line0 += data.count(b"\n") + (0 if data.endswith(b"\n") else 1)
            done += len(data)
            if lines.size:
                table = _parse_block(data, lines, opts, schema, issues, str(p))
                if table is not None and table[0].num_rows:
                    yield table
            if progress is not None:
                progress(done, size)
            if not chunk:
                break


def _record_lines(data: bytes, line0: int) -> I64:
    """1-based line numbers of the non-empty lines of a block (Arrow skips empty ones).

    Only newline positions are looked at (a pass over the bytes for ``\n``, no per-byte
    arithmetic): a line is empty when it has no bytes or only a ``\r``. A line of other
    whitespace makes Arrow's row count disagree, which sends the block to the slow path.
    """
    b = np.frombuffer(data, dtype=np.uint8)
    nl = np.flatnonzero(b == 10)
    ends = nl if data.endswith(b"\n") else np.append(nl, b.size)
    starts = np.concatenate([[0], nl + 1])[: ends.size]
    length = ends - starts
    empty = length == 0
    one = np.flatnonzero(length == 1)
    empty[one] = b[starts[one]] == 13
    return (np.flatnonzero(~empty) + line0).astype(np.int64)


def _parse_block(
    data: bytes,
    lines: I64,
    opts: pj.ParseOptions,
    schema: RecordSchema,
    issues: InputIssues,
    path: str,
) -> tuple[pa.Table, I64] | None:
    try:
        table = pj.read_json(io.BytesIO(data), parse_options=opts)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        return _parse_slowly(data, opts, schema, issues, path, int(lines[0]))
    if table.num_rows != lines.size:  # blank-line accounting disagrees: find lines slowly
        return _parse_slowly(data, opts, schema, issues, path, int(lines[0]))
    return table, lines


def _parse_slowly(
    data: bytes,
    opts: pj.ParseOptions,
    schema: RecordSchema,
    issues: InputIssues,
    path: str,
    first_line: int,
) -> tuple[pa.Table, I64] | None:
    """Line by line, for the rare block Arrow refuses: name each bad line, keep the rest."""
    good: list[bytes] = []
    good_lines: list[int] = []
    first_line = first_line - _leading_blank_lines(data)
    for k, raw in enumerate(data.split(b"\n")):
        if not raw.strip():
            continue
        where = f"{path}:{first_line + k}"
        problem = _validate(raw, schema)
        if problem is not None:
            issues.add(problem[0], where, problem[1])
            continue
        good.append(raw)
        good_lines.append(first_line + k)
    if not good:
        return None
    try:
        return pj.read_json(io.BytesIO(b"\n".join(good)), parse_options=opts), np.asarray(
            good_lines, np.int64
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        pass
    tables, kept = [], []
    for raw, ln in zip(good, good_lines, strict=True):
        try:
            tables.append(pj.read_json(io.BytesIO(raw), parse_options=opts))
            kept.append(ln)
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as exc:
            issues.add("wrong_type", f"{path}:{ln}", str(exc).split("\n")[0])
    if not tables:
        return None
    return pa.concat_tables(tables), np.asarray(kept, np.int64)


def _leading_blank_lines(data: bytes) -> int:
    n = 0
    for raw in data.split(b"\n"):
        if raw.strip():
            break
        n += 1
    return n


_PY_TYPES: dict[str, tuple[type, ...]] = {
    "double": (int, float),
    "string": (str,),
    "bool": (bool,),
}


def _fits(value: Any, t: pa.DataType) -> bool:
    if value is None:
        return True
    if isinstance(value, bool) and not pa.types.is_boolean(t):
        return False
    return isinstance(value, _PY_TYPES.get(str(t), (object,)))


def _validate(raw: bytes, schema: RecordSchema) -> tuple[str, str] | None:
    """Why a line is not a usable record, as (kind, message); None for a good line."""
    try:
        rec = json.loads(raw)
    except json.JSONDecodeError as exc:
        return "malformed_json", f"not JSON ({exc.msg})"
    except ValueError:
        return "malformed_json", "not UTF-8 JSON"
    if not isinstance(rec, dict):
        return "not_an_object", f"a JSON {type(rec).__name__}, not an object"
    for name in ("ts", "client_id", "features", "prediction"):
        if rec.get(name) is None:
            return "missing_field", f"no {name!r}"
    if not isinstance(rec["ts"], str):
        return "bad_timestamp", f"ts is a {type(rec['ts']).__name__}, not an RFC 3339 string"
    if _parse_ts(rec["ts"]) is None:
        return "bad_timestamp", f"ts {rec['ts']!r} is not RFC 3339"
    if not isinstance(rec["client_id"], str):
        return "wrong_type", f"client_id is a {type(rec['client_id']).__name__}, not a string"
    if not isinstance(rec["features"], dict):
        return "wrong_type", f"features is a {type(rec['features']).__name__}, not an object"
    for name, t in schema.features:
        if not _fits(rec["features"].get(name), t):
            return "wrong_type", f"feature {name!r} is {rec['features'][name]!r}, expected {t}"
    if not _fits(rec["prediction"], schema.prediction):
        return "wrong_type", f"prediction {rec['prediction']!r} is not {schema.prediction}"
    if "label" in rec and schema.label and not _fits(rec["label"], schema.prediction):
        return "wrong_type", f"label {rec['label']!r} is not {schema.prediction}"
    conf = rec.get("confidence")
    if conf is not None and not _fits(conf, pa.float64()):
        return "wrong_type", f"confidence {conf!r} is not a number"
    probs = rec.get("probabilities")
    if probs is not None:
        values = list(probs.values()) if isinstance(probs, dict) else probs
        if not isinstance(values, list) or not all(_fits(v, pa.float64()) for v in values):
            return "wrong_type", "probabilities are not numbers"
    if conf is None and probs is None:
        return "missing_field", "neither 'confidence' nor 'probabilities'"
    if "id" in rec and schema.id_type is not None and not _fits(rec["id"], schema.id_type):
        return "wrong_type", f"id {rec['id']!r} is not {schema.id_type}"
    return None


# ------------------------------------------------------------------------ to a block


def _to_block(
    table: pa.Table,
    lines: I64,
    schema: RecordSchema,
    issues: InputIssues,
    path: str,
    now: float | None,
) -> RecordBlock | None:
    n = table.num_rows
    ts_col = table.column("ts")
    ts = ts_col.cast(pa.int64()).to_numpy(zero_copy_only=False).astype(np.float64)
    ts[np.asarray(ts_col.is_null().to_numpy(zero_copy_only=False), bool)] = np.nan
    ts /= 1e6
    conf, margin = _confidence(table, schema)
    bad = np.zeros(n, bool)

    def drop(kind: str, mask: npt.NDArray[np.bool_], message: Callable[[int], str]) -> None:
        hit = np.flatnonzero(mask & ~bad)
        issues.add_rows(kind, path, lines[hit], lambda i: message(int(hit[i])))
        bad[hit] = True

    drop("missing_field", np.isnan(ts), lambda i: "no 'ts'")
    for name in ("client_id", "prediction"):
        nulls = np.asarray(table.column(name).is_null().to_numpy(zero_copy_only=False), bool)
        drop("missing_field", nulls, _constant(f"no {name!r}"))
    drop("missing_field", np.isnan(conf), lambda i: "neither 'confidence' nor 'probabilities'")
    with np.errstate(invalid="ignore"):
        drop(
            "out_of_range",
            (conf < 0.0) | (conf > 1.0),
            lambda i: f"confidence {conf[i]:g} is not a probability in [0, 1]",
        )
    if now is not None:
        with np.errstate(invalid="ignore"):
            drop(
                "future_timestamp",
                ts > now + CLOCK_SKEW,
                lambda i: (
                    f"timestamp {_iso(ts[i])} is {(ts[i] - now) / 3600:.1f} h in the "
                    "future (clock skew?)"
                ),
            )
    keep = np.flatnonzero(~bad)
    if keep.size == 0:
        return None
    if keep.size < n:
        idx = pa.array(keep)
        table = table.take(idx)
        ts, conf, margin, lines = ts[keep], conf[keep], margin[keep], lines[keep]
    feats = table.column("features").combine_chunks()
    ftable = pa.table(
        {f.name: feats.field(f.name) for f in feats.type} if feats.type.num_fields else {}
    )
    pred = table.column("prediction").combine_chunks()
    labels = table.column("label").combine_chunks() if "label" in table.column_names else None
    ids = table.column("id").combine_chunks() if "id" in table.column_names else None
    return RecordBlock(
        ts=ts,
        client=table.column("client_id").combine_chunks(),
        features=ftable,
        prediction=pred,
        confidence=conf,
        margin=margin,
        ids=None if ids is None else _id_strings(ids),
        labels=labels,
        lines=lines,
    )


def _constant(text: str) -> Callable[[int], str]:
    return lambda _i: text


def _id_strings(ids: pa.Array) -> pa.Array:
    """Ids as strings, so ``7`` in one file joins ``7.0`` in another."""
    if pa.types.is_floating(ids.type):
        as_int = pc.cast(ids, pa.int64(), safe=False)
        return pc.cast(as_int, pa.string())
    return pc.cast(ids, pa.string())


def _confidence(table: pa.Table, schema: RecordSchema) -> tuple[F64, F64]:
    """Top probability and the margin to the runner-up (2c - 1 when only c is known)."""
    conf = np.asarray(table.column("confidence").to_numpy(zero_copy_only=False), np.float64).copy()
    conf[np.asarray(table.column("confidence").is_null().to_numpy(zero_copy_only=False), bool)] = (
        np.nan
    )
    margin = 2.0 * conf - 1.0
    if schema.probabilities is None or "probabilities" not in table.column_names:
        return conf, margin
    probs = _prob_matrix(table.column("probabilities").combine_chunks())
    if probs is None:
        return conf, margin
    have = ~np.isnan(probs).all(axis=1)
    filled = np.where(np.isnan(probs), -np.inf, probs)
    top2 = -np.sort(-filled, axis=1)[:, :2] if filled.shape[1] >= 2 else None
    with np.errstate(invalid="ignore"):
        top = filled.max(axis=1) if filled.shape[1] else np.full(len(conf), np.nan)
    use = have & np.isnan(conf)
    conf = np.where(use, top, conf)
    if top2 is not None:
        with np.errstate(invalid="ignore"):  # rows without probabilities: -inf - -inf
            m = top2[:, 0] - top2[:, 1]
        margin = np.where(have & np.isfinite(m), m, margin)
    return conf, margin


def _prob_matrix(arr: pa.Array) -> F64 | None:
    n = len(arr)
    if pa.types.is_struct(arr.type):
        cols = [
            np.asarray(arr.field(i).to_numpy(zero_copy_only=False), np.float64)
            for i in range(arr.type.num_fields)
        ]
        mat = np.column_stack(cols) if cols else np.zeros((n, 0))
        mat[np.asarray(arr.is_null().to_numpy(zero_copy_only=False), bool)] = np.nan
        return mat
    if pa.types.is_list(arr.type) or pa.types.is_large_list(arr.type):
        lens = pc.list_value_length(arr).fill_null(0).to_numpy(zero_copy_only=False)
        width = int(lens.max()) if n else 0
        mat = np.full((n, max(width, 1)), np.nan)
        flat = np.asarray(pc.list_flatten(arr).to_numpy(zero_copy_only=False), np.float64)
        rows = np.repeat(np.arange(n), lens)
        starts = np.concatenate([[0], np.cumsum(lens)[:-1]])
        cols = np.arange(flat.size) - np.repeat(starts, lens)
        mat[rows, cols] = flat
        return mat
    return None


# ------------------------------------------------------------------------ from bytes


def count_out_of_order(block: RecordBlock, last: float, issues: InputIssues, where: str) -> float:
    """Count records earlier than one already seen (kept: windows go by ``ts``).

    ``last`` is the newest timestamp seen before this block; returns the newest after it.
    """
    running = np.maximum.accumulate(np.concatenate([[last], block.ts]))[:-1]
    late = np.flatnonzero(block.ts < running)
    if late.size:
        issues.add_rows("out_of_order", where, block.lines[late], _late(block.ts, running, late))
    return max(last, float(block.ts.max()))


def parse_records(
    data: bytes,
    schema: RecordSchema,
    issues: InputIssues,
    *,
    where: str = "request",
    now: float | None = None,
) -> RecordBlock | None:
    """Good records of a body of JSON lines or one JSON array; bad ones counted in ``issues``.

    What the HTTP ingest of ``monitor run`` and the SDK's sinks send. The same fast path
    as files (one Arrow parse of the whole body against the schema), the same slow path
    naming each bad line (``where:line``), the same clock-skew check against ``now``.
    None when nothing in the body is a usable record.
    """
    if data[:64].lstrip().startswith(b"["):
        try:
            items = json.loads(data)
        except (ValueError, RecursionError) as exc:
            issues.add("malformed_json", f"{where}:1", f"not a JSON array ({exc})"[:200])
            return None
        if not isinstance(items, list):
            issues.add("not_an_object", f"{where}:1", "not a JSON array or JSON lines")
            return None
        data = b"".join(json.dumps(item, separators=(",", ":")).encode() + b"\n" for item in items)
    if not data.endswith(b"\n"):
        data += b"\n"
    lines = _record_lines(data, 1)
    if lines.size == 0:
        return None
    opts = pj.ParseOptions(explicit_schema=schema.arrow(), unexpected_field_behavior="ignore")
    parsed = _parse_block(data, lines, opts, schema, issues, where)
    if parsed is None or parsed[0].num_rows == 0:
        return None
    return _to_block(parsed[0], parsed[1], schema, issues, where, now)
