"""Benchmark: baseline a 7.5M-row, 31-column health-like Parquet table.

Goal (issue #4): under 15 s and under 2 GB peak memory on a 2-core machine.

    PYTHONPATH=src .venv/bin/python benchmarks/bench_data_baseline.py [--rows N] [--regen]

The table is written once to /tmp/custodes-bench/health.parquet (row groups of 1M rows).
Peak memory is reported for the main process and for the largest worker process
(``ru_maxrss``); the machine-wide peak is at most main + workers x worker peak.
"""

from __future__ import annotations

import argparse
import os
import resource
import threading
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

OUT = Path("/tmp/custodes-bench")
NUMERIC = {
    "age": (55, 18),
    "bmi": (27, 5),
    "systolic_bp": (128, 17),
    "diastolic_bp": (80, 10),
    "heart_rate": (74, 12),
    "glucose": (105, 25),
    "ldl": (115, 35),
    "hdl": (52, 14),
    "triglycerides": (150, 60),
    "creatinine": (1.0, 0.3),
    "egfr": (85, 20),
    "hba1c": (5.9, 0.9),
    "wbc": (7.2, 2.0),
    "hemoglobin": (13.8, 1.6),
    "platelets": (250, 60),
    "sodium": (139, 3),
    "potassium": (4.2, 0.4),
}
CATEGORICAL = {
    "sex": ["F", "M"],
    "region": [f"R{i:02d}" for i in range(10)],
    "insurance": ["public", "private", "none", "military", "other"],
    "diagnosis_code": [f"D{i:03d}" for i in range(200)],
    "ethnicity": ["a", "b", "c", "d", "e", "f"],
    "admission_type": ["emergency", "elective", "urgent", "newborn"],
}
BOOLEAN = ["smoker", "diabetic", "hypertensive", "on_statins"]
SOURCES = ["first_party", "broker", "user_generated"]


def chunk(rng: np.random.Generator, start: int, n: int) -> pa.Table:
    cols: dict[str, object] = {"patient_id": np.arange(start, start + n, dtype=np.int64)}
    risk = np.zeros(n)
    for name, (mu, sd) in NUMERIC.items():
        x = rng.normal(mu, sd, n)
        if name in ("triglycerides", "creatinine"):
            x = np.abs(x)
        risk += 0.15 * (x - mu) / sd if name in ("age", "glucose", "hba1c", "bmi") else 0.0
        mask = rng.random(n) < 0.02
        cols[name] = pa.array(x, mask=mask)
    cols["visits_last_year"] = rng.poisson(3, n).astype(np.int64)
    for name, values in CATEGORICAL.items():
        p = np.linspace(1.0, 2.0, len(values))
        cols[name] = pa.array(
            np.asarray(values)[rng.choice(len(values), n, p=p / p.sum())]
        ).dictionary_encode()
    for name in BOOLEAN:
        cols[name] = rng.random(n) < 0.25
    cols["source"] = pa.array(
        np.asarray(SOURCES)[rng.choice(3, n, p=[0.6, 0.25, 0.15])]
    ).dictionary_encode()
    cols["readmitted"] = (rng.random(n) < 1 / (1 + np.exp(-(risk - 1.0)))).astype(np.int64)
    return pa.table(cols)


def generate(rows: int, path: Path) -> None:
    rng = np.random.default_rng(7)
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = None
    for start in range(0, rows, 1_000_000):
        t = chunk(rng, start, min(1_000_000, rows - start))
        if writer is None:
            writer = pq.ParquetWriter(path, t.schema)
        writer.write_table(t, row_group_size=1_000_000)
    assert writer is not None
    writer.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=7_500_000)
    ap.add_argument("--regen", action="store_true")
    args = ap.parse_args()
    path = OUT / f"health-{args.rows}.parquet"
    if args.regen or not path.exists():
        t = time.perf_counter()
        generate(args.rows, path)
        print(
            f"generated {path} ({path.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - t:.1f} s"
        )

    from custodes.data import build_baseline

    sampler = TreeRss()
    sampler.start()
    t = time.perf_counter()
    b = build_baseline([path], label="readmitted", source_column="source", id_column="patient_id")
    built = time.perf_counter() - t
    sampler.stop()
    out = b.save(OUT / "baseline.json")
    main_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    child_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"rows={b.rows:,} columns={len(b.columns)} sources={list(b.sources)} classes={b.classes}")
    print(f"build_baseline: {built:.2f} s (goal < 15 s)")
    print(f"peak RSS: main {main_mb:.0f} MB, largest worker {child_mb:.0f} MB")
    print(
        f"peak RSS of the whole process tree (sampled every 50 ms): {sampler.peak_mb:.0f} MB (goal < 2048 MB)"
    )
    print(f"baseline file: {out.stat().st_size / 1024:.0f} KiB")


class TreeRss(threading.Thread):
    """Samples the summed RSS of this process and all its descendants (Linux /proc).

    Pool workers are not always reaped in a way ``RUSAGE_CHILDREN`` sees, and a per-
    process peak says nothing about the machine: the sum over the tree is what counts.
    """

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.peak_mb = 0.0
        self._halt = threading.Event()

    def _tree(self) -> list[int]:
        parents: dict[int, int] = {}
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    with open(f"/proc/{entry}/stat") as fh:
                        parents[int(entry)] = int(fh.read().rsplit(")", 1)[1].split()[1])
                except (OSError, IndexError, ValueError):
                    continue
        tree, frontier = [os.getpid()], [os.getpid()]
        while frontier:
            kids = [p for p, pp in parents.items() if pp in frontier]
            tree += kids
            frontier = kids
        return tree

    def run(self) -> None:
        while not self._halt.wait(0.05):
            total = 0
            for pid in self._tree():
                try:
                    with open(f"/proc/{pid}/status") as fh:
                        for line in fh:
                            if line.startswith("VmRSS:"):
                                total += int(line.split()[1])
                except OSError:
                    continue
            self.peak_mb = max(self.peak_mb, total / 1024)

    def stop(self) -> None:
        self._halt.set()
        self.join()


if __name__ == "__main__":
    main()
