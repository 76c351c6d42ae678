"""Hashing throughput of ``custodes provenance record`` beside ``sha256sum``, same files, same run.

The bar (issue 5): hashing a ~2 GB multi-file dataset within 80% of ``sha256sum``'s speed
or better, with flat memory. One run writes a tree of random files under /tmp (by default
64 x 32 MiB plus 2,000 small files of 1-64 KiB, ~2.2 GB), then times over it:

- ``sha256sum``: ``find ROOT -type f -print0 | xargs -0 sha256sum`` (one process at a time,
  as a user types it), and for reference ``xargs -0 -P NPROC -n 64 sha256sum`` (parallel);
- custodes in-process: ``custodes.provenance.build_manifest`` (walk, parallel streamed
  SHA-256, Merkle root), the manifest kept in memory;
- the custodes CLI: ``custodes provenance record ROOT ... -o MANIFEST`` as a subprocess
  (interpreter start-up, imports and writing the manifest included).

Each is run ``--runs`` times (default 2) and the last run is reported: the page cache cannot
be dropped without root, so the first run warms it and the figures are warm-cache ones,
i.e. hashing speed, not disk speed. Peak memory: a subprocess is started through a tiny
Python wrapper whose ``getrusage(RUSAGE_CHILDREN).ru_maxrss`` is the peak RSS of that one
command's processes (for a pipeline, its largest process); in-process, the growth of this
process's ``ru_maxrss`` across the call, beside its absolute value. The digests custodes
recorded are checked against sha256sum's. The tree is removed at the end.

    PYTHONPATH=src .venv/bin/python benchmarks/bench_provenance.py [--json out.json]

Not part of the test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CUSTODES = Path(sys.executable).with_name("custodes")
MIB = 1 << 20

#: Runs argv (JSON in argv[1]) in a shell-free child and prints the child's peak RSS in KiB.
_WRAPPER = (
    "import json, resource, subprocess, sys\n"
    "rc = subprocess.run(json.loads(sys.argv[1]), stdout=subprocess.DEVNULL).returncode\n"
    "print(rc, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
)


@dataclass
class Figure:
    method: str
    seconds: float
    files: int
    bytes: int
    peak_rss_mib: float
    note: str = ""

    @property
    def files_per_s(self) -> float:
        return self.files / self.seconds

    @property
    def mb_per_s(self) -> float:
        return self.bytes / self.seconds / 1e6


def make_tree(root: Path, big: int, big_mib: int, small: int, seed: int) -> tuple[int, int]:
    """Write ``big`` random files of ``big_mib`` MiB and ``small`` of 1-64 KiB; (files, bytes)."""
    rng = random.Random(seed)
    total = 0
    for i in range(big):
        folder = root / "shards" / f"{i % 8}"
        folder.mkdir(parents=True, exist_ok=True)
        with (folder / f"shard-{i:03d}.bin").open("wb") as fh:
            for _ in range(big_mib):
                fh.write(os.urandom(MIB))  # 1 MiB at a time: the generator stays small too
        total += big_mib * MIB
    for i in range(small):
        folder = root / "small" / f"{i // 250:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        size = rng.randint(1024, 64 * 1024)
        (folder / f"item-{i:05d}.json").write_bytes(os.urandom(size))
        total += size
    return big + small, total


def run_child(argv: list[str]) -> tuple[float, float]:
    """(wall seconds, peak RSS MiB) of ``argv``, measured through the rusage wrapper."""
    start = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", _WRAPPER, json.dumps(argv)],
        check=True,
        capture_output=True,
        text=True,
    )
    elapsed = time.perf_counter() - start
    rc, rss_kib = (int(x) for x in out.stdout.split())
    if rc != 0:
        raise SystemExit(f"{argv[0]} exited {rc}: {out.stderr.strip()}")
    return elapsed, rss_kib / 1024


def last_of(runs: int, once: Callable[[], tuple[float, float]]) -> tuple[float, float]:
    result = once()
    for _ in range(runs - 1):
        result = once()
    return result


def sha256sum_digests(root: Path) -> dict[str, str]:
    """{relative path: digest} as sha256sum prints them (for the cross-check only)."""
    files = sorted(str(p) for p in root.rglob("*") if p.is_file())
    out = ""
    for i in range(0, len(files), 512):  # argv stays bounded; no shell involved
        out += subprocess.run(
            ["sha256sum", *files[i : i + 512]], check=True, capture_output=True, text=True
        ).stdout
    digests = {}
    for line in out.splitlines():
        digest, _, path = line.partition("  ")
        digests[Path(path).relative_to(root).as_posix()] = digest
    return digests


def bench(root: Path, work: Path, runs: int, files: int, size: int) -> list[Figure]:
    sys.path.insert(0, str(REPO / "src"))
    from custodes.provenance import Provenance, Tier, build_manifest

    figures: list[Figure] = []
    nproc = os.cpu_count() or 1
    serial = ["sh", "-c", f"find {root} -type f -print0 | xargs -0 sha256sum"]
    secs, rss = last_of(runs, lambda: run_child(serial))
    figures.append(Figure("sha256sum (find, xargs -0)", secs, files, size, rss, "1 process"))

    parallel = ["sh", "-c", f"find {root} -type f -print0 | xargs -0 -P {nproc} -n 64 sha256sum"]
    secs, rss = last_of(runs, lambda: run_child(parallel))
    figures.append(
        Figure("sha256sum (xargs -P)", secs, files, size, rss, f"{nproc} processes, reference")
    )

    prov = Provenance(source="bench", tier=Tier.first_party, chain_of_custody="bench")
    doc: dict[str, object] = {}

    def in_process() -> tuple[float, float]:
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        start = time.perf_counter()
        doc.update(build_manifest(root, prov))
        elapsed = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return elapsed, (after - before) / 1024

    secs, grew = last_of(runs, in_process)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    figures.append(
        Figure(
            "custodes build_manifest (in-process)",
            secs,
            files,
            size,
            peak,
            f"{nproc} threads; RSS grew {grew:.1f} MiB in the call",
        )
    )

    manifest = work / "manifest.json"
    record = [
        str(CUSTODES), "provenance", "record", str(root), "--source", "bench",
        "--tier", "first_party", "--chain-of-custody", "bench", "-o", str(manifest),
    ]  # fmt: skip

    def cli() -> tuple[float, float]:
        manifest.unlink(missing_ok=True)
        return run_child(record)

    secs, rss = last_of(runs, cli)
    figures.append(
        Figure("custodes provenance record (CLI)", secs, files, size, rss, "start-up included")
    )

    theirs = sha256sum_digests(root)
    ours = {f["path"]: f["sha256"] for f in json.loads(manifest.read_text())["files"]}
    ours_inproc = {f["path"]: f["sha256"] for f in doc["files"]}  # type: ignore[attr-defined]
    if not (ours == theirs == ours_inproc):
        raise SystemExit("custodes and sha256sum disagree on some digest")
    return figures


def table(figures: list[Figure]) -> str:
    base = figures[0].mb_per_s
    rows = [
        "| method | files | GB | s | files/s | MB/s | vs sha256sum | peak RSS MiB | note |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    rows += [
        f"| {f.method} | {f.files:,} | {f.bytes / 1e9:.2f} | {f.seconds:.2f} | "
        f"{f.files_per_s:,.0f} | {f.mb_per_s:,.0f} | {f.mb_per_s / base:.2f}x | "
        f"{f.peak_rss_mib:.1f} | {f.note} |"
        for f in figures
    ]
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--big", type=int, default=64, help="number of large files")
    parser.add_argument("--big-mib", type=int, default=32, help="size of each large file")
    parser.add_argument("--small", type=int, default=2000, help="number of 1-64 KiB files")
    parser.add_argument("--runs", type=int, default=2, help="runs per method; last reported")
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="custodes-bench-prov-", dir="/tmp"))
    try:
        root = work / "dataset"
        start = time.perf_counter()
        files, size = make_tree(root, args.big, args.big_mib, args.small, args.seed)
        print(
            f"tree: {files:,} files, {size / 1e9:.2f} GB in {root} "
            f"(written in {time.perf_counter() - start:.1f}s); "
            f"{args.runs} runs each, last (warm page cache) reported",
            file=sys.stderr,
        )
        figures = bench(root, work, args.runs, files, size)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(table(figures))
    ratio = figures[2].mb_per_s / figures[0].mb_per_s
    print(f"\nin-process / sha256sum: {ratio:.2f}x (bar: >= 0.80x)")
    if args.json is not None:
        rows = [asdict(f) | {"files_per_s": f.files_per_s, "mb_per_s": f.mb_per_s} for f in figures]
        args.json.write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
