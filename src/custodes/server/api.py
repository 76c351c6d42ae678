"""The JSON API (``/api/v1``): every route needs a bearer token and checks the caller's
role through the governance core, exactly as the CLI does."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi import Path as PathParam
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field

from custodes.errors import UsageError
from custodes.governance.identity import Actor, AuthenticationFailed
from custodes.governance.service import Governance

__all__ = ["router"]

_ERR = {"model": dict[str, Any]}
ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "Bad request (unknown name, wrong stage, invalid value)", **_ERR},
    401: {"description": "Missing, unknown or revoked token", **_ERR},
    403: {"description": "Your roles do not allow this action", **_ERR},
    404: {"description": "No such artifact, person or entry", **_ERR},
    409: {"description": "The gate refused: what is missing is listed", **_ERR},
    422: {"description": "The body or a parameter does not match the schema", **_ERR},
    429: {"description": "Too many failed authentications from this client", **_ERR},
}

bearer = HTTPBearer(auto_error=False, description="A token from `custodes registry token create`.")
router = APIRouter(prefix="/api/v1", responses=ERRORS)


def governance(request: Request) -> Governance:
    gov = request.app.state.gov
    assert isinstance(gov, Governance)
    return gov


def client_of(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def caller(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Actor:
    """The person behind the bearer token; failures are throttled per client."""
    from custodes.governance.tokens import (
        Throttled,
        authenticate_token,
        record_failure,
        throttled,
    )

    gov = governance(request)
    client = client_of(request)
    if throttled(gov, client):
        raise Throttled("too many failed authentications from this client; wait 15 minutes")
    if credentials is None or credentials.scheme.lower() != "bearer":
        record_failure(gov, client, "no bearer token", None)
        raise AuthenticationFailed("this route needs a bearer token")
    return authenticate_token(gov, credentials.credentials, client)


Gov = Annotated[Governance, Depends(governance)]
Caller = Annotated[Actor, Depends(caller)]


class _Body(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")


class RegisterBody(_Body):
    kind: Literal["dataset", "notebook", "model", "pipeline"]
    name: str = Field(min_length=1, max_length=200, pattern=r"^[^\s@/\\]+$")
    path: str = Field(min_length=1, max_length=4096, description="Relative to the project.")
    manifest: str | None = Field(default=None, max_length=4096)


class EvidenceBody(_Body):
    kinds: list[Literal["scan", "data_check", "threat_model", "provenance"]] = Field(
        min_length=1, max_length=4
    )
    baseline: str | None = Field(default=None, max_length=4096)
    public_keys: list[str] = Field(default_factory=list, max_length=16)


class RequestBody(_Body):
    to: str | None = Field(default=None, max_length=64)
    note: str | None = Field(default=None, max_length=4000)


class CommentBody(_Body):
    comment: str | None = Field(default=None, max_length=4000)


class RejectBody(_Body):
    comment: str = Field(min_length=1, max_length=4000)


class PersonBody(_Body):
    id: str = Field(min_length=1, max_length=200, pattern=r"^[^\s@/\\]+$")
    public_key_pem: str = Field(min_length=1, max_length=4000)
    roles: list[str] = Field(min_length=1, max_length=6)


class RolesBody(_Body):
    roles: list[str] = Field(min_length=1, max_length=6)


class TokenBody(_Body):
    name: str = Field(min_length=1, max_length=200)
    for_person: str | None = Field(default=None, max_length=200)


class RevokeBody(_Body):
    reason: str = Field(min_length=1, max_length=4000)


def inside(gov: Governance, value: str) -> Path:
    """A path from a request, refused unless it stays inside the project."""
    root = gov.project.resolve()
    shown = value if len(value) <= 80 else value[:77] + "..."
    try:
        path = (root / value).resolve()
        path.exists()  # a name too long, a NUL byte: refused here, not a 500 later
    except (OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise UsageError(f"{shown!r} is not a usable path: {reason}") from None
    if not path.is_relative_to(root):
        raise UsageError(f"{shown!r} is outside the project")
    return path


@router.get("/me", summary="Who the token belongs to")
def me(actor: Caller) -> dict[str, Any]:
    return {"principal": actor.principal, "roles": list(actor.roles)}


@router.get("/artifacts", summary="Versions by stage and kind")
def list_artifacts(
    gov: Gov,
    actor: Caller,
    stage: Annotated[str | None, Query(max_length=64)] = None,
    kind: Annotated[str | None, Query(max_length=32)] = None,
) -> list[dict[str, Any]]:
    from custodes.governance.queries import list_versions

    return list_versions(gov, actor, stage, kind)


@router.post("/artifacts", status_code=201, summary="Register the content at a path")
def register(gov: Gov, actor: Caller, body: RegisterBody) -> dict[str, Any]:
    manifest = inside(gov, body.manifest) if body.manifest else None
    version, new = gov.register(actor, body.kind, body.name, inside(gov, body.path), manifest)
    return {"artifact": body.name, "digest": version.digest, "stage": version.stage, "new": new}


@router.get("/artifacts/{name}", summary="An artifact's versions and requests")
def show(gov: Gov, actor: Caller, name: str) -> dict[str, Any]:
    from custodes.governance.queries import show as show_artifact

    return show_artifact(gov, actor, name)


@router.get("/artifacts/{name}/status", summary="Stage, open request and what it still needs")
def status(gov: Gov, actor: Caller, name: str) -> dict[str, Any]:
    from custodes.governance.gates import status as version_status

    return version_status(gov, actor, name).to_json()


@router.get("/artifacts/{name}/history", summary="Every stage change, with approvers")
def history(gov: Gov, actor: Caller, name: str) -> list[dict[str, Any]]:
    from custodes.governance.queries import history as artifact_history

    return artifact_history(gov, actor, name)


@router.get("/stages/{stage}", summary="What was in a stage at an instant (default: now)")
def in_stage(
    gov: Gov,
    actor: Caller,
    stage: str,
    at: Annotated[datetime | None, Query()] = None,
) -> list[dict[str, Any]]:
    from custodes.governance.queries import in_stage_at

    when = at or datetime.now(UTC)
    return in_stage_at(gov, actor, stage, when if when.tzinfo else when.replace(tzinfo=UTC))


@router.post("/artifacts/{name}/evidence", summary="Run custodes on the version; record it")
def evidence(gov: Gov, actor: Caller, name: str, body: EvidenceBody) -> list[dict[str, Any]]:
    from custodes.governance.gates import attach_evidence

    baseline = inside(gov, body.baseline) if body.baseline else None
    keys = [inside(gov, k) for k in body.public_keys]
    return attach_evidence(gov, actor, name, list(body.kinds), baseline=baseline, public_keys=keys)


@router.post("/artifacts/{name}/requests", status_code=201, summary="Request the next stage")
def request_promotion(gov: Gov, actor: Caller, name: str, body: RequestBody) -> dict[str, Any]:
    from custodes.governance.gates import request, request_summary

    return request_summary(*request(gov, actor, name, body.to, body.note))


def _signed(
    gov: Governance, actor: Actor, name: str, decision: str, comment: str | None
) -> dict[str, Any]:
    from custodes.governance.gates import sign_off, signoff_summary

    return signoff_summary(sign_off(gov, actor, name, decision, comment))


@router.post("/artifacts/{name}/approve", summary="Sign off the open request")
def approve(gov: Gov, actor: Caller, name: str, body: CommentBody) -> dict[str, Any]:
    return _signed(gov, actor, name, "approve", body.comment)


@router.post("/artifacts/{name}/reject", summary="Reject the open request")
def reject(gov: Gov, actor: Caller, name: str, body: RejectBody) -> dict[str, Any]:
    return _signed(gov, actor, name, "reject", body.comment)


@router.post("/artifacts/{name}/promote", summary="Promote if the policy is satisfied")
def promote(gov: Gov, actor: Caller, name: str) -> dict[str, Any]:
    from custodes.governance.gates import promote as promote_version
    from custodes.governance.gates import promotion_summary

    return promotion_summary(promote_version(gov, actor, name))


@router.post("/artifacts/{name}/withdraw", summary="Withdraw your open request")
def withdraw(gov: Gov, actor: Caller, name: str) -> dict[str, Any]:
    from custodes.governance.gates import withdraw as withdraw_request

    withdraw_request(gov, actor, name)
    return {"withdrawn": True}


@router.post("/artifacts/{name}/revoke", summary="Revoke a version at once")
def revoke(gov: Gov, actor: Caller, name: str, body: RevokeBody) -> dict[str, Any]:
    from custodes.governance.gates import revoke as revoke_version

    version = revoke_version(gov, actor, name, body.reason)
    return {"revoked": True, "digest": version.digest}


@router.get("/requests", summary="Open requests with evidence and what is missing")
def requests(gov: Gov, actor: Caller) -> list[dict[str, Any]]:
    from custodes.governance.pending import pending_requests

    return pending_requests(gov, actor)


@router.post("/people", status_code=201, summary="Register a person's public key (admins)")
def add_person(gov: Gov, actor: Caller, body: PersonBody) -> dict[str, Any]:
    gov.add_person(actor, body.id, body.public_key_pem, body.roles)
    return {"principal": body.id, "roles": body.roles}


@router.put("/people/{pid}/roles", summary="Replace a person's roles (admins)")
def set_roles(gov: Gov, actor: Caller, pid: str, body: RolesBody) -> dict[str, Any]:
    gov.set_roles(actor, pid, body.roles)
    return {"principal": pid, "roles": body.roles}


@router.post("/people/{pid}/deactivate", summary="Stop a person's keys and tokens (admins)")
def deactivate(gov: Gov, actor: Caller, pid: str) -> dict[str, Any]:
    gov.deactivate(actor, pid)
    return {"principal": pid, "active": False}


@router.post("/policy", summary="Put the server project's custodes-policy.yaml in force")
def record_policy(gov: Gov, actor: Caller) -> dict[str, Any]:
    digest, previous = gov.record_policy(actor)
    return {"digest": digest, "previous": previous}


@router.get("/tokens", summary="Your tokens (admins: everyone's), never their secrets")
def tokens(gov: Gov, actor: Caller) -> list[dict[str, Any]]:
    from custodes.governance.tokens import list_tokens

    return list_tokens(gov, actor)


@router.post("/tokens", status_code=201, summary="A new token, shown once")
def create_token(gov: Gov, actor: Caller, body: TokenBody) -> dict[str, Any]:
    from custodes.governance.tokens import create_token as new_token

    return {"token": new_token(gov, actor, body.name, body.for_person)}


@router.post("/tokens/{token_id}/revoke", summary="Revoke a token and end its sessions")
def revoke_token(
    gov: Gov, actor: Caller, token_id: Annotated[int, PathParam(ge=1, le=2**31 - 1)]
) -> dict[str, Any]:
    from custodes.governance.tokens import revoke_token as end_token

    end_token(gov, actor, token_id)
    return {"token": token_id, "revoked": True}


@router.get("/people", summary="People, roles and key ids")
def people(gov: Gov, actor: Caller) -> list[dict[str, Any]]:
    return gov.people(actor)


@router.get("/audit/verify", summary="Verify the whole audit log")
def audit_verify(gov: Gov, actor: Caller) -> dict[str, Any]:
    from custodes.governance import auditlog
    from custodes.governance.roles import Action

    gov.act(actor, Action.READ)
    with gov.read() as session:
        result = auditlog.verify(
            session, gov.signer.public_key, trusted_head=gov.witness(), signer=gov.signer
        )
    return result.to_dict()


@router.get("/audit/entries", summary="Audit log entries, newest first")
def audit_entries(
    gov: Gov,
    actor: Caller,
    before: Annotated[int | None, Query(ge=0)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[dict[str, Any]]:
    from custodes.server.views import audit_page

    return audit_page(gov, actor, before, limit)


@router.get("/audit/export", summary="The whole log with its signed heads, to verify offline")
def audit_export(gov: Gov, actor: Caller) -> dict[str, Any]:
    from custodes.governance import auditlog
    from custodes.governance.roles import Action

    gov.act(actor, Action.READ)
    with gov.read() as session:
        return auditlog.export_bundle(session, gov.log_public_key_pem())


@router.get("/audit/proof/{seq}", summary="RFC 9162 inclusion proof of one entry")
def audit_proof(gov: Gov, actor: Caller, seq: int) -> dict[str, Any]:
    from custodes.governance import auditlog
    from custodes.governance.roles import Action

    gov.act(actor, Action.READ)
    if seq < 0:
        raise UsageError("entry numbers start at 0")
    with gov.read() as session:
        return auditlog.inclusion_bundle(session, seq, gov.log_public_key_pem())
