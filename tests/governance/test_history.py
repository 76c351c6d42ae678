"""``registry history``: an artifact's moves with approvers, and what was in production
at an instant (a date, or an ISO time with an offset) and who put it there."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import text

from tests.governance.conftest import Project


def _release(p: Project, content: bytes, approvers: tuple[str, str]) -> str:
    path = p.write("models/m.bin", content)
    out = p.ok("registry", "register", "model", "m", path, who="bob").out
    digest = out.split()[2]
    p.ok("gate", "request", "m", who="bob")
    p.ok("gate", "approve", "m", who="carol")
    p.ok("gate", "promote", "m", who="bob")
    p.ok("gate", "request", "m", who="dana")
    for who in approvers:
        p.ok("gate", "approve", "m", who=who)
    p.ok("gate", "promote", "m", who="bob")
    return digest


def _history(p: Project, *args: str) -> list[dict[str, Any]]:
    rows = json.loads(p.ok("registry", "history", *args, "--format", "json", who="ivan").out)
    assert isinstance(rows, list)
    return rows


def test_history_lists_moves_with_approvers(light: Project) -> None:
    p = light
    _add_frank(p)
    v1 = _release(p, b"v1\n", ("dave", "erin"))
    v2 = _release(p, b"v2\n", ("dave", "frank"))
    rows = _history(p, "m")
    moves = [(r["digest"], r["from"], r["to"], r["by"], r["approvers"]) for r in rows]
    assert moves == [
        (v1, "dev", "staging", "bob", ["carol"]),
        (v1, "staging", "production", "bob", ["dave", "erin"]),
        (v2, "dev", "staging", "bob", ["carol"]),
        (v1, "production", "archived", "bob", ["dave", "frank"]),
        (v2, "staging", "production", "bob", ["dave", "frank"]),
    ]
    r = p.ok("registry", "history", "m", who="ivan")
    assert "archived" in r.out
    assert "dave, erin" in r.out


def _add_frank(p: Project) -> None:
    from tests.governance.conftest import public

    p.ok(
        "registry", "people", "add", "frank", "--public-key", public(p.keys["frank"]),
        "--role", "approver", who="alice",
    )  # fmt: skip


def test_what_was_in_production_at_an_instant(light: Project) -> None:
    p = light
    _add_frank(p)
    v1 = _release(p, b"v1\n", ("dave", "erin"))
    v2 = _release(p, b"v2\n", ("dave", "frank"))
    # Put the moves on a calendar: v1 registered 1 Feb, staging 10 Feb, production 1 March;
    # v2 registered 1 May, staging 10 May, production (and v1 archived) 1 June at 10:00Z.
    times = [
        "2026-02-10 09:00:00",
        "2026-03-01 10:00:00",
        "2026-05-10 09:00:00",
        "2026-06-01 10:00:00",
        "2026-06-01 10:00:00",
    ]
    with p.sql() as c:
        ids = c.execute(text("SELECT id FROM stage_changes ORDER BY id")).scalars().all()
        assert len(ids) == len(times)
        for i, at in zip(ids, times, strict=True):
            c.execute(
                text("UPDATE stage_changes SET at = :at WHERE id = :i"), {"at": _ts(p, at), "i": i}
            )
        for digest, at in ((v1, "2026-02-01 08:00:00"), (v2, "2026-05-01 08:00:00")):
            c.execute(
                text("UPDATE artifact_versions SET registered_at = :at WHERE digest = :d"),
                {"at": _ts(p, at), "d": digest},
            )

    def prod(at: str) -> list[tuple[str, str, str, list[str]]]:
        return [(r["digest"], r["since"], r["by"], r["approvers"]) for r in _history(p, "--at", at)]

    assert prod("2026-02-20") == []
    assert prod("2026-03-03") == [(v1, "2026-03-01T10:00:00.000000Z", "bob", ["dave", "erin"])]
    # An instant with an offset: 11:30+02:00 is 09:30Z, before v2 arrived.
    assert prod("2026-06-01T11:30:00+02:00") == [
        (v1, "2026-03-01T10:00:00.000000Z", "bob", ["dave", "erin"])
    ]
    assert prod("2026-06-01T10:00:00Z") == [
        (v2, "2026-06-01T10:00:00.000000Z", "bob", ["dave", "frank"])
    ]
    assert prod("2026-06-02") == [(v2, "2026-06-01T10:00:00.000000Z", "bob", ["dave", "frank"])]
    # The same question about staging and about dev.
    staging = _history(p, "--at", "2026-05-20", "--stage", "staging")
    assert [r["digest"] for r in staging] == [v2]
    dev = _history(p, "--at", "2026-02-05", "--stage", "dev")
    assert [(r["digest"], r["by"]) for r in dev] == [(v1, "bob")]
    r = p.ok("registry", "history", "--at", "2026-03-03", who="ivan")
    assert (
        "in production since 2026-03-01T10:00:00.000000Z, moved by bob approved by dave, erin"
        in r.out
    )
    r = p.ok("registry", "history", "--at", "2026-01-01", who="ivan")
    assert "nothing was in production" in r.out
    r = p.fails(2, "registry", "history", "--at", "yesterday", who="ivan")
    assert "--at expects" in r.err
    p.fails(2, "registry", "history", who="ivan")


def _ts(p: Project, at: str) -> str:
    """A UTC time as the store keeps it: naive on SQLite, with an offset on PostgreSQL."""
    return at if p.db is None else at + "+00:00"
