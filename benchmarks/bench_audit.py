"""Audit log benchmark: concurrent appends, and verifying a log of a million entries.

    .venv/bin/python benchmarks/bench_audit.py [--writers 8] [--seconds 10]
        [--backend sqlite|postgresql|both] [--pg-fsync on|off|both]
        [--entries 1000000] [--verify-backend sqlite|postgresql|both] [--skip-appends]
        [--skip-verify] [--cache /tmp/custodes-bench-audit]

Appends: ``--writers`` separate *processes* append for ``--seconds``, each append in its
own transaction exactly as the governance service does (``with store.session.begin() as
s: append(s, signer, ...)``). Reported: appends per second over all writers, per-append
latency p50/p99, and a check that the log is contiguous and verifies. PostgreSQL runs on
a throwaway server, once with fsync on (durable against power loss) and once with
``-F`` (fsync off, as the test servers run).

Verify: a log of ``--entries`` entries is built once (one process appending in large
transactions through :func:`custodes.governance.auditlog.append_many`, the same code that
makes single appends) and cached as a SQLite file under ``--cache``; then ``verify`` is
timed on it (and on a PostgreSQL copy with ``--verify-backend postgresql``). Goals: at
least 1,000 appends/s and a million entries verified in under 30 s.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from sqlalchemy import func, select, text

from custodes.governance import auditlog
from custodes.store import open_store
from custodes.store.models import LogEntry

GOAL_APPENDS = 1_000
GOAL_VERIFY_S = 30.0


# ---------------------------------------------------------------------------- appends


def _writer(url: str, key_dir: str, actor: str, seconds: float, barrier: Any, out: Any) -> None:
    """One writer process: connect, warm up, wait for the others, append until time's up."""
    store = open_store(url, Path(key_dir))
    signer = auditlog.load_or_create_log_key(Path(key_dir))
    try:
        with store.session.begin() as s:
            auditlog.append(s, signer, "bench.warmup", actor, {"actor": actor})
        barrier.wait()
        latencies: list[float] = []
        end = time.monotonic() + seconds
        i = 0
        while True:
            t0 = time.perf_counter()
            if time.monotonic() >= end:
                break
            with store.session.begin() as s:
                auditlog.append(s, signer, "bench.append", actor, {"actor": actor, "i": i})
            latencies.append(time.perf_counter() - t0)
            i += 1
        out.put((actor, i, latencies))
    finally:
        store.close()


def _pg_start(fsync: bool) -> tuple[str, Any]:
    from serverload import start_postgres

    return start_postgres(fsync=fsync)


def bench_appends(label: str, url: str, writers: int, seconds: float) -> dict[str, Any]:
    ctx = multiprocessing.get_context("spawn")
    with tempfile.TemporaryDirectory(prefix="custodes-bench-audit-") as key_dir:
        open_store(url, Path(key_dir)).close()  # migrate once, outside the timing
        signer = auditlog.load_or_create_log_key(Path(key_dir))
        barrier = ctx.Barrier(writers + 1)
        out = ctx.Queue()
        procs = [
            ctx.Process(
                target=_writer, args=(url, key_dir, f"w{i}", seconds, barrier, out), daemon=True
            )
            for i in range(writers)
        ]
        for p in procs:
            p.start()
        barrier.wait(timeout=120)
        t0 = time.perf_counter()
        results = [out.get(timeout=seconds + 120) for _ in procs]
        wall = time.perf_counter() - t0
        for p in procs:
            p.join(timeout=30)
        count = sum(n for _, n, _ in results)
        lat = sorted(x for _, _, xs in results for x in xs)
        with open_store(url, Path(key_dir)) as store, store.session() as s:
            seqs = s.execute(select(LogEntry.seq).order_by(LogEntry.seq)).scalars().all()
            result = auditlog.verify(s, signer.public_key)
    rate = count / wall
    contiguous = list(seqs) == list(range(len(seqs)))
    p50 = statistics.median(lat) * 1000
    p99 = lat[int(0.99 * (len(lat) - 1))] * 1000
    print(
        f"{label:28s} {count:7,} appends in {wall:5.1f} s = {rate:7,.0f}/s   "
        f"p50 {p50:5.1f} ms  p99 {p99:6.1f} ms   "
        f"log {len(seqs):,} entries, contiguous={contiguous}, verifies={result.ok}"
        + ("" if rate >= GOAL_APPENDS else f"   BELOW GOAL ({GOAL_APPENDS:,}/s)"),
        flush=True,
    )
    return {"rate": rate, "ok": contiguous and result.ok and len(seqs) == count + writers}


# ---------------------------------------------------------------------------- verify


def _build(path: Path, key_dir: Path, entries: int, batch: int = 10_000) -> None:
    """A log of ``entries`` entries made by append_many in transactions of ``batch``."""
    tmp = path.with_suffix(".building")
    for leftover in tmp.parent.glob(tmp.name + "*"):
        leftover.unlink()
    t0 = time.perf_counter()
    with open_store(f"sqlite:///{tmp}", key_dir) as store:
        signer = auditlog.load_or_create_log_key(key_dir)
        actors = ["alice", "bob", "carol", "dave", None]
        for start in range(0, entries, batch):
            events = [
                (
                    "artifact.registered" if i % 3 else "signoff.recorded",
                    actors[i % len(actors)],
                    {"artifact": f"model-{i // 3}", "digest": f"sha256:{i:064x}", "i": i},
                )
                for i in range(start, min(entries, start + batch))
            ]
            with store.session.begin() as s:
                auditlog.append_many(s, signer, events)
            done = start + len(events)
            if done % 100_000 == 0 or done == entries:
                rate = done / (time.perf_counter() - t0)
                print(f"  built {done:,} entries ({rate:,.0f}/s)", flush=True)
    # Fold the WAL into the file before renaming it (closing the store usually has).
    db = sqlite3.connect(tmp)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    tmp.rename(path)


