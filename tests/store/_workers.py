"""Entry points for spawned processes in the concurrency tests (importable by name)."""

from __future__ import annotations

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
