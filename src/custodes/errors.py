"""Errors a user can act on.

Every failure that is the user's to fix (a malformed custodes.yaml, a missing file, a
command used wrongly) is a :class:`CustodesError`. The CLI catches this one root, prints
``diagnostics()`` on one line and exits with ``exit_code``; anything else is a bug in
custodes and exits 3. Keeping the tree small and explicit is what lets CI tell "your
input is wrong" (2) from "custodes found something" (1) from "custodes broke" (3).

    CustodesError                 exit 2
      UsageError                  a command or option used wrongly
        NotFoundError             a name (artifact, person, token) the store does not know
      InputError                  a file that cannot be read or parsed
        ConfigError               a custodes.yaml that is not a valid system model
    InternalError                 exit 3, raised only to wrap an unexpected failure
"""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "ConfigError",
    "CustodesError",
    "InputError",
    "InternalError",
    "NotFoundError",
    "UsageError",
]


class CustodesError(Exception):
    """Root of the errors a user can fix; carries where it happened and a hint."""

    exit_code = 2

    def __init__(
        self,
        message: str,
        *,
        path: str | Path | None = None,
        line: int | None = None,
        column: int | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.path = str(path) if path is not None else None
        self.line = line
        self.column = column
        self.hint = hint

    def where(self) -> str:
        """The ``file:line:col`` prefix editors and CI logs can jump to."""
        if self.path is None:
            return ""
        parts = [self.path]
        if self.line is not None:
            parts.append(str(self.line))
            if self.column is not None:
                parts.append(str(self.column))
        return ":".join(parts)

    def diagnostics(self) -> str:
        """One line a person reads: where, what, and what to do about it."""
        where = self.where()
        text = f"{where}: {self.message}" if where else self.message
        if self.hint:
            text = f"{text} ({self.hint})"
        return text


class UsageError(CustodesError):
    """A command, option or argument used in a way custodes cannot honour."""


class NotFoundError(UsageError):
    """A name the governance store does not know: an artifact, a person, a token (the
    server answers 404)."""


class InputError(CustodesError):
    """A file that is missing, unreadable, too large or not in the expected format."""


class ConfigError(InputError):
    """A system model (custodes.yaml) that does not describe a valid system."""


class InternalError(Exception):
    """An unexpected failure inside custodes; exit code 3 tells CI it is our bug."""

    exit_code = 3
