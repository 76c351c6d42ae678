"""Engines that turn reference data into a Baseline: local processes or a Dask cluster.

Both run the same plan (:func:`custodes.data.io.plan`): each task becomes a
:class:`PartialBaseline` on a worker, is shipped back as its JSON-ready dict, and the
client merges the parts. Because parts merge exactly, the result does not depend on the
engine, the number of workers or the order in which parts arrive (quantile and distinct
sketches within their error).

The local engine uses processes, not threads: the KLL sketch update and ``bincount`` hold
the GIL, and a 2-thread run measured slower than one thread. Workers read their own row
groups, so only the small serialized profiles cross process boundaries.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any

from custodes.data.baseline import Baseline
from custodes.data.io import Task, check_columns, iter_task, plan
from custodes.data.partial import PartialBaseline, Roles
from custodes.errors import InputError, UsageError

__all__ = ["Progress", "build_baseline", "profile_task"]

Progress = Callable[[int, int], None]
"""Called as ``progress(tasks_done, tasks_total)``."""


def profile_task(task: Task, roles: Roles) -> PartialBaseline:
    """Profile one task's rows (what every worker runs)."""
    part = PartialBaseline(roles)
    for batch in iter_task(task):
        part.update(batch)
    return part


def _run(task: Task, roles: Roles) -> dict[str, Any]:
    """Worker entry point: the task's partial baseline as a JSON-ready dict."""
    return profile_task(task, roles).to_dict()


def _local(
    tasks: list[Task], roles: Roles, workers: int, progress: Progress | None
) -> PartialBaseline:
    total = PartialBaseline(roles)
    files = [t for t in tasks if t.kind != "table"]
    tables = [t for t in tasks if t.kind == "table"]
    done = 0
    for t in tables:  # in-memory tables are already here: profile them in this process
        total.merge(profile_task(t, roles))
        done += 1
        if progress:
            progress(done, len(tasks))
    if len(files) <= 1 or workers <= 1:
        for t in files:
            total.merge(profile_task(t, roles))
            done += 1
            if progress:
                progress(done, len(tasks))
        return total
    ctx = multiprocessing.get_context("forkserver")
    with ProcessPoolExecutor(max_workers=min(workers, len(files)), mp_context=ctx) as pool:
        futures = [pool.submit(_run, t, roles) for t in files]
        for fut in as_completed(futures):
            total.merge(PartialBaseline.from_dict(fut.result()))
            done += 1
            if progress:
                progress(done, len(tasks))
    return total


def _dask(
    tasks: list[Task], roles: Roles, scheduler: str | None, progress: Progress | None
) -> PartialBaseline:
    if not scheduler:
        raise UsageError("--engine dask needs --scheduler ADDRESS (e.g. tcp://127.0.0.1:8786)")
    try:
        from distributed import Client
    except ImportError:  # pragma: no cover - depends on the install
        raise UsageError("--engine dask needs the 'dask[distributed]' package") from None
    try:
        client = Client(scheduler, timeout="10s", set_as_default=False)  # type: ignore[no-untyped-call]
    except (OSError, TimeoutError) as exc:
        raise InputError(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from None
    total = PartialBaseline(roles)
    try:
        futures = client.map(_run, tasks, roles=roles, pure=False)
        for done, fut in enumerate(futures, start=1):  # parts merge in any order
            total.merge(PartialBaseline.from_dict(fut.result()))
            if progress:
                progress(done, len(tasks))
    finally:
        client.close()  # type: ignore[no-untyped-call]
    return total


def build_baseline(
    refs: Sequence[Any] | Any,
    *,
    label: str | None = None,
    source_column: str | None = None,
    id_column: str | None = None,
    engine: str = "local",
    scheduler: str | None = None,
    workers: int | None = None,
    progress: Progress | None = None,
) -> Baseline:
    """Profile reference data into a :class:`Baseline`.

    ``refs``: paths (Parquet file, folder or hive dataset, CSV) and/or pandas, polars or
    pyarrow tables. ``engine="local"`` uses up to ``workers`` processes (default: all
    cores); ``engine="dask"`` sends one task per Parquet row-group bundle to the cluster
    at ``scheduler`` (files must be readable at the same path on the workers).
    """
    if isinstance(refs, str | os.PathLike) or not isinstance(refs, Sequence):
        refs = [refs]
    tasks = plan(list(refs))
    check_columns(
        tasks, {"--label": label, "--source-column": source_column, "--id-column": id_column}
    )
    roles = Roles(label=label, source=source_column, id=id_column)
    if engine == "local":
        part = _local(tasks, roles, workers or os.cpu_count() or 1, progress)
    elif engine == "dask":
        part = _dask(tasks, roles, scheduler, progress)
    else:
        raise UsageError(f"unknown engine {engine!r} (expected local or dask)")
    inputs = [t.path for t in tasks if t.path]
    meta = {"engine": engine, "inputs": sorted(set(inputs))[:20], "input_files": len(set(inputs))}
    return Baseline.from_partial(part, meta)
