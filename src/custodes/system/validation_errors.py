"""Turn a pydantic :class:`ValidationError` into one ``file:line:col`` :class:`ConfigError`.

Shared by the custodes.yaml loader and the custodes-policy.yaml loader: the first problem
is reported (with a count of the rest), an unknown key gets a did-you-mean from the
fields of the model it sits in, and the position comes from the YAML :class:`Marks`.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, get_args

from pydantic import BaseModel, ValidationError

from custodes.errors import ConfigError
from custodes.system.yamlsafe import Marks, PathKey

__all__ = ["dotted", "fields_at", "first_error"]


def first_error(
    exc: ValidationError,
    marks: Marks,
    path: Path,
    root: type[BaseModel],
    *,
    prose_key_hint: bool = False,
    choice_hint: bool = False,
) -> ConfigError:
    """The first pydantic error as one line with file:line:col and a suggestion.

    ``root`` is the model validated (its fields feed the did-you-mean for unknown keys).
    ``prose_key_hint``: an unknown key with spaces and no close match is blamed on a comma
    inside a ``{...}`` flow mapping. ``choice_hint``: a wrong literal or enum value gets a
    did-you-mean from the allowed values (enum errors are reworded like literal ones).
    """
    errors = exc.errors(include_url=False)
    err = errors[0]
    loc: PathKey = tuple(err["loc"])
    more = f" (and {len(errors) - 1} more problems)" if len(errors) > 1 else ""
    hint: str | None = None
    if err["type"] == "extra_forbidden":
        pos = marks.key(loc)
        key = str(loc[-1])
        allowed = fields_at(root, loc[:-1])
        guess = difflib.get_close_matches(key, allowed, n=1)
        hint = f"did you mean {guess[0]!r}?" if guess else f"allowed: {', '.join(allowed)}"
        if prose_key_hint and " " in key.strip() and not guess:
            # Prose as a key is almost always a comma inside {flow: mapping} splitting a value.
            hint = "a comma inside a {...} mapping starts a new key: quote the value before it"
        return ConfigError(
            f"unknown key {key!r} in {dotted(loc[:-1]) or 'the top level'}{more}",
            path=path,
            line=pos.line if pos else None,
            column=pos.column if pos else None,
            hint=hint,
        )
    pos = marks.value(loc)
    where = dotted(loc)
    msg = err["msg"].removeprefix("Value error, ")
    reworded = ("literal_error", "enum") if choice_hint else ("literal_error",)
    if err["type"] == "missing":
        msg = f"missing required key {str(loc[-1])!r}"
        where = dotted(loc[:-1]) or "the top level"
    elif err["type"] in reworded:
        got = err.get("input")
        msg = f"{msg.replace('Input should be', 'expected')}, got {got!r}"
        if choice_hint:
            choices = re.findall(r"'([^']*)'", str(err.get("ctx", {}).get("expected", "")))
            guess = difflib.get_close_matches(str(got), choices, n=1)
            hint = f"did you mean {guess[0]!r}?" if guess else None
    return ConfigError(
        f"{where}: {msg}{more}" if where else f"{msg}{more}",
        path=path,
        line=pos.line if pos else None,
        column=pos.column if pos else None,
        hint=hint,
    )


def dotted(loc: Sequence[str | int]) -> str:
    """``("flows", 2, "to")`` as ``flows[2].to``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def fields_at(root: type[BaseModel], loc: Sequence[str | int]) -> list[str]:
    """Names (aliases where set) of the fields of the model found at ``loc`` under ``root``."""
    model = root
    for part in loc:
        if isinstance(part, int):
            continue
        info = model.model_fields.get(part) or next(
            (f for f in model.model_fields.values() if f.alias == part), None
        )
        nested = _model_in(info.annotation) if info is not None else None
        if nested is None:
            break
        model = nested
    return sorted(f.alias or name for name, f in model.model_fields.items())


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The first pydantic model in ``annotation`` (``X``, ``list[X]``, ``X | None``...)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found
    return None
