"""Crash safety of the audit log: writers killed with SIGKILL in the middle of a burst.

Every append a writer saw commit (it records it only after the commit returned) must be
in the log exactly once; the log must stay contiguous, verify, and take new appends.
A writer killed mid-transaction leaves nothing: at most one append per writer may be in
the log without having been recorded (it committed, then the writer died before noting it).
"""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import time
from collections import Counter
from pathlib import Path

from sqlalchemy import select

from custodes.governance.auditlog import append, load_or_create_log_key, verify
from custodes.store import open_store
from custodes.store.models import LogEntry
from tests.store._workers import append_until_killed

WRITERS = 4
#: Appends every writer must have recorded before the kills start (a real burst).
WARM = 20


def _recorded(path: Path) -> list[int]:
    if not path.exists():
        return []
    text = path.read_text()
    # A kill can only land between whole os.write calls, but be strict about it anyway.
    assert text == "" or text.endswith("\n"), f"torn record in {path.name}: {text[-20:]!r}"
    return [int(line) for line in text.splitlines()]


def test_writers_killed_mid_burst_lose_no_committed_append(db_url: str, tmp_path: Path) -> None:
    key_dir = tmp_path / "keys"
    key_dir.mkdir()
    signer = load_or_create_log_key(key_dir)
    open_store(db_url, key_dir).close()  # migrate before the writers race
    ctx = multiprocessing.get_context("spawn")
    actors = [f"w{i}" for i in range(WRITERS)]
    records = {a: tmp_path / f"{a}.acked" for a in actors}
    procs = {
        a: ctx.Process(target=append_until_killed, args=(db_url, str(key_dir), a, str(records[a])))
        for a in actors
    }
    for p in procs.values():
        p.start()
    try:
        deadline = time.monotonic() + 60
        while any(len(_recorded(records[a])) < WARM for a in actors):
            dead = [a for a, p in procs.items() if not p.is_alive()]
            assert not dead, f"writers {dead} exited on their own"
            assert time.monotonic() < deadline, "the writers did not get going"
            time.sleep(0.05)
        # Kill them one by one while the others keep appending, so the kills land at
        # every point of a transaction: waiting for the lock, holding it, committing.
        for a in actors:
            pid = procs[a].pid
            assert pid is not None
            os.kill(pid, signal.SIGKILL)
            time.sleep(0.07)
    finally:
        for p in procs.values():
            if p.is_alive():
                p.kill()
            p.join(timeout=30)
    assert all(p.exitcode == -signal.SIGKILL for p in procs.values())

    acked = {a: _recorded(records[a]) for a in actors}
    with open_store(db_url, key_dir) as store:
        with store.session() as session:
            rows = session.execute(
                select(LogEntry.seq, LogEntry.payload).order_by(LogEntry.seq)
            ).all()
            seqs = [seq for seq, _ in rows]
            assert seqs == list(range(len(rows))), "the log has gaps or repeats"
            data = [json.loads(payload)["data"] for _, payload in rows]
            counts = Counter((d["actor"], d["i"]) for d in data)
            assert max(counts.values()) == 1, "an append is in the log twice"
            for a in actors:
                logged = sorted(i for actor, i in counts if actor == a)
                assert acked[a] == list(range(len(acked[a]))), f"{a}'s record is not 0..n"
                missing = set(acked[a]) - set(logged)
                assert not missing, f"{a}: committed appends lost: {sorted(missing)[:5]}"
                # One more than recorded at most: committed, then killed before noting it.
                assert logged == list(range(len(logged))), f"{a}: its appends have a gap"
                assert len(logged) - len(acked[a]) in (0, 1), (a, len(logged), len(acked[a]))
            result = verify(session, signer.public_key)
            assert result.ok, result.reason
            assert result.size == len(rows) >= WRITERS * WARM
        # The state the killed writers left behind takes new appends.
        with store.session.begin() as session:
            entry = append(session, signer, "test.after-crash", None, {})
        assert entry.seq == len(rows)
        with store.session() as session:
            result = verify(session, signer.public_key)
        assert result.ok, result.reason
        assert result.size == len(rows) + 1
