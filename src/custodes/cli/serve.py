"""``custodes serve``: the team server (API + dashboard) over a project's store."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from custodes.cli.common import err_console
from custodes.cli.govopts import DbOpt, ProjectOpt

__all__ = ["serve_command"]


def serve_command(
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 8765,
    project: ProjectOpt = Path(),
    db: DbOpt = None,
    workers: Annotated[
        int, typer.Option("--workers", help="Server processes (share the store; PostgreSQL).")
    ] = 1,
) -> None:
    """Serve the API (/api/v1, OpenAPI at /openapi.json) and the dashboard."""
    import os

    import uvicorn

    from custodes.server.app import create_app

    if workers > 1:
        os.environ["CUSTODES_SERVE_PROJECT"] = str(project.resolve())
        if db:
            os.environ["CUSTODES_DB"] = db
        err_console.print(f"custodes serving {project} on http://{host}:{port} ({workers} workers)")
        uvicorn.run(
            "custodes.server.factory:app",
            host=host,
            port=port,
            workers=workers,
            factory=True,
            log_level="warning",
        )
        return
    app = create_app(project, db)
    err_console.print(f"custodes serving {project} on http://{host}:{port}  (Ctrl-C stops)")
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)
