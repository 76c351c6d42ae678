"""Load test of ``custodes monitor run``: sustained HTTP ingest from concurrent clients.

    .venv/bin/python benchmarks/bench_monitor_http.py [--seconds 60] [--clients 8] [--batch 200]

Starts ``custodes monitor run`` as a child process on 127.0.0.1 (with its SQLite store,
heartbeats every 2 s and an evaluation every second), then ``--clients`` threads each POST
batches of JSON-lines records over a keep-alive connection for ``--seconds``. Prints the
throughput, checks that nothing was lost (records the clients had accepted == records the
service counted == /metrics), and samples the service's RSS every second: memory is flat
when the last quarter's median is within ``--max-growth-mb`` of the second quarter's
(after warm-up). Exits 1 when a bar is missed. All traffic stays on the loopback address.
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from custodes.monitor.simulate import reference_table, write_jsonl

CUSTODES = str(Path(sys.executable).parent / "custodes")


def records(n: int, seed: int, client: str) -> bytes:
    rows = reference_table(n, seed=seed, labels=False).to_pylist()
    base = time.time()
    out = []
    for i, r in enumerate(rows):
        r["ts"] = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(base - 60 + i * 0.01)) + "Z"
        r["client_id"] = client
        out.append(json.dumps(r, separators=(",", ":")).encode())
    return b"\n".join(out) + b"\n"


def rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def client(port: int, payloads: list[bytes], until: float, out: dict[str, Any]) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    i = 0
    try:
        while time.monotonic() < until:
            conn.request("POST", "/ingest", body=payloads[i % len(payloads)])
            i += 1
            resp = conn.getresponse()
            doc = json.loads(resp.read())
            out["requests"] += 1
            out["accepted"] += doc.get("accepted", 0)
            if resp.status != 200 or doc.get("rejected"):
                out["errors"].append(f"{resp.status} {doc}")
    except OSError as exc:
        out["errors"].append(repr(exc))
    finally:
        conn.close()


def get(port: int, path: str) -> str:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request("GET", path)
        return conn.getresponse().read().decode()
    finally:
        conn.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--batch", type=int, default=200)
    ap.add_argument("--max-growth-mb", type=float, default=50.0)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-monitor-http-"))
    ref = write_jsonl(reference_table(5000, seed=1), work / "ref.jsonl")
    payloads = [
        [records(args.batch, 1000 * c + k, f"load-{c}") for k in range(4)]
        for c in range(args.clients)
    ]
    proc = subprocess.Popen(
        [CUSTODES, "monitor", "run", "-r", str(ref), "--model", "bench-model", "--port", "0",
         "--interval", "2", "--eval-every", "1", "-C", str(work)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    banner = proc.stdout.readline()
    if "listening on" not in banner:
        print("monitor run did not start:", banner, proc.communicate()[1], file=sys.stderr)
        return 1
    port = int(banner.split("listening on http://127.0.0.1:", 1)[1].split()[0])
    stats = [{"requests": 0, "accepted": 0, "errors": []} for _ in range(args.clients)]
    start = time.monotonic()
    until = start + args.seconds
    threads = [
        threading.Thread(target=client, args=(port, payloads[c], until, stats[c]))
        for c in range(args.clients)
    ]
    for t in threads:
        t.start()
    samples: list[tuple[float, float]] = []
    while any(t.is_alive() for t in threads):
        samples.append((time.monotonic() - start, rss_kb(proc.pid) / 1024))
        time.sleep(1.0)
    for t in threads:
        t.join()
    elapsed = time.monotonic() - start
    status = json.loads(get(port, "/status"))
    metrics = get(port, "/metrics")
    proc.terminate()
    out, err = proc.communicate(timeout=60)

    sent = sum(s["accepted"] for s in stats)
    reqs = sum(s["requests"] for s in stats)
    errors = [e for s in stats for e in s["errors"]]
    metric_records = next(
        float(line.rsplit(" ", 1)[1])
        for line in metrics.splitlines()
        if line.startswith("custodes_monitor_records_total{")
    )
    rss = [m for _t, m in samples]
    q = max(1, len(rss) // 4)
    warm, last = statistics.median(rss[q : 2 * q]), statistics.median(rss[-q:])
    print(f"{args.clients} clients x {args.batch}-record batches for {elapsed:.1f} s on 127.0.0.1")
    print(f"  requests      {reqs:,} ({reqs / elapsed:,.0f}/s)")
    print(f"  records sent  {sent:,} ({sent / elapsed:,.0f}/s)")
    print(f"  service count {status['records']:,}; /metrics {metric_records:,.0f}; "
          f"rejected {status['input_issues']['rejected']}; client errors {len(errors)}")  # fmt: skip
    print(f"  RSS MB        start {rss[0]:.0f}, after warm-up {warm:.0f}, last quarter {last:.0f}, "
          f"max {max(rss):.0f} ({len(rss)} samples)")  # fmt: skip
    print("  RSS timeline  " + " ".join(f"{m:.0f}" for m in rss[:: max(1, len(rss) // 12)]))
    print(f"  service said  {out.strip().splitlines()[-1] if out.strip() else err[-300:]}")
    ok = (
        not errors
        and sent == status["records"] == metric_records
        and status["input_issues"]["rejected"] == 0
        and last - warm <= args.max_growth_mb
    )
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
