"""Who may do what to an artifact on its way to production.

The role model is least privilege with separation of duties, because a gate is only as
honest as the people who cannot bypass it:

- **admin** administers people and the policy, and may revoke a compromised artifact in an
  emergency; an admin does *not* approve. Whoever can rewrite the rules and hand out roles
  must not also be the one who signs under them, or a single account owns the gate.
- **data-scientist** and **ml-engineer** build things: they register artifacts, request
  promotion, attach evidence (scans, data checks) and withdraw their own requests. They
  never approve or reject, so no one signs off their own work. Only the ml-engineer may
  carry out a promotion that the policy already allows: moving a model into serving is an
  operations step, not a judgement.
- **security-reviewer** judges risk: attaches review evidence, approves, rejects, and may
  revoke what turns out to be unsafe after release.
- **approver** is the accountable business or clinical owner: approves or rejects, nothing
  else. Approval is a signature, not a capability to change the artifact.
- **auditor** reads everything and changes nothing, so the record they check is one they
  could not have shaped.

A person may hold several roles; permissions are the union. Separation of duties between
*people* (a requester never approves their own request, one person counts once) is the
policy's job (:mod:`custodes.governance.policy`); this module answers only "may someone
holding these roles attempt this action at all?".
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from enum import StrEnum
from types import MappingProxyType

from custodes.errors import CustodesError, UsageError

__all__ = [
    "PERMISSIONS",
    "Action",
    "PermissionDenied",
    "Role",
    "allowed",
    "authorize",
    "parse_action",
    "parse_roles",
    "roles_for",
]


class Role(StrEnum):
    """A hat a person wears in the governance workflow (values as typed on the CLI)."""

    ADMIN = "admin"
    DATA_SCIENTIST = "data-scientist"
    ML_ENGINEER = "ml-engineer"
    SECURITY_REVIEWER = "security-reviewer"
    APPROVER = "approver"
    AUDITOR = "auditor"


class Action(StrEnum):
    """Something a person can do through the CLI or the API."""

    REGISTER = "register"
    REQUEST = "request"
    ATTACH_EVIDENCE = "attach_evidence"
    APPROVE = "approve"
    REJECT = "reject"
    PROMOTE = "promote"
    REVOKE = "revoke"
    WITHDRAW = "withdraw"
    MANAGE_PRINCIPALS = "manage_principals"
    SET_POLICY = "set_policy"
    READ = "read"


_A = Action
PERMISSIONS: Mapping[Role, frozenset[Action]] = MappingProxyType(
    {
        Role.ADMIN: frozenset({_A.MANAGE_PRINCIPALS, _A.SET_POLICY, _A.REVOKE, _A.READ}),
        Role.DATA_SCIENTIST: frozenset(
            {_A.REGISTER, _A.REQUEST, _A.ATTACH_EVIDENCE, _A.WITHDRAW, _A.READ}
        ),
        Role.ML_ENGINEER: frozenset(
            {_A.REGISTER, _A.REQUEST, _A.ATTACH_EVIDENCE, _A.PROMOTE, _A.WITHDRAW, _A.READ}
        ),
        Role.SECURITY_REVIEWER: frozenset(
            {_A.ATTACH_EVIDENCE, _A.APPROVE, _A.REJECT, _A.REVOKE, _A.READ}
        ),
        Role.APPROVER: frozenset({_A.APPROVE, _A.REJECT, _A.READ}),
        Role.AUDITOR: frozenset({_A.READ}),
    }
)
"""Role -> the actions it grants. Read-only so no caller can widen it at run time."""


class PermissionDenied(CustodesError):
    """A person tried an action none of their roles grants; exit 2, it is theirs to fix."""

    exit_code = 2

    def __init__(self, principal: str, roles: Iterable[Role | str], action: Action) -> None:
        held = [str(r) for r in roles]
        may = roles_for(action)
        held_text = ", ".join(held) if held else "no roles"
        may_text = " or ".join(str(r) for r in may) if may else "nobody"
        super().__init__(
            f"{principal} ({held_text}) may not {action.value}: only {may_text} may",
            hint="ask an admin to grant the role, or ask someone who holds it",
        )
        self.principal = principal
        self.roles = held
        self.action = action


def _known_role(value: Role | str) -> Role | None:
    if isinstance(value, Role):
        return value
    try:
        return Role(value)
    except ValueError:
        return None


def parse_action(value: Action | str) -> Action:
    """Read an action name; a typo is a :class:`UsageError` with a suggestion."""
    if isinstance(value, Action):
        return value
    try:
        return Action(value.strip().lower().replace("-", "_"))
    except ValueError:
        names = [a.value for a in Action]
        guess = difflib.get_close_matches(value, names, n=1)
        raise UsageError(
            f"unknown action {value!r}",
            hint=f"did you mean {guess[0]!r}?" if guess else f"actions: {', '.join(names)}",
        ) from None


def roles_for(action: Action | str) -> list[Role]:
    """The roles that grant ``action``, in declaration order (for messages)."""
    act = parse_action(action)
    return [role for role in Role if act in PERMISSIONS[role]]


def allowed(roles: Iterable[Role | str], action: Action | str) -> bool:
    """True when any of ``roles`` grants ``action``.

    An unknown role name grants nothing rather than raising: a stale role string in the
    store must fail closed, not open and not with a crash.
    """
    act = parse_action(action)
    for value in roles:
        role = _known_role(value)
        if role is not None and act in PERMISSIONS[role]:
            return True
    return False


def authorize(principal: str, roles: Iterable[Role | str], action: Action | str) -> None:
    """Return quietly when allowed; otherwise raise :class:`PermissionDenied`."""
    act = parse_action(action)
    held = list(roles)
    if not allowed(held, act):
        raise PermissionDenied(principal, held, act)


def parse_roles(values: Iterable[str]) -> list[Role]:
    """Read role names as a person types them (``approver``, ``ML_Engineer``, ``a,b``).

    Duplicates collapse, order is kept. An unknown name is a :class:`UsageError` with the
    closest role suggested, because a typo here would silently give someone no rights (or
    a reviewer the wrong ones).
    """
    out: list[Role] = []
    names = [r.value for r in Role]
    for value in values:
        for part in value.split(","):
            text = part.strip().lower().replace("_", "-")
            if not text:
                continue
            role = _known_role(text)
            if role is None:
                guess = difflib.get_close_matches(text, names, n=1)
                raise UsageError(
                    f"unknown role {part.strip()!r}",
                    hint=f"did you mean {guess[0]!r}?" if guess else f"roles: {', '.join(names)}",
                )
            if role not in out:
                out.append(role)
    return out
