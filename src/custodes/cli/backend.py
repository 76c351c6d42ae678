"""Where the governance commands act: the local store, or a team server over its API.

Both backends return the same plain dicts, so every command renders one way and prints
the same output (and exits with the same code) whether the store is in ``.custodes/``
or behind ``--server``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

__all__ = ["Backend", "backend"]


class Backend(Protocol):
    def register(
        self, kind: str, name: str, path: Path, manifest: Path | None
    ) -> dict[str, Any]: ...
    def evidence(
        self, ref: str, kinds: list[str], baseline: Path | None, public_keys: list[Path]
    ) -> list[dict[str, Any]]: ...
    def request(self, ref: str, to: str | None, note: str | None) -> dict[str, Any]: ...
    def sign(self, ref: str, decision: str, comment: str | None) -> dict[str, Any]: ...
    def promote(self, ref: str) -> dict[str, Any]: ...
    def withdraw(self, ref: str) -> None: ...
    def revoke(self, ref: str, reason: str) -> dict[str, Any]: ...
    def status(self, ref: str) -> dict[str, Any]: ...
    def versions(self, stage: str | None, kind: str | None) -> list[dict[str, Any]]: ...
    def show(self, name: str) -> dict[str, Any]: ...
    def history(self, name: str) -> list[dict[str, Any]]: ...
    def in_stage(self, stage: str, at: datetime, name: str | None) -> list[dict[str, Any]]: ...
    def people(self) -> list[dict[str, Any]]: ...
    def add_person(self, pid: str, public_key_pem: str, roles: list[str]) -> None: ...
    def set_roles(self, pid: str, roles: list[str]) -> None: ...
    def deactivate(self, pid: str) -> None: ...
    def record_policy(self) -> tuple[str, str | None]: ...
    def tokens(self) -> list[dict[str, Any]]: ...
    def create_token(self, name: str, for_person: str | None) -> str: ...
    def revoke_token(self, token_id: int) -> None: ...


class Local:
    """The store in PROJECT/.custodes (or ``--db``), acting with the person's key."""

    def __init__(self, project: Path, db: str | None, key: Path | None) -> None:
        from custodes.governance.service import Governance

        self.key = key
        self.gov = Governance.open(project, db, create=False)

    def close(self) -> None:
        self.gov.close()

    def _who(self) -> Any:
        from custodes.cli.govopts import credential

        return credential(self.key)

    def register(self, kind: str, name: str, path: Path, manifest: Path | None) -> dict[str, Any]:
        version, new = self.gov.register(self._who(), kind, name, path, manifest)
        return {"artifact": name, "digest": version.digest, "stage": version.stage, "new": new}

    def evidence(
        self, ref: str, kinds: list[str], baseline: Path | None, public_keys: list[Path]
    ) -> list[dict[str, Any]]:
        from custodes.governance.gates import attach_evidence

        return attach_evidence(
            self.gov, self._who(), ref, kinds, baseline=baseline, public_keys=public_keys
        )

    def request(self, ref: str, to: str | None, note: str | None) -> dict[str, Any]:
        from custodes.governance.gates import request, request_summary

        return request_summary(*request(self.gov, self._who(), ref, to, note))

    def sign(self, ref: str, decision: str, comment: str | None) -> dict[str, Any]:
        from custodes.governance.gates import sign_off, signoff_summary

        return signoff_summary(sign_off(self.gov, self._who(), ref, decision, comment))

    def promote(self, ref: str) -> dict[str, Any]:
        from custodes.governance.gates import promote, promotion_summary

        return promotion_summary(promote(self.gov, self._who(), ref))

    def withdraw(self, ref: str) -> None:
        from custodes.governance.gates import withdraw

        withdraw(self.gov, self._who(), ref)

    def revoke(self, ref: str, reason: str) -> dict[str, Any]:
        from custodes.governance.gates import revoke

        return {"revoked": True, "digest": revoke(self.gov, self._who(), ref, reason).digest}

    def status(self, ref: str) -> dict[str, Any]:
        from custodes.governance.gates import status

        return status(self.gov, self._who(), ref).to_json()

    def versions(self, stage: str | None, kind: str | None) -> list[dict[str, Any]]:
        from custodes.governance.queries import list_versions

        return list_versions(self.gov, self._who(), stage, kind)

    def show(self, name: str) -> dict[str, Any]:
        from custodes.governance.queries import show

        return show(self.gov, self._who(), name)

    def history(self, name: str) -> list[dict[str, Any]]:
        from custodes.governance.queries import history

        return history(self.gov, self._who(), name)

    def in_stage(self, stage: str, at: datetime, name: str | None) -> list[dict[str, Any]]:
        from custodes.governance.queries import in_stage_at

        return in_stage_at(self.gov, self._who(), stage, at, name)

    def people(self) -> list[dict[str, Any]]:
        return self.gov.people(self._who())

    def add_person(self, pid: str, public_key_pem: str, roles: list[str]) -> None:
        self.gov.add_person(self._who(), pid, public_key_pem, roles)

    def set_roles(self, pid: str, roles: list[str]) -> None:
        self.gov.set_roles(self._who(), pid, roles)

    def deactivate(self, pid: str) -> None:
        self.gov.deactivate(self._who(), pid)

    def record_policy(self) -> tuple[str, str | None]:
        return self.gov.record_policy(self._who())

    def tokens(self) -> list[dict[str, Any]]:
        from custodes.governance.tokens import list_tokens

        return list_tokens(self.gov, self._who())

    def create_token(self, name: str, for_person: str | None) -> str:
        from custodes.governance.tokens import create_token

        return create_token(self.gov, self._who(), name, for_person)

    def revoke_token(self, token_id: int) -> None:
        from custodes.governance.tokens import revoke_token

        revoke_token(self.gov, self._who(), token_id)


