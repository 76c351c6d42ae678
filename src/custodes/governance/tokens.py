"""Bearer tokens and dashboard sessions: how people reach the store through the server.

A token is ``cst_<id>_<secret>``. It is shown once; the store keeps the SHA-256 of the
secret, found by id and compared in constant time, so reading the database does not
yield a usable token. Failed authentications are counted per client address in the
database (not in one process's memory), so throttling holds across server processes.
Creating and revoking tokens, and every failure, go into the audit log; secrets never do.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select, update

from custodes.errors import NotFoundError, UsageError
from custodes.governance.auditlog import rfc3339
from custodes.governance.identity import Actor, AuthenticationFailed, Who
from custodes.governance.roles import Action, Role
from custodes.governance.service import Governance
from custodes.store.models import ApiToken, LoginFailure, Principal, WebSession

__all__ = [
    "MAX_FAILURES",
    "SESSION_HOURS",
    "Throttled",
    "authenticate_token",
    "create_session",
    "create_token",
    "end_session",
    "list_tokens",
    "record_failure",
    "revoke_token",
    "session_actor",
    "throttled",
]

_TOKEN = re.compile(r"^cst_(\d{1,12})_([A-Za-z0-9_-]{32,64})$")
#: Failed authentications from one client within the window before it is refused.
MAX_FAILURES = 5
FAILURE_WINDOW = timedelta(minutes=15)
SESSION_HOURS = 8


class Throttled(AuthenticationFailed):
    """Too many failed authentications from one client: refused before checking (429)."""


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


def create_token(gov: Governance, who: Who, name: str, for_principal: str | None = None) -> str:
    """A new token for yourself, or (admins) for a service account; returned once."""
    actor = gov.act(who, Action.READ)
    target = for_principal or actor.principal
    if target != actor.principal:
        gov.authorize(actor, Action.MANAGE_PRINCIPALS)
    if not name.strip() or len(name) > 200:
        raise UsageError("a token needs a --name (what it is for, e.g. ci or laptop)")
    secret = secrets.token_urlsafe(32)
    with gov.write() as session:
        person = session.get(Principal, target)
        if person is None or not person.active:
            raise NotFoundError(f"no active person {target!r} in this store")
        row = ApiToken(
            principal_id=target, name=name, token_hash=_hash(secret), created_by=actor.principal
        )
        session.add(row)
        session.flush()
        gov.log(
            session,
            "token.created",
            actor.principal,
            {"token": row.id, "principal": target, "name": name},
        )
        token_id = row.id
    return f"cst_{token_id}_{secret}"


def revoke_token(gov: Governance, who: Who, token_id: int) -> None:
    actor = gov.act(who, Action.READ)
    with gov.write() as session:
        row = session.get(ApiToken, token_id)
        if row is None:
            raise NotFoundError(f"no token {token_id}")
        if row.principal_id != actor.principal and Role.ADMIN.value not in actor.roles:
            raise UsageError(f"token {token_id} is not yours; an admin can revoke it")
        row.revoked = True
        session.execute(delete(WebSession).where(WebSession.token_id == token_id))
        gov.log(
            session,
            "token.revoked",
            actor.principal,
            {"token": token_id, "principal": row.principal_id},
        )


def list_tokens(gov: Governance, who: Who) -> list[dict[str, Any]]:
    """Your tokens (admins: everyone's), never their secrets."""
    actor = gov.act(who, Action.READ)
    with gov.read() as session:
        query = select(ApiToken).order_by(ApiToken.id)
        if Role.ADMIN.value not in actor.roles:
            query = query.where(ApiToken.principal_id == actor.principal)
        rows = session.execute(query).scalars().all()
    return [
        {
            "id": t.id,
            "principal": t.principal_id,
            "name": t.name,
            "created_by": t.created_by,
            "created_at": rfc3339(t.created_at),
            "last_used_at": rfc3339(t.last_used_at) if t.last_used_at else None,
            "revoked": t.revoked,
        }
        for t in rows
    ]


def throttled(gov: Governance, client: str) -> bool:
    """Too many recent failures from this client: refuse before even checking."""
    since = datetime.now(UTC) - FAILURE_WINDOW
    with gov.read() as session:
        count = session.execute(
            select(func.count())
            .select_from(LoginFailure)
            .where(LoginFailure.client == client, LoginFailure.at >= since)
        ).scalar_one()
    return bool(count >= MAX_FAILURES)


def record_failure(gov: Governance, client: str, reason: str, token_id: int | None) -> None:
    with gov.write() as session:
        session.add(LoginFailure(client=client[:200]))
        gov.log(
            session,
            "auth.failed",
            None,
            {"client": client[:200], "reason": reason, "token": token_id},
        )


def _touch(gov: Governance, row: ApiToken) -> None:
    """Note when a token was last used, at most once a minute (not a write per request)."""
    now = datetime.now(UTC)
    if row.last_used_at is not None and now - row.last_used_at < timedelta(minutes=1):
        return
    with gov.store.session.begin() as session:
        session.execute(update(ApiToken).where(ApiToken.id == row.id).values(last_used_at=now))


def authenticate_token(gov: Governance, token: str, client: str) -> Actor:
    """The active person a token belongs to; failures are recorded and audited."""
    match = _TOKEN.match(token.strip())
    reason = "malformed token"
    token_id: int | None = None
    if match is not None:
        token_id = int(match.group(1))
        with gov.read() as session:
            row = session.get(ApiToken, token_id)
            expected = row.token_hash if row is not None else _hash("x" * 43)
            good = hmac.compare_digest(expected, _hash(match.group(2)))
            person = session.get(Principal, row.principal_id) if row is not None else None
        if row is None or not good:
            reason = "unknown token"
        elif row.revoked:
            reason = "revoked token"
        elif person is None or not person.active:
            reason = "person deactivated"
        else:
            _touch(gov, row)
            return Actor(person.id, tuple(json.loads(person.roles)), f"token:{row.id}")
    record_failure(gov, client, reason, token_id)
    raise AuthenticationFailed(f"authentication failed: {reason}")


def create_session(gov: Governance, actor: Actor) -> tuple[str, str]:
    """A dashboard session for someone who just logged in: (cookie value, CSRF token)."""
    sid = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    token_id = int(actor.key_id.removeprefix("token:")) if actor.key_id.startswith("token:") else 0
    now = datetime.now(UTC)
    with gov.write() as session:
        session.execute(delete(WebSession).where(WebSession.expires_at < now))
        session.add(
            WebSession(
                id_hash=_hash(sid),
                principal_id=actor.principal,
                token_id=token_id,
                csrf=csrf,
                expires_at=now + timedelta(hours=SESSION_HOURS),
            )
        )
        gov.log(session, "session.started", actor.principal, {"token": token_id})
    return sid, csrf


def session_actor(gov: Governance, sid: str) -> tuple[Actor, str] | None:
    """The person and CSRF token of a live session, or None."""
    if not sid or len(sid) > 100:
        return None
    with gov.read() as session:
        row = session.get(WebSession, _hash(sid))
        if row is None or row.expires_at < datetime.now(UTC):
            return None
        person = session.get(Principal, row.principal_id)
        if person is None or not person.active:
            return None
        actor = Actor(person.id, tuple(json.loads(person.roles)), f"token:{row.token_id}")
        return actor, row.csrf


def end_session(gov: Governance, sid: str) -> None:
    with gov.write() as session:
        row = session.get(WebSession, _hash(sid))
        if row is not None:
            session.delete(row)
            gov.log(session, "session.ended", row.principal_id, {"token": row.token_id})
