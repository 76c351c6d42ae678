"""Credential scanning: custodes beside kingfisher and detect-secrets on one generated corpus.

Generates a labelled corpus (tests/corpus/secrets_gen.py), then times each tool over it
and scores it against the labels by (file, line). Tools that are not installed are
skipped. Not part of the test suite.

    PYTHONPATH=src .venv/bin/python benchmarks/bench_secrets.py --files 5000
    PYTHONPATH=src .venv/bin/python benchmarks/bench_secrets.py --corpus heldout --files 3000

``--corpus heldout`` uses tests/corpus/secrets_heldout_gen.py, written without reading the
detectors (the default corpus was written by the detectors' author).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from custodes.scan import run_scan
from custodes.scan.secrets import hyperscan_available

CORPORA = {
    "own": Path(__file__).resolve().parents[1] / "tests" / "corpus" / "secrets_gen.py",
    "heldout": Path(__file__).resolve().parents[1] / "tests" / "corpus" / "secrets_heldout_gen.py",
}


def _gen(corpus: str = "own"):  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location(f"secrets_{corpus}_gen", CORPORA[corpus])
    assert spec
    assert spec.loader
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses in the generator look their module up
    spec.loader.exec_module(mod)
    return mod


def run_custodes(root: Path, jobs: int = 2) -> tuple[set[tuple[str, int]], float, float]:
    """custodes as users run it: the scan engine, credential scanner only, on ``jobs`` cores."""
    t0 = time.perf_counter()
    result = run_scan([root], only={"secrets"}, jobs=jobs)
    dt = time.perf_counter() - t0
    found: set[tuple[str, int]] = set()
    for f in result.findings:
        if f.location is None or not f.location.line:
            continue
        rel = Path(f.location.path).relative_to(root).as_posix()
        if rel != "labels.json":
            found.add((rel, f.location.line))
    # tracemalloc would slow the scan several-fold; the high-water marks are honest. Pool
    # workers have exited by now, so RUSAGE_CHILDREN covers them.
    peak = max(
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
    )
    return found, dt, peak / 1e3


def _child(cmd: list[str], cwd: Path | None = None) -> tuple[str, float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, cwd=cwd)
    dt = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    # ru_maxrss of children is the max over all children so far: exact for the first
    # child, an upper bound for later ones.
    return proc.stdout, dt, max(peak, before) / 1e3


def run_kingfisher(root: Path) -> tuple[set[tuple[str, int]], float, float] | None:
    exe = shutil.which("kingfisher") or str(Path(sys.executable).parent / "kingfisher")
    if not Path(exe).exists():
        return None
    out, dt, mem = _child(
        [exe, "scan", str(root), "--format", "json", "--no-validate", "--no-update-check"]
    )
    found: set[tuple[str, int]] = set()
    for line in out.splitlines():
        line = line.strip()
        if not line.startswith(("{", "[")):
            continue
        try:
            doc = json.loads(line)
        except json.JSONDecodeError:
            continue
        items = doc if isinstance(doc, list) else doc.get("findings")
        if not isinstance(items, list):
            continue  # a summary record
        for item in items:
            f = item.get("finding", item)
            path, ln = f.get("path"), f.get("line")
            if path and ln:
                found.add((Path(path).resolve().relative_to(root.resolve()).as_posix(), int(ln)))
    return found, dt, mem


def run_detect_secrets(root: Path) -> tuple[set[tuple[str, int]], float, float] | None:
    exe = shutil.which("detect-secrets") or str(Path(sys.executable).parent / "detect-secrets")
    if not Path(exe).exists():
        return None
    # detect-secrets reports nothing for an absolute path outside the cwd: run it inside.
    out, dt, mem = _child([exe, "scan", "--all-files", "."], cwd=root)
    found: set[tuple[str, int]] = set()
    for path, items in json.loads(out or "{}").get("results", {}).items():
        found.update((Path(path).as_posix(), int(it["line_number"])) for it in items)
    return found, dt, mem


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=5000)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument(
        "--corpus",
        choices=sorted(CORPORA),
        default="own",
        help="own: secrets_gen.py; heldout: secrets_heldout_gen.py (independent of the detectors)",
    )
    ap.add_argument("--dir", type=Path, default=None, help="corpus directory (default: a temp dir)")
    ap.add_argument(
        "--skip", nargs="*", default=[], help="tools to skip: kingfisher detect-secrets"
    )
    args = ap.parse_args()
    gen = _gen(args.corpus)
    root = args.dir or Path(tempfile.mkdtemp(prefix="secrets-corpus-"))
    t0 = time.perf_counter()
    labels = gen.generate(root, files=args.files, seed=args.seed)
    mb = labels["bytes"] / 1e6
    print(
        f"corpus ({args.corpus}): {root} {args.files} files, {mb:.1f} MB, {len(labels['secrets'])} planted "
        f"secrets (generated in {time.perf_counter() - t0:.1f}s); hyperscan={hyperscan_available()}"
    )
    tools = {"custodes": lambda: run_custodes(root)}
    if "kingfisher" not in args.skip:
        tools["kingfisher"] = lambda: run_kingfisher(root)
    if "detect-secrets" not in args.skip:
        tools["detect-secrets"] = lambda: run_detect_secrets(root)
    print(
        f"{'tool':<16}{'files/s':>10}{'MB/s':>9}{'peak MB':>9}{'recall':>8}{'precision':>10}{'misses':>8}{'FPs':>7}"
    )
    for name, fn in tools.items():
        res = fn()
        if res is None:
            print(f"{name:<16} not installed")
            continue
        found, dt, peak = res
        rec, prec, miss, fps = gen.score(labels, found)
        miss = miss if isinstance(miss, int) else len(miss)
        fps = fps if isinstance(fps, int) else len(fps)
        print(
            f"{name:<16}{args.files / dt:>10.0f}{mb / dt:>9.1f}{peak:>9.0f}{rec:>8.3f}{prec:>10.3f}{miss:>8}{fps:>7}"
        )


if __name__ == "__main__":
    main()
