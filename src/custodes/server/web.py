"""The web dashboard: the same governance core, as pages an approver can read.

Login trades a token for a session cookie (HttpOnly, SameSite=Strict) whose record lives
in the store. Every form carries the session's CSRF token and is checked in constant
time; pages hold no script and no inline style, which the Content-Security-Policy
enforces. An action the core refuses (a self-approval, a missing sign-off) comes back
as a page that says why.
"""

from __future__ import annotations

import hmac
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

import jinja2
from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from custodes import __version__
from custodes.errors import CustodesError, UsageError
from custodes.governance.identity import Actor, AuthenticationFailed
from custodes.governance.roles import allowed
from custodes.governance.service import Governance

__all__ = ["error_page", "router"]

COOKIE = "custodes_session"
router = APIRouter(include_in_schema=False)

_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_env.globals["may"] = lambda user, action: user is not None and allowed(user.roles, action)
_env.filters["short"] = lambda d: (d[:19] + "…") if isinstance(d, str) and len(d) > 19 else d


class LoginRequired(AuthenticationFailed):
    """No live session: the browser goes to the login page."""


def _gov(request: Request) -> Governance:
    gov = request.app.state.gov
    assert isinstance(gov, Governance)
    return gov


def _render(name: str, http_status: int = 200, **context: Any) -> HTMLResponse:
    html = _env.get_template(name).render(version=__version__, **context)
    return HTMLResponse(html, status_code=http_status)


def _session(request: Request) -> tuple[Actor, str]:
    from custodes.governance.tokens import session_actor

    found = session_actor(_gov(request), request.cookies.get(COOKIE, ""))
    if found is None:
        raise LoginRequired("please log in")
    return found


def _same_origin(request: Request) -> bool:
    """No Origin header (an old browser, a script) or this server's own origin."""
    origin = request.headers.get("origin")
    return origin is None or origin == f"{request.url.scheme}://{request.url.netloc}"


def _check_csrf(request: Request, csrf: str, expected: str) -> None:
    """Same-origin forms only: the session's token must come back with the form."""
    if not _same_origin(request):
        raise UsageError("cross-origin form refused")
    if not hmac.compare_digest(csrf.encode(), expected.encode()):
        raise UsageError("the form expired or did not come from this dashboard (CSRF check)")


def error_page(request: Request, code: int, exc: CustodesError) -> Response:
    if isinstance(exc, LoginRequired):
        return RedirectResponse("/login", status_code=303)
    user = None
    try:
        user = _session(request)[0]
    except CustodesError:
        user = None
    return _render("error.html.j2", code, user=user, csrf="", code=code, error=exc)


@router.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/login")
def login_form(request: Request) -> Response:
    return _render("login.html.j2", user=None, csrf="", message=None)


@router.post("/login")
def login(request: Request, token: Annotated[str, Form(max_length=200)]) -> Response:
    from custodes.governance.tokens import Throttled, authenticate_token, create_session, throttled

    gov = _gov(request)
    client = request.client.host if request.client else "unknown"
    if not _same_origin(request):
        # login CSRF: another site must not sign the browser in as someone else
        return _render(
            "login.html.j2", 400, user=None, csrf="", message="cross-origin login refused"
        )
    try:
        if throttled(gov, client):
            raise Throttled("too many failed logins from here; wait 15 minutes")
        actor = authenticate_token(gov, token, client)
    except AuthenticationFailed as exc:
        code = 429 if isinstance(exc, Throttled) else 401
        return _render("login.html.j2", code, user=None, csrf="", message=exc.message)
    sid, _ = create_session(gov, actor)
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(
        COOKIE,
        sid,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        max_age=8 * 3600,
        path="/",
    )
    return response


@router.post("/logout")
def logout(request: Request, csrf: Annotated[str, Form(max_length=100)]) -> Response:
    from custodes.governance.tokens import end_session

    _, expected = _session(request)
    _check_csrf(request, csrf, expected)
    end_session(_gov(request), request.cookies.get(COOKIE, ""))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response


@router.get("/")
def index(request: Request) -> Response:
    from custodes.governance.pending import pending_requests
    from custodes.governance.queries import list_versions

    actor, csrf = _session(request)
    gov = _gov(request)
    versions = list_versions(gov, actor)
    with gov.read() as session:
        stages = [*gov.stages(session), "rejected", "revoked", "archived"]
    by_stage = {s: [v for v in versions if v["stage"] == s] for s in stages}
    return _render(
        "index.html.j2",
        user=actor,
        csrf=csrf,
        by_stage=by_stage,
        pending=pending_requests(gov, actor),
    )


