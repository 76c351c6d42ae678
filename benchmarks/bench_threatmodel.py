"""How long a large system model takes to load and analyze.

Generates a synthetic custodes.yaml with N elements (default 2,000) shaped like a real
platform: many sources of every tier feeding shared pipelines, models, endpoints,
notebooks, stores, dependencies, feedback loops, flows between them and controls. Then
times the load (YAML parse + validation + reference checks) and the analysis (rules,
control coverage, risk, diagnostic loop, staleness), best of several runs.

    .venv/bin/python benchmarks/bench_threatmodel.py [--elements 2000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import platform
import random
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from custodes.system import load_system
from custodes.threatmodel import analyze

TIERS = ("first_party", "broker", "user_generated")
CONTROLS = ("DATAQUALITYCONTROL", "CONTINUOUSVALIDATION", "RATELIMIT", "MONITORUSE", "DEVSECURITY")


def generate(n: int, seed: int = 7) -> str:
    """A system model with about ``n`` elements and 2n flows."""
    rng = random.Random(seed)
    per = max(1, n // 10)
    lines = [
        "version: 1",
        "system:",
        "  name: Synthetic platform",
        "  owner: platform-team",
        "  consequence: high",
        "  scale: {records: 50000000, people_affected: 3000000, accuracy: 0.95, decisions_per_day: 400000}",
        "actors:",
    ]
    lines += [f"  - {{id: team{i}, kind: team, access: [nb{i}]}}" for i in range(per)]
    lines.append("sources:")
    lines += [
        f"  - {{id: src{i}, tier: {rng.choice(TIERS)}, personal_data: {str(rng.random() < 0.3).lower()}, "
        f"records: {rng.randint(1000, 10**6)}}}"
        for i in range(2 * per)
    ]
    lines.append("processes:")
    for i in range(2 * per):
        kind = (
            "training"
            if i % 4 == 3
            else rng.choice(("ingestion", "preprocessing", "feature_engineering"))
        )
        lines.append(
            f"  - {{id: p{i}, kind: {kind}, automated_validation: {str(rng.random() < 0.5).lower()}}}"
        )
    lines.append("stores:")
    lines += [
        f"  - {{id: st{i}, kind: data_lake, health_data: {str(i % 3 == 0).lower()}}}"
        for i in range(per)
    ]
    lines.append("models:")
    lines += [
        f"  - {{id: m{i}, format: {rng.choice(('pickle', 'onnx', 'safetensors'))}, "
        f"origin: {rng.choice(('in_house', 'third_party'))}}}"
        for i in range(per)
    ]
    lines.append("notebooks:")
    lines += [
        f"  - {{id: nb{i}, production_data_access: {str(rng.random() < 0.5).lower()}, users: [team{i}]}}"
        for i in range(per)
    ]
    lines.append("endpoints:")
    lines += [
        f"  - {{id: ep{i}, callers: {rng.choice(('public', 'internal', 'authenticated_users'))}, "
        f"returns: [label, confidence], serves: [m{i}]}}"
        for i in range(per)
    ]
    lines.append("outputs:")
    lines += [f"  - {{id: out{i}, kind: ui}}" for i in range(per // 2)]
    lines.append("feedback_loops:")
    lines += [f"  - {{id: fb{i}, from: out{i}, into: st{i}}}" for i in range(per // 2)]
    lines.append("flows:")
    for i in range(2 * per):
        lines.append(f"  - {{from: src{i}, to: p{rng.randrange(2 * per)}}}")
        lines.append(f"  - {{from: p{i}, to: p{rng.randrange(2 * per)}}}")
    for i in range(per):
        lines.append(f"  - {{from: p{(i * 4 + 3) % (2 * per)}, to: m{i}}}")
        lines.append(f"  - {{from: st{i}, to: p{rng.randrange(2 * per)}}}")
    lines.append("controls:")
    for i in range(per):
        c = rng.choice(CONTROLS)
        lines.append(
            f"  - {{id: {c}, applies_to: [src{i}], status: implemented, owner: team{i % per}}}"
        )
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--elements", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "custodes.yaml"
        path.write_text(generate(args.elements))
        loads, analyses = [], []
        tm = None
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            loaded = load_system(path)
            t1 = time.perf_counter()
            tm = analyze(loaded, today=date(2026, 11, 26), root=Path(tmp))
            t2 = time.perf_counter()
            loads.append(t1 - t0)
            analyses.append(t2 - t1)
        assert tm is not None
        total = [a + b for a, b in zip(loads, analyses, strict=True)]
        print(
            f"machine: {platform.machine()} {platform.processor() or ''} python {sys.version.split()[0]}"
        )
        print(
            f"model: {tm.elements} elements, {len(loaded.model.flows)} flows, "
            f"{len(loaded.model.controls)} controls, {path.stat().st_size / 1024:.0f} KiB"
        )
        print(f"result: {len(tm.threats)} threats, {len(tm.findings)} findings")
        print(f"load     best {min(loads):.3f} s  median {statistics.median(loads):.3f} s")
        print(f"analyze  best {min(analyses):.3f} s  median {statistics.median(analyses):.3f} s")
        print(
            f"total    best {min(total):.3f} s  median {statistics.median(total):.3f} s  (bar: < 2 s)"
        )
        return 0 if min(total) < 2.0 else 1


if __name__ == "__main__":
    sys.exit(main())
