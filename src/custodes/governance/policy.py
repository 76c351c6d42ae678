"""custodes-policy.yaml: load the promotion policy, or say which line is wrong.

:func:`load_policy` turns the file into a validated :class:`LoadedPolicy`;
:mod:`custodes.governance.decision` decides a promotion against it.

The gate fails closed. A missing, empty or broken policy becomes :class:`DenyAll` (every
promotion refused, with the reason shown) rather than "no policy, no rules". Evidence and
sign-offs count only for the exact version digest being promoted, so changing one byte of a
model makes its old scan stale and its old approvals lapse. Separation of duties is enforced
here, not left to policy authors: the requester never approves their own request, one
person counts once however many roles they hold, a rejection blocks, and the last stage
(production) always needs two different people whatever the policy says.
"""

from __future__ import annotations

import difflib
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from custodes.errors import ConfigError, CustodesError
from custodes.governance.policy_schema import (
    TERMINAL_STAGES,
    PolicyFile,
)
from custodes.governance.roles import Action, allowed, roles_for
from custodes.system.validation_errors import first_error
from custodes.system.yamlsafe import Marks, PathKey, decode_utf8, load_yaml, read_capped

__all__ = [
    "DEFAULT_NAME",
    "DenyAll",
    "LoadedPolicy",
    "load_policy",
    "load_policy_or_deny",
    "parse_policy",
]

DEFAULT_NAME = "custodes-policy.yaml"

# --------------------------------------------------------------------------- loading


@dataclass(frozen=True)
class LoadedPolicy:
    """A validated policy, the digest of the exact bytes it came from, and where it lives.

    The digest is what an audit record cites, so "which rules approved this?" has an
    answer that cannot drift when someone edits the file later.
    """

    model: PolicyFile
    digest: str
    path: Path
    marks: Marks = field(default_factory=Marks, repr=False, compare=False)

    @property
    def stages(self) -> tuple[str, ...]:
        """The ordered stages, first (where artifacts are registered) to last."""
        return tuple(self.model.stages)


@dataclass(frozen=True)
class DenyAll:
    """The policy in force when there is no usable policy: every promotion is refused."""

    reason: str
    path: Path


def load_policy(path: Path) -> LoadedPolicy:
    """Read and validate a custodes-policy.yaml; :class:`InputError` / ConfigError if bad."""
    return _parse(read_capped(path, "policy"), path)


def parse_policy(text: str, path: Path = Path(DEFAULT_NAME)) -> LoadedPolicy:
    """Validate a policy given as text (``path`` is used in messages only)."""
    return _parse(text.encode("utf-8"), path)


def load_policy_or_deny(path: Path) -> LoadedPolicy | DenyAll:
    """The policy at ``path``, or :class:`DenyAll` carrying why it could not be used.

    A gate must never fall open because its rules are missing or mangled; the reason
    travels with the denial so the person blocked sees what to fix.
    """
    try:
        return load_policy(path)
    except CustodesError as exc:
        return DenyAll(reason=exc.diagnostics(), path=path)


def _parse(raw: bytes, path: Path) -> LoadedPolicy:
    digest = "sha256:" + hashlib.sha256(raw).hexdigest()
    data, marks = load_yaml(path, decode_utf8(raw, path))
    if not isinstance(data, dict):
        raise ConfigError(
            "expected a mapping at the top level (version:, stages:, promotions:)",
            path=path,
            line=1,
        )
    try:
        model = PolicyFile.model_validate(data)
    except ValidationError as exc:
        raise first_error(exc, marks, path, PolicyFile, choice_hint=True) from None
    _check(model, marks, path)
    return LoadedPolicy(model=model, digest=digest, path=path, marks=marks)


def _check(model: PolicyFile, marks: Marks, path: Path) -> None:
    """Whole-document rules: stage names, adjacency, sign-off roles, overlapping rules."""

    def fail(loc: PathKey, message: str, hint: str | None = None) -> None:
        pos = marks.value(loc)
        raise ConfigError(
            message,
            path=path,
            line=pos.line if pos else None,
            column=pos.column if pos else None,
            hint=hint,
        )

    stages = model.stages
    for i, stage in enumerate(stages):
        if stage in TERMINAL_STAGES:
            fail(
                ("stages", i),
                f"stage {stage!r} is implicit: it is reached by a decision, not by promotion",
                "remove it from stages",
            )
        if stage in stages[:i]:
            fail(("stages", i), f"stage {stage!r} is listed twice")
    approvers = ", ".join(r.value for r in roles_for(Action.APPROVE))
    claimed: dict[tuple[str, str], int] = {}
    for i, promo in enumerate(model.promotions):
        if promo.to not in stages:
            guess = (
                difflib.get_close_matches(promo.to, stages, n=1)
                or [s for s in stages if s.startswith(promo.to)][:1]
            )
            fail(
                ("promotions", i, "to"),
                f"promotion to {promo.to!r}, which is not one of the stages ({', '.join(stages)})",
                f"did you mean {guess[0]!r}?" if guess else "add it to stages, in order",
            )
        if promo.to == stages[0]:
            fail(
                ("promotions", i, "to"),
                f"{promo.to!r} is the first stage: artifacts are registered there, not promoted into it",
            )
        for j, kind in enumerate(promo.kinds):
            if kind in promo.kinds[:j]:
                fail(("promotions", i, "kinds", j), f"kind {kind!r} is listed twice")
            if (promo.to, kind) in claimed:
                fail(
                    ("promotions", i, "kinds", j),
                    f"promotions[{claimed[promo.to, kind]}] already says what a {kind} needs "
                    f"to reach {promo.to}",
                    "merge the two rules, or narrow their kinds",
                )
            claimed[promo.to, kind] = i
        req = promo.require
        if req.data_check is not None and "dataset" not in promo.kinds:
            fail(
                ("promotions", i, "require", "data_check"),
                "data_check applies to datasets, but this rule covers no dataset",
                "use datasets_ok to require checked training data for a model",
            )
        for j, name in enumerate(req.datasets_ok):
            if name in req.datasets_ok[:j]:
                fail(
                    ("promotions", i, "require", "datasets_ok", j), f"dataset {name!r} listed twice"
                )
        seen_roles: list[str] = []
        for j, rule in enumerate(req.signoffs):
            loc: PathKey = ("promotions", i, "require", "signoffs", j, "role")
            if not allowed([rule.role], Action.APPROVE):
                fail(
                    loc,
                    f"role {rule.role.value!r} cannot approve, so this sign-off could never be given",
                    f"roles that approve: {approvers}",
                )
            if rule.role in seen_roles:
                fail(
                    loc, f"sign-offs from {rule.role.value!r} are required twice; add up the counts"
                )
            seen_roles.append(rule.role)
