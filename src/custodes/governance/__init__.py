"""Governance: registry, stages, sign-offs, roles and the tamper-evident audit log."""
