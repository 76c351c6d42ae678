"""The CLI's way to a team server: the same commands, over the API, with a token.

The token comes from ``$CUSTODES_TOKEN`` or from the credentials file
(``$XDG_CONFIG_HOME/custodes/credentials.toml``, one ``[servers."URL"] token = "..."``
table per server), which must not be readable by group or others. HTTP errors become
the same errors the local store raises, so exit codes and messages do not depend on
where the store is.
"""

from __future__ import annotations

import os
import stat
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from custodes.errors import CustodesError, InputError, NotFoundError, UsageError
from custodes.governance.identity import AuthenticationFailed
from custodes.governance.roles import PermissionDenied
from custodes.governance.service import Refused

__all__ = ["SERVER_ENV", "TOKEN_ENV", "Remote", "credentials_path", "token_for"]

SERVER_ENV = "CUSTODES_SERVER"
TOKEN_ENV = "CUSTODES_TOKEN"  # noqa: S105 - the name of a variable, not a secret


class RemoteDenied(PermissionDenied):
    """A 403 from the server, carrying its message as is."""

    def __init__(self, message: str) -> None:
        CustodesError.__init__(self, message)


def credentials_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "custodes" / "credentials.toml"


def token_for(server: str) -> str:
    """The token to use for ``server``: environment first, then the credentials file."""
    env = os.environ.get(TOKEN_ENV)
    if env:
        return env.strip()
    path = credentials_path()
    if not path.is_file():
        raise UsageError(
            f"no token for {server}: set {TOKEN_ENV} or add it to {path}",
            hint="create one with: custodes registry token create --name laptop",
        )
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise InputError("credentials file is readable by others; chmod 600 it", path=path)
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read: {exc}", path=path) from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"not valid TOML: {exc}", path=path) from None
    servers = doc.get("servers")
    entry = servers.get(server.rstrip("/")) if isinstance(servers, dict) else None
    token = entry.get("token") if isinstance(entry, dict) else None
    if not isinstance(token, str) or not token:
        raise UsageError(f"{path} has no token for {server.rstrip('/')}")
    return token


class Remote:
    """A thin client of ``/api/v1`` that raises custodes errors, never HTTP ones."""

    def __init__(self, server: str, token: str | None = None, timeout: float = 120.0) -> None:
        self.server = server.rstrip("/")
        if not self.server.startswith(("http://", "https://")):
            raise UsageError(f"--server expects an http(s) URL, got {server!r}")
        self._client = httpx.Client(
            base_url=self.server + "/api/v1",
            headers={"Authorization": f"Bearer {token or token_for(self.server)}"},
            timeout=timeout,
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Remote:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def call(
        self, method: str, path: str, body: dict[str, Any] | None = None, **params: Any
    ) -> Any:
        try:
            r = self._client.request(
                method, path, json=body, params={k: v for k, v in params.items() if v is not None}
            )
        except httpx.TransportError as exc:
            raise InputError(f"cannot reach {self.server}: {exc}") from None
        if r.status_code < 400:
            return r.json()
        try:
            doc = r.json()
        except ValueError:
            doc = {}
        message = str(doc.get("error") or f"HTTP {r.status_code} from {self.server}")
        if r.status_code in (401, 429):
            raise AuthenticationFailed(message)
        if r.status_code == 403:
            raise RemoteDenied(message)
        if r.status_code == 409:
            raise Refused(message, doc.get("missing") or [])
        if r.status_code == 404:
            raise NotFoundError(message, hint=doc.get("hint"))
        raise UsageError(message, hint=doc.get("hint"))

    @staticmethod
    def ref(name: str) -> str:
        return quote(name, safe="@:")