@router.get("/requests")
def requests_page(request: Request, msg: str | None = None) -> Response:
    from custodes.governance.pending import pending_requests

    actor, csrf = _session(request)
    return _render(
        "requests.html.j2",
        user=actor,
        csrf=csrf,
        pending=pending_requests(_gov(request), actor),
        message=msg,
    )


@router.get("/artifacts/{name}")
def artifact_page(request: Request, name: str, msg: str | None = None) -> Response:
    from custodes.governance.gates import status
    from custodes.governance.queries import history, show

    actor, csrf = _session(request)
    gov = _gov(request)
    return _render(
        "artifact.html.j2",
        user=actor,
        csrf=csrf,
        status=status(gov, actor, name).to_json(),
        detail=show(gov, actor, name.partition("@")[0]),
        history=history(gov, actor, name.partition("@")[0]),
        message=msg,
    )


def _back(name: str, message: str) -> Response:
    return RedirectResponse(
        f"/artifacts/{quote(name, safe='@:')}?msg={quote(message)}", status_code=303
    )


@router.post("/artifacts/{name}/request")
def request_form(
    request: Request,
    name: str,
    csrf: Annotated[str, Form(max_length=100)],
    note: Annotated[str, Form(max_length=4000)] = "",
) -> Response:
    from custodes.governance.gates import request as open_request

    actor, expected = _session(request)
    _check_csrf(request, csrf, expected)
    req, _ = open_request(_gov(request), actor, name, None, note or None)
    return _back(name, f"request {req.id} opened: {req.from_stage} → {req.to_stage}")


@router.post("/artifacts/{name}/approve")
def approve_form(
    request: Request,
    name: str,
    csrf: Annotated[str, Form(max_length=100)],
    comment: Annotated[str, Form(max_length=4000)] = "",
) -> Response:
    from custodes.governance.gates import sign_off

    actor, expected = _session(request)
    _check_csrf(request, csrf, expected)
    sign_off(_gov(request), actor, name, "approve", comment or None)
    return _back(name, f"approved by {actor.principal}")


@router.post("/artifacts/{name}/reject")
def reject_form(
    request: Request,
    name: str,
    csrf: Annotated[str, Form(max_length=100)],
    comment: Annotated[str, Form(min_length=1, max_length=4000)],
) -> Response:
    from custodes.governance.gates import sign_off

    actor, expected = _session(request)
    _check_csrf(request, csrf, expected)
    sign_off(_gov(request), actor, name, "reject", comment)
    return _back(name, f"rejected by {actor.principal}")


@router.post("/artifacts/{name}/promote")
def promote_form(
    request: Request, name: str, csrf: Annotated[str, Form(max_length=100)]
) -> Response:
    from custodes.governance.gates import promote

    actor, expected = _session(request)
    _check_csrf(request, csrf, expected)
    from custodes.governance.gates import status

    promote(_gov(request), actor, name)
    now = status(_gov(request), actor, name).stage
    return _back(name, f"promoted: {name.partition('@')[0]} is now in {now}")


@router.get("/audit")
def audit(request: Request) -> Response:
    from custodes.governance import auditlog
    from custodes.server.views import audit_page

    actor, csrf = _session(request)
    gov = _gov(request)
    entries = audit_page(gov, actor, None, 200)
    with gov.read() as session:
        result = auditlog.verify(
            session, gov.signer.public_key, trusted_head=gov.witness(), signer=gov.signer
        )
    return _render("audit.html.j2", user=actor, csrf=csrf, entries=entries, result=result)


@router.get("/threat-model")
def threat_model(request: Request) -> Response:
    from custodes.report.diagram import to_svg
    from custodes.system.loader import load_system
    from custodes.threatmodel import analyze

    actor, csrf = _session(request)
    path = _gov(request).project / "custodes.yaml"
    tm = analyze(load_system(path)) if path.is_file() else None
    svg = to_svg(tm) if tm is not None else None
    return _render("threat_model.html.j2", user=actor, csrf=csrf, tm=tm, svg=svg)


@router.get("/monitors")
def monitors(request: Request) -> Response:
    from custodes.monitor.registry import monitor_statuses

    actor, csrf = _session(request)
    return _render(
        "monitors.html.j2", user=actor, csrf=csrf, monitors=monitor_statuses(_gov(request))
    )
