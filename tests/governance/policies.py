"""Policies the governance and server tests share."""

#: A policy with no evidence at all, for tests about people and stages rather than evidence.
LIGHT_POLICY = """\
version: 1
stages: [dev, staging, production]
promotions:
  - to: staging
    require:
      signoffs:
        - {role: security-reviewer, count: 1}
  - to: production
    require:
      signoffs:
        - {role: approver, count: 2}
"""
