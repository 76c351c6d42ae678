"""Reading reference data: Parquet (file, folder, hive-partitioned), CSV, in-memory tables.

Input is cut into *tasks* (a Parquet file's row groups, a whole CSV, an in-memory table)
that an engine hands to workers; a worker streams its task as record batches, so memory
stays bounded by the batch size whatever the file size. A task is a small picklable,
JSON-able record so the same plan runs in local processes or on Dask workers.

Everything a user can get wrong becomes an :class:`InputError` (exit 2) that names the
file: missing, empty, truncated or corrupt, an unsupported format, a column that is not
there (with a did-you-mean).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from custodes.errors import InputError

__all__ = ["BATCH_ROWS", "Task", "check_columns", "iter_task", "plan", "table_of"]

BATCH_ROWS = 262_144
PARQUET = (".parquet", ".parq", ".pq")
CSV = (".csv", ".tsv", ".csv.gz")


@dataclass(frozen=True)
class Task:
    """One unit of work: a Parquet file's row groups, a CSV file, or an in-memory table."""

    kind: str  # "parquet" | "csv" | "table"
    path: str = ""
    row_groups: tuple[int, ...] = ()
    partition: tuple[tuple[str, str], ...] = ()
    table: pa.Table | None = field(default=None, compare=False, repr=False)


def table_of(obj: Any) -> pa.Table | None:
    """An Arrow table from a pyarrow Table/RecordBatch, polars or pandas DataFrame."""
    if isinstance(obj, pa.Table):
        return obj
    if isinstance(obj, pa.RecordBatch):
        return pa.Table.from_batches([obj])
    mod = type(obj).__module__
    if mod.startswith("polars"):
        out = obj.to_arrow()
        assert isinstance(out, pa.Table)
        return out
    if mod.startswith("pandas"):
        return pa.Table.from_pandas(obj, preserve_index=False)
    return None


def _hive(root: Path, file: Path) -> tuple[tuple[str, str], ...]:
    parts = file.relative_to(root).parts[:-1]
    return tuple((k, v) for k, _, v in (p.partition("=") for p in parts if "=" in p))


def _is_data(p: Path) -> bool:
    return p.is_file() and not p.name.startswith((".", "_"))


def _parquet_tasks(file: Path, partition: tuple[tuple[str, str], ...]) -> list[Task]:
    try:
        if file.stat().st_size == 0:
            raise InputError("file is empty", path=file)
        meta = pq.ParquetFile(file).metadata
    except InputError:
        raise
    except (OSError, pa.ArrowException) as exc:
        raise InputError(
            f"not a readable Parquet file (truncated or corrupt?): {exc}", path=file
        ) from None
    groups = list(range(meta.num_row_groups))
    if not groups:
        return [Task("parquet", str(file), (), partition)]
    # small row groups are bundled so that a task holds about a million rows
    tasks, current, rows = [], list[int](), 0
    for g in groups:
        current.append(g)
        rows += meta.row_group(g).num_rows
        if rows >= 1_000_000:
            tasks.append(Task("parquet", str(file), tuple(current), partition))
            current, rows = [], 0
    if current:
        tasks.append(Task("parquet", str(file), tuple(current), partition))
    return tasks


def plan(refs: Sequence[Any]) -> list[Task]:
    """Tasks for every reference, checking each file exists and is readable."""
    if not refs:
        raise InputError("no reference data given")
    tasks: list[Task] = []
    for ref in refs:
        table = table_of(ref)
        if table is not None:
            tasks.append(Task("table", table=table))
            continue
        if not isinstance(ref, str | Path):
            raise InputError(f"cannot read reference of type {type(ref).__name__}")
        path = Path(ref)
        if not path.exists():
            raise InputError("file not found", path=path)
        if path.is_dir():
            files = sorted(p for p in path.rglob("*") if _is_data(p))
            data = [p for p in files if p.name.lower().endswith(PARQUET + CSV)]
            if not data:
                raise InputError("folder has no Parquet or CSV files", path=path)
            for f in data:
                tasks.extend(_file_tasks(f, _hive(path, f)))
        else:
            tasks.extend(_file_tasks(path, ()))
    return tasks


def _file_tasks(path: Path, partition: tuple[tuple[str, str], ...]) -> list[Task]:
    name = path.name.lower()
    if name.endswith(PARQUET):
        return _parquet_tasks(path, partition)
    if name.endswith(CSV):
        if path.stat().st_size == 0:
            raise InputError("file is empty", path=path)
        return [Task("csv", str(path), (), partition)]
    raise InputError(
        f"unsupported format {path.suffix or '(no extension)'!r} (expected Parquet or CSV)",
        path=path,
    )


def _with_partition(
    batch: pa.RecordBatch, partition: tuple[tuple[str, str], ...]
) -> pa.RecordBatch:
    if not partition:
        return batch
    arrays = list(batch.columns)
    names = list(batch.schema.names)
    for k, v in partition:
        if k not in names:
            arrays.append(pa.array([v] * batch.num_rows, pa.string()))
            names.append(k)
    return pa.RecordBatch.from_arrays(arrays, names=names)


def iter_task(task: Task, batch_rows: int = BATCH_ROWS) -> Iterator[pa.RecordBatch]:
    """Stream a task's rows as record batches (bounded memory)."""
    try:
        if task.kind == "table":
            assert task.table is not None
            yield from task.table.to_batches(max_chunksize=batch_rows)
        elif task.kind == "parquet":
            schema = pq.read_schema(task.path)
            strings = [
                f.name
                for f in schema
                if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)
            ]
            # categories stay dictionary-encoded: value counts and hashes touch each value once
            pf = pq.ParquetFile(task.path, read_dictionary=strings)
            groups = list(task.row_groups) or None
            for b in pf.iter_batches(batch_size=batch_rows, row_groups=groups):
                yield _with_partition(b, task.partition)
        elif task.kind == "csv":
            opts = pacsv.ReadOptions(block_size=64 << 20)
            with pacsv.open_csv(task.path, read_options=opts) as reader:
                for b in reader:
                    yield _with_partition(b, task.partition)
        else:
            raise InputError(f"unknown task kind {task.kind!r}")
    except InputError:
        raise
    except (OSError, pa.ArrowException) as exc:
        raise InputError(f"cannot read data: {exc}", path=task.path or None) from None


def schema_of(task: Task) -> pa.Schema:
    """The columns a task yields (partition keys included)."""
    try:
        if task.kind == "table":
            assert task.table is not None
            schema = task.table.schema
        elif task.kind == "parquet":
            schema = pq.read_schema(task.path)
        else:
            with pacsv.open_csv(task.path) as reader:
                schema = reader.schema
    except (OSError, pa.ArrowException) as exc:
        raise InputError(f"cannot read data: {exc}", path=task.path or None) from None
    for k, _ in task.partition:
        if k not in schema.names:
            schema = schema.append(pa.field(k, pa.string()))
    return schema


def check_columns(tasks: Sequence[Task], wanted: dict[str, str | None]) -> pa.Schema:
    """Fail early, with a did-you-mean, when a role column is not in the data."""
    schema = schema_of(tasks[0])
    for option, name in wanted.items():
        if name is None or name in schema.names:
            continue
        close = difflib.get_close_matches(name, schema.names, n=1, cutoff=0.6)
        hint = (
            f"did you mean {close[0]!r}?" if close else f"columns: {', '.join(schema.names[:12])}"
        )
        where = tasks[0].path or None
        raise InputError(f"{option} column {name!r} is not in the data", path=where, hint=hint)
    return schema
