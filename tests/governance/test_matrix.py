"""Every role × every action through the real CLI, against a table written out here.

Each person in the matrix holds exactly one role. For every cell the test sets up what
the action needs (an artifact, an open request, an allowed promotion...) with other
people, then the person tries it: an allowed cell must succeed (exit 0), a denied one must
exit 2 with PermissionDenied and leave an ``auth.denied`` entry in the audit log.
"""

from __future__ import annotations

import itertools

from custodes.governance import gates
from custodes.governance.roles import PERMISSIONS, Action, Role
from tests.governance.conftest import ROLES, Project, public

# fmt: off
#                      reg req evi app rej pro rev wdr man pol read
EXPECTED_TABLE = """
admin                   .   .   .   .   .   .   X   .   X   X   X
data-scientist          X   X   X   .   .   .   .   X   .   .   X
ml-engineer             X   X   X   .   .   X   .   X   .   .   X
security-reviewer       .   .   X   X   X   .   X   .   .   .   X
approver                .   .   .   X   X   .   .   .   .   .   X
auditor                 .   .   .   .   .   .   .   .   .   .   X
"""
# fmt: on
ACTIONS = [
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
]  # fmt: skip


def expected() -> dict[tuple[str, str], bool]:
    out = {}
    for line in EXPECTED_TABLE.strip().splitlines():
        role, *cells = line.split()
        assert len(cells) == len(ACTIONS)
        for action, cell in zip(ACTIONS, cells, strict=True):
            out[role, action] = cell == "X"
    return out


def test_the_table_covers_every_role_and_action() -> None:
    assert sorted(ROLES) == sorted(r.value for r in Role)
    assert sorted(ACTIONS) == sorted(a.value for a in Action)
    # The table is written by hand; the code's table must agree with it.
    for (role, action), allowed in expected().items():
        assert (Action(action) in PERMISSIONS[Role(role)]) == allowed, (role, action)


def _setup(p: Project, case: str, role: str, action: str) -> list[str]:
    """Prepare artifact ``case`` for ``action``; return the CLI arguments of the action."""
    bob, carol = p.cred("bob"), p.cred("carol")
    path = p.write(f"models/{case}.bin", f"model {case}\n".encode())
    if action == "register":
        return ["registry", "register", "model", case, str(path)]
    if action == "manage_principals":
        return ["registry", "people", "roles", "dana", "--role", "data-scientist"]
    if action == "set_policy":
        return ["registry", "policy"]
    if action == "read":
        return ["registry", "show", "m0"]
    with p.gov() as g:
        g.register(bob, "model", case, path, None)
        if action in ("approve", "reject", "promote"):
            gates.request(g, bob, case, None, None)
        if action == "promote":
            gates.sign_off(g, carol, case, "approve", None)
        if action == "withdraw":
            # The requester withdraws; a role that cannot request tries on bob's request.
            own = role in ("data-scientist", "ml-engineer")
            gates.request(g, p.cred(f"as-{role}") if own else bob, case, None, None)
    return {
        "request": ["gate", "request", case],
        "attach_evidence": ["gate", "evidence", case, "--scan"],
        "approve": ["gate", "approve", case],
        "reject": ["gate", "reject", case, "--comment", "no"],
        "promote": ["gate", "promote", case],
        "revoke": ["gate", "revoke", case, "--reason", "unsafe"],
        "withdraw": ["gate", "withdraw", case],
    }[action]


def test_role_action_matrix(light: Project) -> None:
    p = light
    for role in ROLES:
        p.ok(
            "registry", "people", "add", f"as-{role}", "--public-key",
            public(p.keys[f"as-{role}"]), "--role", role, who="alice",
        )  # fmt: skip
    p.ok("registry", "register", "model", "m0", p.write("models/m0.bin", b"m0"), who="bob")
    table = expected()
    for n, (role, action) in enumerate(itertools.product(ROLES, ACTIONS)):
        args = _setup(p, f"c{n}", role, action)
        denied_before = len(p.log("auth.denied"))
        r = p.run(*args, who=f"as-{role}")
        denied = p.log("auth.denied")
        if table[role, action]:
            assert r.code == 0, f"{role} should {action}: exit {r.code} {r.err}"
            assert len(denied) == denied_before, (role, action)
        else:
            assert r.code == 2, f"{role} should not {action}: exit {r.code} {r.err}{r.out}"
            assert f"as-{role} ({role}) may not {action}" in r.err, r.err
            assert len(denied) == denied_before + 1, (role, action)
            assert denied[-1]["actor"] == f"as-{role}"
            assert denied[-1]["data"] == {"action": action, "roles": [role]}
    assert p.ok("audit", "verify").code == 0
