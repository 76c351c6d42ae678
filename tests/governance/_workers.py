"""Entry points for spawned processes in the gate concurrency test (importable by name)."""

from __future__ import annotations

from pathlib import Path

from custodes.governance import gates
from custodes.governance.identity import load_credential
from custodes.governance.service import Governance


def register_and_request(project: str, db: str | None, key: str, prefix: str, count: int) -> None:
    """Register ``count`` distinct artifacts and request each one's promotion."""
    root = Path(project)
    cred = load_credential(Path(key))
    with Governance.open(root, db) as gov:
        for i in range(count):
            path = root / "work" / f"{prefix}-{i}.bin"
            path.parent.mkdir(exist_ok=True)
            path.write_bytes(f"{prefix} {i}\n".encode())
            gov.register(cred, "model", f"{prefix}-{i}", path, None)
            gates.request(gov, cred, f"{prefix}-{i}", None, f"from {prefix}")
