"""Schemathesis hooks for test_schemathesis: every generated request comes from its own
client address, so the probes without a token (the ignored_auth check) do not trip the
server's per-client throttling and turn the rest of the run into 429s."""

from __future__ import annotations

import itertools
from typing import Any

import schemathesis

_n = itertools.count(1)


def _address() -> str:
    n = next(_n)
    return f"10.200.{(n >> 8) & 255}.{n & 255}"


@schemathesis.hook
def before_call(ctx: Any, case: Any, kwargs: Any) -> None:
    case.headers = {**(case.headers or {}), "X-Forwarded-For": _address()}