class Server:
    """A team server: the same operations through ``/api/v1`` with a bearer token.

    Paths (``register PATH``, ``--baseline``) are the server's, relative to its project.
    """

    def __init__(self, url: str) -> None:
        from custodes.server.client import Remote

        self.remote = Remote(url)

    def close(self) -> None:
        self.remote.close()

    def _r(self, ref: str) -> str:
        return self.remote.ref(ref)

    def register(self, kind: str, name: str, path: Path, manifest: Path | None) -> dict[str, Any]:
        body = {"kind": kind, "name": name, "path": path.as_posix()}
        if manifest is not None:
            body["manifest"] = manifest.as_posix()
        doc: dict[str, Any] = self.remote.call("POST", "/artifacts", body)
        return doc

    def evidence(
        self, ref: str, kinds: list[str], baseline: Path | None, public_keys: list[Path]
    ) -> list[dict[str, Any]]:
        body: dict[str, Any] = {"kinds": kinds, "public_keys": [p.as_posix() for p in public_keys]}
        if baseline is not None:
            body["baseline"] = baseline.as_posix()
        out: list[dict[str, Any]] = self.remote.call(
            "POST", f"/artifacts/{self._r(ref)}/evidence", body
        )
        return out

    def request(self, ref: str, to: str | None, note: str | None) -> dict[str, Any]:
        body = {k: v for k, v in (("to", to), ("note", note)) if v is not None}
        doc: dict[str, Any] = self.remote.call("POST", f"/artifacts/{self._r(ref)}/requests", body)
        return doc

    def sign(self, ref: str, decision: str, comment: str | None) -> dict[str, Any]:
        body = {"comment": comment} if comment is not None else {}
        doc: dict[str, Any] = self.remote.call(
            "POST", f"/artifacts/{self._r(ref)}/{decision}", body
        )
        return doc

    def promote(self, ref: str) -> dict[str, Any]:
        doc: dict[str, Any] = self.remote.call("POST", f"/artifacts/{self._r(ref)}/promote")
        return doc

    def withdraw(self, ref: str) -> None:
        self.remote.call("POST", f"/artifacts/{self._r(ref)}/withdraw")

    def revoke(self, ref: str, reason: str) -> dict[str, Any]:
        doc: dict[str, Any] = self.remote.call(
            "POST", f"/artifacts/{self._r(ref)}/revoke", {"reason": reason}
        )
        return doc

    def status(self, ref: str) -> dict[str, Any]:
        doc: dict[str, Any] = self.remote.call("GET", f"/artifacts/{self._r(ref)}/status")
        return doc

    def versions(self, stage: str | None, kind: str | None) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = self.remote.call("GET", "/artifacts", stage=stage, kind=kind)
        return out

    def show(self, name: str) -> dict[str, Any]:
        doc: dict[str, Any] = self.remote.call("GET", f"/artifacts/{self._r(name)}")
        return doc

    def history(self, name: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = self.remote.call("GET", f"/artifacts/{self._r(name)}/history")
        return out

    def in_stage(self, stage: str, at: datetime, name: str | None) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = self.remote.call(
            "GET", f"/stages/{self._r(stage)}", at=at.isoformat()
        )
        return [r for r in rows if name is None or r["artifact"] == name]

    def people(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = self.remote.call("GET", "/people")
        return out

    def add_person(self, pid: str, public_key_pem: str, roles: list[str]) -> None:
        body = {"id": pid, "public_key_pem": public_key_pem, "roles": roles}
        self.remote.call("POST", "/people", body)

    def set_roles(self, pid: str, roles: list[str]) -> None:
        self.remote.call("PUT", f"/people/{self._r(pid)}/roles", {"roles": roles})

    def deactivate(self, pid: str) -> None:
        self.remote.call("POST", f"/people/{self._r(pid)}/deactivate")

    def record_policy(self) -> tuple[str, str | None]:
        doc = self.remote.call("POST", "/policy")
        return str(doc["digest"]), doc.get("previous")

    def tokens(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = self.remote.call("GET", "/tokens")
        return out

    def create_token(self, name: str, for_person: str | None) -> str:
        body = {"name": name} | ({"for_person": for_person} if for_person else {})
        return str(self.remote.call("POST", "/tokens", body)["token"])

    def revoke_token(self, token_id: int) -> None:
        self.remote.call("POST", f"/tokens/{token_id}/revoke")


@contextmanager
def backend(
    project: Path, db: str | None, key: Path | None, server: str | None
) -> Iterator[Backend]:
    """The server when ``--server`` (or CUSTODES_SERVER) is set, else the local store."""
    b: Local | Server = Server(server) if server else Local(project, db, key)
    try:
        yield b
    finally:
        b.close()
