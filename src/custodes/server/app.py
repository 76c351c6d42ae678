"""The FastAPI application: one governance object per process, security headers on every
response, and errors mapped to HTTP status codes the way the CLI maps them to exit codes."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles

from custodes import __version__
from custodes.errors import CustodesError, NotFoundError
from custodes.governance.identity import AuthenticationFailed
from custodes.governance.roles import PermissionDenied
from custodes.governance.service import Governance, Refused
from custodes.governance.tokens import Throttled

__all__ = ["create_app"]

log = logging.getLogger("custodes.server")

#: No inline script or style, nothing from elsewhere, never framed, forms post here only.
CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    # not no-referrer: under it, browsers send "Origin: null" with every form POST, and
    # the dashboard's same-origin check would refuse its own forms
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}


def status_for(exc: CustodesError) -> int:
    """HTTP status of a governance error: who you are (401), what you may do (403), what
    the gate said (409), what was asked for (404) or how (400)."""
    if isinstance(exc, Throttled):
        return 429
    if isinstance(exc, AuthenticationFailed):
        return 401
    if isinstance(exc, PermissionDenied):
        return 403
    if isinstance(exc, Refused):
        return 409
    if isinstance(exc, NotFoundError):
        return 404
    return 400


def create_app(project: Path, db: str | None = None) -> FastAPI:
    """The server for one project's store (SQLite in PROJECT/.custodes, or ``db``)."""
    from custodes.server import api, web

    gov = Governance.open(project, db, create=False)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        gov.close()

    app = FastAPI(
        title="custodes",
        version=__version__,
        summary="Governance gates for datasets, notebooks and models",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.gov = gov

    @app.middleware("http")
    async def headers(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if response.headers.get("content-type", "").startswith("text/html"):
            response.headers["Cache-Control"] = "no-store"
        return response

    @app.exception_handler(CustodesError)
    async def governance_error(request: Request, exc: CustodesError) -> Response:
        code = status_for(exc)
        if request.url.path.startswith("/api/"):
            body: dict[str, object] = {"error": exc.message}
            if isinstance(exc, Refused):
                body["missing"] = exc.missing
            if exc.hint:
                body["hint"] = exc.hint
            headers = {"WWW-Authenticate": "Bearer"} if code == 401 else None
            if code == 429:
                headers = {"Retry-After": "900"}
            return JSONResponse(body, status_code=code, headers=headers)
        return web.error_page(request, code, exc)

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> Response:
        errors = [
            {"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", ""))}
            for e in exc.errors()
        ]
        return JSONResponse({"error": "invalid request", "detail": errors}, status_code=422)

    static = Path(__file__).parent / "static"
    app.mount("/static", StaticFiles(directory=static), name="static")
    app.include_router(api.router)
    app.include_router(web.router)
    return app