def cached_log(cache: Path, entries: int) -> tuple[Path, Path]:
    """(SQLite file, key directory) of a log of ``entries`` entries, built if needed."""
    key_dir = cache / "keys"
    key_dir.mkdir(parents=True, exist_ok=True)
    path = cache / f"log-{entries}.db"
    if path.exists():
        with open_store(f"sqlite:///{path}", key_dir) as store, store.session() as s:
            have = s.execute(select(func.count()).select_from(LogEntry)).scalar_one()
        if have == entries:
            return path, key_dir
        path.unlink()
    print(f"building a log of {entries:,} entries in {path} (cached for next time)", flush=True)
    _build(path, key_dir, entries)
    return path, key_dir


def copy_to_postgres(sqlite_path: Path, key_dir: Path, url: str) -> None:
    """Copy the cached log, row for row, into a PostgreSQL database (COPY)."""
    import psycopg

    open_store(url, key_dir).close()
    src = sqlite3.connect(sqlite_path)
    conninfo = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(conninfo) as dst:
        for table, cols in (
            ("audit_log", "seq, at, kind, actor, payload, leaf_hash"),
            ("tree_heads", "tree_size, root_hash, at, key_id, signature"),
        ):
            at = cols.split(", ").index("at")
            with dst.cursor().copy(f"COPY {table} ({cols}) FROM STDIN") as copy:
                for row in src.execute(f"SELECT {cols} FROM {table}"):
                    # SQLite holds naive UTC timestamps; timestamptz wants the zone.
                    copy.write_row([*row[:at], row[at] + "+00", *row[at + 1 :]])
        state = src.execute("SELECT size, frontier, public_key_pem FROM log_state").fetchone()
        dst.execute(
            "UPDATE log_state SET size = %s, frontier = %s, public_key_pem = %s WHERE id = 1",
            state,
        )
    src.close()


def bench_verify(label: str, url: str, key_dir: Path, entries: int) -> bool:
    """Time verify() as an auditor (public key only) and as the key holder (signer=)."""
    signer = auditlog.load_or_create_log_key(key_dir)
    ok = True
    for who, holder in (("public key", None), ("key holder", signer)):
        with open_store(url, key_dir) as store, store.session() as s:
            t0 = time.perf_counter()
            result = auditlog.verify(s, signer.public_key, signer=holder)
            took = time.perf_counter() - t0
        ok &= result.ok and result.size == entries
        print(
            f"verify {label:10s} ({who}) {result.size:,} entries in {took:5.1f} s "
            f"({result.size / took:,.0f} entries/s): {result.reason}"
            + ("" if took < GOAL_VERIFY_S else f"   OVER GOAL ({GOAL_VERIFY_S:.0f} s)"),
            flush=True,
        )
    return ok


# ---------------------------------------------------------------------------- main


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writers", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--pg-fsync", choices=["on", "off", "both"], default="both")
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument(
        "--verify-backend", choices=["sqlite", "postgresql", "both"], default="sqlite"
    )
    parser.add_argument("--skip-appends", action="store_true")
    parser.add_argument("--skip-verify", action="store_true")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/custodes-bench-audit"))
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}", flush=True)
    ok = True
    if not args.skip_appends:
        print(f"\n== appends: {args.writers} writer processes, {args.seconds:.0f} s each run")
        if args.backend in ("sqlite", "both"):
            with tempfile.TemporaryDirectory(prefix="custodes-bench-audit-db-") as tmp:
                res = bench_appends("sqlite (WAL)", f"sqlite:///{tmp}/store.db", args.writers,
                                    args.seconds)  # fmt: skip
                ok &= res["ok"]
        if args.backend in ("postgresql", "both"):
            modes = {"on": [True], "off": [False], "both": [True, False]}[args.pg_fsync]
            for fsync in modes:
                url, stop = _pg_start(fsync)
                try:
                    label = f"postgresql (fsync {'on' if fsync else 'off'})"
                    res = bench_appends(label, url, args.writers, args.seconds)
                    ok &= res["ok"]
                finally:
                    stop()
    if not args.skip_verify:
        print(f"\n== verify: a log of {args.entries:,} entries")
        path, key_dir = cached_log(args.cache, args.entries)
        if args.verify_backend in ("sqlite", "both"):
            ok &= bench_verify("sqlite", f"sqlite:///{path}", key_dir, args.entries)
        if args.verify_backend in ("postgresql", "both"):
            url, stop = _pg_start(True)
            try:
                t0 = time.perf_counter()
                copy_to_postgres(path, key_dir, url)
                with open_store(url, key_dir) as store, store.engine.connect() as conn:
                    conn.execute(text("ANALYZE"))
                print(f"  (copied to PostgreSQL in {time.perf_counter() - t0:.0f} s)")
                ok &= bench_verify("postgresql", url, key_dir, args.entries)
            finally:
                stop()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
