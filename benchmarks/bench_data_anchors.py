"""Data baselines and checks: custodes beside Evidently, whylogs, alibi-detect and cleanlab.

One run generates one health-like reference table and its scenario batches with
``tests/corpus/health_data_gen.py`` (ground truth included) and runs every tool on the
same files, each step in its own process, timed (wall) and measured (peak RSS of that
process, from ``os.wait4``). Steps per tool:

- custodes (through its CLI, only once ``custodes data check`` exists): ``data baseline``
  on the reference, then ``data check BATCH --format json --flagged-rows FILE`` per batch.
- Evidently 0.7 (``Report([DataDriftPreset()])``, reference + batch each time: it keeps no
  baseline), whylogs 1.6 (profile the reference once, then per batch: profile it and
  ``calculate_drift_scores`` against the stored reference profile), alibi-detect 0.13
  (``TabularDrift`` fit and saved once, loaded and ``predict`` per batch), cleanlab 2.9
  alone (a scaled logistic regression fit on the reference, at most a million rows; per
  batch ``find_label_issues`` on its out-of-sample probabilities; the flagged ids are
  scored against the truth files).

The anchors pin old dependencies, so they live in their own venv, created on first use
(``--setup`` forces it)::

    .venv/bin/python benchmarks/bench_data_anchors.py                 # 200k reference, 50k batches
    .venv/bin/python benchmarks/bench_data_anchors.py --full          # 7.5M reference, 1M batches
    .venv/bin/python benchmarks/bench_data_anchors.py --tools whylogs,cleanlab --scenarios clean

Prints a table and writes JSON (``--json``, default ``/tmp/bench-data-anchors-<size>.json``).
Not part of the test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from custodes.demo import health_data as gen  # noqa: E402

ANCHORS = Path(os.environ.get("ANCHORS_DATA_VENV", "/tmp/anchors-data-venv"))
RUNNER = Path(__file__).resolve().parent / "anchors_data" / "anchor_run.py"
PINS = [
    "evidently==0.7.23",
    "whylogs==1.6.4",
    "ipython",  # whylogs' drift scores import its viz package, which needs IPython
    "alibi-detect==0.13.0",
    "cleanlab==2.9.0",
    "scikit-learn==1.9.1",
    "numpy==1.26.4",  # alibi-detect 0.13 wants numpy < 2
    "pandas==2.3.3",
    "pyarrow==18.1.0",  # the last pyarrow line built for numpy 1.x
]
CUSTODES = ROOT / ".venv" / "bin" / "custodes"
TOOLS = ("custodes", "evidently", "whylogs", "alibi", "cleanlab")
FIT_STEPS = {"custodes", "whylogs", "alibi", "cleanlab"}


@dataclass
class Step:
    tool: str
    step: str
    scenario: str
    seconds: float
    peak_rss_mb: float
    exit_code: int
    result: dict[str, Any] = field(default_factory=dict)
    precision: float | None = None
    recall: float | None = None


def ensure_anchors(force: bool) -> None:
    python = ANCHORS / "bin" / "python"
    if python.exists() and not force:
        return
    print(f"creating {ANCHORS} (the anchors' own venv) ...", flush=True)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(ANCHORS)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--upgrade", "pip"], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", *PINS], check=True)


# A fresh, small interpreter forks the measured command and reports that child's rusage:
# a child forked straight from this process would inherit this process's RSS as its peak.
WRAPPER = r"""
import json, os, sys, time
out, cmd = sys.argv[1], sys.argv[2:]
t0 = time.perf_counter()
pid = os.fork()
if pid == 0:
    try:
        os.execvp(cmd[0], cmd)
    finally:
        os._exit(127)
_, status, usage = os.wait4(pid, 0)
with open(out, "w") as f:
    json.dump({"wall": time.perf_counter() - t0, "maxrss_kb": usage.ru_maxrss,
               "code": os.waitstatus_to_exitcode(status)}, f)
