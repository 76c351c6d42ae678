"""Entry points for spawned processes in the concurrency tests (importable by name)."""

from __future__ import annotations

import os
from pathlib import Path

from custodes.governance.auditlog import append, load_or_create_log_key
from custodes.store import open_store


def append_many(url: str, key_dir: str, actor: str, count: int) -> None:
    """Open the store (possibly racing others on a fresh DB) and append ``count`` entries."""
    store = open_store(url, Path(key_dir))
    try:
        signer = load_or_create_log_key(Path(key_dir))
        for i in range(count):
            with store.session.begin() as session:
                append(session, signer, "test.append", actor, {"actor": actor, "i": i})
    finally:
        store.close()


def append_until_killed(url: str, key_dir: str, actor: str, record: str) -> None:
    """Append ``{"actor": actor, "i": i}`` for i = 0, 1, ... until killed.

    ``i`` goes to ``record`` (one line each) only after the commit has returned, so the
    file lists the appends this writer saw succeed: each must survive its kill -9. The
    line is written straight to the file (no buffering), so a kill cannot lose it.
    """
    store = open_store(url, Path(key_dir))
    signer = load_or_create_log_key(Path(key_dir))
    fd = os.open(record, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    i = 0
    while True:
        with store.session.begin() as session:
            append(session, signer, "test.crash", actor, {"actor": actor, "i": i})
        os.write(fd, f"{i}\n".encode())
        i += 1
