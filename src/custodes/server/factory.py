"""Entry point for ``uvicorn --factory`` with several worker processes."""

from __future__ import annotations

import os
from pathlib import Path

from fastapi import FastAPI

from custodes.server.app import create_app

__all__ = ["app"]


def app() -> FastAPI:
    """The app for the project and store named by the environment (set by custodes serve)."""
    project = Path(os.environ.get("CUSTODES_SERVE_PROJECT", "."))
    return create_app(project, os.environ.get("CUSTODES_DB") or None)
