"""The role model: the full role x action matrix, written out by hand, and role parsing.

The expected table is typed here rather than derived from PERMISSIONS so that widening a
role (an admin who can approve, a data scientist who can promote) fails a test and has to
be argued for in review.
"""

from __future__ import annotations

import pytest

from custodes.errors import CustodesError, UsageError
from custodes.governance.roles import (
    PERMISSIONS,
    Action,
    PermissionDenied,
    Role,
    allowed,
    authorize,
    parse_action,
    parse_roles,
    roles_for,
)

ACTIONS = (
    "register",
    "request",
    "attach_evidence",
    "approve",
    "reject",
    "promote",
    "revoke",
    "withdraw",
    "manage_principals",
    "set_policy",
    "read",
)

# One row per role, one column per action in ACTIONS order. Y = allowed, . = refused.
#                          reg req att apr rej pro rev wdr mgp pol rd
EXPECTED_TABLE = {
    "admin":             " .   .   .   .   .   .   Y   .   Y   Y   Y",
    "data-scientist":    " Y   Y   Y   .   .   .   .   Y   .   .   Y",
    "ml-engineer":       " Y   Y   Y   .   .   Y   .   Y   .   .   Y",
    "security-reviewer": " .   .   Y   Y   Y   .   Y   .   .   .   Y",
    "approver":          " .   .   .   Y   Y   .   .   .   .   .   Y",
    "auditor":           " .   .   .   .   .   .   .   .   .   .   Y",
}  # fmt: skip


def _expected() -> dict[tuple[str, str], bool]:
    out: dict[tuple[str, str], bool] = {}
    for role, row in EXPECTED_TABLE.items():
        marks = row.split()
        assert len(marks) == len(ACTIONS), role
        for action, mark in zip(ACTIONS, marks, strict=True):
            out[role, action] = mark == "Y"
    return out


EXPECTED = _expected()


def test_enums_have_exactly_the_documented_values() -> None:
    assert [r.value for r in Role] == list(EXPECTED_TABLE)
    assert [a.value for a in Action] == list(ACTIONS)
    assert set(PERMISSIONS) == set(Role)


@pytest.mark.parametrize(("role", "action"), sorted(EXPECTED))
def test_full_role_action_matrix(role: str, action: str) -> None:
    want = EXPECTED[role, action]
    assert allowed([role], action) is want
    assert allowed([Role(role)], Action(action)) is want
    assert (Action(action) in PERMISSIONS[Role(role)]) is want
    if want:
        authorize("pat", [role], action)
    else:
        with pytest.raises(PermissionDenied):
            authorize("pat", [role], action)


def test_separation_of_duties_invariants() -> None:
    # Whoever administers the gate never approves through it.
    assert not allowed(["admin"], "approve")
    # Builders never judge their own work.
    for builder in ("data-scientist", "ml-engineer"):
        assert not allowed([builder], "approve")
        assert not allowed([builder], "reject")
    # The auditor can change nothing.
    assert [a for a in Action if allowed(["auditor"], a)] == [Action.READ]
    # Everyone can read.
    assert all(allowed([r], "read") for r in Role)


def test_permissions_cannot_be_widened_at_run_time() -> None:
    with pytest.raises(TypeError):
        PERMISSIONS[Role.ADMIN] = frozenset(Action)  # type: ignore[index]


def test_multi_role_principal_gets_the_union() -> None:
    roles = ["data-scientist", "approver"]
    assert allowed(roles, "register")
    assert allowed(roles, "approve")
    assert not allowed(roles, "promote")
    assert not allowed(roles, "set_policy")
    both = [Role.ML_ENGINEER, Role.SECURITY_REVIEWER]
    assert {a for a in Action if allowed(both, a)} == {
        Action.REGISTER,
        Action.REQUEST,
        Action.ATTACH_EVIDENCE,
        Action.PROMOTE,
        Action.WITHDRAW,
        Action.APPROVE,
        Action.REJECT,
        Action.REVOKE,
        Action.READ,
    }


def test_no_roles_and_unknown_roles_grant_nothing() -> None:
    assert not allowed([], "read")
    assert not allowed(["superuser", "root"], "read")
    assert allowed(["superuser", "auditor"], "read")


def test_permission_denied_names_person_roles_action_and_who_may() -> None:
    with pytest.raises(PermissionDenied) as info:
        authorize("alice", ["data-scientist", "auditor"], "approve")
    err = info.value
    assert isinstance(err, CustodesError)
    assert err.exit_code == 2
    text = err.diagnostics()
    assert "alice (data-scientist, auditor) may not approve" in text
    assert "only security-reviewer or approver may" in text
    assert err.principal == "alice"
    assert err.action is Action.APPROVE


def test_permission_denied_for_someone_with_no_roles() -> None:
    with pytest.raises(PermissionDenied, match=r"bob \(no roles\) may not set_policy: only admin"):
        authorize("bob", [], Action.SET_POLICY)


def test_roles_for_lists_granting_roles_in_order() -> None:
    assert roles_for("revoke") == [Role.ADMIN, Role.SECURITY_REVIEWER]
    assert roles_for("promote") == [Role.ML_ENGINEER]
    assert roles_for("read") == list(Role)


def test_parse_roles_normalizes_and_dedupes() -> None:
    assert parse_roles(["Approver", "ml_engineer", "approver"]) == [Role.APPROVER, Role.ML_ENGINEER]
    assert parse_roles(["auditor, security-reviewer", ""]) == [
        Role.AUDITOR,
        Role.SECURITY_REVIEWER,
    ]
    assert parse_roles([]) == []


def test_parse_roles_unknown_suggests_closest() -> None:
    with pytest.raises(UsageError) as info:
        parse_roles(["auditor", "aprover"])
    assert "unknown role 'aprover'" in info.value.diagnostics()
    assert "did you mean 'approver'?" in info.value.diagnostics()


def test_parse_roles_unknown_without_close_match_lists_roles() -> None:
    with pytest.raises(UsageError) as info:
        parse_roles(["zzz"])
    assert "roles: admin, data-scientist" in info.value.diagnostics()


def test_unknown_action_is_a_usage_error_with_suggestion() -> None:
    assert parse_action("attach-evidence") is Action.ATTACH_EVIDENCE
    with pytest.raises(UsageError, match="unknown action 'aprove'") as info:
        allowed(["approver"], "aprove")
    assert "did you mean 'approve'?" in info.value.diagnostics()
