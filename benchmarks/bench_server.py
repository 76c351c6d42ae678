"""Load benchmark of ``custodes serve``: concurrent clients requesting and approving.

    .venv/bin/python benchmarks/bench_server.py [--clients 16] [--seconds 60] [--backend sqlite|postgresql|both]

Each client loops register → request → approve over HTTP on 127.0.0.1. Reported per
backend: acknowledged actions per second, p50/p95 latency per operation, then the
audit log is exported and checked: every acknowledged action present exactly once,
sequence numbers contiguous, and ``custodes audit verify`` passing. A second phase
(``--kill``) SIGKILLs the server halfway and restarts it, and checks the same.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from serverload import Server, check_log, free_port, make_project, run_load, start_postgres


def one(backend: str, clients: int, seconds: float, kill: bool) -> bool:
    stop_pg = None
    db = None
    if backend == "postgresql":
        db, stop_pg = start_postgres()
    with tempfile.TemporaryDirectory(prefix="custodes-bench-server-") as tmp:
        project = Path(tmp) / "p"
        tokens = make_project(project, db)
        server = Server(project, free_port(), db)
        server.start()

        def killer(_res: object) -> None:
            time.sleep(seconds / 2)
            server.kill9()
            server.start()

        try:
            res = run_load(
                [server.url], tokens, project, clients, seconds, killer if kill else None
            )
        finally:
            server.stop()
        check = check_log(project, db, res.acked)
    if stop_pg is not None:
        stop_pg()
    label = f"{backend}{' + kill -9 at half time' if kill else ''}"
    print(f"\n== {label}: {clients} clients, {res.duration:.1f} s")
    print(f"acknowledged actions: {len(res.acked):,} ({len(res.acked) / res.duration:,.1f}/s)")
    for op in ("register", "request", "approve"):
        n = len(res.latencies.get(op, []))
        print(
            f"  {op:9s} n={n:6,}  p50 {res.p50(op) * 1000:7.1f} ms  p95 {res.p95(op) * 1000:7.1f} ms"
        )
    if res.unexpected or res.retried:
        print(f"  non-2xx: {dict(res.unexpected)}  transport retries: {res.retried}")
    ok = (
        check["verified"]
        and check["contiguous"]
        and not check["missing"]
        and not check["duplicated"]
    )
    print(
        f"audit log: {check['entries']:,} entries, contiguous={check['contiguous']}, "
        f"missing acked={len(check['missing'])}, duplicated={len(check['duplicated'])}, "
        f"verified={check['verified']}  -> {'OK' if ok else 'FAILED'}"
    )
    return bool(ok)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    ap.add_argument("--kill", action="store_true", help="also run the kill -9 phase")
    args = ap.parse_args()
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    ok = True
    for b in backends:
        ok &= one(b, args.clients, args.seconds, False)
        if args.kill:
            ok &= one(b, args.clients, args.seconds, True)
    return 0 if ok else 1


if __name__ == "__main__":
    threading.excepthook = lambda a: print(f"thread error: {a.exc_value!r}", file=sys.stderr)
    raise SystemExit(main())
