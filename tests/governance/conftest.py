"""Governance fixtures: people with real Ed25519 keys, and a project whose policy is
written in the test, on a SQLite file (the default store) or a fresh PostgreSQL database."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Connection

from custodes.governance.identity import Credential, load_credential
from custodes.governance.service import Governance
from custodes.provenance.keys import generate_keypair
from tests.conftest import Result
from tests.governance.policies import LIGHT_POLICY

#: Everyone the tests need, with the roles an admin gives them.
PEOPLE: dict[str, list[str]] = {
    "alice": ["admin"],
    "bob": ["ml-engineer"],
    "dana": ["data-scientist"],
    "carol": ["security-reviewer"],
    "dave": ["approver"],
    "erin": ["approver"],
    "ivan": ["auditor"],
}

#: The six roles, in the order the matrix lists them.
ROLES = ["admin", "data-scientist", "ml-engineer", "security-reviewer", "approver", "auditor"]

#: A small policy: every promotion needs a clean scan and a security review; production
#: needs two approvers as well. Models also need a current threat model, signed
#: provenance and a training dataset that passed its check.
POLICY = """\
version: 1
stages: [dev, staging, production]
promotions:
  - to: staging
    kinds: [dataset]
    require:
      scan: {max_severity: high}
      data_check: {verdict: ok}
      provenance: {verified: true, signed: true}
      signoffs:
        - {role: security-reviewer, count: 1}
  - to: staging
    kinds: [model, notebook, pipeline]
    require:
      scan: {max_severity: high}
      threat_model: {current: true}
      provenance: {verified: true, signed: true}
      datasets_ok: [patients]
      signoffs:
        - {role: security-reviewer, count: 1}
  - to: production
    kinds: [dataset, model, notebook, pipeline]
    require:
      scan: {max_severity: medium}
      signoffs:
        - {role: security-reviewer, count: 1}
        - {role: approver, count: 2}
"""


@pytest.fixture(scope="session")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """NAME -> private key file for everyone in PEOPLE (public half at NAME.pub.pem)."""
    folder = tmp_path_factory.mktemp("keys")
    out = {}
    for name in [*PEOPLE, "mallory", "frank", *(f"as-{r}" for r in ROLES)]:
        private, _public, _kid = generate_keypair(folder, name)
        out[name] = private
    return out


def public(key: Path) -> Path:
    return key.with_name(key.name.removesuffix(".pem") + ".pub.pem")


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest) -> str | None:
    """None for the default SQLite file under .custodes, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return None
    url: str = request.getfixturevalue("pg_url")
    return url


@dataclass
class Project:
    """A project folder with a governance store; acts through the CLI or the service."""

    root: Path
    db: str | None
    keys: dict[str, Path]
    cli: Callable[..., Result]
    policy_text: str = POLICY
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.db or f"sqlite:///{self.root / '.custodes' / 'custodes.db'}"

    def args(self) -> list[str]:
        return ["-C", str(self.root), *(["--db", self.db] if self.db else [])]

    def run(self, *args: object, who: str | None = None) -> Result:
        """``custodes ARGS -C ROOT [--db URL] [--key WHO]``."""
        key = ["--key", str(self.keys[who])] if who else []
        return self.cli(*[str(a) for a in args], *self.args(), *key)

    def ok(self, *args: object, who: str | None = None) -> Result:
        r = self.run(*args, who=who)
        assert r.code == 0, f"custodes {' '.join(map(str, args))} as {who}: {r.err}{r.out}"
        return r

    def fails(self, code: int, *args: object, who: str | None = None) -> Result:
        r = self.run(*args, who=who)
        assert r.code == code, f"expected exit {code}, got {r.code}: {r.err}{r.out}"
        return r

    @contextmanager
    def gov(self) -> Iterator[Governance]:
        with Governance.open(self.root, self.db) as g:
            yield g

    def cred(self, who: str) -> Credential:
        return load_credential(self.keys[who])

    def write(self, rel: str, data: bytes | str) -> Path:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(data, str):
            path.write_text(data, encoding="utf-8")
        else:
            path.write_bytes(data)
        return path

    def write_policy(self, text_: str) -> None:
        self.write("custodes-policy.yaml", textwrap.dedent(text_))

    @contextmanager
    def sql(self) -> Iterator[Connection]:
        """A raw connection to the store, as a DBA would have (committed on exit)."""
        engine = create_engine(self.url)
        try:
            with engine.begin() as conn:
                yield conn
        finally:
            engine.dispose()

    def log(self, kind: str | None = None) -> list[dict[str, Any]]:
        """The audit log entries (seq, kind, actor, data), optionally of one kind."""
        with self.sql() as conn:
            rows = conn.execute(
                text("SELECT seq, kind, actor, payload FROM audit_log ORDER BY seq")
            ).all()
        out = []
        for seq, k, actor, payload in rows:
            if kind is None or k == kind:
                data = json.loads(payload)["data"]
                out.append({"seq": seq, "kind": k, "actor": actor, "data": data})
        return out


@pytest.fixture
def empty_project(
    tmp_path: Path, db_url: str | None, keys: dict[str, Path], cli: Callable[..., Result]
) -> Project:
    """A project folder with the policy written, no store yet."""
    root = tmp_path / "project"
    root.mkdir()
    p = Project(root, db_url, keys, cli)
    p.write_policy(POLICY)
    return p


def populate(p: Project, policy: str = POLICY) -> Project:
    """Bootstrap alice, add everyone in PEOPLE and record the policy, through the service."""
    p.policy_text = policy
    p.write_policy(policy)
    with p.gov() as g:
        g.bootstrap("alice", public(p.keys["alice"]).read_text(encoding="utf-8"))
        admin = p.cred("alice")
        for name, roles in PEOPLE.items():
            if name != "alice":
                g.add_person(admin, name, public(p.keys[name]).read_text(encoding="utf-8"), roles)
        g.record_policy(admin)
    return p


@pytest.fixture
def project(empty_project: Project) -> Project:
    """A store with everyone in PEOPLE and POLICY in force."""
    return populate(empty_project)


@pytest.fixture
def light(empty_project: Project) -> Project:
    """A store with everyone in PEOPLE and LIGHT_POLICY (sign-offs only) in force."""
    return populate(empty_project, LIGHT_POLICY)
