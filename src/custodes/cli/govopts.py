"""Options shared by ``custodes registry``, ``gate`` and ``audit``: where the store is and
who is acting."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from custodes.governance.identity import Credential
    from custodes.governance.service import Governance

__all__ = [
    "DB_ENV",
    "DbOpt",
    "KeyOpt",
    "ProjectOpt",
    "ServerOpt",
    "credential",
    "governance",
]

DB_ENV = "CUSTODES_DB"

ProjectOpt = Annotated[
    Path,
    typer.Option(
        "--project",
        "-C",
        help="Project folder: the store is in PROJECT/.custodes, the policy beside it.",
    ),
]
DbOpt = Annotated[
    str | None,
    typer.Option(
        "--db",
        envvar=DB_ENV,
        help="Store URL (default: SQLite in PROJECT/.custodes); postgresql://... for teams.",
        show_default=False,
    ),
]
ServerOpt = Annotated[
    str | None,
    typer.Option(
        "--server",
        envvar="CUSTODES_SERVER",
        help="A team server's URL: act through its API with the token in CUSTODES_TOKEN "
        "or ~/.config/custodes/credentials.toml.",
        show_default=False,
    ),
]
KeyOpt = Annotated[
    Path | None,
    typer.Option(
        "--key",
        help="Your private key (or set CUSTODES_KEY): it is who you are to the store.",
        show_default=False,
    ),
]


@contextmanager
def governance(project: Path, db: str | None, *, create: bool = False) -> Iterator[Governance]:
    """The project's store; only ``registry init`` (and a monitor) may create one."""
    from custodes.governance.service import Governance

    gov = Governance.open(project, db, create=create)
    try:
        yield gov
    finally:
        gov.close()


def credential(key: Path | None) -> Credential:
    from custodes.governance.identity import load_credential

    return load_credential(key)