"""


def measure(cmd: list[str], timeout: float, stdout: Path | None = None) -> tuple[float, float, int]:
    """Run ``cmd``; return (wall seconds, peak RSS MiB of that process, exit code)."""
    rusage = Path(f"/tmp/bench-data-rusage-{os.getpid()}.json")
    rusage.unlink(missing_ok=True)
    out = stdout.open("wb") if stdout else subprocess.DEVNULL
    err = stdout.with_suffix(".err").open("wb") if stdout else subprocess.DEVNULL
    t0 = time.perf_counter()
    wrapped = [sys.executable, "-S", "-c", WRAPPER, str(rusage), *cmd]
    proc = subprocess.Popen(wrapped, stdout=out, stderr=err, start_new_session=True)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    wall = time.perf_counter() - t0
    for f in (out, err):
        if f is not subprocess.DEVNULL and hasattr(f, "close"):
            f.close()
    try:
        r = json.loads(rusage.read_text())
        rusage.unlink()
        return float(r["wall"]), r["maxrss_kb"] / 1024.0, int(r["code"])
    except (OSError, ValueError):
        return wall, float("nan"), -9  # killed at the timeout


def custodes_available() -> bool:
    if not CUSTODES.exists():
        return False
    r = subprocess.run(
        [str(CUSTODES), "data", "check", "--help"], capture_output=True, text=True, check=False
    )
    return r.returncode == 0 and "not built yet" not in r.stdout + r.stderr


def score(flagged: set[int], truth: dict[str, Any]) -> tuple[float | None, float | None]:
    poisoned = set(truth["poisoned_ids"])
    precision = len(flagged & poisoned) / len(flagged) if flagged else None
    recall = len(flagged & poisoned) / len(poisoned) if poisoned else None
    return precision, recall


def read_flagged(path: Path) -> set[int]:
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    if not path.exists():
        return set()
    table = pq.read_table(path) if path.suffix == ".parquet" else pcsv.read_csv(path)
    return {int(v) for v in table.column(gen.ID_COLUMN).to_pylist()}


def run_custodes(data: Path, work: Path, scenarios: list[str], timeout: float) -> list[Step]:
    steps: list[Step] = []
    baseline = work / "custodes-baseline.json"
    cmd = [str(CUSTODES), "data", "baseline", str(data / "reference"), "-o", str(baseline)]
    cmd += [
        "--label",
        gen.LABEL_COLUMN,
        "--source-column",
        gen.SOURCE_COLUMN,
        "--id-column",
        gen.ID_COLUMN,
    ]
    wall, rss, code = measure(cmd, timeout, work / "custodes-baseline.out")
    steps.append(
        Step(
            "custodes",
            "fit",
            "reference",
            wall,
            rss,
            code,
            {"baseline_bytes": baseline.stat().st_size if baseline.exists() else None},
        )
    )
    for name in scenarios:
        flagged = work / f"custodes-flagged-{name}.csv"
        flagged.unlink(missing_ok=True)
        out = work / f"custodes-{name}.json"
        cmd = [
            str(CUSTODES),
            "data",
            "check",
            str(data / "batches" / f"{name}.parquet"),
            "--baseline",
            str(baseline),
        ]
        cmd += ["--format", "json", "--flagged-rows", str(flagged)]
        wall, rss, code = measure(cmd, timeout, out)
        try:
            report: dict[str, Any] = json.loads(out.read_text())
            cols = report.get("columns", [])
            result = {
                "verdict": report.get("verdict"),
                "columns_flagged": sum(
                    1 for c in cols if isinstance(c, dict) and c.get("verdict", "ok") != "ok"
                ),
                "columns": len(cols),
                "per_source": {
                    str(s.get("source", s.get("name"))): s.get("verdict")
                    for s in report.get("sources", [])
                    if isinstance(s, dict)
                },
            }
        except (OSError, ValueError) as exc:
            err = out.with_suffix(".err")
            result = {"error": f"{exc}; stderr: {err.read_text()[-300:] if err.exists() else ''}"}
        ids = read_flagged(flagged)
        result["flagged_rows"] = len(ids)
        step = Step("custodes", "check", name, wall, rss, code, result)
        step.precision, step.recall = score(
            ids, json.loads((data / "truth" / f"{name}.json").read_text())
        )
        steps.append(step)
    return steps


def run_anchor(
    tool: str, data: Path, work: Path, scenarios: list[str], timeout: float, fit_rows: int
) -> list[Step]:
    python = str(ANCHORS / "bin" / "python")
    state = work / "state"
    state.mkdir(parents=True, exist_ok=True)
    base = [python, str(RUNNER), tool]
    ref = ["--ref", str(data / "reference"), "--state", str(state), "--fit-rows", str(fit_rows)]
    steps: list[Step] = []
    if tool in FIT_STEPS:
        out = work / f"{tool}-fit.json"
        wall, rss, code = measure([*base, "fit", *ref, "--out", str(out)], timeout)
        steps.append(Step(tool, "fit", "reference", wall, rss, code, _read(out, code)))
    for name in scenarios:
        out = work / f"{tool}-{name}.json"
        batch = data / "batches" / f"{name}.parquet"
        wall, rss, code = measure(
            [*base, "check", *ref, "--batch", str(batch), "--out", str(out)], timeout
        )
        step = Step(tool, "check", name, wall, rss, code, _read(out, code))
        if tool == "cleanlab" and "flagged_ids_file" in step.result:
            import numpy as np

            ids = {int(i) for i in np.load(step.result.pop("flagged_ids_file"))}
            step.precision, step.recall = score(
                ids, json.loads((data / "truth" / f"{name}.json").read_text())
            )
        steps.append(step)
    return steps


def _read(out: Path, code: int) -> dict[str, Any]:
    try:
        result: dict[str, Any] = json.loads(out.read_text())
    except (OSError, ValueError):
        return {"error": f"no result (exit {code}: killed or timed out)"}
    result.pop("traceback", None)
    return result


def _fmt(v: float | None) -> str:
    return "-" if v is None else f"{v:.2f}"


def print_table(steps: list[Step], truths: dict[str, Any]) -> None:
    print(
        f"\n{'tool':9s} {'step':5s} {'scenario':18s} {'expected':20s} {'time s':>7s} {'RSS MB':>7s}  what it reported"
    )
    for s in steps:
        r = s.result
        if "error" in r:
            said = "CRASH " + str(r["error"])[:90]
        elif s.step == "fit":
            said = ", ".join(f"{k}={v}" for k, v in r.items())
        elif s.tool == "cleanlab":
            said = f"flagged {r['flagged_rows']} ({100 * r['flagged_share']:.1f}%) P={_fmt(s.precision)} R={_fmt(s.recall)} by source {r['flag_rate_by_source']}"
        elif s.tool == "custodes":
            said = f"verdict={r.get('verdict')} cols={r.get('columns_flagged')}/{r.get('columns')} flagged={r.get('flagged_rows')} P={_fmt(s.precision)} R={_fmt(s.recall)} sources={r.get('per_source')}"
        else:
            extra = (
                f" (+{r['columns_possible_drift']} possible)"
                if "columns_possible_drift" in r
                else ""
            )
            said = f"drift={'yes' if r.get('drift') else 'no'} cols={r.get('columns_flagged')}/{r.get('columns')}{extra} per-source=none"
        expected = truths.get(s.scenario, {}).get("expected_verdict", "")
        print(
            f"{s.tool:9s} {s.step:5s} {s.scenario:18s} {expected:20s} {s.seconds:7.1f} {s.peak_rss_mb:7.0f}  {said}"
        )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--full", action="store_true", help="7.5M reference rows, 1M-row batches")
    ap.add_argument("--reference-rows", type=int)
    ap.add_argument("--batch-rows", type=int)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--partitions", type=int, default=1)
    ap.add_argument("--tools", default=",".join(TOOLS))
    ap.add_argument("--scenarios", default=",".join(gen.SCENARIOS))
    ap.add_argument("--workdir", type=Path)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--timeout", type=float, default=1800.0, help="seconds per step")
    ap.add_argument("--fit-rows", type=int, default=1_000_000, help="rows for cleanlab's model")
    ap.add_argument("--setup", action="store_true", help="(re)create the anchors' venv")
    args = ap.parse_args()
    n_ref = args.reference_rows or (7_500_000 if args.full else 200_000)
    n_batch = args.batch_rows or (1_000_000 if args.full else 50_000)
    tools = [t for t in args.tools.split(",") if t]
    scenarios = [s for s in args.scenarios.split(",") if s]
    work = args.workdir or Path(f"/tmp/bench-data-anchors-{n_ref}-{n_batch}-{args.seed}")
    data = work / "data"
    work.mkdir(parents=True, exist_ok=True)
    stamp = data / "params.json"
    params = {
        "reference_rows": n_ref,
        "batch_rows": n_batch,
        "seed": args.seed,
        "partitions": args.partitions,
    }
    if not stamp.exists() or json.loads(stamp.read_text()) != params:
        t0 = time.perf_counter()
        gen.generate(data, n_ref, n_batch, args.seed, args.partitions)
        stamp.write_text(json.dumps(params))
        print(
            f"generated {n_ref} reference rows and {len(gen.SCENARIOS)} batches of {n_batch} in {time.perf_counter() - t0:.1f}s"
        )
    truths = {s: json.loads((data / "truth" / f"{s}.json").read_text()) for s in scenarios}
    if set(tools) - {"custodes"}:
        ensure_anchors(args.setup)
    steps: list[Step] = []
    notes: list[str] = []
    for tool in tools:
        print(f"running {tool} ...", flush=True)
        if tool == "custodes":
            if not custodes_available():
                print("custodes data check not available yet")
                notes.append("custodes data check not available yet")
                continue
            steps += run_custodes(data, work, scenarios, args.timeout)
        else:
            steps += run_anchor(tool, data, work, scenarios, args.timeout, args.fit_rows)
    print_table(steps, truths)
    for note in notes:
        print(f"custodes: {note}")
    out = args.json or Path(f"/tmp/bench-data-anchors-{n_ref}-{n_batch}.json")
    expected = {
        s: {"expected_verdict": t["expected_verdict"], "poisoned": len(t["poisoned_ids"])}
        for s, t in truths.items()
    }
    out.write_text(
        json.dumps(
            {
                "params": params,
                "truth": expected,
                "notes": notes,
                "steps": [asdict(s) for s in steps],
            },
            indent=1,
        )
    )
    print(f"\nwrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
