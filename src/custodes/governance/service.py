"""The governance core: one object over the store, the log key and the project's policy.

Every change is one transaction that first takes the audit log's lock, then changes the
registry, then appends the log entry that describes the change, so the registry and the
log can never disagree and concurrent writers (processes, servers) get one total order.
Refusals (a denied role, a failed authentication, a promotion the policy does not allow)
are appended too, in their own transaction, because "who tried what" is audit evidence.

The CLI and the HTTP server both call this module; neither re-implements a rule.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from custodes.errors import CustodesError, InputError, NotFoundError, UsageError
from custodes.governance import auditlog
from custodes.governance.identity import (
    Actor,
    AuthenticationFailed,
    Credential,
    Who,
    proves_possession,
    public_pem,
)
from custodes.governance.policy import DEFAULT_NAME, DenyAll, LoadedPolicy, load_policy_or_deny
from custodes.governance.policy_schema import ARTIFACT_KINDS, DEFAULT_STAGES
from custodes.governance.roles import Action, PermissionDenied, Role, authorize, parse_roles
from custodes.provenance.keys import key_id
from custodes.store import Store, open_store
from custodes.store.models import (
    Artifact,
    ArtifactVersion,
    LoginFailure,
    LogState,
    PolicyRecord,
    Principal,
)

__all__ = ["STORE_DIR", "Governance", "Refused"]

#: Where a project keeps its governance store, log key and witness head.
STORE_DIR = ".custodes"
WITNESS = "witness.json"
#: Denied actions of one person audited one by one per window; the rest are counted.
DENIALS_LOGGED = 20
DENIAL_WINDOW = timedelta(minutes=15)


class Refused(CustodesError):
    """The gate said no (missing evidence or sign-offs, separation of duties): exit 1."""

    exit_code = 1

    def __init__(self, message: str, missing: Sequence[str] = (), **kw: Any) -> None:
        super().__init__(message, **kw)
        self.missing = list(missing)

    def diagnostics(self) -> str:
        lines = [super().diagnostics()]
        lines += [f"  missing: {m}" for m in self.missing]
        return "\n".join(lines)


def ignore_store(project: Path) -> None:
    """Keep the store, its log key and the witness head out of version control: the log
    key signs the audit log, and the store is shared through custodes serve, not git."""
    ignore = project / STORE_DIR / ".gitignore"
    if not ignore.exists():
        try:
            ignore.write_text(
                "# custodes state: never commit (the log key signs the audit log)\n*\n"
            )
        except OSError as exc:
            raise InputError(f"cannot write {ignore.name}: {exc.strerror}", path=ignore) from None


@dataclass
class Governance:
    """An open governance store for one project."""

    store: Store
    signer: auditlog.LogSigner
    project: Path
    policy_path: Path

    @classmethod
    def open(
        cls,
        project: Path,
        db: str | None = None,
        policy: Path | None = None,
        *,
        create: bool = True,
    ) -> Governance:
        """Open the store in PROJECT/.custodes or at ``db``; with ``create=False`` a
        project without a local store is an error rather than a new empty store (a typo
        in ``-C`` should not leave a store and a log key behind)."""
        if not project.is_dir():
            raise InputError("not a project folder", path=project)
        folder = project / STORE_DIR
        if not create and db is None and not (folder / "custodes.db").is_file():
            raise InputError(
                "no governance store here",
                path=project,
                hint=f"create one with: custodes registry init -C {project} --admin NAME "
                "--public-key KEY.pub.pem (or give --db)",
            )
        folder.mkdir(exist_ok=True)
        store = open_store(db, project)
        try:
            signer = auditlog.load_or_create_log_key(folder)
        except BaseException:
            store.close()
            raise
        return cls(store, signer, project, policy or project / DEFAULT_NAME)

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Governance:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ transactions

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A write transaction that holds the log lock from its first statement."""
        with self.store.session.begin() as session:
            state = session.execute(
                select(LogState).where(LogState.id == 1).with_for_update()
            ).scalar_one_or_none()
            if state is not None and state.public_key_pem:
                self._same_log_key(state.public_key_pem)
            yield session
        self._witness()

    @contextmanager
    def read(self) -> Iterator[Session]:
        with self.store.session() as session:
            yield session

    def _same_log_key(self, stored_pem: str) -> None:
        """Refuse to sign this store's log with a second key: a checkout that made its own
        .custodes/log-key.pem would fork the log into heads nobody can verify together."""
        stored = key_id(auditlog.public_key_from_pem(stored_pem))
        if stored != self.signer.key_id:
            raise UsageError(
                f"this store's audit log is signed with log key {stored}, but "
                f"{self.project / STORE_DIR / 'log-key.pem'} is key {self.signer.key_id}; "
                "every writer must hold the same log key",
                hint="copy the log-key.pem the store was created with into this .custodes "
                "folder (or run custodes serve and act through it)",
            )

    def log(self, session: Session, kind: str, actor: str | None, data: dict[str, Any]) -> int:
        return auditlog.append(session, self.signer, kind, actor, data).seq

    def log_alone(self, kind: str, actor: str | None, data: dict[str, Any]) -> None:
        """Record a refusal in its own transaction (the refused change rolls back)."""
        with self.write() as session:
            self.log(session, kind, actor, data)

    def _witness(self) -> None:
        """Keep the newest signed head outside the database: a DBA who truncates the log
        and its heads cannot also rewrite every copy users hold."""
        with self.read() as session:
            head = auditlog.latest_head(session)
        if head is not None:
            path = self.project / STORE_DIR / WITNESS
            seen = self.witness_or_none()
            if seen is not None and int(seen.get("tree_size", 0)) > int(head["tree_size"]):
                # The log is shorter than a head this folder already saw: keep that head,
                # it is the evidence `custodes audit verify` needs to name the truncation.
                return
            # Server threads and processes write it concurrently: each through its own
            # temporary file, and a failure here never fails a change already committed.
            try:
                fd, tmp = tempfile.mkstemp(prefix=".witness-", dir=path.parent)
                with os.fdopen(fd, "w", encoding="utf-8") as out:
                    out.write(json.dumps(head, indent=2) + "\n")
                os.replace(tmp, path)
            except OSError:
                return

    def witness_or_none(self) -> dict[str, Any] | None:
        """The witness head, or None when it is missing or unreadable."""
        try:
            return self.witness()
        except (InputError, TypeError, ValueError):
            return None

    def witness(self) -> dict[str, Any] | None:
        path = self.project / STORE_DIR / WITNESS
        if not path.is_file():
            return None
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise InputError(f"witness head cannot be read: {exc}", path=path) from None
        return doc if isinstance(doc, dict) else None

    def log_public_key_pem(self) -> str:
        """The log key's public half from the project folder, not from the database,
        which a DBA could rewrite together with the log."""
        return self.signer.public_key_pem()

    # ------------------------------------------------------------------ identity

    def authenticate(self, credential: Credential) -> Actor:
        """The active person whose registered key ``credential`` holds; audited if not."""
        kid = credential.key_id
        with self.read() as session:
            person = session.execute(
                select(Principal).where(Principal.key_id == kid)
            ).scalar_one_or_none()
        reason = None
        if person is None:
            reason = "no person in this store holds this key"
        elif not person.active:
            reason = f"{person.id} has been deactivated"
        elif not proves_possession(credential, auditlog.public_key_from_pem(person.public_key_pem)):
            reason = "the key does not match the registered public key"
        if reason is not None or person is None:
            self.log_alone("auth.failed", None, {"key_id": kid, "reason": reason})
            raise AuthenticationFailed(
                f"authentication failed for key {kid}: {reason}",
                hint="an admin adds people with: custodes registry people add",
            )
        return Actor(person.id, tuple(json.loads(person.roles)), kid, credential)

    def vouch(self, statement: dict[str, Any], actor: Actor) -> dict[str, Any]:
        """The server's signature over what an authenticated person said, for actions
        taken without their own key at hand (web and API)."""
        body = {**statement, "authenticated_as": actor.principal, "via": actor.key_id}
        return {
            "alg": "ed25519",
            "key_id": self.signer.key_id,
            "by": "server",
            "via": actor.key_id,
            "value": self.signer.sign(auditlog.canonical_json(body)),
        }

    def authorize(self, actor: Actor, action: Action) -> None:
        try:
            authorize(actor.principal, actor.roles, action)
        except PermissionDenied:
            self._log_denial(actor, action)
            raise

    def _log_denial(self, actor: Actor, action: Action) -> None:
        """Audit a denied action, but not without bound: past DENIALS_LOGGED in the window
        one person's denials are only counted (one ``auth.denied.throttled`` entry says
        the rest are), so a token holder cannot flood the log."""

        client = f"denied:{actor.principal}"[:200]
        now = datetime.now(UTC)
        since = now - DENIAL_WINDOW
        with self.write() as session:
            session.execute(delete(LoginFailure).where(LoginFailure.at < now - 4 * DENIAL_WINDOW))
            recent = session.execute(
                select(func.count())
                .select_from(LoginFailure)
                .where(LoginFailure.client == client, LoginFailure.at >= since)
            ).scalar_one()
            session.add(LoginFailure(client=client, at=now))
            if recent < DENIALS_LOGGED:
                self.log(
                    session,
                    "auth.denied",
                    actor.principal,
                    {"action": action.value, "roles": list(actor.roles)},
                )
            elif recent == DENIALS_LOGGED:
                self.log(
                    session,
                    "auth.denied.throttled",
                    actor.principal,
                    {
                        "action": action.value,
                        "roles": list(actor.roles),
                        "note": f"more than {DENIALS_LOGGED} denials in "
                        f"{int(DENIAL_WINDOW.total_seconds() // 60)} min: further ones "
                        "in this window are counted, not logged one by one",
                    },
                )

    def act(self, who: Who, action: Action) -> Actor:
        """Authenticate (unless the server already did) and authorize one action."""
        actor = who if isinstance(who, Actor) else self.authenticate(who)
        self.authorize(actor, action)
        return actor

    # ------------------------------------------------------------------ people

    def bootstrap(self, admin: str, public_key_pem: str) -> None:
        """Make the first admin of an empty store; refused once anyone exists."""
        key = auditlog.public_key_from_pem(public_key_pem)
        with self.write() as session:
            if session.execute(select(func.count()).select_from(Principal)).scalar_one():
                raise UsageError(
                    "this store already has people; an admin adds more with "
                    "custodes registry people add"
                )
            self._add(session, None, admin, key, [Role.ADMIN])

    def _add(
        self, session: Session, by: str | None, pid: str, key: Any, roles: Sequence[Role]
    ) -> None:
        _check_handle(pid)
        kid = key_id(key)
        if session.get(Principal, pid) is not None:
            raise UsageError(f"{pid!r} already exists")
        if session.execute(select(Principal).where(Principal.key_id == kid)).first():
            raise UsageError(f"key {kid} is already registered to someone else")
        pem = public_pem(key)
        names = [r.value for r in roles]
        session.add(Principal(id=pid, key_id=kid, public_key_pem=pem, roles=json.dumps(names)))
        self.log(
            session,
            "principal.added",
            by,
            {"principal": pid, "key_id": kid, "public_key_pem": pem, "roles": names},
        )

    def add_person(
        self, credential: Who, pid: str, public_key_pem: str, roles: Sequence[str]
    ) -> None:
        actor = self.act(credential, Action.MANAGE_PRINCIPALS)
        key = auditlog.public_key_from_pem(public_key_pem)
        with self.write() as session:
            self._add(session, actor.principal, pid, key, parse_roles(roles))

    def set_roles(self, credential: Who, pid: str, roles: Sequence[str]) -> None:
        actor = self.act(credential, Action.MANAGE_PRINCIPALS)
        names = [r.value for r in parse_roles(roles)]
        with self.write() as session:
            person = _person(session, pid)
            previous = json.loads(person.roles)
            person.roles = json.dumps(names)
            _keep_an_admin(session, pid)
            self.log(
                session,
                "principal.roles",
                actor.principal,
                {"principal": pid, "roles": names, "previous": previous},
            )

    def deactivate(self, credential: Who, pid: str) -> None:
        actor = self.act(credential, Action.MANAGE_PRINCIPALS)
        with self.write() as session:
            person = _person(session, pid)
            person.active = False
            _keep_an_admin(session, pid)
            self.log(session, "principal.deactivated", actor.principal, {"principal": pid})

    def people(self, credential: Who) -> list[dict[str, Any]]:
        self.act(credential, Action.READ)
        with self.read() as session:
            rows = session.execute(select(Principal).order_by(Principal.id)).scalars().all()
        return [
            {
                "id": p.id,
                "roles": json.loads(p.roles),
                "key_id": p.key_id,
                "active": p.active,
                "since": auditlog.rfc3339(p.created_at),
            }
            for p in rows
        ]

    # ------------------------------------------------------------------ policy

    def record_policy(self, credential: Who) -> tuple[str, str | None]:
        """Make the project's policy file the one in force; (new digest, previous)."""
        from custodes.governance.policy import load_policy

        actor = self.act(credential, Action.SET_POLICY)
        loaded = load_policy(self.policy_path)
        with self.write() as session:
            last = _last_policy(session)
            previous = last.digest if last is not None else None
            if previous == loaded.digest:
                return loaded.digest, previous
            content = self.policy_path.read_text(encoding="utf-8")
            session.add(
                PolicyRecord(digest=loaded.digest, content=content, recorded_by=actor.principal)
            )
            self.log(
                session,
                "policy.changed",
                actor.principal,
                {"digest": loaded.digest, "previous": previous, "content": content},
            )
        return loaded.digest, previous

    def policy(self, session: Session) -> LoadedPolicy | DenyAll:
        """The policy in force: the file, if an admin recorded exactly these bytes.

        An edit nobody recorded is not in force; otherwise whoever can write to the
        repository could loosen the rules for their own promotion.
        """
        loaded = load_policy_or_deny(self.policy_path)
        if isinstance(loaded, DenyAll):
            return loaded
        last = _last_policy(session)
        if last is None:
            return DenyAll(
                f"{self.policy_path.name} has never been recorded; an admin runs "
                "custodes registry policy",
                self.policy_path,
            )
        if last.digest != loaded.digest:
            return DenyAll(
                f"{self.policy_path.name} changed since an admin recorded it "
                f"({last.digest[:19]}…, now {loaded.digest[:19]}…); an admin runs "
                "custodes registry policy",
                self.policy_path,
            )
        return loaded

    def stages(self, session: Session) -> tuple[str, ...]:
        policy = self.policy(session)
        return policy.stages if isinstance(policy, LoadedPolicy) else DEFAULT_STAGES

    # ------------------------------------------------------------------ registry

    def stored_path(self, path: Path) -> str:
        resolved = path.resolve()
        try:
            return resolved.relative_to(self.project.resolve()).as_posix()
        except ValueError:
            return str(resolved)

    def local_path(self, stored: str) -> Path:
        p = Path(stored)
        return p if p.is_absolute() else self.project / p

    def register(
        self, credential: Who, kind: str, name: str, path: Path, manifest: Path | None
    ) -> tuple[ArtifactVersion, bool]:
        """Register the content at ``path`` as a version of ``name``; (version, new?)."""
        from custodes.governance.evidence import content_digest

        if kind not in ARTIFACT_KINDS:
            raise UsageError(f"unknown artifact kind {kind!r} (one of {', '.join(ARTIFACT_KINDS)})")
        _check_handle(name)
        actor = self.act(credential, Action.REGISTER)
        digest = content_digest(path)
        with self.write() as session:
            artifact = session.execute(
                select(Artifact).where(Artifact.name == name)
            ).scalar_one_or_none()
            if artifact is None:
                artifact = Artifact(kind=kind, name=name)
                session.add(artifact)
                session.flush()
            elif artifact.kind != kind:
                raise UsageError(f"{name!r} is a {artifact.kind}, not a {kind}")
            existing = session.execute(
                select(ArtifactVersion).where(
                    ArtifactVersion.artifact_id == artifact.id, ArtifactVersion.digest == digest
                )
            ).scalar_one_or_none()
            if existing is not None:
                return existing, False
            version = ArtifactVersion(
                artifact_id=artifact.id,
                digest=digest,
                path=self.stored_path(path),
                manifest=self.stored_path(manifest) if manifest else None,
                stage=self.stages(session)[0],
                registered_by=actor.principal,
            )
            session.add(version)
            session.flush()
            self.log(
                session,
                "artifact.registered",
                actor.principal,
                {
                    "artifact": name,
                    "kind": kind,
                    "digest": digest,
                    "path": version.path,
                    "stage": version.stage,
                },
            )
        return version, True


def _check_handle(name: str) -> None:
    if not name or len(name) > 200 or any(c.isspace() or c in "@/\\" for c in name):
        raise UsageError(f"{name!r} is not a valid name (no spaces, '@' or slashes, ≤200 chars)")


def _person(session: Session, pid: str) -> Principal:
    person = session.get(Principal, pid)
    if person is None:
        raise NotFoundError(f"no person {pid!r} in this store")
    return person


def _keep_an_admin(session: Session, pid: str) -> None:
    """Refuse a change that leaves no active admin: nobody could add people, record a
    policy or recover the store again (bootstrap works only on an empty store)."""
    session.flush()
    for person in session.execute(select(Principal).where(Principal.active)).scalars():
        if Role.ADMIN.value in json.loads(person.roles):
            return
    raise UsageError(
        f"this would leave the store without an active admin ({pid} is the last one)",
        hint="make someone else admin first: custodes registry people roles NAME --role admin",
    )


def _last_policy(session: Session) -> PolicyRecord | None:
    return session.execute(
        select(PolicyRecord).order_by(PolicyRecord.id.desc()).limit(1)
    ).scalar_one_or_none()
