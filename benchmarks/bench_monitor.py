"""Ingest throughput of ``custodes monitor``: predictions per second per core.

The bar (monitor issue): ingesting prediction records into windows at >= 50,000 records a
second on one core. One run simulates ``--records`` predictions (default 2,000,000; ~11
features each, the health model's traffic from :mod:`custodes.monitor.simulate`: 300
clinics, a nightly batch job, an extraction client), writes them once as JSONL and as
Parquet under ``--dir`` (reused by later runs), then times, pinned to one core with
Arrow's thread pools set to one thread:

- ``ingest``: :func:`~custodes.monitor.records.read_records` (Arrow's JSON reader on 8 MiB
  blocks, or Parquet record batches) feeding a :class:`~custodes.monitor.windows.Windower`
  of ``--window`` windows (mergeable profiles per feature, prediction and confidence);
- ``check``: the whole ``monitor check`` (ingest plus per-client abuse summaries, the
  reference's null statistics, drift of every window), as the CLI runs it in CI.

Each is run ``--runs`` times (default 2) and the best run is reported (warm page cache:
parsing speed, not disk speed).

    PYTHONPATH=src .venv/bin/python benchmarks/bench_monitor.py [--records N] [--json out.json]

Not part of the test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import pyarrow as pa

from custodes.monitor import check_predictions, parse_window
from custodes.monitor.records import InputIssues, infer_schema, read_records
from custodes.monitor.simulate import (
    TrafficSpec,
    reference_table,
    traffic_table,
    write_jsonl,
    write_parquet,
)
from custodes.monitor.windows import Windower


@dataclass
class Figure:
    stage: str
    source: str
    records: int
    seconds: float
    records_per_second: float
    cores: int
    records_per_second_per_core: float
    mib: float


def _data(root: Path, records: int) -> tuple[Path, Path, Path]:
    root.mkdir(parents=True, exist_ok=True)
    jsonl, parquet, ref = (
        root / f"week-{records}.jsonl",
        root / f"week-{records}.parquet",
        root / "ref.jsonl",
    )
    if not ref.exists():
        write_jsonl(reference_table(20_000, seed=1), ref)
    if not (jsonl.exists() and parquet.exists()):
        t0 = time.perf_counter()
        per_day = max((records - 40_000) / 300 / 7, 1.0)
        table = traffic_table(
            TrafficSpec(seed=3, ordinary_clients=300, queries_per_client_day=per_day)
        )
        write_parquet(table, parquet)
        write_jsonl(table, jsonl)
        print(f"wrote {table.num_rows:,} records in {time.perf_counter() - t0:.1f} s -> {root}")
    return jsonl, parquet, ref


def _ingest(path: Path, ref: Path, window: str) -> int:
    schema = infer_schema(ref)
    w = Windower(parse_window(window), schema)
    n = 0
    for block in read_records(path, schema, InputIssues(), now=None):
        w.add(block)
        n += len(block)
    w.finish()
    return n


def _check(path: Path, ref: Path, window: str) -> int:
    return check_predictions(path, ref, window=parse_window(window), now=2e9).records


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=2_000_000)
    ap.add_argument("--dir", type=Path, default=Path("/tmp/custodes-bench-monitor"))
    ap.add_argument("--window", default="1h")
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()

    jsonl, parquet, ref = _data(args.dir, args.records)
    # one core, honestly: pin the process and keep Arrow's pools to one thread
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    pa.set_cpu_count(1)
    pa.set_io_thread_count(1)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1

    figures: list[Figure] = []
    for stage, fn in (("ingest", _ingest), ("check", _check)):
        for source, path in (("jsonl", jsonl), ("parquet", parquet)):
            best = float("inf")
            n = 0
            for _ in range(args.runs):
                t0 = time.perf_counter()
                n = fn(path, ref, args.window)
                best = min(best, time.perf_counter() - t0)
            rate = n / best
            figures.append(
                Figure(
                    stage,
                    source,
                    n,
                    round(best, 3),
                    round(rate),
                    cores,
                    round(rate / cores),
                    round(path.stat().st_size / 2**20, 1),
                )
            )
            f = figures[-1]
            print(
                f"{stage:7s} {source:8s} {n:>10,} records  {best:7.2f} s  "
                f"{rate:>10,.0f} records/s  ({f.records_per_second_per_core:,} per core; "
                f"file {f.mib:,} MiB)",
                flush=True,
            )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {peak:,.0f} MiB; window {args.window}; bar: 50,000 records/s per core")
    if args.json:
        args.json.write_text(
            json.dumps(
                {"figures": [asdict(f) for f in figures], "peak_rss_mib": round(peak)}, indent=2
            )
        )


if __name__ == "__main__":
    main()
